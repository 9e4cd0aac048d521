// kind = github/pat-pool: personal access tokens, each leased to one job at a time by broker-agent.

import BrokerWire
import Foundation

/// A pool of long-lived tokens. This kind only knows where the tokens come from and how leases
/// behave; which token a process holds is broker-agent's LeaseManager's business, because a lease
/// is per process tree and must survive nothing but its holder. So a pool is never resolved
/// through the chain resolver or the credential cache (`obtain` refuses).
public struct GitHubPATPoolIdentity: TokenPool {
    public static let descriptor = KindDescriptor(
        name: "github/pat-pool",
        summary: "a pool of personal access tokens, each leased to one job (process tree) at a time",
        family: .github,
        settings: [
            SettingSpec("tokens", "REFERENCE", .secretReference, repeatable: true,
                        "reference to a list of tokens, one per line (blank lines and # comments ignored): file:PATH or cmd:COMMAND; repeatable",
                        details: "Where a list of tokens is read from, one per line: usually `file:PATH` (a 0600 file), or `cmd:COMMAND`. Blank lines and lines starting with `#` are ignored; a line with a space in it is refused. Repeatable."),
            SettingSpec("token", "REFERENCE", .secretReference, repeatable: true,
                        "reference to one token (env:NAME, file:PATH or cmd:COMMAND); repeat for more",
                        details: "One token: `env:NAME`, `file:PATH` or `cmd:COMMAND`. Repeat the key for more. `tokens` and `token` may be mixed; at least one is required. The pool's order is the file's order, and the first free token is leased first. A token listed twice counts once."),
            SettingSpec("username", "NAME", "the user name git presents (default x-access-token)"),
            SettingSpec("lease-ttl", "DURATION", .duration, "the longest one lease lasts when its holder does not exit first (default 1h)",
                        details: "The longest a lease lasts when its holder does not exit first; default 1h. Set it longer than your longest job: after it, the token may be leased to another job. A holder asking again when less than `[git] minimum-validity` is left has its lease renewed."),
            SettingSpec("quarantine", "DURATION", .duration, "how long a token git reported as rejected (401) is kept out of the pool (default 1h)",
                        details: "How long a token that git reported as rejected stays out of the pool; default 1h."),
            EnvironmentExports.spec,
        ],
        upstream: .none, produces: .password,
        description: ["A pool of personal access tokens (or any long-lived tokens) shared by concurrent jobs so that no two of them use the same token at once: each request leases one free token to the process tree that asked, and the same holder asking again gets the same token. It takes no `via`, and its tokens are never put in the credential cache."],
        notes: [
            .paragraph("Who holds a lease. Under broker-env-wrap(1), the wrapped process holds it from the moment the wrap starts until it exits, whether the token reaches it through `env` or through git: git inside the job is given the job's token. When git runs git-credential-broker(1) outside a wrap, the holder is the git command itself: the outermost `git` process in the unbroken run of git programs (`git`, `git-remote-https`, any `git-*`) and shells (`sh`, `dash`, `bash`) directly above the helper, so a clone's token is released when the clone ends, not when the shell or CI runner that started it does. Any process that already holds a lease of the pool shares it with its descendants. Without git above the helper (run by hand or from a script), its parent process is the holder. Processes are named by pid and start time, so a recycled pid never inherits a lease. Holders are found and watched through /proc, so this kind works on Linux only for now."),
            .paragraph("A lease ends when its holder exits or `lease-ttl` passes. When git gets a 401 and erases the credential, the token it used is quarantined and its lease released; the next request leases another token (a wrapped job stays a holder and gets the new one). When every token is leased or quarantined, a request fails at once, before the wrapped command starts:"),
            .code("broker-env-wrap: identity \"ci\": pool \"ci\" exhausted: 3/3 leased (hint: …)"),
            .paragraph("Leases and quarantines are kept, by token fingerprint (the first 12 hex digits of the token's SHA-256) and never by value, in `$XDG_STATE_HOME/credential-broker/leases/`, one 0600 file per pool. A restarted agent keeps every lease whose holder is still the same running process, so a restart never hands one token to two live jobs. Lease and quarantine times run on the clock that counts time since boot, so setting the wall clock neither ends a lease early nor stretches it; after a reboot, whose holders are all gone, the pools start empty. Every lease, release, quarantine and refusal is an audit record naming the fingerprint and the holder."),
            .code("""
                [identity "ci"]
                    kind = github/pat-pool
                    tokens = file:~/.config/credential-broker/ci-tokens
                    lease-ttl = 2h
                    env = GH_TOKEN

                [git "https://github.com/acme"]
                    identity = ci
                """),
        ])

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
            throw ConfigError("identity \"\(name)\" (kind \(Self.descriptor.name)) needs tokens or token", at: definition.location,
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

    public var delivery: DeliverySettings { DeliverySettings(exports: exports.names) }
    public var secretReferences: [SecretReference] { sources.map(\.reference) }

    /// The pool's tokens, read from their sources now, in order, without duplicates (a token
    /// listed twice must not be leased twice). Errors name the source, never a value.
    public func tokens(_ context: ResolveContext, timeout: Int) throws -> [Secret] {
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
                if seen.insert(TokenFingerprint.of(Secret(token))).inserted { tokens.append(Secret(token)) }
            }
        }
        guard !tokens.isEmpty else {
            throw BrokerFailure(.config, "identity \"\(name)\": the pool has no tokens (\(sources.map { "\($0.reference)" }.joined(separator: ", ")) gave none)")
        }
        return tokens
    }

}
