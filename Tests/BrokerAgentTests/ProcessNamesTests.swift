// Callers are named from /proc once per process (pid and start time), not once per request.

@testable import BrokerAgent
@testable import BrokerWire
import XCTest

final class ProcessNamesTests: XCTestCase {
    func testAProcessIsWalkedOnceAndNamedLikeProcSays() throws {
        #if os(Linux)
        let names = ProcessNames()
        let first = names.describe(getpid())
        XCTAssertEqual(first.executable, ProcFS.executable(of: nil))
        XCTAssertEqual(first.parentPID, getppid() > 1 ? getppid() : nil)
        XCTAssertEqual(names.walks, 1)
        for _ in 0..<100 { XCTAssertEqual(names.describe(getpid()), first) }
        XCTAssertEqual(names.walks, 1, "asking again reads no parents")
        #endif
    }

    func testAConfirmationPastTheTrustedWindowStillRecognizesTheSameProcess() throws {
        #if os(Linux)
        let names = ProcessNames(trusted: 0)  // every lookup confirms the start time
        let first = names.describe(getpid())
        XCTAssertEqual(names.describe(getpid()), first)
        XCTAssertEqual(names.walks, 1, "same pid, same start time: the same process")
        #endif
    }

    func testACallerIsNamedOnlyWhenAsked() {
        let peer = UnixSocket.PeerCredentials(pid: getpid(), uid: ProcessInfoLite.userID, gid: 0)
        let caller = Caller.describe(peer)
        XCTAssertEqual(caller.pid, getpid())
        #if os(Linux)
        XCTAssertEqual(caller.executable, ProcFS.executable(of: nil), "looked up on first use")
        #endif
    }
}
