// kind = github/sts: an OIDC token exchanged for a scoped GitHub token at an octo-sts style service.

import BrokerWire
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `GET URL/sts/exchange?scope=OWNER/REPO&identity=POLICY` with the OIDC token as the bearer
/// answers `{"token": …}`: a GitHub installation token whose permissions the trust policy
/// `POLICY` in `scope` grants to that token's subject. No GitHub App key anywhere near the job.
public struct GitHubSTSIdentity: ResolvedKind {
    public static let descriptor = KindDescriptor(
        name: "github/sts",
        summary: "a GitHub token from an OIDC token exchange (octo-sts)",
        family: .github,
        settings: [
            SettingSpec("url", "URL", "the exchange service (default https://octo-sts.dev)",
                        details: "The token exchange service's base URL; default `https://octo-sts.dev`. Plain http is refused except to a loopback address, and redirects are not followed, since the request carries the OIDC token."),
            SettingSpec("scope", "OWNER[/REPO]", required: true, "the organization or repository whose trust policy grants the token",
                        details: "Where the trust policy lives (`.github/chainguard/POLICY.sts.yaml` there) and what the token may reach."),
            SettingSpec("policy", "NAME", required: true, "the trust policy's name (octo-sts's `identity`)"),
            SettingSpec("username", "NAME", "the user name git presents (default x-access-token)"),
            SettingSpec("revoke", "BOOL", .boolean, "true: revoke the token at GitHub when the broker-env-wrap runs that hold it have ended (default false)",
                        details: "With `true`, a token handed to broker-env-wrap (its `env` variables or git inside the wrapped command) is revoked with GitHub's `DELETE /installation/token` once the last running wrap holding it exits, and dropped from the agent, so the next request exchanges a new one. Best-effort: a revoke that fails is written to the audit log (event `revoked`, outcome `error`) and never fails the wrap; the token then lives out its hour. A token served to git outside any wrap is not revoked."),
            SettingSpec("api-url", "URL", "GitHub's REST API, where tokens are revoked (default https://api.github.com)",
                        details: "Only `revoke` uses it. For GitHub Enterprise Server, `https://HOST/api/v3`. Plain http is refused except to a loopback address."),
            EnvironmentExports.spec,
        ],
        upstream: .required, produces: .password, upstreamToken: .idToken,
        // The OIDC token is spent in the exchange; the GitHub token is what must last.
        upstreamValidity: 60,
        description: ["Exchanges the OIDC token of its `via` identity (a github/oidc identity whose `audience` is what the service expects, `octo-sts.dev` for the public one) for a GitHub installation token scoped by a trust policy, as octo-sts and Atmos Pro's github/sts do. git receives it as `x-access-token` and the token, like a github/app token. Installation tokens live an hour; the service does not say when this one ends, so the broker treats it as valid for 55 minutes. Derived from ambient material, it stays in memory and never reaches the disk cache."])

