// Per-caller rate limits end to end: a burst past the limit is refused with a "try again", audited,
// and another program asking for the same identity is served all the while.

import Foundation
import XCTest

final class RateLimitTests: XCTestCase {
    /// The program that runs the adapters in these tests: this test process.
    static let testProgram = (ProcessInfo.processInfo.arguments[0] as NSString).lastPathComponent

    func sandbox(agent: String) -> Sandbox {
        let sandbox = Sandbox()
        sandbox.writeConfig("""
            [agent]
            \(agent)
            [identity "bot"]
                kind = static
                username = u
                secret = env:BOT_TOKEN
            [git "https://example.com"]
                identity = bot

            """)
        return sandbox
    }

    func get(_ sandbox: Sandbox, via wrapper: [String] = []) -> ProcessResult {
        let helper = Sandbox.executable("git-credential-broker")
        let command = wrapper.isEmpty ? helper : wrapper[0]
        return sandbox.run(command, Array(wrapper.dropFirst()) + (wrapper.isEmpty ? [] : [helper]) + ["get"],
                           stdin: "protocol=https\nhost=example.com\n\n", extraEnvironment: ["BOT_TOKEN": "tok-\(getpid())"])
    }

    /// The seconds in "try again in X s" depend on the clock; everything else is exact.
    func withoutWait(_ text: String) -> String {
        text.replacingOccurrences(of: "try again in [0-9.]+ s", with: "try again in X s", options: .regularExpression)
    }

    func testABurstOfHitsPastTheLimitIsRefusedWhileAnotherProgramIsServed() {
        let sandbox = sandbox(agent: "hit-rate = 1/h\nhit-burst = 3")
        let served = "username=u\npassword=tok-\(getpid())\n"
        for round in 1...3 {
            let result = get(sandbox)
            XCTAssertEqual(result.status, 0, "round \(round): \(result.stderr)")
            XCTAssertEqual(result.stdout, served)
        }
        let refused = get(sandbox)
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.stdout, "")
        XCTAssertEqual(withoutWait(refused.stderr),
                       "git-credential-broker: rate limited: 1 requests/h for identity \"bot\" from \(Self.testProgram); try again in X s (hint: wait, or raise [agent] upstream-rate and hit-rate (rate-limits = false turns them off))\n")
        // The same identity asked for by another program (here `timeout`, as a CI step would run it).
        let other = get(sandbox, via: ["/usr/bin/timeout", "20"])
        XCTAssertEqual(other.status, 0, other.stderr)
        XCTAssertEqual(other.stdout, served)

        let denied = sandbox.auditLines.filter { $0["event"] as? String == "denied" }
        XCTAssertEqual(denied.count, 1)
        XCTAssertEqual(denied.first?["reason"] as? String, "rate limited")
        XCTAssertEqual(denied.first?["identity"] as? String, "bot")
        XCTAssertEqual(denied.first?["target"] as? String, "https://example.com")
    }

    func testUpstreamRequestsHaveTheirOwnSmallerBucket() {
        let sandbox = sandbox(agent: "upstream-rate = 1/h\nupstream-burst = 2")
        let erase = { sandbox.broker("git-credential-broker", ["erase"], stdin: "protocol=https\nhost=example.com\nusername=u\npassword=x\n\n") }
        XCTAssertEqual(get(sandbox).status, 0)      // upstream 1
        XCTAssertEqual(get(sandbox).status, 0)      // a hit: free of the upstream bucket
        XCTAssertEqual(erase().status, 0)
        XCTAssertEqual(get(sandbox).status, 0)      // upstream 2
        XCTAssertEqual(erase().status, 0)
        let refused = get(sandbox)                  // upstream 3: refused before the upstream is asked
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(withoutWait(refused.stderr),
                       "git-credential-broker: rate limited: 1 requests/h for identity \"bot\" from \(Self.testProgram); try again in X s (hint: wait, or raise [agent] upstream-rate and hit-rate (rate-limits = false turns them off))\n")
        XCTAssertEqual(get(sandbox, via: ["/usr/bin/timeout", "20"]).status, 0)
    }

    func testRateLimitsOff() {
        let sandbox = sandbox(agent: "rate-limits = false\nhit-rate = 1/h\nhit-burst = 1")
        for _ in 1...4 { XCTAssertEqual(get(sandbox).status, 0) }
    }
}
