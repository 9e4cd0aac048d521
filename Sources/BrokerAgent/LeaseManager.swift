// Leases of github/pat-pool tokens: one token per holder process tree, persisted so a restart keeps them.

import BrokerCore
import BrokerWire
import Foundation

/// A process holding a lease, named so that a recycled pid cannot pass for it: its pid and its
/// start time (clock ticks after boot, field 22 of /proc/PID/stat).
public struct LeaseHolder: Hashable, Sendable, CustomStringConvertible {
    public var pid: Int32
    public var startTime: UInt64
    public init(pid: Int32, startTime: UInt64) {
        self.pid = pid
        self.startTime = startTime
    }
    public var description: String { "pid \(pid)" }
}

/// How the lease manager sees processes, behind a seam so tests can fake liveness and ancestry.
public struct ProcessTable: Sendable {
    /// The start time of a running process; nil when it is gone or a zombie (it has exited).
    public var startTime: @Sendable (Int32) -> UInt64?
    public var parent: @Sendable (Int32) -> Int32?
    public var executable: @Sendable (Int32) -> String?

    public init(startTime: @escaping @Sendable (Int32) -> UInt64?, parent: @escaping @Sendable (Int32) -> Int32?,
                executable: @escaping @Sendable (Int32) -> String?) {
        self.startTime = startTime
        self.parent = parent
        self.executable = executable
    }

    /// /proc on Linux. Elsewhere no process is known, so pools refuse every request (DESIGN D13:
    /// the macOS seam is proc_pidinfo, for the start time, parent and path).
    public static let system = ProcessTable(
        startTime: { pid in ProcFS.startTime(of: pid) },
        parent: { pid in ProcFS.parentPID(of: pid) },
        executable: { pid in ProcFS.executable(of: pid) })

    public func holder(_ pid: Int32) -> LeaseHolder? {
        startTime(pid).map { LeaseHolder(pid: pid, startTime: $0) }
    }

    public func isAlive(_ holder: LeaseHolder) -> Bool { startTime(holder.pid) == holder.startTime }

    /// `pid`'s parent, grandparent, … up to (not including) init; bounded, in case of a loop.
    public func ancestors(of pid: Int32) -> [Int32] {
        var chain: [Int32] = []
        var current = pid
        while chain.count < 64, let next = parent(current), next > 1, !chain.contains(next) {
            chain.append(next)
            current = next
        }
        return chain
    }

    static let shells: Set<String> = ["sh", "dash", "bash", "zsh", "ash", "busybox"]

    /// Who holds the lease when git runs the helper, `helper` being the helper's own pid:
    /// the outermost `git` process in the unbroken run of git programs (`git`, `git-remote-https`,
    /// any `git-*`) and shells directly above the helper. `git clone` runs the helper from
    /// `git-remote-https`, itself a child of `git`; `git credential fill` runs it directly; an
    /// alias or hook may put a shell in between. The walk stops at the first other program (a
    /// CI runner, an editor), so the lease never outlives the git command that asked.
    /// Without any git above it (the helper run by hand or by a script) the holder is the
    /// helper's parent, or the helper itself when even that is unknown.
    public func gitLeaseHolder(helper: Int32) -> Int32 {
        let ancestors = ancestors(of: helper)
        var holder: Int32?
        for pid in ancestors {
            let name = executable(pid).map { String($0.split(separator: "/").last ?? "") } ?? ""
            if name == "git" {
                holder = pid
            } else if !(name.hasPrefix("git-") || Self.shells.contains(name)) {
                break
            }
        }
        return holder ?? ancestors.first ?? helper
    }
}

/// One lease: which token (by fingerprint) of which pool a holder has, until when.
public struct PoolLease: Sendable, Equatable {
    /// broker-env-wrap leases for the wrapped process's whole life; git for one git command;
    /// docker for one registry client (docker, skopeo, podman) process.
    public enum Origin: String, Sendable { case wrap, git, docker }

    public var pool: String
    /// nil once git reported the token rejected: the wrapped holder stays a holder and is given
    /// another token on its next request (git in the job retrying), instead of a second lease.
    public var fingerprint: String?
    public var holder: LeaseHolder
    public var origin: Origin
    public var leasedAt: Int64
    public var expiresAt: Int64
    /// For the audit log only; not persisted (reread from /proc after a restart).
    public var executable: String?
}