    public let name: String
    public let url: String
    public let scope: String
    public let policy: String
    public let username: String
    public let exports: EnvironmentExports
    public let revokes: Bool
    public let apiURL: String

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        if let entry = definition.entry("url") {
            let text = entry.value ?? ""
            if let problem = GitHubAPIClient.problem(withURL: text), !problem.hasPrefix("that is GitHub's web site") {
                throw ConfigError("url \"\(text)\" is not usable: \(problem)", at: entry.location)
            }
            url = GitHubAPIClient.normalizedURL(text)
        } else {
            url = "https://octo-sts.dev"
        }
        let (scopeText, scopeLocation) = try definition.require("scope")
        let parts = scopeText.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "&") && $0 != UInt8(ascii: "#") } }) else {
            throw ConfigError("scope must be OWNER or OWNER/REPO, not \"\(scopeText)\"", at: scopeLocation)
        }
        scope = scopeText
        policy = try definition.require("policy").0
        username = definition.value("username") ?? "x-access-token"
        exports = try EnvironmentExports(definition)
        revokes = try definition.entry("revoke").map { try ConfigSyntax.parseBool($0.value, at: $0.location) } ?? false
        apiURL = try GitHubAPIClient.apiURL(definition)
    }

    public var revokesAfterWrap: Bool { revokes }

    public func revoke(_ credential: Credential, context: ResolveContext) throws {
        guard let token = credential.password?.password else { return }
        try GitHubAPIClient(baseURL: apiURL).revokeInstallationToken(token)
    }

    public var delivery: DeliverySettings { DeliverySettings(exports: exports.names) }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        [CacheParameter("url", url), CacheParameter("scope", scope), CacheParameter("policy", policy), CacheParameter("username", username)]
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        guard let oidc = upstream?.token else {
            throw BrokerFailure(.config, "identity \"\(name)\" needs an OIDC token from its via identity",
                                hint: "chain from an identity of kind \(IdentityKinds.sentence(IdentityKinds.names(producingToken: .idToken)))")
        }
        var components = URLComponents(string: url + "/sts/exchange")!
        components.queryItems = [URLQueryItem(name: "scope", value: scope), URLQueryItem(name: "identity", value: policy)]
        let outcome = HTTPExchange.send(method: "GET", url: components.url!,
                                        headers: [("Authorization", "Bearer \(oidc.token.reveal())"), ("Accept", "application/json")],
                                        body: nil, timeout: 15)
        switch outcome {
        case .transport(let problem):
            throw BrokerFailure(.unavailable, "cannot reach the token exchange at \(url): \(problem.reason)")
        case .response(let status, let body):
            // A token is tens of bytes; a larger answer is not one to parse (nor to quote).
            guard body.count <= Self.maximumAnswer else {
                throw BrokerFailure(.upstream, "the token exchange at \(url) sent an answer of \(body.count) bytes (HTTP \(status)); at most \(Self.maximumAnswer) are read",
                                    hint: "check that url points at the token exchange service, not at a proxy or portal page")
            }
            let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
            if status == 200 {
                guard let object else {
                    throw BrokerFailure(.upstream, "the token exchange at \(url) answered HTTP 200 with something that is not a JSON object",
                                        hint: "check that url points at the token exchange service (octo-sts: https://octo-sts.dev)")
                }
                // Never quote it: whatever is there may be the token, whole or in part.
                guard let token = object["token"] as? String, !token.isEmpty else {
                    throw BrokerFailure(.upstream, "the token exchange at \(url) answered HTTP 200 without a token",
                                        hint: "check that url points at an octo-sts compatible service")
                }
                // It goes into git's credential protocol and HTTP headers: a CR, LF or other
                // control character would end a line there and smuggle in another.
                guard token.utf8.count <= 1024, token.utf8.allSatisfy({ (0x21...0x7e).contains($0) }) else {
                    throw BrokerFailure(.upstream, "the token exchange at \(url) answered with a token that holds spaces, control characters or non-ASCII bytes, or is longer than 1024 bytes; it was not used",
                                        hint: "report it to the service's operator: a GitHub token is printable ASCII")
                }
                return Credential(.password(username: username, password: Secret(token)),
                                  expiresAt: context.clock.now() + 55 * 60, persistable: false)
            }
            // The service's own words say which check failed (issuer, subject, audience, policy);
            // a service that echoes the bearer back has it cut out.
            let said = (object?["message"] as? String) ?? (object?["error"] as? String) ?? ""
            let bearer = oidc.token.reveal()
            let message = scrubbedForMessage(said, removing: [bearer, String(bearer.split(separator: ".").last ?? "")],
                                             minimumSecretLength: 8, limit: 300)
            throw BrokerFailure(status == 401 || status == 403 ? .denied : .upstream,
                                "the token exchange at \(url) refused scope \(scope) policy \(policy): HTTP \(status)"
                                    + (message.isEmpty ? "" : ": \(message)"),
                                hint: status == 401 || status == 403 ? "check the trust policy's issuer, subject and audience against the OIDC token's claims" : nil)
        }
    }

    /// The largest exchange answer read: octo-sts answers a few hundred bytes.
    static let maximumAnswer = 64 * 1024
}
