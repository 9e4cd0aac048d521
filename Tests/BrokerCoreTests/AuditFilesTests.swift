// Reading the audit log across rotated files: newest files are read only as far as needed, oldest lines come first.

@testable import BrokerCore
import BrokerWire
import Foundation
import XCTest

final class AuditFilesTests: XCTestCase {
    func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testRotatedFilesAreNamedByAge() {
        XCTAssertEqual(AuditFiles.path("/s/audit.log", age: 0), "/s/audit.log")
        XCTAssertEqual(AuditFiles.path("/s/audit.log", age: 3), "/s/audit.log.3")
    }

    func testLastLinesReadsAcrossFilesOldestFirst() throws {
        let live = try directory() + "/audit.log"
        try "a\nb\n".write(toFile: live + ".2", atomically: false, encoding: .utf8)
        try "c\nd\n".write(toFile: live + ".1", atomically: false, encoding: .utf8)
        try "e\n".write(toFile: live, atomically: false, encoding: .utf8)
        XCTAssertEqual(AuditFiles.lastLines(of: live, count: 10), ["a", "b", "c", "d", "e"])
        XCTAssertEqual(AuditFiles.lastLines(of: live, count: 3), ["c", "d", "e"])
        XCTAssertEqual(AuditFiles.lastLines(of: live, count: 1), ["e"])
    }

    func testLastLinesReadsRotatedFilesWhileTheLiveOneIsMissing() throws {
        let live = try directory() + "/audit.log"
        try "a\n".write(toFile: live + ".1", atomically: false, encoding: .utf8)
        XCTAssertEqual(AuditFiles.lastLines(of: live, count: 5), ["a"])
        XCTAssertEqual(AuditFiles.lastLines(of: live + "-none", count: 5), [])
    }

    func testAllLinesReadsEveryRotatedFileOldestFirst() throws {
        let live = try directory() + "/audit.log"
        try "a\n".write(toFile: live + ".3", atomically: false, encoding: .utf8)
        try "b\nc\n".write(toFile: live + ".2", atomically: false, encoding: .utf8)
        try "d\n".write(toFile: live + ".1", atomically: false, encoding: .utf8)
        XCTAssertEqual(AuditFiles.allLines(of: live), ["a", "b", "c", "d"], "a missing live log is no end: the rotated files still count")
        try "e\n".write(toFile: live, atomically: false, encoding: .utf8)
        XCTAssertEqual(AuditFiles.allLines(of: live), ["a", "b", "c", "d", "e"])
    }

    func testQueryKeepsRecordsInsideTheWindowThatMatchEveryField() {
        let query = AuditQuery(since: parseRFC3339("2026-12-05T10:00:00Z"), until: parseRFC3339("2026-12-05T11:00:00Z"),
                               identity: "bot", outcome: "ok")
        XCTAssertTrue(query.matches(time: "2026-12-05T10:00:00Z", identity: "bot", outcome: "ok", event: "issued"), "since includes its moment")
        XCTAssertFalse(query.matches(time: "2026-12-05T11:00:00Z", identity: "bot", outcome: "ok", event: "issued"), "until excludes its moment")
        XCTAssertFalse(query.matches(time: "2026-12-05T09:59:59Z", identity: "bot", outcome: "ok", event: "issued"))
        XCTAssertFalse(query.matches(time: "2026-12-05T10:30:00Z", identity: "other", outcome: "ok", event: "issued"))
        XCTAssertFalse(query.matches(time: "2026-12-05T10:30:00Z", identity: "bot", outcome: "error", event: "denied"))
        XCTAssertFalse(query.matches(time: "2026-12-05T10:30:00Z", identity: nil, outcome: "ok", event: "stored"), "a record without the field never matches")
        XCTAssertFalse(query.matches(time: "garbage", identity: "bot", outcome: "ok", event: "issued"), "an unreadable time is outside any window")
        XCTAssertTrue(AuditQuery().matches(time: nil, identity: nil, outcome: nil, event: nil))
        XCTAssertTrue(AuditQuery().isEmpty)
        XCTAssertFalse(AuditQuery(event: "issued").isEmpty)
    }

    func testMomentsAreTimesDatesOrAges() throws {
        let now: Int64 = 1_800_000_000
        XCTAssertEqual(try AuditQuery.moment("2026-12-05T10:00:00Z", now: now), parseRFC3339("2026-12-05T10:00:00Z"))
        XCTAssertEqual(try AuditQuery.moment("2026-12-05", now: now), parseRFC3339("2026-12-05T00:00:00Z"))
        XCTAssertEqual(try AuditQuery.moment("90s", now: now), now - 90)
        XCTAssertEqual(try AuditQuery.moment("15m", now: now), now - 900)
        XCTAssertEqual(try AuditQuery.moment("2h", now: now), now - 7200)
        XCTAssertEqual(try AuditQuery.moment("7d", now: now), now - 7 * 86_400)
        XCTAssertEqual(try AuditQuery.moment("1w", now: now), now - 604_800)
        for bad in ["", "yesterday", "5x", "-3h", "h", "2026-13-05"] {
            XCTAssertThrowsError(try AuditQuery.moment(bad, now: now), bad) { error in
                XCTAssertEqual((error as? BrokerFailure)?.hint, "write a time like 2026-12-05T10:00:00Z or 2026-12-05, or an age like 30m, 2h or 7d")
            }
        }
    }

    func testRotateShiftsDropsTheOldestAndFreesTheLiveName() throws {
        let live = try directory() + "/audit.log"
        for (age, text) in ["live", "one", "two"].enumerated() {
            try text.write(toFile: AuditFiles.path(live, age: age), atomically: false, encoding: .utf8)
        }
        try AuditFiles.rotate(live, keep: 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: live))
        XCTAssertEqual(try String(contentsOfFile: live + ".1", encoding: .utf8), "live")
        XCTAssertEqual(try String(contentsOfFile: live + ".2", encoding: .utf8), "one")
        XCTAssertFalse(FileManager.default.fileExists(atPath: live + ".3"))
    }
}