/// Something the audit log should hear about. Never holds a token, only its fingerprint.
public struct LeaseEvent: Sendable {
    public enum Kind: String, Sendable { case leased, renewed, released, quarantined, exhausted }
    public var kind: Kind
    public var pool: String
    public var fingerprint: String?
    public var holder: LeaseHolder?
    public var executable: String?
    public var reason: String
}

/// What a holder gets: the token itself, to answer with, and the lease's public facts.
public struct PoolGrant: Sendable {
    public var token: Secret
    public var fingerprint: String
    public var holder: LeaseHolder
    public var expiresAt: Int64
}

/// The pool as one request sees it: its tokens, read from their sources just now, and its rules.
public struct PoolRequest: Sendable {
    public var pool: String
    public var tokens: [Secret]
    public var leaseTTL: Int
    public var quarantine: Int
    /// A lease with less than this left is renewed before it is handed out again.
    public var minimumValidity: Int

    public init(pool: String, tokens: [Secret], leaseTTL: Int, quarantine: Int, minimumValidity: Int) {
        self.pool = pool
        self.tokens = tokens
        self.leaseTTL = leaseTTL
        self.quarantine = quarantine
        self.minimumValidity = minimumValidity
    }
}

/// Hands each holder its own token of a pool, so no two concurrent jobs share one. State lives
/// in memory under one lock and is written through, one 0600 file per pool in `directory`
/// (temp + fsync + rename), after every change; `load()` rebuilds it at agent start, keeping a
/// lease exactly when its holder is the same live process (pid and start time). Tokens are
/// never stored: a lease names its token by fingerprint and the token is reread from the pool's
/// sources on every request.
///
/// Lease and quarantine times are kept on the elapsed clock (`Clock.elapsed`): they are
/// durations, and a wall clock stepped forward must not end a lease early and hand its token
/// to a second job. Files carry the boot id; what the outside sees (git's
/// `password_expiry_utc`, `brokerctl status`) is converted to the wall clock.
public final class LeaseManager: @unchecked Sendable {
    public let directory: String
    let clock: Clock
    let processes: ProcessTable
    let log: @Sendable (String) -> Void
    /// Events that no request is waiting for (a holder exited, a lease expired, a restart).
    public var onEvent: @Sendable (LeaseEvent) -> Void = { _ in }
    /// Starts watching a holder; its exit must reach `holderExited`. Throws when it is gone.
    var watch: (Int32) throws -> Void = { _ in }
    private var watcher: ProcessExitWatcher?

    private let lock = NSLock()
    private var leases: [String: [PoolLease]] = [:]
    /// pool → fingerprint → end of quarantine.
    private var quarantined: [String: [String: Int64]] = [:]

    /// `watchExits: false` leaves exit detection to `sweep` (tests drive it with a fake table).
    let bootID: String?

    public init(directory: String, clock: Clock = .system, processes: ProcessTable = .system, watchExits: Bool = true,
                bootID: String? = Clock.bootID, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.directory = directory
        self.bootID = bootID
        self.clock = clock
        self.processes = processes
        self.log = log
        if watchExits {
            let watcher = ProcessExitWatcher { [weak self] pid in self?.holderExited(pid) }
            self.watcher = watcher
            watch = { try watcher.watch($0) }
        }
    }

    // MARK: requests

