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
    /// Rate limit, resolve, audit and error naming, once for every handler.
    let issuer: Issuer
    /// Set by `op=stop`; the server loop polls it.
    public internal(set) var stopRequested = false

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
        issuer = Issuer(resolver: resolver, audit: audit, limiter: limiter, clock: clock)
        startedAt = clock.now()
        resolver.onBackgroundRefresh = { [audit] identity, error in
            audit.record(AuditRecord(event: .refreshed, outcome: error == nil ? "ok" : "error", identity: identity,
                                     adapter: "agent", caller: nil, reason: error.map { "\($0)" }))
        }
    }

    /// Answers one request. Never throws: every failure becomes a `status=error` answer.
    public func handle(_ message: WireMessage, caller: Caller) -> WireMessage {
        guard message[WireKey.version] == "1" else {
            return Self.errorAnswer(BrokerFailure(.input, "unsupported protocol version \(message[WireKey.version].map { WireCodec.printable($0) } ?? "(none)")",
                                                  hint: "the adapter and broker-agent come from different releases; run `brokerctl stop`"))
        }
        do {
            guard let operation = message.operation else {
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
            case .providerLogin, .providerLoginStatus, .providerLogout, .providerList: return try ProviderHandler(service: self).handle(request)
            }
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
}
