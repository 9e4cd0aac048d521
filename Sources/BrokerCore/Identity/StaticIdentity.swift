// kind = static: a username and a long-lived secret from a reference (a PAT, a service password).

import BrokerWire

public struct StaticIdentity: ResolvedKind {
    public static let descriptor = KindDescriptor(
        name: "static",
        summary: "a username and a secret read from env:, file: or cmd: when needed",
        settings: [
            SettingSpec("username", "NAME", required: true, "the user name to present (git: the HTTP Basic user)"),
            SettingSpec("secret", "REFERENCE", .secretReference, required: true,
                        "reference to the password or token: env:NAME, file:PATH or cmd:COMMAND",
                        details: "where the password or token is read from: `env:NAME`, `file:PATH` or `cmd:COMMAND`."),
            SettingSpec("secret-timeout", "DURATION", .duration, "how long a cmd: secret may run (default [agent] command-timeout)",
                        details: "How long a `cmd:` secret may run; default `[agent] command-timeout`."),
            EnvironmentExports.spec,
        ],
        upstream: .none, produces: .password,
        description: ["A fixed user name and a long-lived secret, such as a personal access token or a service password. It takes no `via`. The secret is read from its reference when needed and held in memory only, never in the disk cache."])

    public let username: String
    public let secret: SecretReference
    public let secretTimeout: Int?
    public let exports: EnvironmentExports

    public init(_ definition: IdentityDefinition) throws {
        username = try definition.require("username").0
        let (text, location) = try definition.require("secret")
        secret = try SecretReference(text, at: location)
        secretTimeout = try definition.entry("secret-timeout").map { try ConfigSyntax.parseDuration($0.value, at: $0.location) }
        exports = try EnvironmentExports(definition)
    }

    public var delivery: DeliverySettings { DeliverySettings(exports: exports.names) }
    public var secretReferences: [SecretReference] { [secret] }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        [CacheParameter("username", username), CacheParameter("secret", secret)]
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        let value = try secret.resolve(context, timeout: secretTimeout ?? 30)
        // A long-lived secret: no expiry, and never written to the disk cache (D9).
        return Credential(username: username, password: value)
    }
}

/// The `env` key, shared by the kinds whose secret a wrapped command may read from a variable:
/// variable names, repeatable. It does not shape the credential, so it stays out of the cache key.
public struct EnvironmentExports: Sendable, Equatable {
    public static let spec = SettingSpec(
        "env", "NAME", repeatable: true, "a variable broker-env-wrap sets to the secret (e.g. GITHUB_TOKEN); repeat for more",
        details: "broker-env-wrap(1) sets the variable NAME to this identity's secret in the command it wraps, for tools that read a token only from the environment (`env = GITHUB_TOKEN`). Repeat the key to set several names. NAME is a letter or `_` followed by letters, digits and `_`, and not a variable that changes how programs run (`PATH`, `LD_*`, `DYLD_*`, `BASH_ENV`, `ENV`, `BASH_FUNC_*`, `IFS`, `GIT_CONFIG*`, `GIT_SSH_COMMAND`, `NODE_OPTIONS` and the like). The value is fetched when the wrap starts and does not refresh while the command runs.")

    public let names: [String]

    public init(_ definition: IdentityDefinition) throws {
        names = try (definition.settings["env"] ?? []).map { entry in
            guard let name = entry.value, EnvPlan.isVariableName(name) else {
                throw ConfigError("env must name a variable: a letter or _, then letters, digits and _", at: entry.location)
            }
            guard EnvPlan.isAllowedExport(name) else {
                throw ConfigError("env = \(name) would change how shells, the dynamic loader or git run programs; the broker refuses to set it",
                                  at: entry.location, hint: "pick a name the tool reads its token from, e.g. GITHUB_TOKEN")
            }
            return name
        }
    }
}
