// AWS's JSON 1.1 protocol (Secrets Manager, Systems Manager, ECR, …): POST / with X-Amz-Target, SigV4-signed.

import BrokerWire
import Foundation

/// Where a JSON-protocol service is, and the region it signs for.
public struct AWSServiceEndpoint: Sendable, Equatable {
    public var url: String
    public var region: String

    /// `AWS_ENDPOINT_URL_<SERVICE>` wins (botocore's service-specific variable, e.g.
    /// `AWS_ENDPOINT_URL_SECRETS_MANAGER`), then `AWS_ENDPOINT_URL`, then the region's own
    /// endpoint `https://<host>.<region>.amazonaws.com`.
    public static func resolve(hostPrefix: String, environmentSuffix: String, region: String?, environment: Environment) throws -> AWSServiceEndpoint {
        let region = try STSEndpoint.validRegion(region ?? environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1")
        for variable in ["AWS_ENDPOINT_URL_\(environmentSuffix)", "AWS_ENDPOINT_URL"] {
            if let value = environment[variable], !value.isEmpty {
                return AWSServiceEndpoint(url: try STSEndpoint.validURL(value, source: variable), region: region)
            }
        }
        let domain = STSEndpoint.partition(of: region) == "aws-cn" ? "amazonaws.com.cn" : "amazonaws.com"
        return AWSServiceEndpoint(url: "https://\(hostPrefix).\(region).\(domain)", region: region)
    }
}

/// One call of a JSON 1.1 service. Answers and errors are JSON objects; an error's `__type` and
/// message become one sentence naming the service and the operation.
public struct AWSJSONClient: Sendable {
    /// What people call it in errors: "Secrets Manager".
    public var serviceTitle: String
    /// The SigV4 signing name: `secretsmanager`, `ssm`.
    public var signingName: String
    /// The X-Amz-Target prefix: `secretsmanager`, `AmazonSSM`.
    public var targetPrefix: String
    public var endpoint: AWSServiceEndpoint
    public var timeout: Double

    public init(serviceTitle: String, signingName: String, targetPrefix: String, endpoint: AWSServiceEndpoint, timeout: Double = 10) {
        self.serviceTitle = serviceTitle
        self.signingName = signingName
        self.targetPrefix = targetPrefix
        self.endpoint = endpoint
        self.timeout = timeout
    }

    public func call(_ operation: String, _ request: [String: Any], credentials: AWSCredentials) throws -> [String: Any] {
        let body = try JSONSerialization.data(withJSONObject: request, options: [.sortedKeys])
        let hasPath = !(URLComponents(string: endpoint.url)?.percentEncodedPath.isEmpty ?? true)
        guard let url = URL(string: hasPath ? endpoint.url : endpoint.url + "/"),
              let unsigned = SigV4Request(method: "POST", url: url, headers: [
                  (name: "Content-Type", value: "application/x-amz-json-1.1"),
                  (name: "X-Amz-Target", value: "\(targetPrefix).\(operation)"),
              ], body: Array(body)) else {
            throw BrokerFailure(.config, "the \(serviceTitle) endpoint \"\(STSEndpoint.printable(endpoint.url))\" is not a URL")
        }
        let signed = SigV4Signer(service: signingName, region: endpoint.region).sign(unsigned, credentials: credentials, date: Date())
        RequestCounter.shared.increment()
        switch HTTPExchange.post(url: url, headers: signed.headersForSending(), body: Array(body), timeout: timeout) {
        case .transport(let problem):
            throw BrokerFailure(.unavailable, "cannot reach \(serviceTitle) at \(STSEndpoint.printable(endpoint.url)): \(problem.reason)",
                                hint: "check the network and AWS_ENDPOINT_URL_* / the region")
        case .response(let status, let responseBody):
            let object = (try? JSONSerialization.jsonObject(with: Data(responseBody))) as? [String: Any]
            if (200..<300).contains(status) {
                guard let object else {
                    throw BrokerFailure(.upstream, "\(serviceTitle) \(operation) answered HTTP \(status) with something that is not a JSON object",
                                        hint: "check that AWS_ENDPOINT_URL_* points at \(serviceTitle), not at a proxy or portal page")
                }
                return object
            }
            // `__type` may carry a namespace ("com.amazonaws...#ResourceNotFoundException"). A
            // gateway in front of the service (and moto's IAM check) may answer in the query
            // protocol's XML instead: read its Code and Message.
            let xml = object == nil ? XMLText(bytes: responseBody) : nil
            let type = (object?["__type"] as? String).map { String($0.split(separator: "#").last ?? "") }
                ?? xml?.text("Code") ?? "HTTP \(status)"
            // A service (or whatever answers in its place) that echoes the request back must not
            // carry the session token or the secret key into the message.
            let said = (object?["message"] as? String) ?? (object?["Message"] as? String) ?? xml?.text("Message") ?? ""
            let message = scrubbedForMessage(said, removing: [credentials.secretAccessKey.reveal()] + (credentials.sessionToken.map { [$0.reveal()] } ?? []),
                                             minimumSecretLength: 4, limit: 300)
            let sentence = "\(serviceTitle) \(operation) failed: \(WireCodec.printable(type, limit: 100))" + (message.isEmpty ? "" : ": \(message)")
            switch type {
            case "AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "InvalidSignatureException":
                throw BrokerFailure(.denied, sentence, hint: "allow \(signingName):\(operation) on this resource in the reading identity's IAM policy")
            case "ResourceNotFoundException", "ParameterNotFound", "ParameterVersionNotFound":
                throw BrokerFailure(.config, sentence, hint: "check the name, the region and the account the reference points at")
            default:
                throw BrokerFailure(status >= 500 ? .unavailable : .upstream, sentence,
                                    hint: status >= 500 ? "\(serviceTitle) may be failing; the request is tried again next time"
                                        : "see the \(serviceTitle) \(operation) error in AWS's documentation")
            }
        }
    }
}
