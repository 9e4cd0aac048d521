// kind = gcp/service-account: impersonation of a service account through IAM Credentials.

import BrokerWire

/// The calling identity (`via`, any GCP identity) needs roles/iam.serviceAccountTokenCreator on
/// the target, or on the first delegate with each delegate holding it on the next: what Google's
/// `generateAccessToken` checks. With `audience` the credential is an ID token instead.
public struct GCPServiceAccountIdentity: ResolvedKind {
    public static let descriptor = KindDescriptor(
        name: "gcp/service-account",
        summary: "a Google Cloud service account impersonated by another GCP identity",
        family: .gcp,
        settings: [
            SettingSpec("service-account", "EMAIL", required: true, "the service account to impersonate"),
            SettingSpec("delegates", "EMAIL", repeatable: true, "a service account in the delegation chain, in order (repeatable)",
                        details: "The delegation chain, in order: the calling identity must be able to mint tokens for the first delegate, each delegate for the next, and the last for `service-account`."),
            SettingSpec("lifetime", "DURATION", .duration, "the token's lifetime, up to 1h (12h with allow-12h-lifetime)"),
            SettingSpec("allow-12h-lifetime", "BOOL", .boolean, "true: the organisation policy allows tokens of up to 12h (the service-account credential lifetime extension)"),
            SettingSpec("audience", "URL", "make an ID token for this audience (generateIdToken) instead of an access token"),
            SettingSpec("iam-endpoint", "URL", "the IAM Credentials API (default https://iamcredentials.googleapis.com)"),
            GCPScopes.spec,
        ] + GCPDelivery.specs,
        upstream: .required, produces: .password, upstreamValidity: 60,
        description: ["IAM Credentials `generateAccessToken` (or `generateIdToken` with `audience`) for `service-account`, called with the access token of the identity named by `via` (gcp/service-account-key, gcp/adc, gcp/workload-identity-federation, or another gcp/service-account). The user name is the impersonated account's email."])

    public let name: String
    public let serviceAccount: String
    public let delegates: [String]
    public let lifetime: Int
    public internal(set) var audience: String?
    public let iamEndpoint: String
    public let scopes: [String]
    public let gcp: GCPDelivery

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        let (email, location) = try definition.require("service-account")
        try GCPNames.checkEmail(email, at: location)
        serviceAccount = email
        delegates = definition.values("delegates")
        for entry in definition.settings["delegates"] ?? [] { try GCPNames.checkEmail(entry.value ?? "", at: entry.location) }
        let extended = try definition.entry("allow-12h-lifetime").map { try ConfigSyntax.parseBool($0.value, at: $0.location) } ?? false
        let ceiling = extended ? 43200 : 3600
        if let entry = definition.entry("lifetime") {
            let seconds = try ConfigSyntax.parseDuration(entry.value, at: entry.location)
            guard (60...ceiling).contains(seconds) else {
                throw ConfigError("lifetime must be between 1m and \(ceiling / 3600)h", at: entry.location,
                                  hint: extended ? nil : "tokens past 1h need the organisation's lifetime extension and allow-12h-lifetime = true")
            }
            lifetime = seconds
        } else {
            lifetime = 3600
        }
        audience = definition.value("audience")
        iamEndpoint = try GCPEndpoint.url(definition, key: "iam-endpoint", default: "https://iamcredentials.googleapis.com")
        scopes = GCPScopes.of(definition)
        gcp = try GCPDelivery(definition)
    }

    public var delivery: DeliverySettings { DeliverySettings(gcp: gcp) }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        [CacheParameter("service-account", serviceAccount), CacheParameter("delegates", delegates.joined(separator: ",")),
         CacheParameter("lifetime", lifetime), CacheParameter("audience", audience), CacheParameter("iam-endpoint", iamEndpoint),
         CacheParameter("scopes", scopes.joined(separator: " "))]
    }

    /// The same impersonation with generateIdToken: what the metadata server's identity path asks.
    public func idTokenSource(audience: String) throws -> IDTokenSource {
        var variant = self
        variant.audience = audience
        return .kind(variant)
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        let caller = try GCPCredential.accessToken(upstream, identity: name).token
        let answer = try GCPImpersonation(iamEndpoint: iamEndpoint, serviceAccount: serviceAccount, delegates: delegates)
            .token(caller: caller, scopes: scopes, lifetime: lifetime, audience: audience, now: context.clock.now())
        return GCPCredential.make(email: serviceAccount, token: answer.token, expiresAt: answer.expiresAt, persistable: upstream?.persistable ?? true)
    }
}
