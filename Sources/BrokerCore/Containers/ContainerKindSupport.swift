// What the container registry and Kubernetes kinds share: their manual family and the AWS hop beneath them.

import BrokerWire
import Foundation

extension KindFamily {
    public static let containers = KindFamily(title: "CONTAINER REGISTRY AND KUBERNETES KINDS", introduction: [
        "These kinds make the short-lived tokens docker-credential-broker(1) hands to docker, podman, buildah, skopeo and crane, and kube-credential-broker(1) hands to kubectl and every client-go program. No token is ever written into `~/.docker/config.json` or a kubeconfig: the hosts ask the agent each time, and the agent caches and refreshes. Both AWS kinds sign with the credentials of their `via` identity (any AWS kind, chained to any depth) and take `region` (default `AWS_REGION`, `AWS_DEFAULT_REGION`, then us-east-1, read from the agent's environment).",
    ], commonSettings: ["region"])
}

enum ContainerKindSupport {
    static let regionSpec = SettingSpec("region", "REGION", "the AWS region (default AWS_REGION, AWS_DEFAULT_REGION, then us-east-1)")

    /// The error code of an AWS JSON answer (`__type`, `…#AccessDeniedException`), or of the XML
    /// moto sends for signature failures (`<Code>`), scrubbed of `secrets` and bounded.
    static func errorCode(_ body: [UInt8], removing secrets: [String]) -> String {
        let document = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        let text = String(decoding: body.prefix(4096), as: UTF8.self)
        let xmlCode = text.range(of: "<Code>").flatMap { start in text.range(of: "</Code>").map { String(text[start.upperBound..<$0.lowerBound]) } }
        let code = (document?["__type"] as? String).map { String($0.split(separator: "#").last ?? "") } ?? xmlCode
            ?? (document?["message"] as? String) ?? "error"
        return scrubbedForMessage(code, removing: secrets, minimumSecretLength: 4, limit: 120)
    }

    /// The region setting, or the environment's, checked like every AWS region.
    static func region(_ configured: String?, in context: ResolveContext) throws -> String {
        try STSEndpoint.validRegion(configured ?? context.environment["AWS_REGION"] ?? context.environment["AWS_DEFAULT_REGION"] ?? "us-east-1")
    }
}

/// A kind whose credential depends on the registry that asks: docker-credential-broker narrows it
/// to the registry before resolving (the ECR kind takes the region from an ECR host name, so one
/// `*.dkr.ecr.*.amazonaws.com` binding serves every region). The narrowed kind's cache parameters
/// say what changed, so each narrowing has its own cache entry.
public protocol RegistryScopedKind: ResolvedKind {
    /// This kind for `registry` (normalised `host[:port]`), or nil to use it as configured.
    func scoped(to registry: String) -> (any ResolvedKind)?
}

/// Where a cluster token is accepted, as `brokerctl kube-setup --cluster` writes it into a kubeconfig.
public struct ClusterDescription: Sendable, Equatable {
    public var name: String
    public var server: String
    /// Base64 PEM, as kubeconfig's `certificate-authority-data` holds it.
    public var certificateAuthorityData: String
}

/// A token kind that can look its cluster up with its `via` credential (EKS DescribeCluster).
public protocol ClusterDescribing: ResolvedKind {
    func describeCluster(upstream: Credential, context: ResolveContext) throws -> ClusterDescription
}
