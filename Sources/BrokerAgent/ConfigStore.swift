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
        var st = stat()
        let newStamp: [Int64] = stat(paths.configFile, &st) == 0
            ? [Int64(st.st_ino), Int64(st.st_size), Int64(st.st_mtim.tv_sec), Int64(st.st_mtim.tv_nsec)]
            : [-1]
        lock.lock(); defer { lock.unlock() }
        if newStamp != stamp {
            stamp = newStamp
            current = Result { try BrokerConfig.load(paths) }
        }
        return current
    }
}
