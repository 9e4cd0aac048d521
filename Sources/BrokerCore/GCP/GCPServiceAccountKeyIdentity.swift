// kind = gcp/service-account-key: a service account's JSON key → an access token (JWT-bearer grant).

import BrokerWire

/// The key never leaves the agent: it signs an RS256 assertion (`kid` = the key's
/// `private_key_id`) that the key's own `token_uri` exchanges for an hour's access token.
public struct GCPServiceAccountKeyIdentity: ResolvedKind {
    public static let descriptor = KindDescriptor(
        name: "gcp/service-account-key",
        summary: "a Google Cloud service account's JSON key, exchanged for access tokens",
        family: .gcp,
        settings: [
            SettingSpec("key", "REFERENCE", .secretReference, required: true, "the key JSON (file:, keyring:, env:, cmd:)",
                        details: "Where the key JSON is read (`file:`, `keyring:`, `env:`, `cmd:`), as `gcloud iam service-accounts keys create` writes it. It is read each time a token is made and never cached."),
            GCPScopes.spec,
        ] + GCPDelivery.specs,
        upstream: .none, produces: .password,
        description: ["A JWT-bearer grant (RFC 7523) signed with the service account's private key: the assertion names the key (`kid` = `private_key_id`), the account (`iss` = `client_email`), the scopes, and the key's `token_uri` as audience. The access token lives an hour; the user name is the account's email. The project defaults to the key's `project_id`."])

    public let name: String
    public let key: SecretReference
    public let scopes: [String]
    public let gcp: GCPDelivery
    /// Set on the variant that makes ID tokens for this audience (`idTokenSource`), never by a setting.
    public internal(set) var idTokenAudience: String?

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        let (text, location) = try definition.require("key")
        key = try SecretReference(text, at: location)
        scopes = GCPScopes.of(definition)
        gcp = try GCPDelivery(definition)
    }

    public var delivery: DeliverySettings { DeliverySettings(gcp: gcp) }
    public var secretReferences: [SecretReference] { [key] }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        [CacheParameter("key", key), CacheParameter("scopes", scopes.joined(separator: " "))]
            + (idTokenAudience.map { [CacheParameter("id-token-audience", $0)] } ?? [])
    }

    /// The JWT-bearer grant with `target_audience` instead of a scope, which Google's token
    /// endpoint answers with an ID token (google-auth's service_account.IDTokenCredentials).
    public func idTokenSource(audience: String) throws -> IDTokenSource {
        var variant = self
        variant.idTokenAudience = audience
        return .kind(variant)
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        let parsed = try GCPServiceAccountKey.parse(try key.resolve(context, timeout: 30), source: key.description)
        let now = context.clock.now()
        return try parsed.obtain(scopes: scopes, idTokenAudience: idTokenAudience, now: now)
    }
}
