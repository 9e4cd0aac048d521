// What the agent does with one request: routes `op=` to git, identity and control handlers.

import BrokerCore
import BrokerWire
import Foundation

public final class AgentService: @unchecked Sendable {
    public let paths: BrokerPaths
    public let configStore: ConfigStore
    public let gitStore: GitCredentialStore
    public let resolver: ChainResolver
    public let audit: AuditLog
    public let clock: Clock
    public let startedAt: Int64
    let log: @Sendable (String) -> Void
    /// broker-env-wrap's leases and the container-credentials endpoint (AgentServiceEnv.swift).
    public let envWrap = EnvWrapSessions()
    /// github/pat-pool tokens leased to processes (LeaseManager.swift, AgentServicePATPool.swift).
    public let leases: LeaseManager
    /// Per-caller token buckets (RateLimiter.swift).
    public let limiter = RateLimiter()
    /// Set by `op=stop`; the server loop polls it.
    public private(set) var stopRequested = false

    public init(paths: BrokerPaths, environment: Environment, clock: Clock = .system, log: @escaping @Sendable (String) -> Void) {
        self.paths = paths
        self.clock = clock
        self.log = log
        let configStore = ConfigStore(paths: paths)
        self.configStore = configStore
        gitStore = GitCredentialStore(clock: clock)
        let cache = CredentialCache(directory: paths.cacheEntriesDirectory, log: log)
        resolver = ChainResolver(cache: cache, context: ResolveContext(environment: environment, clock: clock))
        audit = AuditLog(path: paths.auditLogPath, settings: { (try? configStore.config().get())?.audit ?? AuditSettings() })
        leases = LeaseManager(directory: paths.leasesDirectory, clock: clock, log: log)
        startedAt = clock.now()
        resolver.onBackgroundRefresh = { [audit] identity, error in
            audit.record(AuditRecord(event: .refreshed, outcome: error == nil ? "ok" : "error", identity: identity,
                                     adapter: "agent", caller: nil, reason: error.map { "\($0)" }))
        }
    }

    /// Answers one request. Never throws: every failure becomes a `status=error` answer.
    public func handle(_ request: WireMessage, caller: Caller) -> WireMessage {
        guard request["v"] == "1" else {
            return Self.errorAnswer(BrokerFailure(.input, "unsupported protocol version \(request["v"].map { WireCodec.printable($0) } ?? "(none)")",
                                                  hint: "the adapter and broker-agent come from different releases; run `brokerctl stop`"))
        }
        do {
            switch request["op"] ?? "" {
            case "ping":
                return ok(["pid": String(getpid())])
            case "status":
                return try status()
            case "stop":
                stopRequested = true
                return ok([:])
            case "git.get", "git.store", "git.erase":
                return try git(request, caller: caller)
            case "identity.logout":
                return try logout(request, caller: caller)
            case "aws.credentials":
                return try awsCredentials(request, caller: caller)
            case "aws.whoami":
                return try awsWhoami(request, caller: caller)
            case "identity.login":
                return try login(request, caller: caller)
            case "env.plan":
                return try envPlan(request, caller: caller)
            case let op:
                throw BrokerFailure(.input, "unknown operation \"\(WireCodec.printable(op))\"")
            }
        } catch {
            return Self.errorAnswer(error)
        }
    }

    static func errorAnswer(_ error: Error) -> WireMessage {
        if let limited = error as? RateLimited { return errorAnswer(limited.failure) }
        var answer = WireMessage()
        answer.append("status", "error")
        if let failure = error as? BrokerFailure {
            answer.append("kind", failure.kind.rawValue)
            answer.append("error", failure.message)
            answer.append("hint", ifPresent: failure.hint)
        } else if let config = error as? ConfigError {
            answer.append("kind", BrokerFailure.Kind.config.rawValue)
            answer.append("error", config.location.map { "\($0): \(config.message)" } ?? config.message)
            answer.append("hint", ifPresent: config.hint)
        } else if let broker = error as? BrokerError {
            answer.append("error", broker.message)
            answer.append("hint", ifPresent: broker.hint)
        } else {
            answer.append("kind", BrokerFailure.Kind.internal.rawValue)
            answer.append("error", "internal error: \(error)")
        }
        // An error text comes from our own code and names sources, never values; still, keep
        // it to one clean line.
        answer.fields = answer.fields.map { .init($0.key, $0.value.replacingOccurrences(of: "\n", with: " ")) }
        return answer
    }

