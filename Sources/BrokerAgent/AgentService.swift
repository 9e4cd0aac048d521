// What the agent does with one request: checks the version and routes `op=` to a small handler.

import BrokerCore
import BrokerWire
import Foundation

/// One request, typed at the door: its operation, its fields and who sent it.
struct AgentRequest {
    var operation: AgentOperation
    var message: WireMessage
    var caller: Caller

    subscript(_ key: String) -> String? { message[key] }

    /// The identity the request names; an error when it names none.
    func identity() throws -> String {
        guard let name = message[WireKey.identity], !name.isEmpty else { throw BrokerFailure(.input, "request names no identity") }
        return name
    }
}

public final class AgentService: @unchecked Sendable {
    public let paths: BrokerPaths
    public let configStore: ConfigStore
    public let gitStore: GitCredentialStore
    /// docker logins for registries bound to no identity (RegistryCredentialStore.swift).
    public let registryStore = RegistryCredentialStore()
    public let resolver: ChainResolver
    public let audit: AuditLog
    public let clock: Clock
    public let startedAt: Int64
    let log: @Sendable (String) -> Void
    /// broker-env-wrap's leases and the container-credentials endpoint (EnvWrapSessions.swift).
    public let envWrap = EnvWrapSessions()
    /// github/pat-pool tokens leased to processes (LeaseManager.swift, PoolLeasing.swift).
    public let leases: LeaseManager
    /// Per-caller token buckets (RateLimiter.swift).
    public let limiter = RateLimiter()
    /// Long-lived secrets: `keyring:` references and `brokerctl secret`/`unlock`/`lock`.
    public let keyring: KeyringService
    /// Rate limit, resolve, audit and error naming, once for every handler.
    let issuer: Issuer
    /// Set by `op=stop`; the server loop polls it.
    public internal(set) var stopRequested = false
    private let countsLock = NSLock()
    private var replayedCount = 0
    /// Warm answers the serving loops gave again from memory (WarmAnswers), for `status`.
    var warmAnswersReplayed: Int { countsLock.withLock { replayedCount } }

    func countReplayed(_ count: Int) { countsLock.withLock { replayedCount += count } }

    public init(paths: BrokerPaths, environment: Environment, clock: Clock = .system, log: @escaping @Sendable (String) -> Void) {
        self.paths = paths
        self.clock = clock
        self.log = log
        // Ambient brokers read the agent's own environment; a skipped one is audited.
        let ambientAudit = AmbientFailureAudit(log: log)
        let configStore = ConfigStore(paths: paths, environment: environment, onAmbientFailure: { ambientAudit.report($0) })
        self.configStore = configStore
        let cache = CredentialCache(directory: paths.cacheEntriesDirectory, log: log)
        keyring = KeyringService(environment: environment, clock: clock,
                                 settings: { (try? configStore.config().get())?.keyring ?? KeyringSettings() })
        gitStore = GitCredentialStore(clock: clock, vault: GitKeyringVault(keyring: keyring))
        // Remote secrets are read with AWS credentials the resolver itself provides (and caches).
        let resolverBox = RemoteSecretsResolverBox()
        let remoteSecrets = AWSRemoteSecrets(environment: environment, clock: clock,
                                             settings: { (try? configStore.config().get())?.secrets ?? SecretsSettings() },
                                             credentials: { try resolverBox.awsCredentials($0, config: configStore) })
        resolver = ChainResolver(cache: cache, context: ResolveContext(environment: environment, clock: clock,
                                                                       remoteSecrets: remoteSecrets, keyring: keyring))
        resolverBox.resolver = resolver
        audit = AuditLog(path: paths.auditLogPath, settings: { configStore.auditSettings }, log: log)
        ambientAudit.attach(audit)
        leases = LeaseManager(directory: paths.leasesDirectory, clock: clock, log: log)
        issuer = Issuer(resolver: resolver, audit: audit, limiter: limiter, clock: clock)
        startedAt = clock.now()
        resolver.onBackgroundRefresh = { [audit] identity, error in
            audit.record(AuditRecord(event: .refreshed, outcome: error == nil ? "ok" : "error", identity: identity,
                                     adapter: "agent", caller: nil, reason: error.map { "\($0)" }))
        }
    }

    /// Answers one request, waiting for whatever it needs. Never throws: every failure becomes
    /// a `status=error` answer.
    public func handle(_ message: WireMessage, caller: Caller) -> WireMessage {
        do {
            return try answer(message, operation: message.operation, caller: caller)
        } catch {
            // Only a loop thread is ever told to wait (ServingThread); say so rather than hang.
            return Self.errorAnswer(BrokerFailure(.internal, "request needed to wait where waiting is not allowed"))
        }
    }

    /// Operations a serving loop may try to answer at once: each answers from memory when it
    /// can, and throws `MustWait` at its first step that could wait. Any other operation (and
    /// every new one, until it is listed here) goes to a thread.
    static func answeredWithoutWaiting(_ operation: AgentOperation) -> Bool {
        switch operation {
        case .ping, .status, .gitGet, .gitStore, .gitErase, .awsCredentials, .envPlan: return true
        default: return false
        }
    }

    /// The answer when it needs no waiting (a cache hit, a git credential-cache entry, an
    /// error); nil when the request must go to a thread that may wait. Called on a loop.
    func answerWithoutWaiting(_ message: WireMessage, caller: Caller) -> WireMessage? {
        let operation = message.operation
        if let operation, !Self.answeredWithoutWaiting(operation) { return nil }
        return try? answer(message, operation: operation, caller: caller)
    }

