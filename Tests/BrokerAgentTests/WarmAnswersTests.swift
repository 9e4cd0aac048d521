// A remembered answer is given again only for the same bytes, the same state and the same second,
// and its audit line is the one a fresh answer would have written for the new caller.

@testable import BrokerAgent
import BrokerCore
import BrokerWire
import Foundation
import XCTest

final class WarmAnswersTests: XCTestCase {
    let issued = AuditRecord(event: .issued, identity: "prod", adapter: "git", caller: Caller(pid: 10, uid: 1000, executable: "/bin/a"),
                             target: "https://example.com", tier: "memory")

    func entry(_ request: String, _ answer: String) -> WarmAnswers.Entry {
        .init(request: Array(request.utf8), answer: Array(answer.utf8), auditBody: Array(",\"event\":\"issued\"".utf8))
    }

    func lookup(_ warm: WarmAnswers, _ request: String, generation: UInt64, at instant: Clock.Instant) -> String? {
        let bytes = Array(request.utf8)
        return bytes.withUnsafeBufferPointer { warm.lookup($0, generation: generation, at: instant) }
            .map { String(decoding: warm.entries[$0].answer, as: UTF8.self) }
    }

    func testTheSameBytesInTheSameSecondAndGenerationAreAnsweredAgain() {
        let warm = WarmAnswers()
        let now = Clock.Instant(wall: 1_800_000_000, elapsed: 500)
        warm.remember(entry("v=1\nop=git.get\n\n", "status=ok\npassword=a\n\n"), generation: 7, at: now)
        warm.remember(entry("v=1\nop=aws.credentials\n\n", "status=ok\naccess_key_id=K\n\n"), generation: 7, at: now)
        XCTAssertEqual(lookup(warm, "v=1\nop=git.get\n\n", generation: 7, at: now), "status=ok\npassword=a\n\n")
        XCTAssertEqual(lookup(warm, "v=1\nop=aws.credentials\n\n", generation: 7, at: now), "status=ok\naccess_key_id=K\n\n")
        XCTAssertNil(lookup(warm, "v=1\nop=git.get\n\n\n", generation: 7, at: now), "one byte more is another request")
        XCTAssertNil(lookup(warm, "v=1\nop=git.gex\n\n", generation: 7, at: now), "one byte different is another request")
        XCTAssertEqual(warm.replayed, 2)
    }

    func testAnyStateChangeOrANewSecondOnEitherClockForgetsEverything() {
        let now = Clock.Instant(wall: 1_800_000_000, elapsed: 500)
        for (generation, instant, why) in [(UInt64(8), now, "state changed"),
                                           (7, Clock.Instant(wall: now.wall + 1, elapsed: now.elapsed), "wall clock's next second"),
                                           (7, Clock.Instant(wall: now.wall, elapsed: now.elapsed + 1), "elapsed clock's next second"),
                                           (7, Clock.Instant(wall: now.wall - 3600, elapsed: now.elapsed), "wall clock stepped back")] {
            let warm = WarmAnswers()
            warm.remember(entry("req", "answer"), generation: 7, at: now)
            XCTAssertNil(lookup(warm, "req", generation: generation, at: instant), why)
            XCTAssertTrue(warm.entries.isEmpty, "\(why): forgotten, not kept for later")
            XCTAssertNil(lookup(warm, "req", generation: 7, at: now), "\(why): not back when the old state returns")
        }
    }

    func testRememberingInANewStateDropsWhatTheOldOneRemembered() {
        let warm = WarmAnswers()
        let now = Clock.Instant(wall: 1_800_000_000, elapsed: 500)
        warm.remember(entry("a", "old"), generation: 7, at: now)
        warm.remember(entry("b", "new"), generation: 8, at: now)
        XCTAssertNil(lookup(warm, "a", generation: 8, at: now))
        XCTAssertEqual(lookup(warm, "b", generation: 8, at: now), "new")
    }

    func testAtCapacityTheOldestGoesFirst() {
        let warm = WarmAnswers()
        let now = Clock.Instant(wall: 1, elapsed: 1)
        for index in 0...WarmAnswers.capacity { warm.remember(entry("r\(index)", "a\(index)"), generation: 1, at: now) }
        XCTAssertEqual(warm.entries.count, WarmAnswers.capacity)
        XCTAssertNil(lookup(warm, "r0", generation: 1, at: now))
        XCTAssertEqual(lookup(warm, "r1", generation: 1, at: now), "a1")
        XCTAssertEqual(lookup(warm, "r\(WarmAnswers.capacity)", generation: 1, at: now), "a\(WarmAnswers.capacity)")
    }

