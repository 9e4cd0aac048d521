// The audit log's size limit as a specification: when it rotates, what it keeps, how files are made.

@testable import BrokerAgent
import BrokerCore
import Foundation
import XCTest

final class AuditLogRotationTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    var live: String { directory + "/audit.log" }

    func log(maxSize: Int, keep: Int) -> AuditLog {
        var settings = AuditSettings()
        settings.maxSize = maxSize
        settings.keep = keep
        return AuditLog(path: live, settings: { settings })
    }

    /// Writes records whose identities are r0, r1, …; returns the lines each wrote.
    @discardableResult
    func write(_ log: AuditLog, _ range: Range<Int>) -> [Int] {
        for n in range {
            log.record(AuditRecord(event: .issued, identity: "r\(n)", adapter: "git", caller: nil), time: 1_800_000_000)
        }
        return Array(range)
    }

    func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// The identities in one file, in order; fails on any line that is not one whole record.
    func identities(_ path: String, file: StaticString = #filePath, line: UInt = #line) -> [String] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        XCTAssertTrue(text.isEmpty || text.hasSuffix("\n"), "\(path) ends inside a line", file: file, line: line)
        return text.split(separator: "\n").compactMap { raw in
            let object = try? JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any]
            XCTAssertNotNil(object, "not one whole record: \(raw)", file: file, line: line)
            return object?["identity"] as? String
        }
    }

    func size(_ path: String) -> Int { (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1 }

    func testRotatesBeforeAWriteWouldPassTheLimit() {
        let lineBytes = 100  // each record here is about this long
        let audit = log(maxSize: lineBytes * 5, keep: 5)
        write(audit, 0..<3)
        XCTAssertFalse(FileManager.default.fileExists(atPath: live + ".1"), "under the limit: no rotation")
        write(audit, 3..<12)
        XCTAssertTrue(FileManager.default.fileExists(atPath: live + ".1"))
        for age in 0...5 {
            XCTAssertLessThanOrEqual(size(AuditFiles.path(live, age: age)), lineBytes * 5, "audit.log.\(age) passed max-size")
        }
    }

    func testNoRecordIsSplitOrLostAcrossFiles() {
        let audit = log(maxSize: 700, keep: 5)
        write(audit, 0..<20)
        let all = (0...5).reversed().flatMap { identities(AuditFiles.path(live, age: $0)) }
        XCTAssertEqual(all, (0..<20).map { "r\($0)" }, "oldest rotated file first, then the live log, every record once")
    }

    func testKeepsOnlyTheNewestNRotatedFiles() {
        let audit = log(maxSize: 300, keep: 2)
        write(audit, 0..<40)
        XCTAssertTrue(FileManager.default.fileExists(atPath: live + ".1"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: live + ".2"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: live + ".3"), "the oldest beyond keep is dropped")
        let kept = [live + ".2", live + ".1", live].flatMap { identities($0) }
        XCTAssertEqual(kept.last, "r39")
        XCTAssertEqual(kept, Array((0..<40).map { "r\($0)" }.suffix(kept.count)), "what is kept is the newest, in order")
    }

    func testALowerKeepDropsTheFilesBeyondIt() throws {
        write(log(maxSize: 300, keep: 5), 0..<40)
        XCTAssertTrue(FileManager.default.fileExists(atPath: live + ".5"))
        write(log(maxSize: 300, keep: 2), 40..<45)
        for age in 3...5 {
            XCTAssertFalse(FileManager.default.fileExists(atPath: live + ".\(age)"), "audit.log.\(age) outlived keep = 2")
        }
    }

    func testTheNewFileIsCreatedWithMode0600EvenUnderALaxUmask() throws {
        let old = umask(0)
        defer { umask(old) }
        let audit = log(maxSize: 300, keep: 5)
        write(audit, 0..<10)
        for path in [live, live + ".1"] {
            let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
            XCTAssertEqual(mode, 0o600, path)
        }
    }

    func testARecordLargerThanTheLimitStillGoesInWhole() {
        let audit = log(maxSize: 10, keep: 5)
        write(audit, 0..<3)
        XCTAssertEqual(identities(live), ["r2"])
        XCTAssertEqual(identities(live + ".1"), ["r1"])
        XCTAssertEqual(identities(live + ".2"), ["r0"])
    }
}
