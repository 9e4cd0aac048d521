// The audit log: one JSON line per credential issued, denied, refreshed, stored or erased.

import BrokerCore
import BrokerWire
import Foundation

public struct Caller: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var executable: String?
    /// The process that ran the adapter (git, the AWS SDK's host, a shell): who really asked.
    public var parentPID: Int32?
    public var parentExecutable: String?

    public static func describe(_ peer: UnixSocket.PeerCredentials) -> Caller {
        var caller = Caller(pid: peer.pid, uid: peer.uid)
        #if os(Linux)
        caller.executable = ProcFS.executable(of: peer.pid)
        // git and CI runners often start the adapter through `sh -c`: skip shells to name the
        // program that really asked.
        var pid = peer.pid
        for _ in 0..<4 {
            guard let parent = ProcFS.parentPID(of: pid), parent > 1 else { break }
            pid = parent
            caller.parentPID = parent
            caller.parentExecutable = ProcFS.executable(of: parent)
            let name = caller.parentExecutable.map { String($0.split(separator: "/").last ?? "") } ?? ""
            if !["sh", "dash", "bash", "zsh", "ash", "busybox"].contains(name) { break }
        }
        #endif
        return caller
    }
}

public struct AuditRecord: Sendable {
    public enum Event: String, Sendable { case issued, denied, refreshed, stored, erased, leased, released, quarantined, ambient }
    public var event: Event
    public var outcome: String           // "ok" or "error"
    public var identity: String?         // nil for unbound git-cache entries
    public var adapter: String
    public var caller: Caller?
    public var target: String?           // e.g. "https://example.com/repo.git" — never user or password
    public var tier: String?
    public var reason: String?
    /// A pooled token's fingerprint (github/pat-pool): which token, never the token.
    public var token: String?
    /// The process a pool lease belongs to, when that is not the caller (git above the helper).
    public var holder: Caller?

    public init(event: Event, outcome: String = "ok", identity: String?, adapter: String, caller: Caller?,
                target: String? = nil, tier: String? = nil, reason: String? = nil, token: String? = nil, holder: Caller? = nil) {
        self.event = event
        self.outcome = outcome
        self.identity = identity
        self.adapter = adapter
        self.caller = caller
        self.target = target
        self.tier = tier
        self.reason = reason
        self.token = token
        self.holder = holder
    }
}

/// Appends JSON lines to a 0600 file. Records carry names, pids and reasons — the types hold no
/// `Secret`, so no value can be written here by accident. A record that would take the file past
/// `[audit] max-size` first rotates it (AuditFiles), so each line lands whole in one file.
public final class AuditLog: @unchecked Sendable {
    public let path: String
    private let settings: @Sendable () -> AuditSettings
    private let lock = NSLock()
    private var fd: CInt = -1

    private let syslog: SyslogSink

    /// `settings` is asked on every record, so an edited config applies without a restart.
    public init(path: String, settings: @escaping @Sendable () -> AuditSettings = { AuditSettings() },
                log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.path = path
        self.settings = settings
        self.syslog = SyslogSink(log: log)
    }

    public func record(_ record: AuditRecord, time: Int64 = currentUnixTime()) {
        var object: [(String, JSONValue)] = [
            ("time", .string(rfc3339UTC(time))),
            ("event", .string(record.event.rawValue)),
            ("outcome", .string(record.outcome)),
            ("adapter", .string(record.adapter)),
        ]
        if let identity = record.identity { object.append(("identity", .string(identity))) }
        if let target = record.target { object.append(("target", .string(target))) }
        if let tier = record.tier { object.append(("tier", .string(tier))) }
        if let reason = record.reason { object.append(("reason", .string(reason))) }
        if let token = record.token { object.append(("token", .string(token))) }
        if let holder = record.holder {
            object.append(("holder", .object([("pid", .int(Int64(holder.pid)))] + (holder.executable.map { [("exe", .string($0))] } ?? []))))
        }
        if let caller = record.caller {
            var c: [(String, JSONValue)] = [("pid", .int(Int64(caller.pid))), ("uid", .int(Int64(caller.uid)))]
            if let exe = caller.executable { c.append(("exe", .string(exe))) }
            if let ppid = caller.parentPID { c.append(("parent_pid", .int(Int64(ppid)))) }
            if let pexe = caller.parentExecutable { c.append(("parent_exe", .string(pexe))) }
            object.append(("caller", .object(c)))
        }
        let json = JSONValue.object(object).encoded()
        let data = Array((json + "\n").utf8)
        let limits = settings()
        lock.lock(); defer { lock.unlock() }
        // The file first (audit before answer); syslog is a copy and may fail on its own.
        defer { if limits.syslog { syslog.send(json: json, outcome: record.outcome, time: time, socket: limits.syslogSocket) } }
        if fd < 0 {
            do {
                fd = try FileDescriptor.open(path, .writeOnly, options: [.append, .create, .closeOnExec], permissions: 0o600).rawValue
            } catch {
                failure = "cannot open \(path): \(error)"; return
            }
        }
        var size = Int64((try? FileDescriptor(rawValue: fd).status())?.size ?? -1)
        var rotationFailure: String?
        if size > 0, size + Int64(data.count) > Int64(limits.maxSize) {
            do {
                try AuditFiles.rotate(path, keep: limits.keep)
                close(fd)
                fd = -1
                fd = try FileDescriptor.open(path, .writeOnly, options: [.append, .create, .closeOnExec], permissions: 0o600).rawValue
                size = 0
            } catch {
                if fd < 0 { failure = "cannot open \(path): \(error)"; return }
                // Audit before answer: the record still goes into the oversized file.
                rotationFailure = "cannot rotate \(path): \(error)"
            }
        }
        do {
            try FileDescriptor(rawValue: fd).writeAll(data)
            failure = rotationFailure
        } catch {
            // A full disk may take part of a line: cut it off again, so the next record starts
            // on a line of its own and every line stays one whole JSON object.
            if size >= 0 { try? FileDescriptor(rawValue: fd).truncate(to: size) }
            failure = "cannot write \(path): \(error)"
        }
    }

    private var failure: String?

    /// Why the last record could not be written, until one is (shown by `brokerctl status`).
    public var lastWriteFailure: String? {
        lock.lock(); defer { lock.unlock() }
        return failure
    }

    /// Why the last record could not be sent to syslog, until one is.
    public var lastSyslogFailure: String? {
        lock.lock(); defer { lock.unlock() }
        return syslog.failure
    }
}
