// kind = aws/web-identity: sts:AssumeRoleWithWebIdentity from a token file or GitHub Actions OIDC.

import BrokerWire
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// CI's way in without a long-lived key. Results come from ambient material (a job's token),
/// so they are never written to the disk cache: the next job on the same runner must not find them.
public struct AWSWebIdentity: AWSIdentityKind {
    public static let descriptor = KindDescriptor(
        name: "aws/web-identity",
        summary: "an IAM role assumed with an OIDC token (a token file, or GitHub Actions)",
        family: .aws,
        settings: AWSSettings.roleSpecs + [
            SettingSpec("token-file", "PATH", "file holding the token (default AWS_WEB_IDENTITY_TOKEN_FILE)",
                        details: "The token file; default `AWS_WEB_IDENTITY_TOKEN_FILE`."),
            SettingSpec("github-oidc", "BOOL", .boolean, "true: request the token from GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN)",
                        details: "Request the token from GitHub Actions (`ACTIONS_ID_TOKEN_REQUEST_URL` and `_TOKEN`, https only)."),
            SettingSpec("audience", "TEXT", "audience for the GitHub Actions token (default sts.amazonaws.com)",
                        details: "The audience asked of GitHub; default sts.amazonaws.com."),
            SettingSpec("duration", "DURATION", .duration, "session length, 15m to 12h (default 1h)"),
        ] + AWSSettings.specs,
        // The token is spent in the exchange: it need only outlive the STS call, not the role.
        upstream: .optional, produces: .aws, upstreamToken: .idToken, upstreamValidity: 60,
        description: ["sts:AssumeRoleWithWebIdentity with an OIDC token, for CI jobs that must never hold a long-lived key. The token comes from `token-file`, from GitHub Actions (`github-oidc = true`), or from the identity named by `via = identity:NAME` when that gives a token (a github/oidc identity). Its credentials come from ambient material and are never written to the disk cache."])

    public let name: String
    public let roleARN: String
    public let tokenFile: String?
    public let githubOIDC: Bool
    public let audience: String
    public let sessionName: String?
    public let duration: Int
    public let aws: AWSSettings

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        let (arn, location) = try definition.require("role-arn")
        try AWSNames.checkRoleARN(arn, at: location)
        roleARN = arn
        tokenFile = definition.value("token-file")
        githubOIDC = try definition.entry("github-oidc").map { try ConfigSyntax.parseBool($0.value, at: $0.location) } ?? false
        if githubOIDC, let entry = definition.entry("token-file") {
            throw ConfigError("set token-file or github-oidc, not both", at: entry.location)
        }
        if definition.via != nil, let entry = definition.entry("token-file") ?? definition.entry("github-oidc") {
            throw ConfigError("with via, the token comes from that identity: drop \(entry.key)", at: entry.location)
        }
        audience = definition.value("audience") ?? "sts.amazonaws.com"
        sessionName = definition.value("session-name")
        duration = try AWSNames.duration(definition, key: "duration", default: 3600, range: 900...43200)
        aws = try AWSSettings(definition)
    }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        [CacheParameter("role", roleARN), CacheParameter("token-file", tokenFile ?? context.environment["AWS_WEB_IDENTITY_TOKEN_FILE"]),
         CacheParameter("github-oidc", githubOIDC), CacheParameter("audience", audience), CacheParameter("duration", duration)]
            + aws.cacheParameters(in: context)
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        let token: Secret
        if let upstream {
            guard let given = upstream.token else {
                throw BrokerFailure(.config, "identity \"\(name)\" needs an OIDC token from its via identity, which gives \(upstream.type.rawValue) credentials",
                                    hint: "chain from an identity of kind \(IdentityKinds.sentence(IdentityKinds.names(producingToken: .idToken)))")
            }
            token = given.token
        } else {
            token = githubOIDC ? try githubToken(context) : try fileToken(context)
        }
        let client = STSClient(endpoint: try aws.endpoint(in: context))
        let result = try client.assumeRoleWithWebIdentity(roleARN: roleARN, sessionName: sessionName ?? AWSNames.defaultSessionName(context),
                                                          webIdentityToken: token, durationSeconds: duration)
        return Credential(result, session: .role, persistable: false)
    }

    func fileToken(_ context: ResolveContext) throws -> Secret {
        guard let path = tokenFile ?? context.environment["AWS_WEB_IDENTITY_TOKEN_FILE"] else {
            throw BrokerFailure(.config, "identity \"\(name)\" has no token-file and AWS_WEB_IDENTITY_TOKEN_FILE is not set in broker-agent's environment")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw BrokerFailure(.config, "cannot read the web identity token file \(path)")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw BrokerFailure(.config, "the web identity token file \(path) is empty") }
        return Secret(token)
    }

    /// GitHub Actions hands a job an URL and a bearer token to ask for an OIDC token.
    func githubToken(_ context: ResolveContext) throws -> Secret {
        try GitHubActionsOIDC.requestToken(audience: audience, identity: name, environment: context.environment, now: context.clock.now()).token
    }
}
