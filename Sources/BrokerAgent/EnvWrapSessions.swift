// What the agent holds for running broker-env-wrap commands: the endpoint and per-pid leases.

import BrokerCore
import BrokerWire
import Foundation

/// What the agent holds for running wraps: the endpoint (started on first use, so an agent
/// that never wraps anything opens no TCP port), and per wrapped pid, what to undo when it exits.
public final class EnvWrapSessions: @unchecked Sendable {
    private let lock = NSLock()
    private var endpoint: LoopbackEndpoint?
    /// pid → files to remove when it exits (generated AWS config files).
    private var files: [Int32: [String]] = [:]
    private var leases: Set<Int32> = []
    private var watcherInstance: ProcessExitWatcher?

    public init() {}

    /// Wrapped processes still running: the agent must not exit under them (idle timeout).
    public var activeLeases: Int {
        lock.lock(); defer { lock.unlock() }
        return leases.count
    }

    /// The running endpoint, started with `routes()` (every cloud's) on first use.
    func endpoint(routes: () -> [any LoopbackRoute], log: @escaping @Sendable (String) -> Void) throws -> LoopbackEndpoint {
        lock.lock(); defer { lock.unlock() }
        if let endpoint { return endpoint }
        let started = try LoopbackEndpoint(routes: routes(), log: log)
        log("credentials endpoint listening on 127.0.0.1:\(started.port)")
        endpoint = started
        return started
    }

    /// Ties what was handed out to `pid`'s life. Throws when the process is already gone.
    func lease(_ pid: Int32, removing paths: [String] = []) throws {
        lock.lock()
        files[pid, default: []] += paths
        leases.insert(pid)
        let watcher = watcherInstance ?? ProcessExitWatcher { [weak self] pid in self?.end(pid) }
        watcherInstance = watcher
        lock.unlock()
        do {
            try watcher.watch(pid)
        } catch {
            end(pid)
            throw error
        }
    }

    func end(_ pid: Int32) {
        lock.lock()
        let doomed = files.removeValue(forKey: pid) ?? []
        leases.remove(pid)
        let endpoint = self.endpoint
        lock.unlock()
        endpoint?.revoke(pid: pid)
        for path in doomed { unlink(path) }
    }

    /// Agent shutdown: the port closes and generated files go.
    public func stop() {
        lock.lock()
        let all = files.values.flatMap { $0 }
        files.removeAll()
        leases.removeAll()
        let endpoint = self.endpoint
        self.endpoint = nil
        lock.unlock()
        endpoint?.stop()
        for path in all { unlink(path) }
    }
}
