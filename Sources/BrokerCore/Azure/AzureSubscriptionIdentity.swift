// kind = azure/subscription: a subscription, tenant and location on top of an Azure credential identity.

import BrokerWire

/// Tools pick their subscription from the environment (`AZURE_SUBSCRIPTION_ID`, terraform's
/// `ARM_SUBSCRIPTION_ID`); this kind names one for the credential of its `via` identity, so a
/// wrapped command is pointed at the right subscription as well as signed in.
public struct AzureSubscriptionIdentity: ResolvedKind {
    public static let descriptor = KindDescriptor(
        name: "azure/subscription",
        summary: "an Azure subscription (and tenant, location) for the credential of its via identity",
        family: .azure,
        settings: [
            SettingSpec("subscription-id", "GUID", required: true, "the subscription ID broker-env-wrap announces"),
            SettingSpec("tenant-id", "TENANT", "the tenant to announce when it differs from the via identity's"),
            SettingSpec("location", "REGION", "the default location (region), such as westeurope",
                        details: "The default location, announced as `AZURE_DEFAULTS_LOCATION` (the az CLI's default)."),
        ],
        upstream: .identityOrProvider, produces: .token, tokenForm: .accessToken,
        description: ["Gives the access token of its `via` identity (an Azure identity) or provider (a device-code login) unchanged, and makes broker-env-wrap(1) announce the subscription: `AZURE_SUBSCRIPTION_ID` and `ARM_SUBSCRIPTION_ID`, the tenant (`AZURE_TENANT_ID`, `ARM_TENANT_ID`), the client (`AZURE_CLIENT_ID`, `ARM_CLIENT_ID`) and the location (`AZURE_DEFAULTS_LOCATION`)."])

    public let name: String
    public let subscription: String
    public let tenant: String?
    public let location: String?

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        _ = try definition.require("subscription-id")
        subscription = try AzureApplication.optionalSubscription(definition)!
        tenant = try AzureApplication.optionalTenant(definition)
        if let entry = definition.entry("location") {
            guard let value = entry.value, !value.isEmpty, value.utf8.count <= 64,
                  value.utf8.allSatisfy({ (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) }) else {
                throw ConfigError("location must be a region name in lower case letters and digits, such as westeurope", at: entry.location)
            }
            self.location = value
        } else {
            self.location = nil
        }
    }

    public var delivery: DeliverySettings {
        DeliverySettings(azure: AzureDelivery(tenant: tenant, subscription: subscription, location: location))
    }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        [CacheParameter("subscription-id", subscription), CacheParameter("tenant-id", tenant), CacheParameter("location", location)]
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        guard let upstream, upstream.token != nil else {
            throw BrokerFailure(.config, "identity \"\(name)\" needs an Azure access token from its via identity",
                                hint: "chain from an Azure identity (kind \(IdentityKinds.sentence(IdentityKinds.names(producing: .token).filter { $0.hasPrefix("azure/") })))")
        }
        return upstream
    }
}
