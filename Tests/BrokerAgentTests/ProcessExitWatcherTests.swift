// The watcher that ends a wrapped command's grants and leases when it exits: with pidfds, and
// by polling where the kernel or a sandbox refuses pidfd_open.

@testable import BrokerAgent
import Foundation
import XCTest

final class ProcessExitWatcherTests: XCTestCase {
    /// A child that lives until its stdin closes, so the test decides when it exits.
    func child() throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "read line"]
        let input = Pipe()
        process.standardInput = input
        try process.run()
        return (process, input)
    }

    func assertReportsExit(_ make: (@escaping @Sendable (Int32) -> Void) -> ProcessExitWatcher,
                           file: StaticString = #filePath, line: UInt = #line) throws {
        let exited = expectation(description: "exit reported")
        let (process, input) = try child()
        let pid = process.processIdentifier
        let watcher = make { reported in if reported == pid { exited.fulfill() } }
        try watcher.watch(pid)
        XCTAssertEqual(watcher.count, 1, file: file, line: line)
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        wait(for: [exited], timeout: 10)
        XCTAssertEqual(watcher.count, 0, "the exited process is no longer watched", file: file, line: line)
    }

    func testAnExitIsReportedThroughAPidfd() throws {
        try XCTSkipIf(ProcessExitWatcher.systemPidfdOpen == nil, "this libc has no pidfd_open")
        try assertReportsExit { ProcessExitWatcher(onExit: $0) }
    }

    func testAKernelWithoutPidfdOpenFallsBackToPolling() throws {
        let enosys: @convention(c) (pid_t, UInt32) -> CInt = { _, _ in errno = ENOSYS; return -1 }
        try assertReportsExit { ProcessExitWatcher(mechanism: .pidfd, pidfdOpen: enosys, onExit: $0) }
    }

    func testASandboxThatForbidsPidfdOpenFallsBackToPolling() throws {
        let eperm: @convention(c) (pid_t, UInt32) -> CInt = { _, _ in errno = EPERM; return -1 }
        try assertReportsExit { ProcessExitWatcher(mechanism: .pidfd, pidfdOpen: eperm, onExit: $0) }
    }

    func testAProcessThatIsGoneCannotBeWatched() throws {
        let (process, input) = try child()
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        for watcher in [ProcessExitWatcher(onExit: { _ in }), ProcessExitWatcher(mechanism: .polling, onExit: { _ in })] {
            XCTAssertThrowsError(try watcher.watch(process.processIdentifier)) { error in
                XCTAssertTrue("\(error)".contains("is not running"), "\(error)")
            }
        }
    }
}
