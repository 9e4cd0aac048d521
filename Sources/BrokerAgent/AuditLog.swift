// The audit log: one JSON line per credential issued, denied, refreshed, stored or erased.

import BrokerCore
import BrokerWire
import Foundation

public struct AuditRecord: Sendable {
    public enum Event: String, Sendable { case issued, denied, refreshed, stored, erased, leased, released, quarantined, ambient, revoked }
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
///
/// Each record is one `write(2)` of one whole line to an O_APPEND descriptor, made before the
/// answer it records is sent and never held in a buffer: a `kill -9` can lose at most the line
/// being written, and a torn one is cut off again when the write fails.
public final class AuditLog: @unchecked Sendable {
    public let path: String
    private let settings: @Sendable () -> AuditSettings
    private let lock = NSLock()
    private var fd: CInt = -1
    /// The live file's size: taken with `fstat` when it was opened and once every
    /// `recordsPerStat` records, counted from our own writes in between (a stat per record was a
    /// seventh of the agent's system calls per answer). Another agent writing the same log
    /// (one runs per configuration) can so take it past max-size by at most what it wrote in
    /// those records. -1: not known.
    private var knownSize: Int64 = -1
    private var recordsSinceStat = 0
    static let recordsPerStat = 32
    /// Where each line is built, under the lock.
    private let scratch = ByteScratch(capacity: 1024)
    /// The last record's time as text, under the lock: a busy agent writes many lines a second.
    private var timeText = AuditLine.TimeText()

    private let syslog: SyslogSink

    /// `settings` is asked on every record, so an edited config applies without a restart.
    public init(path: String, settings: @escaping @Sendable () -> AuditSettings = { AuditSettings() },
                log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.path = path
        self.settings = settings
        self.syslog = SyslogSink(log: log)
    }

    public func record(_ record: AuditRecord, time: Int64 = currentUnixTime()) {
        ServingThread.recorder?.audited(record)
        let limits = settings()
        let names = record.caller?.description  // looked up in /proc, if at all, outside the lock
        lock.lock(); defer { lock.unlock() }
        scratch.write(capacity: AuditLine.capacity(record, names), { AuditLine.write(record, time: time, names: names, into: &$0, timeText: &timeText) }) {
            commit($0, outcome: record.outcome, time: time, limits: limits)
        }
    }

    /// Writes a record again for another caller, now: `body` is what `AuditLine.writeBody` made of
    /// the record, `caller` what `AuditLine.writeCaller` made of the new caller. The line is the
    /// one `record(_:time:)` would write (AgentServer's warm answers).
    func replay(body: [UInt8], caller: [UInt8], time: Int64 = currentUnixTime()) {
        let limits = settings()
        lock.lock(); defer { lock.unlock() }
        scratch.write(capacity: 64 + body.count + caller.count, { out in
            AuditLine.writeHead(time: time, into: &out, timeText: &timeText)
            body.withUnsafeBytes { out.bytes($0.baseAddress!, $0.count) }
            caller.withUnsafeBytes { out.bytes($0.baseAddress!, $0.count) }
            AuditLine.writeEnd(into: &out)
        }) {
            commit($0, outcome: "ok", time: time, limits: limits)  // only `ok` records are replayed
        }
    }

    /// One whole line: to the file first (audit before answer), then a copy to syslog, which may
    /// fail on its own. Locked.
    private func commit(_ line: UnsafeRawBufferPointer, outcome: String, time: Int64, limits: AuditSettings) {
        append(line, limits: limits)
        if limits.syslog {
            syslog.send(json: String(decoding: line.dropLast(), as: UTF8.self), outcome: outcome, time: time, socket: limits.syslogSocket)
        }
    }