    /// The token `holder` holds in the pool, leasing it a free one when it holds none. A lease
    /// held by one of `ancestors` (nearest first) is shared instead: git inside a wrapped job
    /// uses the job's token, and a nested wrap its outer wrap's.
    public func lease(_ request: PoolRequest, holder: LeaseHolder, origin: PoolLease.Origin, ancestors: [LeaseHolder] = [],
                      report: ((LeaseEvent) -> Void)? = nil) throws -> PoolGrant {
        let fingerprints = request.tokens.map(TokenFingerprint.of)
        let now = clock.elapsed()
        var events: [LeaseEvent] = []
        defer { events.forEach(report ?? onEvent) }
        lock.lock()
        let before = (leases[request.pool] ?? [], quarantined[request.pool] ?? [:])
        var pool = sweepLocked(request.pool, now: now, events: &events)
        defer {
            leases[request.pool] = pool.isEmpty ? nil : pool
            // The same holder asking again changes nothing: no write.
            if before.0 != pool || before.1 != (quarantined[request.pool] ?? [:]) { persistLocked(request.pool) }
            lock.unlock()
        }
        // The holder itself, or the nearest ancestor holding a lease, keeps what it has.
        var owner = (holder: holder, origin: origin, exe: processes.executable(holder.pid))
        var replacing: Int?
        for candidate in [holder] + ancestors {
            guard let index = pool.firstIndex(where: { $0.holder == candidate }) else { continue }
            let existing = pool[index]
            if let fingerprint = existing.fingerprint, let position = fingerprints.firstIndex(of: fingerprint) {
                if existing.expiresAt - now < Int64(request.minimumValidity) {
                    pool[index].expiresAt = now + Int64(request.leaseTTL)
                    events.append(event(.renewed, pool[index], reason: "fewer than \(request.minimumValidity) s were left"))
                }
                return PoolGrant(token: request.tokens[position], fingerprint: fingerprint, holder: existing.holder,
                                 expiresAt: wall(pool[index].expiresAt))
            }
            // Its token was quarantined or left the pool: the same holder gets another one.
            owner = (existing.holder, existing.origin, existing.executable)
            replacing = index
            break
        }
        let taken = Set(pool.compactMap(\.fingerprint))
        let resting = quarantined[request.pool] ?? [:]
        guard let position = fingerprints.indices.first(where: { !taken.contains(fingerprints[$0]) && resting[fingerprints[$0]] == nil }) else {
            let leased = fingerprints.filter(taken.contains).count
            let out = fingerprints.filter { resting[$0] != nil }.count
            let message = "pool \"\(request.pool)\" exhausted: \(leased)/\(fingerprints.count) leased" + (out > 0 ? ", \(out) quarantined" : "")
            events.append(LeaseEvent(kind: .exhausted, pool: request.pool, holder: owner.holder, executable: owner.exe, reason: message))
            throw BrokerFailure(.unavailable, message,
                                hint: "a lease ends when its holder exits or after lease-ttl (\(request.leaseTTL) s)"
                                    + (out > 0 ? " and a rejected token rests for quarantine (\(request.quarantine) s)" : "")
                                    + "; run fewer jobs at once or add tokens to the pool")
        }
        if let replacing { pool.remove(at: replacing) }
        let lease = PoolLease(pool: request.pool, fingerprint: fingerprints[position], holder: owner.holder, origin: owner.origin,
                              leasedAt: now, expiresAt: now + Int64(request.leaseTTL), executable: owner.exe)
        pool.append(lease)
        events.append(event(.leased, lease, reason: "\(owner.origin.rawValue) holder; \(taken.count + 1)/\(fingerprints.count) leased"))
        do {
            try watch(owner.holder.pid)
        } catch {
            // The holder died while asking: nobody is left to use the token.
            pool.removeLast()
            events.append(event(.released, lease, reason: "holder exited before its lease began"))
            throw error
        }
        return PoolGrant(token: request.tokens[position], fingerprint: lease.fingerprint!, holder: owner.holder, expiresAt: wall(lease.expiresAt))
    }

    /// git got a 401 with this token: it rests for `seconds` and its lease ends. A wrapped holder
    /// stays a holder (its next request gets another token); a git holder is done. Returns
    /// false when the fingerprint is not one of the pool's.
    @discardableResult
    public func quarantine(pool name: String, fingerprint: String, seconds: Int, known fingerprints: [String],
                           report: ((LeaseEvent) -> Void)? = nil) -> Bool {
        guard fingerprints.contains(fingerprint) else { return false }
        let now = clock.elapsed()
        var events: [LeaseEvent] = []
        defer { events.forEach(report ?? onEvent) }
        lock.lock()
        defer { persistLocked(name); lock.unlock() }
        var pool = sweepLocked(name, now: now, events: &events)
        quarantined[name, default: [:]][fingerprint] = now + Int64(seconds)
        events.append(LeaseEvent(kind: .quarantined, pool: name, fingerprint: fingerprint, reason: "git rejected it; out of the pool for \(seconds) s"))
        for index in pool.indices.reversed() where pool[index].fingerprint == fingerprint {
            events.append(event(.released, pool[index], reason: "its token was quarantined"))
            if pool[index].origin == .wrap { pool[index].fingerprint = nil } else { pool.remove(at: index) }
        }
        leases[name] = pool.isEmpty ? nil : pool
        return true
    }

    /// The fingerprint held by `holder` or its nearest leasing ancestor, for an erase that
    /// carries no password.
    public func heldFingerprint(pool: String, holders: [LeaseHolder]) -> String? {
        lock.lock(); defer { lock.unlock() }
        let current = leases[pool] ?? []
        return holders.lazy.compactMap { h in current.first { $0.holder == h }?.fingerprint }.first
    }

