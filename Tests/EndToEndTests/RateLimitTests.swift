// Per-caller rate limits end to end: cache hits are never refused (DESIGN D19); upstream calls past
// the limit wait (bounded), and past the bound are refused with a "try again", audited.

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

    func testFourHundredFillsSixteenAtATimeAreAllServed() throws {
        // What `git submodule update --jobs 16` or a CI job fetching many repositories does: real
        // `git credential fill`, against a static identity and an unbound host, with the
        // (ignored) hit limits of an old configuration set low.
        let sandbox = sandbox(agent: "hit-rate = 1/h\nhit-burst = 3")
        let helper = ["-c", "credential.helper=" + Sandbox.executable("git-credential-broker")]
        let token = ["BOT_TOKEN": "tok-\(getpid())"]
        // The first call starts the agent, which reads env: secrets from its own environment.
        XCTAssertEqual(sandbox.run("/usr/bin/git", helper + ["credential", "approve"], stdin: "protocol=https\nhost=cache.example\nusername=c\npassword=cached\n\n",
                                   extraEnvironment: token).status, 0)
        var failed: [ProcessResult] = []
        for batch in 0..<25 {
            let commands = (0..<16).map { i in
                AgentProcessKit.Command(executable: "/usr/bin/git", arguments: helper + ["credential", "fill"],
                                        stdin: "protocol=https\nhost=\((batch * 16 + i) % 2 == 0 ? "example.com" : "cache.example")\n\n")
            }
            failed += AgentProcessKit.runConcurrently(sandbox, commands, extraEnvironment: token)
                .filter { $0.status != 0 || !$0.stdout.contains("password=") }
        }
        XCTAssertEqual(failed.count, 0, failed.prefix(3).map(\.stderr).joined(separator: " | "))
        XCTAssertEqual(sandbox.auditLines.filter { $0["event"] as? String == "denied" }.count, 0)
    }

    func testAnUpstreamCallPastTheRateWaitsInsteadOfFailing() {
        let sandbox = sandbox(agent: "upstream-rate = 2/s\nupstream-burst = 1")
        let erase = { sandbox.broker("git-credential-broker", ["erase"], stdin: "protocol=https\nhost=example.com\nusername=u\npassword=x\n\n") }
        XCTAssertEqual(get(sandbox).status, 0)      // upstream 1: the burst
        XCTAssertEqual(erase().status, 0)
        let started = Date()
        let second = get(sandbox)                   // upstream 2: waits about 0.5 s for its token
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertGreaterThan(Date().timeIntervalSince(started), 0.2, "it waited for the bucket")
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
                       "git-credential-broker: rate limited: 1 requests/h for identity \"bot\" from \(Self.testProgram); try again in X s (hint: wait, or raise [agent] upstream-rate (rate-limits = false turns it off))\n")
        XCTAssertEqual(get(sandbox, via: ["/usr/bin/timeout", "20"]).status, 0)
    }

    func testRateLimitsOff() {
        let sandbox = sandbox(agent: "rate-limits = false\nupstream-rate = 1/h\nupstream-burst = 1")
        let erase = { sandbox.broker("git-credential-broker", ["erase"], stdin: "protocol=https\nhost=example.com\nusername=u\npassword=x\n\n") }
        for _ in 1...4 {
            XCTAssertEqual(get(sandbox).status, 0)
            XCTAssertEqual(erase().status, 0)
        }
    }
}
