// kind = github/oidc: the GitHub Actions job's OIDC ID token, for identities that chain from it.

import BrokerWire

/// The root of keyless CI chains: `aws/web-identity` (and later GCP and Azure federation) take
/// `via = identity:NAME` of this kind. Ambient material, so held in memory only.
public struct GitHubOIDCIdentity: ResolvedKind {
    public static let descriptor = KindDescriptor(
        name: "github/oidc",
        summary: "the GitHub Actions job's OIDC ID token, for keyless chains",
        family: .github,
        settings: [
            SettingSpec("audience", "TEXT", "the audience to ask for (default: GitHub's, the repository owner's URL)",
                        details: "The `aud` claim to ask for, such as `sts.amazonaws.com`; default GitHub's own (the URL of the repository owner). Each audience is a separate token and cache entry."),
        ],
        upstream: .none, produces: .token, tokenForm: .idToken,
        description: ["The ID token GitHub Actions issues to a job that has `permissions: id-token: write`, requested from `ACTIONS_ID_TOKEN_REQUEST_URL` with the bearer `ACTIONS_ID_TOKEN_REQUEST_TOKEN` (both from the agent's environment: start the agent inside the job). It is cached in memory until its `exp` and never written to the disk cache: the next job on the same runner must not find it. Other identities chain from it with `via`: an aws/web-identity identity exchanges it for a role. kube-credential-broker can also hand it to a cluster that accepts the issuer's tokens (Kubernetes OIDC authentication)."])

    public let name: String
    public let audience: String?

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        audience = definition.value("audience")
    }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        [CacheParameter("audience", audience), CacheParameter("request-url", context.environment[GitHubActionsOIDC.requestURLVariable])]
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        let (token, expiresAt) = try GitHubActionsOIDC.requestToken(audience: audience, identity: name, environment: context.environment,
                                                                     now: context.clock.now())
        return Credential(.token(token, scheme: "id-token"), expiresAt: expiresAt, persistable: false)
    }
}
