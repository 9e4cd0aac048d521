// The agent's view of the config file: reloaded when the file changes, errors kept for callers.

import BrokerCore
import BrokerWire
import Foundation

/// The configuration is parsed, and every kind built, once per change of the file. Whether it
/// changed is a `stat` (inode, size, mtime), taken by the agent's poll loop once per tick that
/// serves a request (`refresh`), not once per request: a request accepted after an edit was
/// saved sees the edit. Anyone else asking (`config()`) re-checks when the last look is older
/// than `recheckInterval`.
public final class ConfigStore: @unchecked Sendable {
    private let paths: BrokerPaths
    private let lock = NSLock()
    private var stamp: [Int64] = []
    private var checkedAt = -Double.infinity
    private var loaded: Result<BrokerConfig, Error> = .success(BrokerConfig())
    private var agent = AgentSettings()
    private var audit = AuditSettings()
    /// How many times the file was parsed (tests: an unchanged file is parsed once).
    public private(set) var loads = 0
    let recheckInterval: Double

    /// The agent's environment, for the ambient brokers; nil reads the file alone.
    private let environment: Environment?
    /// Told each time a reload skips an ambient broker (the agent audits it).
    private let onAmbientFailure: @Sendable (String) -> Void

    public init(paths: BrokerPaths, environment: Environment? = nil, recheckInterval: Double = 0.1,
                onAmbientFailure: @escaping @Sendable (String) -> Void = { _ in }) {
        self.paths = paths
        self.environment = environment
        self.recheckInterval = recheckInterval
        self.onAmbientFailure = onAmbientFailure
        refresh()
    }

    /// The config as of the last check, re-checked first when that is older than `recheckInterval`.
    public func config() -> Result<BrokerConfig, Error> {
        lock.lock()
        if monotonicSeconds() - checkedAt < recheckInterval {
            defer { lock.unlock() }
            return loaded
        }
        lock.unlock()
        return refresh()
    }

    /// The config as of the last check, without checking.
    public var current: Result<BrokerConfig, Error> {
        lock.lock(); defer { lock.unlock() }
        return loaded
    }

    /// The `[agent]` settings as of the last check (the defaults while the file has errors): what
    /// the poll loop reads per tick, without copying the whole configuration.
    public var agentSettings: AgentSettings {
        lock.lock(); defer { lock.unlock() }
        return agent
    }

    /// The `[audit]` settings as of the last check (the defaults while the file has errors): what
    /// the audit log reads per record.
    public var auditSettings: AuditSettings {
        lock.lock(); defer { lock.unlock() }
        return audit
    }

    /// Stats the file (and the profile's overlay) now and re-reads them when an inode, size or mtime changed.
    @discardableResult
    public func refresh() -> Result<BrokerConfig, Error> {
        // A profile's overlay is part of the configuration: an edit to either reloads both.
        let newStamp: [Int64] = ([paths.configFile] + (paths.profileFile.map { [$0] } ?? [])).flatMap { file in
            (try? FileStatus(path: file)).map {
                [Int64(bitPattern: $0.inode), $0.size, $0.modified.seconds, $0.modified.nanoseconds]
            } ?? [-1]
        }
        lock.lock(); defer { lock.unlock() }
        checkedAt = monotonicSeconds()
        if newStamp != stamp {
            stamp = newStamp
            loaded = Result { try BrokerConfig.load(paths, ambient: environment) }
            let config = try? loaded.get()
            agent = config?.agent ?? AgentSettings()
            audit = config?.audit ?? AuditSettings()
            loads += 1
            if case .success(let config) = loaded { config.ambientFailures.forEach(onAmbientFailure) }
        }
        return loaded
    }
}
