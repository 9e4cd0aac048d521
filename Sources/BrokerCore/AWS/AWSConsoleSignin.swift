// The AWS console sign-in URL for session credentials: getSigninToken at the federation endpoint, then the login URL.

import BrokerWire
import Foundation

/// aws-vault's `login` and Atmos's `auth console`: trades session credentials for a SigninToken
/// and builds the URL that opens the console as that session. The URL is itself a credential
/// (anyone holding it is signed in for its life): it stays inside a `Secret`.
public enum AWSConsoleSignin {
    public static let defaultDestination = "https://console.aws.amazon.com/"

    /// `duration` is the console session's length (15m–12h); nil leaves it to AWS.
    public static func url(for credential: Credential, identity: String, endpoint: String, destination: String?,
                           duration: Int?, timeout: Double = 10) throws -> Secret {
        guard let keys = credential.aws else {
            throw BrokerFailure(.config, "identity \"\(identity)\" does not give AWS credentials; the console needs an AWS role session")
        }
        guard let token = keys.sessionToken, credential.awsSession == .role || credential.awsSession == .federated else {
            throw BrokerFailure(.config, "identity \"\(identity)\" gives \(keys.sessionToken == nil ? "long-lived keys" : "GetSessionToken credentials"), which the AWS console federation does not accept",
                                hint: "open the console with an identity of kind aws/assume-role or aws/permission-set (one may chain from this one), or of kind aws/user with its long-lived keys")
        }
        let destination = destination ?? defaultDestination
        guard let parsed = URLComponents(string: destination), parsed.scheme == "https" || parsed.scheme == "http", parsed.host != nil else {
            throw BrokerFailure(.usage, "--destination must be an http(s) URL")
        }
        let session = JSONValue.object([("sessionId", .string(keys.accessKeyID)), ("sessionKey", .string(keys.secretAccessKey.reveal())),
                                        ("sessionToken", .string(token.reveal()))]).encoded()
        var query = [("Action", "getSigninToken")]
        // A federation token's session lasts as the token does: AWS takes SessionDuration only with role sessions.
        if let duration, credential.awsSession == .role { query.append(("SessionDuration", String(duration))) }
        query.append(("Session", session))
        guard let tokenURL = URL(string: endpoint + "?" + encoded(query)) else {
            throw BrokerFailure(.config, "[aws] signin-endpoint is not a usable URL")
        }
        let secrets = [keys.secretAccessKey.reveal(), token.reveal()]
        switch HTTPExchange.send(method: "GET", url: tokenURL, headers: [], body: nil, timeout: timeout) {
        case .transport(let problem):
            throw BrokerFailure(.unavailable, "the AWS sign-in endpoint \(endpoint) could not be reached: \(problem.reason)")
        case .response(let status, let body):
            guard status == 200, let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any],
                  let signin = object["SigninToken"] as? String, !signin.isEmpty, SSOClient.isTokenText(signin) else {
                let said = scrubbedForMessage(String(decoding: body.prefix(300), as: UTF8.self), removing: secrets, minimumSecretLength: 4, limit: 200)
                throw BrokerFailure(.upstream, "the AWS sign-in endpoint \(endpoint) gave no SigninToken (HTTP \(status))" + (said.isEmpty ? "" : ": \(said)"),
                                    hint: "the session may be too short-lived or chained from another role session; see credential-broker(5) [aws]")
            }
            let login = [("Action", "login"), ("Issuer", "credential-broker"), ("Destination", destination), ("SigninToken", signin)]
            return Secret(endpoint + "?" + encoded(login))
        }
    }

    static func encoded(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(SSOClient.percentEncoded($0.0))=\(SSOClient.percentEncoded($0.1))" }.joined(separator: "&")
    }
}
