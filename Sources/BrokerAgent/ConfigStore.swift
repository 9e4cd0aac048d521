// The agent's view of the config file: reloaded when the file changes, errors kept for callers.

import BrokerCore
import BrokerWire
import Foundation

public final class ConfigStore: @unchecked Sendable {
    private let paths: BrokerPaths
    private let lock = NSLock()
    private var stamp: [Int64] = []
    private var current: Result<BrokerConfig, Error> = .success(BrokerConfig())

    /// The agent's environment, for the ambient brokers; nil reads the file alone.
    private let environment: Environment?
    /// Told each time a reload skips an ambient broker (the agent audits it).
    private let onAmbientFailure: @Sendable (String) -> Void

    public init(paths: BrokerPaths, environment: Environment? = nil, onAmbientFailure: @escaping @Sendable (String) -> Void = { _ in }) {
        self.paths = paths
        self.environment = environment
        self.onAmbientFailure = onAmbientFailure
        _ = config()
    }

    /// The config, re-read whenever the file's inode, size or mtime changed since last time. A
    /// stat per request is cheaper than making people restart the agent after an edit.
    public func config() -> Result<BrokerConfig, Error> {
        let newStamp: [Int64] = (try? FileStatus(path: paths.configFile)).map {
            [Int64(bitPattern: $0.inode), $0.size, $0.modified.seconds, $0.modified.nanoseconds]
        } ?? [-1]
        lock.lock(); defer { lock.unlock() }
        if newStamp != stamp {
            stamp = newStamp
            current = Result { try BrokerConfig.load(paths, ambient: environment) }
            if case .success(let loaded) = current { loaded.ambientFailures.forEach(onAmbientFailure) }
        }
        return current
    }
}