    func ok(_ fields: [String: String], ordered: [WireMessage.Field] = []) -> WireMessage {
        var answer = WireMessage()
        answer.append("status", "ok")
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) { answer.append(key, value) }
        answer.fields += ordered
        return answer
    }

    func loadConfig() throws -> BrokerConfig { try configStore.config().get() }

    // MARK: git

    func git(_ request: WireMessage, caller: Caller) throws -> WireMessage {
        let op = String(request["op"]!.dropFirst(4))
        let credential = GitCredential(request)
        guard let scheme = credential.protocol, let host = credential.host else {
            throw BrokerFailure(.input, "git request without protocol and host")
        }
        let target = "\(scheme)://\(host)" + (credential.path.map { "/\($0)" } ?? "")
        let config = try loadConfig()
        if let binding = config.gitBinding(protocol: scheme, host: host, path: credential.path) {
            // A pool leases a token per process instead of resolving and caching one.
            if let pool = try patPool(binding.identity, in: config) {
                try charge(binding.identity, caller: caller, adapter: "git", target: target, config: config)
                return try poolGit(op, pool: pool, credential: credential, config: config, caller: caller, target: target)
            }
            if op != "get" { try charge(binding.identity, caller: caller, adapter: "git", target: target, config: config) }
            return try boundGit(op, binding: binding, config: config, caller: caller, target: target)
        }
        // credential-cache's own requests are all served from memory: hits, per host.
        try charge("\(scheme)://\(host)", caller: caller, adapter: "git", target: target, config: config)
        var warning: [WireMessage.Field] = []
        if op == "get", credential.path == nil,
           let needy = config.pathBoundBindingsNeedingPath(protocol: scheme, host: host).first {
            warning.append(.init("broker.warning", "\(needy.pattern) is bound to identity \"\(needy.identity)\" but git sent no path; run: git config --global credential.\(scheme)://\(host).useHttpPath true"))
        }
        switch op {
        case "get":
            guard let found = gitStore.get(credential) else { return ok([:], ordered: warning) }
            audit.record(AuditRecord(event: .issued, identity: nil, adapter: "git", caller: caller, target: target, tier: "memory"))
            return ok([:], ordered: found.answer(for: credential).fields + warning)
        case "store":
            // Clamped: `now + timeout` must not overflow (timeout=9223372036854775807 trapped the agent).
            let timeout = min(request["timeout"].flatMap(Int.init) ?? config.git.cacheTimeout, Int(Int32.max))
            let outcome = gitStore.store(credential, timeout: timeout)
            audit.record(AuditRecord(event: .stored, outcome: outcome == .stored ? "ok" : "skipped", identity: nil, adapter: "git",
                                     caller: caller, target: target, reason: outcome == .stored ? nil : "\(outcome) credential not stored"))
            return ok([:])
        default:
            let removed = gitStore.erase(credential)
            audit.record(AuditRecord(event: .erased, identity: nil, adapter: "git", caller: caller, target: target, reason: "\(removed) removed"))
            return ok([:])
        }
    }

    func boundGit(_ op: String, binding: GitBinding, config: BrokerConfig, caller: Caller, target: String) throws -> WireMessage {
        switch op {
        case "get":
            do {
                let resolution = try resolve(binding.identity, in: config, minimumValidity: config.git.minimumValidity,
                                             fallbackValidity: Self.gitFallbackValidity, for: caller)
                let credential = resolution.credential
                audit.record(AuditRecord(event: .issued, identity: binding.identity, adapter: "git", caller: caller,
                                         target: target, tier: resolution.tier.rawValue))
                var answer = WireMessage()
                answer.append("status", "ok")
                answer.append("username", ifPresent: credential.attributes["username"])
                answer.append("password", ifPresent: credential.secrets["password"]?.reveal())
                answer.append("password_expiry_utc", ifPresent: credential.expiresAt.map(String.init))
                return answer
            } catch {
                audit.record(AuditRecord(event: .denied, outcome: "error", identity: binding.identity, adapter: "git",
                                         caller: caller, target: target, reason: "\(error)"))
                throw Self.naming(binding.identity, error)
            }
        case "store":
            return ok([:])  // the broker is the source of truth for bound URLs
        default:
            let removed = resolver.cache.remove(identity: binding.identity)
            audit.record(AuditRecord(event: .erased, identity: binding.identity, adapter: "git", caller: caller,
                                     target: target, reason: "git rejected the credential; \(removed) cached removed"))
            return ok([:])
        }
    }

    // MARK: aws

    func awsCredentials(_ request: WireMessage, caller: Caller) throws -> WireMessage {
        guard let name = request["identity"], !name.isEmpty else { throw BrokerFailure(.input, "request names no identity") }
        let adapter = request["adapter"] ?? "aws"
        let config = try loadConfig()
        let resolution: Resolution
        do {
            resolution = try resolve(name, in: config, minimumValidity: config.aws.minimumValidity,
                                     fallbackValidity: Self.awsFallbackValidity, for: caller)
        } catch {
            audit.record(AuditRecord(event: .denied, outcome: "error", identity: name, adapter: adapter, caller: caller, reason: "\(error)"))
            throw Self.naming(name, error)
        }
        let credential = resolution.credential
        guard let keyID = credential.attributes[Credential.AWSField.accessKeyID],
              let secret = credential.secrets[Credential.AWSField.secretAccessKey] else {
            throw BrokerFailure(.config, "identity \"\(name)\" (kind \(config.identities[name]?.kind ?? "?")) does not give AWS credentials",
                                hint: "use an aws/… identity")
        }
        audit.record(AuditRecord(event: .issued, identity: name, adapter: adapter, caller: caller, tier: resolution.tier.rawValue))
        var answer = WireMessage()
        answer.append("status", "ok")
        answer.append("access_key_id", keyID)
        answer.append("secret_access_key", secret.reveal())
        answer.append("session_token", ifPresent: credential.secrets[Credential.AWSField.sessionToken]?.reveal())
        answer.append("expiration", ifPresent: credential.expiresAt.map(String.init))
        answer.append("tier", resolution.tier.rawValue)
        return answer
    }

    // MARK: rate limits

    /// Resolves `name` for `caller` within its rate limits: a hit token before serving, and an
    /// upstream token too when the resolver is about to go upstream. Throws `RateLimited`, which
    /// the callers' usual failure audit records as `reason: "rate limited"`.
    ///
    /// `fallbackValidity` is the least the host can still use when the upstream fails (see
    /// `ChainResolver.resolve`); serving such a fallback is audited with the upstream's error.
    func resolve(_ name: String, in config: BrokerConfig, minimumValidity: Int, fallbackValidity: Int? = nil,
                 for caller: Caller) throws -> Resolution {
        let settings = RateSettings(config.agent)
        try limit(name, .hit, caller: caller, settings: settings)
        let resolution = try resolver.resolve(name, in: config, minimumValidity: minimumValidity, fallbackValidity: fallbackValidity,
                                              refreshAhead: config.agent.refreshAhead) {
            try self.limit(name, .upstream, caller: caller, settings: settings)
        }
        if let reason = resolution.fallbackReason {
            let left = resolution.credential.remaining(at: clock.now()).map { "\($0) s" } ?? "no expiry"
            audit.record(AuditRecord(event: .refreshed, outcome: "error", identity: name, adapter: "agent", caller: caller,
                                     tier: resolution.tier.rawValue,
                                     reason: "upstream failed; served the cached credential (\(left) left): \(reason)"))
        }
        return resolution
    }

    /// The least validity still worth serving when the upstream is down: git uses a token at
    /// once; botocore refreshes 15 minutes before expiry and refuses one within 10.
    static let gitFallbackValidity = 60
    static let awsFallbackValidity = 900

    func limit(_ identity: String, _ cost: RateClass, caller: Caller, settings: RateSettings) throws {
        let key = RateKey.of(caller, identity: identity)
        if let denial = limiter.admit(key, cost, settings: settings) {
            throw RateLimited(failure: denial.failure(for: key))
        }
    }

    /// A hit token for a request served without resolving (git-cache, store, erase); audits a denial.
    func charge(_ identity: String, caller: Caller, adapter: String, target: String?, config: BrokerConfig) throws {
        do {
            try limit(identity, .hit, caller: caller, settings: RateSettings(config.agent))
        } catch {
            audit.record(AuditRecord(event: .denied, outcome: "error", identity: identity.contains("://") ? nil : identity,
                                     adapter: adapter, caller: caller, target: target, reason: "\(error)"))
            throw error
        }
    }

    /// Prefixes a failure with the identity it concerns, so a one-line error says whose it is.
    static func naming(_ identity: String, _ error: Error) -> Error {
        guard let broker = error as? BrokerError else { return error }
        var failure = (broker as? BrokerFailure) ?? BrokerFailure(.upstream, broker.message, hint: broker.hint)
        if !failure.message.hasPrefix("identity \"\(identity)\"") { failure.message = "identity \"\(identity)\": \(failure.message)" }
        return failure
    }

    // MARK: control

    func status() throws -> WireMessage {
        var answer = ok([
            "pid": String(getpid()),
            "started": String(startedAt),
            "socket": paths.socketPath,
            "config": (try? loadConfig().file ?? "(none)") ?? "(invalid)",
            "git_cache_entries": String(gitStore.count),
        ])
        let now = clock.instant()
        for entry in resolver.cache.snapshot() {
            let expires = entry.credential.asSeen(at: now).expiresAt
            answer.append("entry", "\(entry.key.identity) \(entry.key.kind) \(expires.map(String.init) ?? "-") \(entry.key)")
        }
        if case .failure(let error) = configStore.config() {
            answer.append("config_error", "\(error)")
        }
        // github/pat-pool leases by token fingerprint, never the token; the pool's name goes
        // last on the line because an identity name may hold spaces.
        let pools = leases.snapshot()
        for lease in pools.leases {
            answer.append("lease", "\(lease.fingerprint ?? "-") \(lease.holder.pid) \(lease.expiresAt) \(lease.pool)")
        }
        for (pool, tokens) in pools.quarantined.sorted(by: { $0.key < $1.key }) {
            for (fingerprint, until) in tokens.sorted(by: { $0.key < $1.key }) {
                answer.append("quarantined", "\(fingerprint) \(until) \(pool)")
            }
        }
        if let failure = resolver.cache.lastWriteFailure {
            answer.append("cache_error", failure)
        }
        if let failure = audit.lastWriteFailure {
            answer.append("audit_error", failure)
        }
        return answer
    }

    func logout(_ request: WireMessage, caller: Caller) throws -> WireMessage {
        let name = request["identity"]
        if let name, name != "*" {
            let config = try loadConfig()
            guard config.identities[name] != nil else {
                throw BrokerFailure(.denied, "identity \"\(name)\" is not defined")
            }
        }
        let identity = name == "*" ? nil : name
        let removed = resolver.cache.remove(identity: identity)
        if identity == nil { gitStore.removeAll() }
        audit.record(AuditRecord(event: .erased, identity: identity ?? "*", adapter: "brokerctl", caller: caller, reason: "logout; \(removed) removed"))
        return ok(["removed": String(removed)])
    }
}