    /// Appends one whole line to the live log, rotating first when it would pass max-size. Locked.
    private func append(_ data: UnsafeRawBufferPointer, limits: AuditSettings) {
        if fd < 0 {
            do {
                fd = try FileDescriptor.open(path, .writeOnly, options: [.append, .create, .closeOnExec], permissions: 0o600).rawValue
                knownSize = -1
            } catch {
                failure = "cannot open \(path): \(error)"; return
            }
        }
        if knownSize < 0 || recordsSinceStat >= Self.recordsPerStat {
            knownSize = Int64((try? FileDescriptor(rawValue: fd).status())?.size ?? -1)
            recordsSinceStat = 0
        }
        recordsSinceStat += 1
        var size = knownSize
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
            knownSize = size < 0 ? -1 : size + Int64(data.count)
        } catch {
            // A full disk may take part of a line: cut it off again, so the next record starts
            // on a line of its own and every line stays one whole JSON object.
            if size >= 0 { try? FileDescriptor(rawValue: fd).truncate(to: size) }
            knownSize = size
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

/// One audit record as its JSON line, built byte by byte (no Foundation, no intermediate
/// strings) into one allocation sized up front:
/// `{"time":…,"event":…,"outcome":…,"adapter":…[,"identity":…]…}` and a newline.
/// The key order and escapes are the ones `JSONValue` writes, so readers see no difference.
enum AuditLine {
    static func encode(_ record: AuditRecord, time: Int64) -> [UInt8] {
        let names = record.caller?.description
        return [UInt8](capacity: capacity(record, names)) { write(record, time: time, names: names, into: &$0) }
    }

    /// Bytes `write` may take: every string may grow sixfold (\u00XX); the rest is keys,
    /// punctuation and numbers.
    static func capacity(_ record: AuditRecord, _ names: ProcessNames.Description?) -> Int {
        var capacity = 256
        func room(_ text: String?) { capacity += 6 * (text?.utf8.count ?? 0) }
        room(record.event.rawValue); room(record.outcome); room(record.adapter); room(record.identity)
        room(record.target); room(record.tier); room(record.reason); room(record.token)
        room(record.holder?.executable); room(names?.executable); room(names?.parentExecutable)
        return capacity
    }

    /// Bytes `writeCaller` may take.
    static func callerCapacity(_ names: ProcessNames.Description?) -> Int {
        128 + 6 * ((names?.executable?.utf8.count ?? 0) + (names?.parentExecutable?.utf8.count ?? 0))
    }

    /// A second and its text, kept from one line to the next.
    struct TimeText {
        var seconds = Int64.min
        var text: [UInt8] = []
    }

    /// `names`: the caller's, looked up once by the writer.
    static func write(_ record: AuditRecord, time: Int64, names: ProcessNames.Description?, into out: inout ByteWriter) {
        var timeText = TimeText()
        write(record, time: time, names: names, into: &out, timeText: &timeText)
    }

    /// `timeText`: the text of the last time written, reused when `time` is the same second.
    static func write(_ record: AuditRecord, time: Int64, names: ProcessNames.Description?, into out: inout ByteWriter,
                      timeText: inout TimeText) {
        writeHead(time: time, into: &out, timeText: &timeText)
        writeBody(record, into: &out)
        if let caller = record.caller { writeCaller(caller, names: names, into: &out) }
        writeEnd(into: &out)
    }

    /// `{"time":"…"`: what changes from one line of a record to the next.
    static func writeHead(time: Int64, into out: inout ByteWriter, timeText: inout TimeText) {
        out.literal(#"{"time":""#)
        if timeText.seconds != time {
            timeText.text = [UInt8](capacity: 48) { appendTime(time, &$0) }
            timeText.seconds = time
        }
        timeText.text.withUnsafeBytes { out.bytes($0.baseAddress!, $0.count) }
        out.byte(UInt8(ascii: "\""))
    }

    /// The record's own members, from `event` to `holder`: the same for every caller.
    static func writeBody(_ record: AuditRecord, into out: inout ByteWriter) {
        member("event", record.event.rawValue, &out)
        member("outcome", record.outcome, &out)
        member("adapter", record.adapter, &out)
        if let identity = record.identity { member("identity", identity, &out) }
        if let target = record.target { member("target", target, &out) }
        if let tier = record.tier { member("tier", tier, &out) }
        if let reason = record.reason { member("reason", reason, &out) }
        if let token = record.token { member("token", token, &out) }
        if let holder = record.holder {
            out.literal(#","holder":{"pid":"#)
            out.decimal(Int64(holder.pid))
            if let exe = holder.executable { member("exe", exe, &out) }
            out.byte(UInt8(ascii: "}"))
        }
    }

    /// `writeCaller`'s bytes on their own.
    static func caller(_ caller: Caller) -> [UInt8] {
        let names = caller.description
        return [UInt8](capacity: callerCapacity(names)) { writeCaller(caller, names: names, into: &$0) }
    }

    /// `,"caller":{…}`, when its names were looked up.
    static func writeCaller(_ caller: Caller, names: ProcessNames.Description?, into out: inout ByteWriter) {
        if let names {
            out.literal(#","caller":{"pid":"#)
            out.decimal(Int64(caller.pid))
            out.literal(#","uid":"#)
            out.decimal(Int64(caller.uid))
            if let exe = names.executable { member("exe", exe, &out) }
            if let ppid = names.parentPID {
                out.literal(#","parent_pid":"#)
                out.decimal(Int64(ppid))
            }
            if let pexe = names.parentExecutable { member("parent_exe", pexe, &out) }
            out.byte(UInt8(ascii: "}"))
        }
    }

    static func writeEnd(into out: inout ByteWriter) {
        out.byte(UInt8(ascii: "}"))
        out.byte(10)
    }

    /// `,"key":"value"` (keys are ours and need no escaping).
    @inline(__always)
    static func member(_ key: StaticString, _ value: String, _ out: inout ByteWriter) {
        out.literal(#",""#)
        out.literal(key)
        out.literal(#"":"#)
        appendString(value, &out)
    }

    /// Which bytes end a run of text copied as it is: `"`, `\`, C0 controls, DEL, and 0xE2 (the
    /// first byte of U+2028/2029, checked further where it occurs). One load per byte.
    private static let stopsRun: UnsafePointer<Bool> = {
        let table = UnsafeMutablePointer<Bool>.allocate(capacity: 256)
        for byte in 0..<256 { table[byte] = byte < 0x20 || byte == 0x22 || byte == 0x5c || byte == 0x7f || byte == 0xE2 }
        return UnsafePointer(table)
    }()

    /// A JSON string: quotes, backslashes and control characters escaped, and U+2028/2029
    /// (which end lines for some readers); everything else as its UTF-8 bytes, copied in runs.
    static func appendString(_ text: String, _ out: inout ByteWriter) {
        out.byte(UInt8(ascii: "\""))
        var text = text
        let stops = stopsRun
        text.withUTF8 { bytes in
            guard let base = bytes.baseAddress else { return }
            var run = 0
            var i = 0
            while i < bytes.count {
                let byte = base[i]
                if !stops[Int(byte)] { i &+= 1; continue }
                out.bytes(base + run, i - run)
                var width = 1
                switch byte {
                case 0x22: out.byte(92); out.byte(34)
                case 0x5c: out.byte(92); out.byte(92)
                case 10: out.byte(92); out.byte(UInt8(ascii: "n"))
                case 13: out.byte(92); out.byte(UInt8(ascii: "r"))
                case 9: out.byte(92); out.byte(UInt8(ascii: "t"))
                case 0xE2 where i + 2 < bytes.count && base[i + 1] == 0x80 && (base[i + 2] == 0xA8 || base[i + 2] == 0xA9):
                    appendUnicodeEscape(base[i + 2] == 0xA8 ? 0x2028 : 0x2029, &out)
                    width = 3
                case 0xE2: out.byte(byte)
                default: appendUnicodeEscape(UInt32(byte), &out)
                }
                i += width
                run = i
            }
            out.bytes(base + run, bytes.count - run)
        }
        out.byte(UInt8(ascii: "\""))
    }

    static func appendUnicodeEscape(_ value: UInt32, _ out: inout ByteWriter) {
        out.byte(92)
        out.byte(UInt8(ascii: "u"))
        for shift in stride(from: 12, through: 0, by: -4) {
            let digit = UInt8((value >> UInt32(shift)) & 0xf)
            out.byte(digit < 10 ? 48 + digit : 87 + digit)
        }
    }

    /// `2026-11-21T23:55:46Z`, as `rfc3339UTC` writes it, by arithmetic (the proleptic
    /// Gregorian calendar's days-to-date, as in Howard Hinnant's `civil_from_days`): glibc's
    /// gmtime_r takes a process-wide lock.
    static func appendTime(_ seconds: Int64, _ out: inout ByteWriter) {
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secondOfDay = seconds - days * 86400
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let dayOfEra = z - era * 146097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ n: Int64, _ out: inout ByteWriter) { out.byte(UInt8(48 + n / 10)); out.byte(UInt8(48 + n % 10)) }
        out.decimal(year)
        out.byte(UInt8(ascii: "-")); two(month, &out)
        out.byte(UInt8(ascii: "-")); two(day, &out)
        out.byte(UInt8(ascii: "T")); two(secondOfDay / 3600, &out)
        out.byte(UInt8(ascii: ":")); two(secondOfDay / 60 % 60, &out)
        out.byte(UInt8(ascii: ":")); two(secondOfDay % 60, &out)
        out.byte(UInt8(ascii: "Z"))
    }
}