    // MARK: ending leases

    /// The watcher saw `pid` exit: its leases end.
    public func holderExited(_ pid: Int32) {
        var events: [LeaseEvent] = []
        lock.lock()
        for (name, pool) in leases where pool.contains(where: { $0.holder.pid == pid }) {
            let (kept, ended) = partition(pool) { $0.holder.pid != pid || processes.isAlive($0.holder) }
            ended.forEach { events.append(event(.released, $0, reason: "holder exited")) }
            leases[name] = kept.isEmpty ? nil : kept
            persistLocked(name)
        }
        lock.unlock()
        events.forEach(onEvent)
    }

    /// Ends leases past their TTL or whose holder is gone, and quarantines that are over.
    public func sweep() {
        let now = clock.elapsed()
        var events: [LeaseEvent] = []
        lock.lock()
        for name in Set(leases.keys).union(quarantined.keys) {
            let before = (leases[name] ?? [], quarantined[name] ?? [:])
            let pool = sweepLocked(name, now: now, events: &events)
            leases[name] = pool.isEmpty ? nil : pool
            if before.0 != pool || before.1 != (quarantined[name] ?? [:]) { persistLocked(name) }
        }
        lock.unlock()
        events.forEach(onEvent)
    }

    /// Drops what has ended in one pool; returns the pool's remaining leases (the caller stores them).
    private func sweepLocked(_ name: String, now: Int64, events: inout [LeaseEvent]) -> [PoolLease] {
        if var resting = quarantined[name] {
            resting = resting.filter { $0.value > now }
            quarantined[name] = resting.isEmpty ? nil : resting
        }
        var kept: [PoolLease] = []
        for lease in leases[name] ?? [] {
            if lease.expiresAt <= now {
                events.append(event(.released, lease, reason: "lease-ttl passed"))
            } else if !processes.isAlive(lease.holder) {
                events.append(event(.released, lease, reason: "holder exited"))
            } else {
                kept.append(lease)
            }
        }
        return kept
    }

    private func event(_ kind: LeaseEvent.Kind, _ lease: PoolLease, reason: String) -> LeaseEvent {
        LeaseEvent(kind: kind, pool: lease.pool, fingerprint: lease.fingerprint, holder: lease.holder, executable: lease.executable, reason: reason)
    }

    private func partition(_ pool: [PoolLease], keeping: (PoolLease) -> Bool) -> ([PoolLease], [PoolLease]) {
        (pool.filter(keeping), pool.filter { !keeping($0) })
    }

    /// What is held now, for status and tests, with its times on the wall clock.
    public func snapshot() -> (leases: [PoolLease], quarantined: [String: [String: Int64]]) {
        lock.lock(); defer { lock.unlock() }
        let held = leases.values.flatMap { $0 }.sorted { ($0.pool, $0.leasedAt, $0.holder.pid) < ($1.pool, $1.leasedAt, $1.holder.pid) }
        return (held.map { lease in
            var seen = lease
            seen.leasedAt = wall(lease.leasedAt)
            seen.expiresAt = wall(lease.expiresAt)
            return seen
        }, quarantined.mapValues { $0.mapValues(wall) })
    }

    /// An elapsed-clock time as the wall clock now puts it.
    private func wall(_ elapsedTime: Int64) -> Int64 {
        let (now, elapsed) = (clock.now(), clock.elapsed())
        return now.addingReportingOverflow(elapsedTime.subtractingReportingOverflow(elapsed).partialValue).partialValue
    }

    // MARK: disk

