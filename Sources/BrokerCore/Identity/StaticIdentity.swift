// kind = static: a username and a long-lived secret from a reference (a PAT, a service password).

import BrokerWire

public struct StaticIdentity: IdentityKind, ExportsEnvironment {
    public static let kindName = "static"
    public static let summary = "a username and a secret read from env:, file: or cmd: when needed"
    public static let settings = [
        SettingSpec("username", required: true, "the user name to present (git: the HTTP Basic user)"),
        SettingSpec("secret", required: true, "reference to the password or token: env:NAME, file:PATH or cmd:COMMAND"),
        SettingSpec("secret-timeout", "how long a cmd: secret may run (default [agent] command-timeout)"),
        EnvironmentExports.spec,
    ]
    public static let upstream = UpstreamRule.none

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

    public func cacheParameters(in context: ResolveContext) -> [String] { ["username=\(username)", "secret=\(secret)"] }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        let value = try secret.resolve(context, timeout: secretTimeout ?? 30)
        // A long-lived secret: no expiry, and never written to the disk cache (D9).
        return Credential(attributes: ["username": username], secrets: ["password": value])
    }
}

/// A kind whose secret broker-env-wrap may export into a wrapped command's environment, for
/// tools that read a token only from a variable (`env = GITHUB_TOKEN`).
public protocol ExportsEnvironment {
    var exports: EnvironmentExports { get }
}

/// The `env` key, shared by `static` and `exec`: variable names, repeatable. It does not shape
/// the credential, so it stays out of the cache key.
public struct EnvironmentExports: Sendable, Equatable {
    public static let spec = SettingSpec("env", "a variable broker-env-wrap sets to the secret (e.g. GITHUB_TOKEN); repeat for more")

    public let names: [String]

    public init(_ definition: IdentityDefinition) throws {
        names = try (definition.settings["env"] ?? []).map { entry in
            guard let name = entry.value, EnvPlan.isVariableName(name) else {
                throw ConfigError("env must name a variable: a letter or _, then letters, digits and _", at: entry.location)
            }
            return name
        }
    }
}
