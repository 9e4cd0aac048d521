// Reading the audit log across rotated files: newest files are read only as far as needed, oldest lines come first.

@testable import BrokerCore
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