    /// Throws only `MustWait`. `operation`: the one `message` names, looked up once by the caller.
    private func answer(_ message: WireMessage, operation: AgentOperation?, caller: Caller) throws -> WireMessage {
        guard message[WireKey.version] == "1" else {
            return Self.errorAnswer(BrokerFailure(.input, "unsupported protocol version \(message[WireKey.version].map { WireCodec.printable($0) } ?? "(none)")",
                                                  hint: "the adapter and broker-agent come from different releases; run `brokerctl stop`"))
        }
        do {
            guard let operation else {
                throw BrokerFailure(.input, "unknown operation \"\(WireCodec.printable(message[WireKey.operation] ?? ""))\"")
            }
            let request = AgentRequest(operation: operation, message: message, caller: caller)
            switch operation {
            case .ping, .status, .stop: return try ControlHandler(service: self).handle(request)
            case .gitGet, .gitStore, .gitErase: return try GitHandler(service: self).handle(request)
            case .awsCredentials: return try AWSHandler(service: self).credentials(request)
            case .awsConsole: return try AWSHandler(service: self).console(request)
            case .whoami, .login, .logout: return try IdentityHandler(service: self).handle(request)
            case .envPlan: return try EnvPlanHandler(service: self).handle(request)
            case .dockerGet, .dockerStore, .dockerErase, .dockerList: return try DockerHandler(service: self).handle(request)
            case .kubeCredential: return try KubeHandler(service: self).credential(request)
            case .keyringSet, .keyringGet, .keyringRemove, .keyringList, .keyringUnlock, .keyringLock:
                return try KeyringHandler(service: self).handle(request)
            case .providerLogin, .providerLoginStatus, .providerLogout, .providerList: return try ProviderHandler(service: self).handle(request)
            }
        } catch let wait as MustWait {
            throw wait
        } catch {
            return Self.errorAnswer(error)
        }
    }

    static func errorAnswer(_ error: Error) -> WireMessage {
        if let limited = error as? RateLimited { return errorAnswer(limited.failure) }
        var answer = WireMessage()
        answer.append(WireKey.status, "error")
        if let failure = error as? BrokerFailure {
            answer.append(WireKey.errorKind, failure.kind.rawValue)
            answer.append(WireKey.error, failure.message)
            answer.append(WireKey.hint, ifPresent: failure.hint)
            answer.append(WireKey.loginIdentity, ifPresent: failure.login?.identity)
            answer.append(WireKey.loginPrompt, ifPresent: failure.login?.prompt)
        } else if let config = error as? ConfigError {
            answer.append(WireKey.errorKind, BrokerFailure.Kind.config.rawValue)
            answer.append(WireKey.error, config.location.map { "\($0): \(config.message)" } ?? config.message)
            answer.append(WireKey.hint, ifPresent: config.hint)
        } else if let broker = error as? BrokerError {
            answer.append(WireKey.error, broker.message)
            answer.append(WireKey.hint, ifPresent: broker.hint)
        } else {
            answer.append(WireKey.errorKind, BrokerFailure.Kind.internal.rawValue)
            answer.append(WireKey.error, "internal error: \(error)")
        }
        // An error text comes from our own code and names sources, never values; still, keep
        // it to one clean line.
        answer.fields = answer.fields.map { .init($0.key, $0.value.onOneLine) }
        return answer
    }

    func loadConfig() throws -> BrokerConfig { try configStore.config().get() }

    /// `body` with the configuration `loadConfig` would give, read in the store's box rather than
    /// copied out of it (for the warm paths: the copy was a tenth of a cache hit's instructions).
    func withConfig<R>(_ body: (BrokerConfig) throws -> R) throws -> R {
        let snapshot = configStore.snapshot()
        if let error = snapshot.error { throw error }
        return try body(snapshot.config)
    }
}

/// Lets the remote-secrets reader resolve the AWS identity it reads with through the resolver
/// that, in turn, calls the reader: set once, right after both exist.
final class RemoteSecretsResolverBox: @unchecked Sendable {
    var resolver: ChainResolver?

    func awsCredentials(_ identity: String, config store: ConfigStore) throws -> AWSCredentials {
        guard let resolver else { throw BrokerFailure(.internal, "the remote-secrets reader ran before the agent was built") }
        let config = try store.config().get()
        // 15 minutes, botocore's own margin: enough for one read with any retry.
        let credential = try resolver.resolve(identity, in: config, minimumValidity: 900).credential
        guard let keys = credential.aws else {
            throw BrokerFailure(.config, "identity \"\(identity)\" gave no AWS credentials to read remote secrets with")
        }
        return keys
    }
}

/// Ambient broker failures found while loading the configuration, which happens once before the
/// audit log exists: kept until it does, then written as `ambient` error records.
final class AmbientFailureAudit: @unchecked Sendable {
    private let lock = NSLock()
    private var audit: AuditLog?
    private var pending: [String] = []
    private let log: @Sendable (String) -> Void

    init(log: @escaping @Sendable (String) -> Void) { self.log = log }

    func report(_ failure: String) {
        log("warning: \(failure)")
        lock.lock()
        guard let audit else { pending.append(failure); lock.unlock(); return }
        lock.unlock()
        audit.record(AuditRecord(event: .ambient, outcome: "error", identity: nil, adapter: "agent", caller: nil, reason: failure))
    }

    func attach(_ audit: AuditLog) {
        lock.lock()
        self.audit = audit
        let queued = pending
        pending = []
        lock.unlock()
        for failure in queued {
            audit.record(AuditRecord(event: .ambient, outcome: "error", identity: nil, adapter: "agent", caller: nil, reason: failure))
        }
    }
}
