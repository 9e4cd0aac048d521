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
}