    func testOnlyAnAnswerItsHandlerCallsRepeatableWithOneIssuedRecordForItsCallerIsRemembered() {
        let caller = issued.caller!
        func body(_ setup: (WarmRecorder) -> Void) -> [UInt8]? {
            let recorder = WarmRecorder()
            setup(recorder)
            return recorder.body(for: caller)
        }
        XCTAssertNotNil(body { $0.repeatable = true; $0.audited(issued) })
        XCTAssertNil(body { $0.audited(issued) }, "the handler did not say it may repeat")
        XCTAssertNil(body { $0.repeatable = true }, "nothing audited: every answer of a credential is")
        XCTAssertNil(body { $0.repeatable = true; $0.vetoed = true; $0.audited(issued) }, "vetoed")
        XCTAssertNil(body { $0.repeatable = true; $0.audited(issued); $0.audited(issued) }, "two records")
        var denied = issued
        denied.event = .denied
        XCTAssertNil(body { $0.repeatable = true; $0.audited(denied) }, "not an issue")
        var failed = issued
        failed.outcome = "error"
        XCTAssertNil(body { $0.repeatable = true; $0.audited(failed) }, "not ok")
        var held = issued
        held.holder = Caller(pid: 3, uid: 1000)
        XCTAssertNil(body { $0.repeatable = true; $0.audited(held) }, "a lease's holder is per request")
        var other = issued
        other.caller = Caller(pid: 11, uid: 1000)
        XCTAssertNil(body { $0.repeatable = true; $0.audited(other) }, "a record for another caller")
        let recorder = WarmRecorder()
        recorder.repeatable = true
        recorder.vetoed = true
        recorder.audited(issued)
        recorder.reset()
        recorder.repeatable = true
        recorder.audited(issued)
        XCTAssertNotNil(recorder.body(for: caller), "reset starts afresh")
    }

    func testTheRecorderHearsTheAuditRecordsOfTheAnswerBeingMadeOnThisLoopOnly() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("warm-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = AuditLog(path: directory + "/audit.log")
        let recorder = WarmRecorder()
        ServingThread.withoutWaiting(recording: recorder) {
            log.record(issued)
            ServingThread.answerMayRepeat()
        }
        XCTAssertEqual(recorder.records, 1)
        XCTAssertTrue(recorder.repeatable)
        log.record(issued)  // no longer recording
        ServingThread.answerMayRepeat()
        XCTAssertEqual(recorder.records, 1)
        ServingThread.withoutWaiting { log.record(issued) }  // a loop answer nobody records
        XCTAssertEqual(recorder.records, 1)
    }

    /// The replayed line is byte for byte the line a fresh answer writes for the new caller.
    func testAReplayedAuditLineIsTheLineTheRecordWouldHaveWrittenForTheNewCaller() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("warm-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/audit.log"
        let log = AuditLog(path: path)
        let next = Caller(pid: 4242, uid: 1000, executable: "/usr/lib/git-core/git-credential-broker", parentPID: 4200,
                          parentExecutable: "/usr/bin/git \"quoted\"")
        for record in [issued, AuditRecord(event: .issued, identity: nil, adapter: "git", caller: issued.caller,
                                           target: "https://h.example/a b\u{2028}", tier: "memory", reason: "r\n", token: "0123")] {
            let recorder = WarmRecorder()
            recorder.repeatable = true
            recorder.audited(record)
            let body = try XCTUnwrap(recorder.body(for: record.caller!))
            var fresh = record
            fresh.caller = next
            log.record(fresh, time: 1_800_000_123)
            log.replay(body: body, caller: AuditLine.caller(next), time: 1_800_000_123)
        }
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 5)
        XCTAssertEqual(lines[0], lines[1])
        XCTAssertEqual(lines[2], lines[3])
        XCTAssertTrue(lines[1].contains("\"pid\":4242") && lines[1].contains("\"parent_exe\":\"/usr/bin/git \\\"quoted\\\"\""), String(lines[1]))
    }
}
