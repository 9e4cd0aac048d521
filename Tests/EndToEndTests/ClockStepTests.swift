// The real agent under a wall clock stepped back and forward (libfaketime, with the monotonic
// and boot clocks left alone — exactly what an NTP step or `date -s` does): no expired
// credential is served, and expiries handed to git and botocore follow the stepped clock.

import BrokerWire
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// libfaketime for a sandbox: every process it runs — git, the adapters and the agent they start —
/// sees the wall clock moved by the offset in one file, re-read on each call, while
/// CLOCK_MONOTONIC and CLOCK_BOOTTIME stay real.
struct FakeWallClock {
    /// Debian's libfaketime (.ci/run installs it); the MT build is the one for threaded programs.
    static let library: String? = {
        for dir in ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"] {
            let path = dir + "/faketime/libfaketimeMT.so.1"
            if access(path, R_OK) == 0 { return path }
        }
        return nil
    }()

    let sandbox: Sandbox

    /// Nil (after an XCTFail) when libfaketime is missing.
    init?(_ sandbox: Sandbox) {
        guard let library = Self.library else {
            XCTFail("libfaketime is not installed (apt-get install libfaketime; .ci/run does)")
            return nil
        }
        self.sandbox = sandbox
        let offsetFile = sandbox.write("faketime-offset", "+0\n")
        sandbox.environment["LD_PRELOAD"] = library
        sandbox.environment["FAKETIME_TIMESTAMP_FILE"] = offsetFile
        sandbox.environment["FAKETIME_NO_CACHE"] = "1"
        sandbox.environment["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
    }

    /// Steps the wall clock: "+0", "-2h", "+50m", … (libfaketime's relative offsets).
    func step(_ offset: String) { _ = sandbox.write("faketime-offset", offset + "\n") }

    /// Unix seconds by the real clock: the test process is not under libfaketime.
    static var realNow: Int64 { Int64(time(nil)) }

    /// Runs one of our programs as git and botocore do, through a shell: a Swift program started
    /// straight under libfaketime finds CommandLine.arguments empty (seen with Swift 6.3 and
    /// libfaketime 0.9.10), while one started from a shell already under it does not.
    func run(_ program: String, _ arguments: [String], stdin: String = "") -> ProcessResult {
        sandbox.run("/bin/sh", ["-c", "exec \"$0\" \"$@\"", Sandbox.executable(program)] + arguments, stdin: stdin)
    }
}

final class ClockStepTests: XCTestCase {
    typealias Kit = AgentProcessKit

    var sandbox: Sandbox!
    var clock: FakeWallClock?

    override func setUp() {
        sandbox = Sandbox()
        clock = FakeWallClock(sandbox)
    }

    override func tearDown() {
        if let sandbox { Kit.stopAgents(sandbox) }
    }

    var realNow: Int64 { FakeWallClock.realNow }

    func helperGet(_ host: String) -> ProcessResult {
        clock!.run("git-credential-broker", ["get"], stdin: "protocol=https\nhost=\(host)\n\n")
    }

    func expiryTold(in answer: String) -> Int64? {
        answer.split(separator: "\n").first { $0.hasPrefix("password_expiry_utc=") }
            .flatMap { Int64($0.dropFirst("password_expiry_utc=".count)) }
    }

    func testSteppedWallClockNeverServesAnExpiredTokenToGit() throws {
        guard let clock else { return }
        // The upstream's clock is right: its tokens expire at the real times the test writes.
        let expiry = sandbox.write("expiry", "")
        let counter = sandbox.root + "/mint.runs"
        let script = sandbox.write("bin/mint", """
            #!/bin/sh
            echo run >> \(counter)
            echo username=clock-user
            echo password=tok-$(wc -l < \(counter) | tr -d ' ')
            echo password_expiry_utc=$(cat \(expiry))

            """, mode: 0o755)
        sandbox.writeConfig("""
            [agent]
            \trefresh-ahead = 0
            [identity "clocked"]
            \tkind = exec
            \tcommand = \(script)
            [git "https://clock.example"]
            \tidentity = clocked

            """)
        let fill = "protocol=https\nhost=clock.example\n\n"
        let firstExpiry = realNow + 66
        _ = sandbox.write("expiry", "\(firstExpiry)\n")

        let first = sandbox.git(["credential", "fill"], stdin: fill)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("password=tok-1\n"), first.stdout)
        XCTAssertEqual(expiryTold(in: helperGet("clock.example").stdout), firstExpiry)

        // Two hours back: tok-1 still has its real ~60 s, and git is told so in its own clock.
        clock.step("-2h")
        let back = sandbox.git(["credential", "fill"], stdin: fill)
        XCTAssertEqual(back.status, 0, back.stderr)
        XCTAssertTrue(back.stdout.contains("password=tok-1\n"), back.stdout)
        // git 2.39 drops password_expiry_utc; the helper's own answer carries it.
        let answer = helperGet("clock.example").stdout
        let told = expiryTold(in: answer)
        XCTAssertNotNil(told, answer)
        if let told { XCTAssertLessThanOrEqual(abs(told - (firstExpiry - 7200)), 2, "expiry handed to git: \(told)") }

        // Let tok-1's real life fall under the 60 s minimum (with 3 s for the two clocks' whole
        // seconds). By the stepped wall clock it has two hours left; the agent must mint anew.
        _ = sandbox.write("expiry", "\(realNow + 3600)\n")
        while realNow < firstExpiry - 57 { usleep(100_000) }
        let later = sandbox.git(["credential", "fill"], stdin: fill)
        XCTAssertEqual(later.status, 0, later.stderr)
        XCTAssertTrue(later.stdout.contains("password=tok-2\n"), "an expired token was served: \(later.stdout) \(later.stderr) \(sandbox.read(sandbox.paths.agentLogPath)) \(sandbox.read(counter))")

        // Two hours forward: by this machine's clock every token the upstream issues is already
        // dead. The helper says so, and about the clock; git gets no password.
        clock.step("+2h")
        let ahead = helperGet("clock.example")
        XCTAssertNotEqual(ahead.status, 0, ahead.stdout)
        XCTAssertEqual(ahead.stdout, "")
        let refused = sandbox.git(["credential", "fill"], stdin: fill)
        // git moves on to its askpass (the sandbox's prints a fixed placeholder): no token of ours.
        XCTAssertFalse(refused.stdout.contains("password=tok-"), refused.stdout)
        XCTAssertTrue(refused.stderr.contains("by this machine's clock"), refused.stderr)
        XCTAssertTrue(ahead.stderr.contains("expired") && ahead.stderr.contains("by this machine's clock"), ahead.stderr)
        XCTAssertTrue(ahead.stderr.contains("check the system clock"), ahead.stderr)

        // The clock is put right: tok-2, kept through the failure, is served again.
        clock.step("+0")
        let fixed = sandbox.git(["credential", "fill"], stdin: fill)
        XCTAssertEqual(fixed.status, 0, fixed.stderr)
        XCTAssertTrue(fixed.stdout.contains("password=tok-2\n"), fixed.stdout)
        XCTAssertEqual(sandbox.read(counter).split(separator: "\n").count, 4, "one mint per real need, one per refused request")
        XCTAssertEqual(sandbox.agentPID.map { Kit.isAlive($0) }, true)
    }
}
