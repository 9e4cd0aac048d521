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
    /// What the last stat saw of the file and the profile's overlay; nil before the first.
    private var stamp: Stamp?
    private var checkedAt = -Double.infinity
    private var loaded: Result<BrokerConfig, Error> { loadedSnapshot.result }
    private var loadedSnapshot = Snapshot(.success(BrokerConfig()))
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
    public func config() -> Result<BrokerConfig, Error> { snapshot().result }

    /// What `config()` gives, in the store's own box: a request reads the configuration there
    /// rather than copying every field of it (that copy was a tenth of a warm git get's instructions).
    public func snapshot() -> Snapshot {
        lock.lock()
        if monotonicSeconds() - checkedAt < recheckInterval {
            defer { lock.unlock() }
            return loadedSnapshot
        }
        lock.unlock()
        refresh()
        lock.lock(); defer { lock.unlock() }
        return loadedSnapshot
    }

    /// One load: the configuration, or why it could not be read (then `config` is empty).
    /// Passed straight from its `let` as an argument, `config` is borrowed, not copied.
    public final class Snapshot: @unchecked Sendable {
        public let config: BrokerConfig
        public let error: Error?
        init(_ result: Result<BrokerConfig, Error>) {
            switch result {
            case .success(let config): (self.config, error) = (config, nil)
            case .failure(let failure): (config, error) = (BrokerConfig(), failure)
            }
        }

        public var result: Result<BrokerConfig, Error> { error.map { .failure($0) } ?? .success(config) }
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

    /// Inode, size and mtime of the file and of the profile's overlay (a missing one: all -1).
    /// Plain numbers: the poll loop takes one per tick, and building arrays of them for a compare
    /// cost more than the `stat` itself.
    struct Stamp: Equatable {
        var config: FileStamp
        var profile: FileStamp?
    }

    struct FileStamp: Equatable {
        var inode: UInt64 = .max, size: Int64 = -1, seconds: Int64 = -1, nanoseconds: Int64 = -1

        init(_ path: String) {
            guard let st = try? FileStatus(path: path) else { return }
            (inode, size, seconds, nanoseconds) = (st.inode, st.size, st.modified.seconds, st.modified.nanoseconds)
        }
    }

    /// Stats the file (and the profile's overlay) now and re-reads them when an inode, size or
    /// mtime changed. Returns nothing: copying the configuration out was most of its cost per tick.
    public func refresh() {
        // A profile's overlay is part of the configuration: an edit to either reloads both.
        let newStamp = Stamp(config: FileStamp(paths.configFile), profile: paths.profileFile.map(FileStamp.init))
        lock.lock(); defer { lock.unlock() }
        checkedAt = monotonicSeconds()
        if newStamp != stamp {
            stamp = newStamp
            loadedSnapshot = Snapshot(Result { try BrokerConfig.load(paths, ambient: environment) })
            let config = try? loaded.get()
            agent = config?.agent ?? AgentSettings()
            audit = config?.audit ?? AuditSettings()
            loads += 1
            StateGeneration.bump()
            if case .success(let config) = loaded { config.ambientFailures.forEach(onAmbientFailure) }
        }
    }
}
