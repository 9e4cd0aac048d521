// The audit log on disk: audit.log and its rotated predecessors audit.log.1 … .N, newest first.

import BrokerWire
import Foundation

/// How far the audit log may grow: `[audit] max-size` and `keep` (credential-broker(5)).
public struct AuditSettings: Sendable, Equatable {
    /// A write that would take audit.log past this many bytes first moves it to audit.log.1.
    public var maxSize: Int = 10 << 20
    /// Rotated files kept: audit.log.1 (newest) to audit.log.N; the oldest is dropped.
    public var keep: Int = 5
    /// `[audit] syslog = true`: every record also goes to the local syslog socket.
    public var syslog = false
    /// `[audit] syslog-socket`: where that socket is (a test or a container may move it).
    public var syslogSocket = "/dev/log"
    public init() {}
}

/// The one place that knows how the audit files are named and ordered: the agent rotates them,
/// `brokerctl audit` reads them.
public enum AuditFiles {
    /// The file `age` rotations back: 0 is the live log, 1 the newest rotated one.
    public static func path(_ live: String, age: Int) -> String {
        age == 0 ? live : "\(live).\(age)"
    }

    /// Drops the oldest file, shifts audit.log.K to K+1 and moves the live log to audit.log.1,
    /// so the next open creates a fresh one. Files past `keep` (left by a larger `keep`) go too.
    public static func rotate(_ live: String, keep: Int) throws {
        var age = keep
        while access(path(live, age: age + 1), F_OK) == 0 {
            age += 1
        }
        while age > keep {
            try removeIfPresent(path(live, age: age))
            age -= 1
        }
        try removeIfPresent(path(live, age: keep))
        for age in stride(from: keep - 1, through: 0, by: -1) where access(path(live, age: age), F_OK) == 0 {
            guard rename(path(live, age: age), path(live, age: age + 1)) == 0 else {
                throw BrokerFailure(.unavailable, "cannot rename \(path(live, age: age)): \(Errno.current)")
            }
        }
    }

    /// The last `count` lines across the live log and its rotated files, oldest first. Reads
    /// only as many files, newest first, as it takes to find them.
    public static func lastLines(of live: String, count: Int) -> [Substring] {
        var lines: [Substring] = []
        var age = 0
        while lines.count < count {
            // The live log is briefly missing while the agent rotates; a missing rotated file is the end.
            guard let text = try? String(contentsOfFile: path(live, age: age), encoding: .utf8) else {
                if age == 0 { age = 1; continue }
                break
            }
            lines = text.split(separator: "\n").suffix(count - lines.count) + lines
            age += 1
        }
        return lines
    }

    /// Every line of the live log and its rotated files, oldest first: what a filter reads.
    public static func allLines(of live: String) -> [Substring] {
        var age = 1
        while access(path(live, age: age + 1), F_OK) == 0 { age += 1 }
        var lines: [Substring] = []
        for age in stride(from: age, through: 0, by: -1) {
            guard let text = try? String(contentsOfFile: path(live, age: age), encoding: .utf8) else { continue }
            lines += text.split(separator: "\n")
        }
        return lines
    }

    private static func removeIfPresent(_ path: String) throws {
        guard unlink(path) == 0 || errno == ENOENT else {
            throw BrokerFailure(.unavailable, "cannot remove \(path): \(Errno.current)")
        }
    }
}