    /// One file per pool; the name is the pool's name with anything but letters, digits, `-`
    /// and `_` written as %XX, so every identity name maps to one plain file name.
    func path(for pool: String) -> String {
        var name = ""
        for byte in pool.utf8 {
            if (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7a) || byte == 0x2d || byte == 0x5f {
                name.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                name += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return "\(directory)/\(name).leases"
    }

    /// Writes a pool's state, or removes its file when nothing is held. A failed write is
    /// logged, not fatal: the leases still hold in memory, only a restart could lose them.
    private func persistLocked(_ name: String) {
        let path = path(for: name)
        let pool = leases[name] ?? []
        let resting = quarantined[name] ?? [:]
        if pool.isEmpty && resting.isEmpty {
            if unlink(path) != 0 && errno != ENOENT { log("leases: cannot remove \(path): \(Errno.current)") }
            return
        }
        var message = WireMessage()
        message.append("v", "1")
        message.append("pool", name)
        message.append("clock", "elapsed")
        message.append("boot", ifPresent: bootID)
        for lease in pool {
            message.append("lease[]", "\(lease.fingerprint ?? "-") \(lease.holder.pid) \(lease.holder.startTime) \(lease.origin.rawValue) \(lease.leasedAt) \(lease.expiresAt)")
        }
        for (fingerprint, until) in resting.sorted(by: { $0.key < $1.key }) {
            message.append("quarantine[]", "\(fingerprint) \(until)")
        }
        do {
            try ensurePrivateDirectory(directory)
            try writeFileAtomically(path, bytes: try message.encoded())
        } catch {
            log("leases: \(error)")
        }
    }

    struct CorruptFile: Error, CustomStringConvertible { let description: String }

    /// Agent start: rebuilds every pool from its file. A lease survives only if its holder is
    /// the same live process; the rest end here, with an audit record each.
    public func load() {
        let now = clock.elapsed()
        var events: [LeaseEvent] = []
        var holders: Set<Int32> = []
        lock.lock()
        for file in ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted() {
            let path = directory + "/" + file
            if file.hasPrefix(".tmp-") { unlink(path); continue }  // a writer killed before its rename
            guard file.hasSuffix(".leases") else { continue }
            do {
                let (name, pool, resting) = try read(path)
                leases[name] = pool.isEmpty ? nil : pool
                quarantined[name] = resting.isEmpty ? nil : resting
                var kept = sweepLocked(name, now: now, events: &events)
                for index in kept.indices { kept[index].executable = processes.executable(kept[index].holder.pid) }
                leases[name] = kept.isEmpty ? nil : kept
                holders.formUnion(kept.map(\.holder.pid))
                persistLocked(name)
            } catch {
                // Never guess at a damaged file's leases; say so loudly and start the pool empty.
                log("leases: removing unreadable \(path): \(error)")
                unlink(path)
            }
        }
        lock.unlock()
        for index in events.indices { events[index].reason += " while broker-agent was stopped" }
        events.forEach(onEvent)
        for pid in holders.sorted() {
            do { try watch(pid) } catch { holderExited(pid) }
        }
    }

    func read(_ path: String) throws -> (String, [PoolLease], [String: Int64]) {
        let message = try WireCodec.decode(try PrivateFile.read(path: path, limit: 1 << 20))
        guard message["v"] == "1", let name = message["pool"], self.path(for: name) == path else {
            throw CorruptFile(description: "unknown version or pool name")
        }
        let pool = try message.values("lease[]").map { line -> PoolLease in
            let f = line.split(separator: " ").map(String.init)
            guard f.count == 6, let pid = Int32(f[1]), let start = UInt64(f[2]), let origin = PoolLease.Origin(rawValue: f[3]),
                  let leasedAt = Int64(f[4]), let expiresAt = Int64(f[5]) else { throw CorruptFile(description: "bad lease line") }
            return PoolLease(pool: name, fingerprint: f[0] == "-" ? nil : f[0], holder: LeaseHolder(pid: pid, startTime: start),
                             origin: origin, leasedAt: leasedAt, expiresAt: expiresAt)
        }
        var resting: [String: Int64] = [:]
        for line in message.values("quarantine[]") {
            let f = line.split(separator: " ")
            guard f.count == 2, let until = Int64(f[1]) else { throw CorruptFile(description: "bad quarantine line") }
            resting[String(f[0])] = until
        }
        if message["clock"] != "elapsed" {
            // Written before times moved to the elapsed clock: they are wall-clock times.
            let shift = clock.elapsed().subtractingReportingOverflow(clock.now()).partialValue
            func moved(_ t: Int64) -> Int64 { t.addingReportingOverflow(shift).partialValue }
            return (name, pool.map { var l = $0; l.leasedAt = moved(l.leasedAt); l.expiresAt = moved(l.expiresAt); return l },
                    resting.mapValues(moved))
        }
        if message["boot"] != bootID {
            // Another boot: its elapsed clock means nothing here, and its holders are gone. A
            // quarantine's remaining time is unknown; the token returns and git re-reports it.
            return (name, pool.map { var l = $0; l.expiresAt = .min; return l }, [:])
        }
        return (name, pool, resting)
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
