// kind = azure/client-secret: an app registration's client secret traded for an access token.

import BrokerWire

/// The client-credentials grant with `client_secret`. The secret is read from its reference on
/// every token request and never kept; the token is cached like any other.
public struct AzureClientSecretIdentity: ResolvedKind {
    public static let descriptor = KindDescriptor(
        name: "azure/client-secret",
        summary: "an Azure access token from an app registration's client secret",
        family: .azure,
        settings: AzureApplication.specs + [
            SettingSpec("client-secret", "REFERENCE", .secretReference, required: true,
                        "reference to the client secret: env:NAME, file:PATH, cmd:COMMAND or keyring:NAME",
                        details: "Where the app registration's client secret is read from for each token request: `env:NAME`, `file:PATH`, `cmd:COMMAND` or `keyring:NAME`. Errors name the reference, never the secret."),
        ],
        upstream: .none, produces: .token, tokenForm: .accessToken,
        description: ["The client-credentials grant of the Microsoft identity platform with a client secret (`az ad sp create-for-rbac` prints one as `password`). The access token lives about an hour and is cached in memory and on disk (0600); the secret never is."],
        notes: [.code("""
            [identity "ci-sp"]
                kind = azure/client-secret
                tenant-id = 72f988bf-86f1-41af-91ab-2d7cd011db47
                client-id = 0b5e3f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b
                client-secret = keyring:ci-sp
            """)])

    public let name: String
    public let application: AzureApplication
    public let secret: SecretReference

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        application = try AzureApplication(definition)
        let (text, location) = try definition.require("client-secret")
        secret = try SecretReference(text, at: location)
    }

    public var delivery: DeliverySettings { DeliverySettings(azure: application.delivery) }
    public var secretReferences: [SecretReference] { [secret] }
    public func upstreams(in context: ResolveContext) -> [UpstreamService] { application.upstreams }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        application.cacheParameters + [CacheParameter("client-secret", secret)]
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        let value = try secret.resolve(context, timeout: 30)
        let form = [("grant_type", "client_credentials"), ("client_id", application.clientID),
                    ("client_secret", value.reveal()), ("scope", application.scope)]
        return try application.endpoint.request(form, purpose: "identity \"\(name)\"", secrets: [value.reveal()], now: context.clock.now()).credential
    }
}
