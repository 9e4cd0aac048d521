// The audit line built byte by byte is the JSON document the record describes, byte for byte.

@testable import BrokerAgent
import BrokerWire
import Foundation
import XCTest

final class AuditLineTests: XCTestCase {
    /// The record as a `JSONValue` (the general encoder), keys in the log's order: the reference.
    func reference(_ record: AuditRecord, time: Int64) -> String {
        var object: [(String, JSONValue)] = [
            ("time", .string(rfc3339UTC(time))), ("event", .string(record.event.rawValue)),
            ("outcome", .string(record.outcome)), ("adapter", .string(record.adapter)),
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
        return JSONValue.object(object).encoded() + "\n"
    }

    func line(_ record: AuditRecord, time: Int64) -> String {
        String(decoding: AuditLine.encode(record, time: time), as: UTF8.self)
    }

    func testEveryFieldAsTheGeneralEncoderWritesIt() {
        let caller = Caller(pid: 4242, uid: 1000, executable: "/usr/lib/git-core/git-credential-broker", parentPID: 4200,
                            parentExecutable: "/usr/bin/git")
        let record = AuditRecord(event: .issued, identity: "prod", adapter: "git", caller: caller, target: "https://example.com/acme/repo.git",
                                 tier: "memory", reason: "login", token: "0123456789ab",
                                 holder: Caller(pid: 77, uid: 1000, executable: "/bin/sh"))
        XCTAssertEqual(line(record, time: 1_800_000_000), reference(record, time: 1_800_000_000))
    }

    func testEscapesQuotesControlsAndLineSeparators() {
        let awkward = "quote\" back\\slash tab\t nl\n cr\r nul\u{0} esc\u{1b} del\u{7f} ls\u{2028} ps\u{2029} é 日本 \u{2027} € 😀"
        let record = AuditRecord(event: .denied, outcome: "error", identity: awkward, adapter: "aws", caller: nil, reason: awkward)
        XCTAssertEqual(line(record, time: 0), reference(record, time: 0))
        let parsed = try? JSONSerialization.jsonObject(with: Data(line(record, time: 0).utf8)) as? [String: Any]
        XCTAssertEqual(parsed?["reason"] as? String, awkward, "the line reads back as the same text")
    }

    func testTimesAcrossCenturiesLeapDaysAndYearEnds() {
        let record = AuditRecord(event: .stored, identity: nil, adapter: "git", caller: Caller(pid: 1, uid: 0))
        for time: Int64 in [0, 59, 86_399, 86_400, 951_782_400, 951_868_799, 1_709_164_800, 1_735_689_599, 1_735_689_600,
                            4_102_444_800, 32_503_680_000, 253_402_300_799] {
            XCTAssertEqual(line(record, time: time), reference(record, time: time), "time \(time)")
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let time = Int64.random(in: 0...4_102_444_800, using: &generator)
            XCTAssertEqual(line(record, time: time), reference(record, time: time), "time \(time)")
        }
    }

    func testTimeTextKeptFromOneLineToTheNextChangesWithTheSecond() {
        let record = AuditRecord(event: .issued, identity: nil, adapter: "git", caller: nil, target: "https://example.com")
        var kept = AuditLine.TimeText()
        for time: Int64 in [1_735_689_599, 1_735_689_599, 1_735_689_600, 59, 59, 1_735_689_599] {
            let written = [UInt8](capacity: AuditLine.capacity(record, nil)) {
                AuditLine.write(record, time: time, names: nil, into: &$0, timeText: &kept)
            }
            XCTAssertEqual(String(decoding: written, as: UTF8.self), reference(record, time: time), "time \(time)")
        }
    }

    func testGitTargetIsSchemeHostAndPath() {
        XCTAssertEqual(GitHandler.target(scheme: "https", host: "example.com", path: nil), "https://example.com")
        XCTAssertEqual(GitHandler.target(scheme: "https", host: "example.com:8443", path: "org/repo.git"), "https://example.com:8443/org/repo.git")
        XCTAssertEqual(GitHandler.target(scheme: "https", host: "bücher.example", path: ""), "https://bücher.example/")
        XCTAssertEqual(GitHandler.target(scheme: "http", host: "日本.example", path: "a/b c"), "http://日本.example/a/b c")
    }
}
