// Silent clients wait in the agent's poll loop, not in its threads: a flood of them locks no one out.

import BrokerWire
import Foundation
import XCTest

final class IdleFloodTests: XCTestCase {
    func testThreeHundredSilentConnectionsDoNotDelayARealClient() throws {
        let sandbox = Sandbox()
        sandbox.writeConfig("[agent]\n    max-connections = 16\n")
        sandbox.git(["credential", "approve"], stdin: "protocol=https\nhost=example.com\nusername=u\npassword=p\n")
        var silent: [FileDescriptor] = []
        defer { silent.forEach { $0.close() } }
        for _ in 0..<300 {
            silent.append(try UnixSocket.connect(path: sandbox.paths.socketPath))
        }
        usleep(300_000)  // let the agent accept them all
        let start = Date()
        let fill = sandbox.git(["credential", "fill"], stdin: "protocol=https\nhost=example.com\n")
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertEqual(fill.stdout, "protocol=https\nhost=example.com\nusername=u\npassword=p\n", fill.stderr)
        XCTAssertLessThan(elapsed, 2, "a real client waited \(elapsed) s behind silent ones")
        XCTAssertNotNil(sandbox.agentPID, "the agent is still up")
    }

    func testAClientDribblingItsRequestIsCutOffAtTheWholeRequestDeadline() throws {
        // Each byte comes well within a per-read timeout; the request as a whole does not.
        let sandbox = Sandbox()
        sandbox.writeConfig("[agent]\n    request-timeout = 2s\n")
        sandbox.git(["credential", "approve"], stdin: "protocol=https\nhost=example.com\nusername=u\npassword=p\n")
        let connection = try UnixSocket.connect(path: sandbox.paths.socketPath)
        defer { connection.close() }
        UnixSocket.setTimeouts(connection, seconds: 1)
        // The first byte makes the agent take the connection off its silent list and serve it.
        try connection.writeAll("v")
        let start = Date()
        var cutOff = false
        for byte in "=1\nop=ping\n" {
            usleep(900_000)
            do { try connection.writeAll(String(byte)) } catch { cutOff = true; break }
            var buffer = [UInt8](repeating: 0, count: 64)
            let peeked = buffer.withUnsafeMutableBytes { recv(connection.rawValue, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if peeked == 0 { cutOff = true; break }
            if Date().timeIntervalSince(start) > 6 { break }
        }
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertTrue(cutOff, "the agent still listened after \(elapsed) s")
        XCTAssertLessThan(elapsed, 4, "cut off only after \(elapsed) s")
        XCTAssertNotNil(sandbox.agentPID, "the agent is still up")
    }
}
