// Audit that leaves the machine: with `[audit] syslog = true` every record is also one RFC 5424
// message on the local syslog socket — same fields as the file, never a secret — and a missing
// socket costs a warning, never a request.

import Foundation
#if canImport(Glibc)
import Glibc
#endif
import XCTest

final class AuditSyslogTests: XCTestCase {
    /// A syslog daemon's end of /dev/log: a bound Unix datagram socket.
    final class SyslogListener {
        let path: String
        let fd: Int32
        init(path: String) throws {
            self.path = path
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: Array(path.utf8))
                raw[path.utf8.count] = 0
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard fd >= 0, bound == 0 else { throw POSIXError(.EADDRINUSE) }
            var timeout = timeval(tv_sec: 0, tv_usec: 300_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        deinit { close(fd); unlink(path) }

        /// Every message received until the socket stays quiet for 300 ms.
        func drain() -> [String] {
            var messages: [String] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = recv(fd, &buffer, buffer.count, 0)
                guard n > 0 else { return messages }
                messages.append(String(decoding: buffer[..<n], as: UTF8.self))
            }
        }
    }

    func testEveryRecordIsAlsoAnRFC5424MessageWithTheSameJSONAndNoSecret() throws {
        let sandbox = Sandbox()
        let listener = try SyslogListener(path: sandbox.root + "/log.sock")
        sandbox.writeConfig("""
            [audit]
                syslog = true
                syslog-socket = \(listener.path)
            [identity "bot"]
                kind = exec
                command = "echo username=bot; echo password=SYSLOG-CANARY"
            [identity "broken"]
                kind = exec
                command = exit 3
            [git "https://bot.example"]
                identity = bot
            [git "https://broken.example"]
                identity = broken
            """)
        XCTAssertEqual(sandbox.git(["credential", "fill"], stdin: "protocol=https\nhost=bot.example\n").status, 0)
        sandbox.broker("git-credential-broker", ["get"], stdin: "protocol=https\nhost=broken.example\n")
        let messages = listener.drain()
        let fileLines = sandbox.read(sandbox.paths.auditLogPath).split(separator: "\n").map(String.init)
        XCTAssertEqual(messages.count, fileLines.count, "one message per record: \(messages)")
        XCTAssertGreaterThanOrEqual(messages.count, 2)
        let pattern = try NSRegularExpression(pattern: #"^<(8[56])>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \S+ credential-broker \d+ audit - (\{.*\})$"#)
        for (message, line) in zip(messages, fileLines) {
            let match = try XCTUnwrap(pattern.firstMatch(in: message, range: NSRange(message.startIndex..., in: message)), message)
            let json = String(message[Range(match.range(at: 2), in: message)!])
            XCTAssertEqual(json, line, "the message carries the file's record unchanged")
            let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            // authpriv.info (86) for ok, authpriv.notice (85) for an error outcome.
            XCTAssertEqual(String(message[Range(match.range(at: 1), in: message)!]), record["outcome"] as? String == "ok" ? "86" : "85")
            XCTAssertFalse(message.contains("SYSLOG-CANARY"))
        }
        XCTAssertTrue(messages.contains { $0.contains("\"identity\":\"bot\"") && $0.contains("\"event\":\"issued\"") }, "\(messages)")
        XCTAssertTrue(messages.contains { $0.hasPrefix("<85>") && $0.contains("\"identity\":\"broken\"") }, "\(messages)")
    }

    func testAMissingSyslogSocketIsOneWarningAndNoFailedRequest() {
        let sandbox = Sandbox()
        sandbox.writeConfig("""
            [audit]
                syslog = true
                syslog-socket = \(sandbox.root)/no-such.sock
            """)
        for n in 0..<3 {
            let stored = sandbox.broker("git-credential-broker", ["store"], stdin: "protocol=https\nhost=h\(n).example\nusername=u\npassword=p\n")
            XCTAssertEqual(stored.status, 0, stored.stderr)
        }
        let filled = sandbox.git(["credential", "fill"], stdin: "protocol=https\nhost=h1.example\n")
        XCTAssertEqual(filled.status, 0, filled.stderr)
        XCTAssertEqual(sandbox.read(sandbox.paths.auditLogPath).split(separator: "\n").count, 4, "the file has every record")
        let warnings = sandbox.read(sandbox.paths.agentLogPath).components(separatedBy: "cannot send audit records to syslog").count - 1
        XCTAssertEqual(warnings, 1, "one warning, not one per record: \(sandbox.read(sandbox.paths.agentLogPath))")
        let status = sandbox.broker("brokerctl", ["status"])
        XCTAssertTrue(status.stdout.contains("syslog error: cannot send audit records to syslog at \(sandbox.root)/no-such.sock"), status.stdout)
    }

    func testSyslogSocketMustBeAnAbsolutePath() {
        let sandbox = Sandbox()
        sandbox.writeConfig("[audit]\n    syslog = true\n    syslog-socket = dev/log\n")
        let result = sandbox.broker("brokerctl", ["validate"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("config:3: [audit] syslog-socket must be an absolute path"), result.stderr)
    }
}
