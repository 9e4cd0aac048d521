// The audit log's copy for a fleet: each record as one RFC 5424 message on the local syslog socket.

import BrokerCore
import BrokerWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sends audit lines to syslog (`[audit] syslog = true`). Best effort by design: the file is the
/// record of truth and is written first; a syslog socket that is missing or full costs one line
/// in the agent's log per kind of failure, never a request.
final class SyslogSink: @unchecked Sendable {
    /// authpriv (10): the facility for security messages, readable by root only on most systems.
    static let facility = 10
    private let hostname: String
    private let pid = getpid()
    private let log: @Sendable (String) -> Void
    private var lastFailure: String?

    init(log: @escaping @Sendable (String) -> Void) {
        self.log = log
        var buffer = [CChar](repeating: 0, count: 256)
        let name = gethostname(&buffer, buffer.count) == 0 ? String(cString: buffer) : ""
        // RFC 5424 HOSTNAME is PRINTUSASCII without spaces, at most 255 bytes; "-" when unknown.
        let printable = name.unicodeScalars.allSatisfy { $0.value > 32 && $0.value < 127 } && !name.isEmpty
        hostname = printable ? String(name.prefix(255)) : "-"
    }

    /// The message for one audit line (`json`, without its newline): `<PRI>1 TIME HOST APP PID audit - JSON`.
    func message(json: String, outcome: String, time: Int64) -> [UInt8] {
        let severity = outcome == "ok" ? 6 : 5  // info, or notice for a refusal or failure
        return Array("<\(Self.facility * 8 + severity)>1 \(rfc3339UTC(time)) \(hostname) credential-broker \(pid) audit - \(json)".utf8)
    }

    /// Called with the sink's caller's lock held (AuditLog), so `lastFailure` needs no lock of its own.
    func send(json: String, outcome: String, time: Int64, socket path: String) {
        do {
            try UnixSocket.sendDatagram(message(json: json, outcome: outcome, time: time), to: path)
            if lastFailure != nil { log("audit: syslog at \(path) accepts records again") }
            lastFailure = nil
        } catch {
            let failure = "cannot send audit records to syslog at \(path): \(error)"
            if failure != lastFailure { log("warning: \(failure); the audit file still has every record") }
            lastFailure = failure
        }
    }

    var failure: String? { lastFailure }
}
