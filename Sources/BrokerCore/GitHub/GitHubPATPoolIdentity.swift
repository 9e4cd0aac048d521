// kind = github/pat-pool: personal access tokens, each leased to one job at a time by broker-agent.

import BrokerWire
import Foundation

/// A pool of long-lived tokens. This kind only knows where the tokens come from and how leases
/// behave; which token a process holds is broker-agent's LeaseManager's business, because a lease
/// is per process tree and must survive nothing but its holder. So a pool is never resolved
/// through the chain resolver or the credential cache (`obtain` refuses).
public struct GitHubPATPoolIdentity: IdentityKind, ExportsEnvironment {
    public static let kindName = "github/pat-pool"
    public static let summary = "a pool of personal access tokens, each leased to one job (process tree) at a time"
    public static let settings = [
        SettingSpec("tokens", "reference to a list of tokens, one per line (blank lines and # comments ignored): file:PATH or cmd:COMMAND; repeatable"),
        SettingSpec("token", "reference to one token (env:NAME, file:PATH or cmd:COMMAND); repeat for more"),
        SettingSpec("username", "the user name git presents (default x-access-token)"),
        SettingSpec("lease-ttl", "the longest one lease lasts when its holder does not exit first (default 1h)"),
        SettingSpec("quarantine", "how long a token git reported as rejected (401) is kept out of the pool (default 1h)"),
        EnvironmentExports.spec,
    ]
    public static let upstream = UpstreamRule.none

    public let name: String
    /// Each source gives one token (`token`) or a list (`tokens`), in file order.
    public let sources: [(reference: SecretReference, isList: Bool)]
    public let username: String
    public let leaseTTL: Int
    public let quarantine: Int
    public let exports: EnvironmentExports

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        // File order across both keys, so "the first free token" is the one written first.
        var sources: [(entry: ConfigEntry, isList: Bool)] = []
        sources += (definition.settings["tokens"] ?? []).map { ($0, true) }
        sources += (definition.settings["token"] ?? []).map { ($0, false) }
        sources.sort { ($0.entry.location.line, $0.isList ? 0 : 1) < ($1.entry.location.line, $1.isList ? 0 : 1) }
        guard !sources.isEmpty else {
            throw ConfigError("identity \"\(name)\" (kind \(Self.kindName)) needs tokens or token", at: definition.location,
                              hint: "add `tokens = file:PATH` (one token per line) or `token = env:NAME` lines")
        }
        self.sources = try sources.map { source in
            guard let text = source.entry.value, !text.isEmpty else {
                throw ConfigError("\(source.isList ? "tokens" : "token") needs a reference", at: source.entry.location)
            }
            return (try SecretReference(text, at: source.entry.location), source.isList)
        }
        username = definition.value("username").flatMap { $0.isEmpty ? nil : $0 } ?? "x-access-token"
        leaseTTL = try Self.positiveDuration(definition, "lease-ttl", default: 3600)
        quarantine = try Self.positiveDuration(definition, "quarantine", default: 3600)
        exports = try EnvironmentExports(definition)
    }

    static func positiveDuration(_ definition: IdentityDefinition, _ key: String, default value: Int) throws -> Int {
        guard let entry = definition.entry(key) else { return value }
        let seconds = try ConfigSyntax.parseDuration(entry.value, at: entry.location)
        guard seconds > 0 else { throw ConfigError("\(key) must be longer than 0s", at: entry.location) }
        return seconds
    }

    public func cacheParameters(in context: ResolveContext) -> [String] {
        ["username=\(username)"] + sources.map { "\($0.isList ? "tokens" : "token")=\($0.reference)" }
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        throw BrokerFailure(.config, "identity \"\(name)\" is a token pool: its tokens are leased to one process at a time, only through git-credential-broker and broker-env-wrap",
                            hint: "bind it with [git \"URL\"] or add `env = NAME` and run the job under broker-env-wrap")
    }

    /// The pool's tokens, read from their sources now, in order, without duplicates (a token
    /// listed twice must not be leased twice). Errors name the source, never a value.
    public func tokens(_ context: ResolveContext, timeout: Int = 30) throws -> [Secret] {
        var seen: Set<String> = []
        var tokens: [Secret] = []
        for source in sources {
            let value = try source.reference.resolve(context, timeout: timeout).reveal()
            let lines = source.isList ? value.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map(String.init) : [value]
            for line in lines {
                let token = line.trimmingCharacters(in: .whitespaces)
                if token.isEmpty || token.hasPrefix("#") { continue }
                if token.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7f } ?? false }) {
                    throw BrokerFailure(.config, "identity \"\(name)\": \(source.reference) holds a line that is not one token (it contains a space or control character)",
                                        hint: "write one token per line; comments go on their own line after #")
                }
                if seen.insert(Self.fingerprint(Secret(token))).inserted { tokens.append(Secret(token)) }
            }
        }
        guard !tokens.isEmpty else {
            throw BrokerFailure(.config, "identity \"\(name)\": the pool has no tokens (\(sources.map { "\($0.reference)" }.joined(separator: ", ")) gave none)")
        }
        return tokens
    }

    /// How a token is named in leases, audit records and errors: the first 12 hex digits of its
    /// SHA-256. Enough to tell a pool's tokens apart, useless for recovering one.
    public static func fingerprint(_ token: Secret) -> String {
        String(SHA256.hash(token.reveal()).hexString.prefix(12))
    }
}
