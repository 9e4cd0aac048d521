// GitHub Actions' OIDC token request: the job's URL and bearer token, an audience, one ID token back.

import BrokerWire
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A job with `permissions: id-token: write` gets `ACTIONS_ID_TOKEN_REQUEST_URL` and
/// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`; a GET of the URL with `audience=` and the bearer token
/// answers `{"value": JWT}`. The JWT's `exp` is when it stops being accepted.
public enum GitHubActionsOIDC {
    public static let requestURLVariable = "ACTIONS_ID_TOKEN_REQUEST_URL"
    public static let requestTokenVariable = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"

    /// True when the job can ask for a token: a cheap signal, no network.
    public static func available(_ environment: Environment) -> Bool {
        environment[requestURLVariable] != nil && environment[requestTokenVariable] != nil
    }

    /// The ID token for `audience` (nil: GitHub's default, the repository owner's URL) and its expiry.
    public static func requestToken(audience: String?, identity: String, environment: Environment, now: Int64 = currentUnixTime(),
                                    timeout: Double = 10) throws -> (token: Secret, expiresAt: Int64) {
        guard let base = environment[requestURLVariable], let bearer = environment[requestTokenVariable] else {
            throw BrokerFailure(.config, "identity \"\(identity)\" needs GitHub Actions' OIDC token, but \(requestURLVariable)/_TOKEN are not set in broker-agent's environment",
                                hint: "give the job `permissions: id-token: write`, and start the agent inside the job")
        }
        // https only: the request token is a bearer secret. Plain http to loopback is a test bed's.
        guard var components = URLComponents(string: base),
              components.scheme == "https" || (components.scheme == "http" && STSEndpoint.isLoopback(components.host ?? "")) else {
            throw BrokerFailure(.config, "\(requestURLVariable) is not an https URL; refusing to send the request token over it",
                                hint: "the runner sets it; check that no step overwrote it")
        }
        if let audience {
            components.queryItems = (components.queryItems ?? []) + [URLQueryItem(name: "audience", value: audience)]
        }
        // Through the hardened exchange: a bearer token must not follow a redirect elsewhere.
        let outcome = HTTPExchange.send(method: "GET", url: components.url!,
                                        headers: [("Authorization", "bearer \(bearer)"), ("Accept", "application/json")],
                                        body: nil, timeout: timeout)
        switch outcome {
        case .transport(let problem):
            throw BrokerFailure(.unavailable, "cannot reach GitHub's OIDC endpoint: \(problem.reason)",
                                hint: "check the runner's network; the endpoint is \(requestURLVariable)'s host")
        case .response(let status, let body):
            // The body is never quoted: it may hold the ID token, or the request token echoed back.
            guard status == 200, body.count <= 64 * 1024, let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
                  let value = object["value"] as? String, !value.isEmpty else {
                throw BrokerFailure(.upstream, "GitHub's OIDC endpoint answered HTTP \(status) without a token",
                                    hint: status == 401 || status == 403 ? "the job's request token was refused; is `id-token: write` granted?"
                                        : status == 200 ? "the answer is not {\"value\": JWT}; check that \(requestURLVariable) is the runner's"
                                        : "GitHub's service may be failing; retry the job")
            }
            // It goes into HTTP headers and the exchanges' forms: a JWT is three base64url parts.
            let parts = value.split(separator: ".", omittingEmptySubsequences: false)
            guard value.utf8.count <= 16 * 1024, parts.count == 3, value.utf8.allSatisfy(Self.isJWTByte) else {
                throw BrokerFailure(.upstream, "GitHub's OIDC endpoint answered with a token that is not a JWT (three base64url parts, at most 16 KiB); it was not used",
                                    hint: "check that \(requestURLVariable) is the runner's")
            }
            // Without `exp` it could be cached for ever; an expired one would only be refused later, further from the cause.
            guard let expiresAt = expiry(ofJWT: value) else {
                throw BrokerFailure(.upstream, "GitHub's OIDC endpoint answered with a token that has no exp claim; it was not used",
                                    hint: "an ID token must say when it expires; check that \(requestURLVariable) is the runner's")
            }
            guard expiresAt > now else {
                throw BrokerFailure(.upstream, "GitHub's OIDC endpoint answered with a token that has already expired; it was not used",
                                    hint: "check this machine's clock: the token's exp is before its now")
            }
            return (Secret(value), expiresAt)
        }
    }

    static func isJWTByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
            || byte == 0x2d || byte == 0x5f || byte == 0x2e || byte == 0x3d
    }

    /// The `exp` claim of a JWT, read without verifying it: the broker is the token's holder, not
    /// its audience; whoever it is presented to verifies it.
    public static func expiry(ofJWT token: String) -> Int64? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        var text = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        guard let data = Data(base64Encoded: text),
              let claims = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return (claims["exp"] as? NSNumber)?.int64Value
    }
}
