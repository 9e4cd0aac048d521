// kind = static: a username and a long-lived secret from a reference (a PAT, a service password).

import BrokerWire

public struct StaticIdentity: IdentityKind {
    public static let kindName = "static"
    public static let summary = "a username and a secret read from env:, file: or cmd: when needed"
    public static let settings = [
        SettingSpec("username", required: true, "the user name to present (git: the HTTP Basic user)"),
        SettingSpec("secret", required: true, "reference to the password or token: env:NAME, file:PATH or cmd:COMMAND"),
        SettingSpec("secret-timeout", "how long a cmd: secret may run (default [agent] command-timeout)"),
    ]
    public static let upstream = UpstreamRule.none

    public let username: String
    public let secret: SecretReference
    public let secretTimeout: Int?

    public init(_ definition: IdentityDefinition) throws {
        username = try definition.require("username").0
        let (text, location) = try definition.require("secret")
        secret = try SecretReference(text, at: location)
        secretTimeout = try definition.entry("secret-timeout").map { try ConfigSyntax.parseDuration($0.value, at: $0.location) }
    }

    public func cacheParameters(in context: ResolveContext) -> [String] { ["username=\(username)", "secret=\(secret)"] }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        let value = try secret.resolve(context, timeout: secretTimeout ?? 30)
        // A long-lived secret: no expiry, and never written to the disk cache (D9).
        return Credential(attributes: ["username": username], secrets: ["password": value])
    }
}
