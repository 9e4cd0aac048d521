// The agent's view of the config file: reloaded when the file changes, errors kept for callers.

import BrokerCore
import BrokerWire
import Foundation

public final class ConfigStore: @unchecked Sendable {
    private let paths: BrokerPaths
    private let lock = NSLock()
    private var stamp: [Int64] = []
    private var current: Result<BrokerConfig, Error> = .success(BrokerConfig())

    public init(paths: BrokerPaths) {
        self.paths = paths
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
            current = Result { try BrokerConfig.load(paths) }
        }
        return current
    }
}
