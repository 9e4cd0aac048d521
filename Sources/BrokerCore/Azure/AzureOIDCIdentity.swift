// kind = azure/oidc: workload identity federation, an OIDC token as the app's client assertion.

import BrokerWire

/// No secret at all: the app registration trusts an issuer's tokens for a subject (a federated
/// credential), and the token itself is the client assertion. It comes from `via` (a github/oidc
/// identity asking for audience `api://AzureADTokenExchange`) or from a reference (a projected
/// Kubernetes token file, a command).
public struct AzureOIDCIdentity: AzureFederatedKind {
    public static let descriptor = KindDescriptor(
        name: "azure/oidc",
        summary: "an Azure access token from a federated OIDC token (workload identity federation)",
        family: .azure,
        settings: AzureApplication.specs + [
            SettingSpec("token", "REFERENCE", .secretReference, "without via: where the OIDC token is read, file:PATH, cmd:COMMAND or env:NAME",
                        details: "Without `via`: where the federated OIDC token is read for each exchange, such as `file:/var/run/secrets/azure/tokens/azure-identity-token`. With `via` the token is that identity's (a github/oidc identity with `audience = api://AzureADTokenExchange`)."),
        ],
        // The OIDC token is spent in the exchange; the access token is what must last.
        upstream: .optional, produces: .token, tokenForm: .accessToken, upstreamToken: .idToken, upstreamValidity: 60,
        description: ["Workload identity federation: the OIDC token of the `via` identity (or read from `token`) is sent as the client assertion, and the identity platform checks it against the app registration's federated credentials (issuer, subject, audience). Derived from ambient material, the access token stays in memory and never reaches the disk cache. broker-env-wrap can also hand the federated token itself to the command as a workload-identity file (`--delivery file`)."])

    public let name: String
    public let application: AzureApplication
    public let source: FederatedTokenSource

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        application = try AzureApplication(definition)
        switch (definition.via, definition.entry("token")) {
        case (_?, let entry?):
            throw ConfigError("with via, the token comes from that identity: drop token", at: entry.location)
        case (_?, nil):
            source = .upstream
        case (nil, let entry?):
            source = .reference(try SecretReference(entry.value ?? "", at: entry.location))
        case (nil, nil):
            throw ConfigError("identity \"\(definition.name)\" (kind \(Self.descriptor.name)) needs via or token", at: definition.location,
                              hint: "add `via = identity:NAME` naming a github/oidc identity, or `token = file:PATH`")
        }
    }

    public var delivery: DeliverySettings {
        var azure = application.delivery
        azure.federated = true
        return DeliverySettings(azure: azure)
    }

    public var secretReferences: [SecretReference] {
        if case .reference(let reference) = source { return [reference] }
        return []
    }

    public func upstreams(in context: ResolveContext) -> [UpstreamService] { application.upstreams }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        var parameters = application.cacheParameters
        if case .reference(let reference) = source { parameters.append(CacheParameter("token", reference)) }
        return parameters
    }

    /// The OIDC token this identity presents: what a workload-identity file holds.
    public func federatedToken(upstream: Credential?, context: ResolveContext) throws -> Secret {
        switch source {
        case .reference(let reference):
            return try reference.resolve(context, timeout: 30)
        case .upstream:
            guard let upstream else {
                throw BrokerFailure(.internal, "identity \"\(name)\" was obtained without its via identity's token (a bug)")
            }
            guard let given = upstream.token else {
                throw BrokerFailure(.config, "identity \"\(name)\" needs an OIDC token from its via identity, which gives \(upstream.type.rawValue) credentials",
                                    hint: "chain from an identity of kind \(IdentityKinds.sentence(IdentityKinds.names(producingToken: .idToken)))")
            }
            return given.token
        }
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        let token = try federatedToken(upstream: upstream, context: context)
        let form = application.assertionGrant(token)
        var credential = try application.endpoint.request(form, purpose: "identity \"\(name)\"", secrets: [token.reveal()], now: context.clock.now()).credential
        credential.persistable = false
        return credential
    }
}
