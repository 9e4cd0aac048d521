// The AWS container-credentials route of the loopback endpoint: `GET /credentials` for SDKs
// pointed at it by AWS_CONTAINER_CREDENTIALS_FULL_URI.

import BrokerCore
import BrokerWire

/// The SDKs copy `AWS_CONTAINER_AUTHORIZATION_TOKEN` verbatim into `Authorization`; the answer is
/// `{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}` (boto3 reads `Token`).
struct AWSCredentialsRoute: LoopbackRoute {
    static let name = "aws-credentials"
    static let path: StaticString = "/credentials"

    /// The identity's keys for a live grant (AWSHandler.endpointReply).
    let keys: @Sendable (LoopbackEndpoint.Grant) throws -> LoopbackReply

    var name: String { Self.name }

    static func url(_ endpoint: LoopbackEndpoint) -> String { endpoint.baseURL + "\(path)" }

    func matches(_ head: HTTPRequestHead) -> Bool { head.withTarget { $0.isExactly(Self.path) } }

    func presentedSecret(in head: HTTPRequestHead) -> Result<Secret, LoopbackReply> {
        guard let presented = head.value(of: "authorization"), !presented.isEmpty else {
            return .failure(.error(403, "AccessDenied", "no authorization token (set AWS_CONTAINER_AUTHORIZATION_TOKEN)"))
        }
        return .success(Secret(presented))
    }

    func answer(_ head: HTTPRequestHead, grant: LoopbackEndpoint.Grant) throws -> LoopbackReply { try keys(grant) }
}
