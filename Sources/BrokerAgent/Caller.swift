// Who sent a request: the peer's pid and uid at once, the programs above it only when asked.

import BrokerWire
import Foundation

/// The process on the other end of a connection. The pid and uid come with the socket
/// (SO_PEERCRED); the program names — the adapter's executable and the program that ran it,
/// past any `sh -c` — are read from `/proc` the first time an audit record or a rate-limit
/// decision asks for them, and remembered per process (pid and start time) by `ProcessNames`.
public struct Caller: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    private var names: Names

    /// A caller whose names are known (or known to be absent).
    public init(pid: Int32, uid: UInt32, executable: String? = nil, parentPID: Int32? = nil, parentExecutable: String? = nil) {
        self.pid = pid
        self.uid = uid
        names = .known(ProcessNames.Description(executable: executable, parentPID: parentPID, parentExecutable: parentExecutable))
    }

    /// The peer of a connection; its names are looked up when first needed.
    public static func describe(_ peer: UnixSocket.PeerCredentials) -> Caller {
        var caller = Caller(pid: peer.pid, uid: peer.uid)
        #if os(Linux)
        if peer.pid > 0 { caller.names = .lazy(LazyNames(pid: peer.pid, table: .shared)) }
        #endif
        return caller
    }

    public var executable: String? {
        get { description.executable }
        set { var d = description; d.executable = newValue; names = .known(d) }
    }

    /// The process that ran the adapter (git, the AWS SDK's host, a shell): who really asked.
    public var parentPID: Int32? {
        get { description.parentPID }
        set { var d = description; d.parentPID = newValue; names = .known(d) }
    }

    public var parentExecutable: String? {
        get { description.parentExecutable }
        set { var d = description; d.parentExecutable = newValue; names = .known(d) }
    }

    var description: ProcessNames.Description {
        switch names {
        case .known(let description): return description
        case .lazy(let lazy): return lazy.value
        }
    }

    public static func == (a: Caller, b: Caller) -> Bool {
        a.pid == b.pid && a.uid == b.uid && a.description == b.description
    }

    private enum Names: Sendable {
        case known(ProcessNames.Description)
        case lazy(LazyNames)
    }

    /// Looked up once, by whichever copy of the caller asks first.
    private final class LazyNames: @unchecked Sendable {
        let pid: Int32
        let table: ProcessNames
        private let lock = NSLock()
        private var looked: ProcessNames.Description?

        init(pid: Int32, table: ProcessNames) {
            self.pid = pid
            self.table = table
        }

        var value: ProcessNames.Description {
            lock.lock(); defer { lock.unlock() }
            if let looked { return looked }
            let found = table.describe(pid)
            looked = found
            return found
        }
    }
}

/// Remembers what `/proc` said about each process, by pid and start time: a pid that is reused
/// has another start time, so it is never taken for the old process. A new process costs a walk
/// up its parents (a `stat` read and an `exe` link each); one asking again costs nothing for a
/// second after its start time was last confirmed, then one `stat` read to confirm it again.
/// (For the pid to be reused within that second, the system would have to run through its
/// whole pid space in it.) Its names do not change while it lives: the adapters never exec,
/// and a record names the program that connected.
public final class ProcessNames: @unchecked Sendable {
    public struct Description: Sendable, Equatable {
        public var executable: String?
        public var parentPID: Int32?
        public var parentExecutable: String?
    }

    struct Entry {
        var startTime: UInt64
        var description: Description
        /// When the start time was last confirmed (monotonic seconds).
        var confirmed: Double
    }

    public static let shared = ProcessNames()

    /// Processes remembered at most; past it the table starts over (a burst of short-lived
    /// adapters fills it with entries nobody asks about again).
    let capacity: Int
    /// How long a confirmed start time is trusted without reading `stat` again.
    let trusted: Double
    private let lock = NSLock()
    private var known: [Int32: Entry] = [:]
    /// Walks done (for tests: a second request from one process does not walk again).
    public private(set) var walks = 0

    public init(capacity: Int = 1024, trusted: Double = 1) {
        self.capacity = capacity
        self.trusted = trusted
    }

    /// Shells that run an adapter for the program that really asked (git's `!sh -c` helpers,
    /// CI runners' script steps).
    static let shells: Set<String> = ["sh", "dash", "bash", "zsh", "ash", "busybox"]

    public func describe(_ pid: Int32) -> Description {
        #if os(Linux)
        let now = monotonicSeconds()
        lock.lock()
        if let entry = known[pid], now - entry.confirmed < trusted { lock.unlock(); return entry.description }
        lock.unlock()
        guard let stat = ProcFS.processStat(of: pid) else {
            return Description(executable: ProcFS.executable(of: pid))
        }
        lock.lock()
        if var entry = known[pid], entry.startTime == stat.startTime {
            entry.confirmed = now
            known[pid] = entry
            lock.unlock()
            return entry.description
        }
        lock.unlock()
        let found = walk(pid, stat: stat)
        lock.lock()
        if known.count >= capacity { known.removeAll(keepingCapacity: true) }
        known[pid] = Entry(startTime: stat.startTime, description: found, confirmed: now)
        walks += 1
        lock.unlock()
        return found
        #else
        return Description()
        #endif
    }

    /// git and CI runners often start the adapter through `sh -c`: skip shells (up to four) to
    /// name the program that really asked.
    private func walk(_ pid: Int32, stat: ProcFS.ProcessStat) -> Description {
        var description = Description(executable: ProcFS.executable(of: pid))
        var parent = stat.parentPID
        for _ in 0..<4 {
            guard parent > 1 else { break }
            description.parentPID = parent
            description.parentExecutable = ProcFS.executable(of: parent)
            let name = description.parentExecutable.map { String($0.split(separator: "/").last ?? "") } ?? ""
            guard Self.shells.contains(name), let up = ProcFS.processStat(of: parent) else { break }
            parent = up.parentPID
        }
        return description
    }
}
