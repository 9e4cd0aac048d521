// /proc/PID/stat read in place: the fields the agent knows a process by.

@testable import BrokerWire
import XCTest

final class ProcFSTests: XCTestCase {
    func testParsesStatFieldsPastACommandNameWithSpacesAndParentheses() {
        let line = "4242 (a (b) c) S 4200 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 987654 0 0"
        let parsed = Array(line.utf8).withUnsafeBufferPointer { ProcFS.parseStat($0) }
        XCTAssertEqual(parsed, ProcFS.ProcessStat(state: UInt8(ascii: "S"), parentPID: 4200, startTime: 987654))
        XCTAssertNil(Array("4242 (x) S".utf8).withUnsafeBufferPointer { ProcFS.parseStat($0) }, "a line cut short")
    }

    func testReadsThisProcess() {
        #if os(Linux)
        let stat = ProcFS.processStat(of: getpid())
        XCTAssertEqual(stat?.parentPID, getppid())
        XCTAssertEqual(stat?.startTime, ProcFS.startTime(of: getpid()))
        XCTAssertEqual(stat?.isGone, false)
        #endif
    }
}
