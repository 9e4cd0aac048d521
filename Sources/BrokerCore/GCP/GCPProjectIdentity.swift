// kind = gcp/project: a project, region and zone on top of a Google Cloud credential identity.

import BrokerWire

/// The credential is the `via` identity's, unchanged; what this kind adds is where wrapped
/// commands work: the project and location variables gcloud, the client libraries and terraform read.
public struct GCPProjectIdentity: ResolvedKind {
    public static let descriptor = KindDescriptor(
        name: "gcp/project",
        summary: "a Google Cloud project (and region, zone) on top of a GCP credential identity",
        family: .gcp,
        settings: [
            SettingSpec("project", "PROJECT", required: true, "the project ID (CLOUDSDK_CORE_PROJECT, GOOGLE_CLOUD_PROJECT, GCLOUD_PROJECT)"),
            SettingSpec("project-number", "NUMBER", "the project number the metadata server reports (numeric-project-id)"),
            SettingSpec("region", "REGION", "the default region (CLOUDSDK_COMPUTE_REGION, GOOGLE_CLOUD_REGION)"),
            SettingSpec("zone", "ZONE", "the default zone (CLOUDSDK_COMPUTE_ZONE, GOOGLE_CLOUD_ZONE)"),
        ],
        upstream: .required, produces: .password,
        description: ["The access token is that of the identity named by `via` (any gcp/ kind). broker-env-wrap sets `CLOUDSDK_CORE_PROJECT`, `GOOGLE_CLOUD_PROJECT`, `GCLOUD_PROJECT`, `CLOUDSDK_COMPUTE_REGION`, `CLOUDSDK_COMPUTE_ZONE`, `GOOGLE_CLOUD_REGION` and `GOOGLE_CLOUD_ZONE`, and the emulated metadata server reports the project."])

    public let name: String
    public let gcp: GCPDelivery

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        gcp = try GCPDelivery(definition)
    }

    public var delivery: DeliverySettings { DeliverySettings(gcp: gcp) }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] { [] }

    public func idTokenSource(audience: String) throws -> IDTokenSource { .upstream }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        guard let upstream, upstream.password != nil else {
            throw BrokerFailure(.config, "identity \"\(name)\" needs a Google Cloud credential from its via identity",
                                hint: "chain from a gcp/ identity (gcp/service-account-key, gcp/adc, ...)")
        }
        return upstream
    }
}
