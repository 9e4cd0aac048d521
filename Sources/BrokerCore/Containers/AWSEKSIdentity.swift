// kind = aws/eks: the `k8s-aws-v1.` bearer token EKS accepts — a presigned STS GetCallerIdentity URL, made locally.

import BrokerWire
import Foundation

/// Byte for byte what `aws eks get-token` and aws-iam-authenticator make: a GET of
/// `STS/?Action=GetCallerIdentity&Version=2011-06-15` presigned for 60 s (X-Amz-Expires; STS
/// itself honours the signature for 15 minutes from X-Amz-Date) with the header
/// `x-k8s-aws-id: CLUSTER` among the signed headers, base64url-encoded without padding behind
/// `k8s-aws-v1.`. It expires 14 minutes after signing (what both tools report), or when the `via`
/// credentials do if sooner, since STS checks them when the cluster replays the URL.
public struct AWSEKSIdentity: ResolvedKind {
    public static let descriptor = KindDescriptor(
        name: "aws/eks",
        summary: "an EKS cluster token (k8s-aws-v1) presigned with the credentials of its via identity",
        family: .containers,
        settings: [
            SettingSpec("cluster", "NAME", required: true, "the EKS cluster name, sent as the signed x-k8s-aws-id header"),
            ContainerKindSupport.regionSpec,
            SettingSpec("sts-endpoint", "URL", "STS endpoint the token names (default AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, then the region's)"),
        ],
        upstream: .required, produces: .token, tokenForm: .clusterToken,
        description: ["The bearer token an EKS cluster (aws-iam-authenticator) accepts, as `aws eks get-token` makes it: an STS GetCallerIdentity URL presigned with the `via` identity's credentials and the cluster name as the signed `x-k8s-aws-id` header. Presigning is local: a token costs no upstream call beyond the `via` chain's. It lives 14 minutes from signing (never longer than the `via` credentials), and the agent refreshes it ahead."])

    public static let tokenPrefix = "k8s-aws-v1."
    public static let lifetime: Int64 = 14 * 60

    public let name: String
    public let cluster: String
    public let region: String?
    public let stsEndpoint: String?

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        let (value, location) = try definition.require("cluster")
        guard !value.isEmpty, value.utf8.count <= 100, value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw ConfigError("cluster must be an EKS cluster name (up to 100 printable characters, no spaces)", at: location)
        }
        cluster = value
        region = definition.value("region")
        stsEndpoint = definition.value("sts-endpoint")
    }

    func endpoint(in context: ResolveContext) throws -> STSEndpoint {
        try STSEndpoint.resolve(region: ContainerKindSupport.region(region, in: context), override: stsEndpoint, environment: context.environment)
    }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        let resolved = (try? endpoint(in: context)).map { "\($0.url)|\($0.region)" } ?? "unresolved"
        return [CacheParameter("cluster", cluster), CacheParameter("sts", resolved)]
    }

    /// The presigned URL for these keys at `date` (unix seconds): the token's content.
    public static func presignedURL(cluster: String, endpoint: STSEndpoint, keys: AWSCredentials, at date: Int64) throws -> Secret {
        let hasPath = !(URLComponents(string: endpoint.url)?.percentEncodedPath.isEmpty ?? true)
        guard let url = URL(string: hasPath ? endpoint.url : endpoint.url + "/"),
              var request = SigV4Request(method: "GET", url: url, headers: [(name: "x-k8s-aws-id", value: cluster)]) else {
            throw BrokerFailure(.config, "the STS endpoint \"\(STSEndpoint.printable(endpoint.url))\" is not a URL")
        }
        request.query = [(name: "Action", value: "GetCallerIdentity"), (name: "Version", value: "2011-06-15")]
        return SigV4Signer(service: "sts", region: endpoint.region)
            .presign(request, credentials: keys, date: Date(timeIntervalSince1970: TimeInterval(date)), expires: 60)
    }

    public static func token(presignedURL: Secret) -> Secret {
        Secret(tokenPrefix + base64URLEncoded(Array(presignedURL.reveal().utf8)))
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        guard let upstream else { throw BrokerFailure(.config, "identity \"\(name)\" needs a via identity") }
        let keys = try upstream.awsCredentials(for: name)
        let now = context.clock.now()
        let url = try Self.presignedURL(cluster: cluster, endpoint: endpoint(in: context), keys: keys, at: now)
        let expiry = min(now + Self.lifetime, upstream.expiresAt ?? .max)
        return Credential(.token(Self.token(presignedURL: url), scheme: "k8s-aws-v1"), expiresAt: expiry, persistable: upstream.persistable)
    }

    public func whoami(_ credential: Credential, context: ResolveContext) throws -> [(String, String)] {
        [("cluster", cluster), ("token", "k8s-aws-v1 \(credential.token.map { TokenFingerprint.of($0.token) } ?? "?")")]
    }
}

extension AWSEKSIdentity: ClusterDescribing {
    /// eks:DescribeCluster (REST JSON, SigV4 for `eks`) at `AWS_ENDPOINT_URL_EKS`,
    /// `AWS_ENDPOINT_URL` or the region's endpoint: the API server URL and its CA.
    public func describeCluster(upstream: Credential, context: ResolveContext) throws -> ClusterDescription {
        let keys = try upstream.awsCredentials(for: name)
        let region = try ContainerKindSupport.region(region, in: context)
        var base = "https://eks.\(region).\(STSEndpoint.partition(of: region) == "aws-cn" ? "amazonaws.com.cn" : "amazonaws.com")"
        for (source, value) in [("AWS_ENDPOINT_URL_EKS", context.environment["AWS_ENDPOINT_URL_EKS"]), ("AWS_ENDPOINT_URL", context.environment["AWS_ENDPOINT_URL"])] {
            if let value, !value.isEmpty { base = try STSEndpoint.validURL(value, source: source); break }
        }
        let path = "/clusters/" + AWSURIEncoding.encode(cluster, keepSlash: false)
        guard let url = URL(string: base + path), let unsigned = SigV4Request(method: "GET", url: url) else {
            throw BrokerFailure(.config, "the EKS endpoint \"\(STSEndpoint.printable(base))\" is not a URL")
        }
        let signed = SigV4Signer(service: "eks", region: region).sign(unsigned, credentials: keys, date: Date(timeIntervalSince1970: TimeInterval(context.clock.now())))
        let subject = "eks DescribeCluster \(cluster) at \(STSEndpoint.printable(base)) with access key \(Secret.masked(keys.accessKeyID))"
        switch HTTPExchange.send(method: "GET", url: url, headers: signed.headersForSending(), body: nil, timeout: 10) {
        case .transport(let problem):
            throw BrokerFailure(.unavailable, "cannot reach EKS: \(subject): \(problem.reason)")
        case .response(let status, let body):
            guard (200..<300).contains(status) else {
                let code = ContainerKindSupport.errorCode(body, removing: [keys.secretAccessKey.reveal()])
                throw BrokerFailure(.upstream, "\(subject) failed: \(code) (HTTP \(status))")
            }
            let document = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
            guard let found = document?["cluster"] as? [String: Any], let server = found["endpoint"] as? String,
                  let data = (found["certificateAuthority"] as? [String: Any])?["data"] as? String else {
                throw BrokerFailure(.upstream, "\(subject) answered without an endpoint and certificate authority")
            }
            return ClusterDescription(name: cluster, server: server, certificateAuthorityData: data)
        }
    }
}
