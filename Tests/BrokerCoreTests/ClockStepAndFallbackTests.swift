// Expiry under a wall clock stepped forward or back, and what the resolver serves while its
// upstream fails: a cached credential above the caller's floor, never an expired one.

@testable import BrokerCore
import BrokerWire
import Foundation
import XCTest

final class ClockStepAndFallbackTests: XCTestCase {
    /// Two hands moved by the test: `wall` as an administrator or NTP may step it, `elapsed` as
    /// CLOCK_BOOTTIME only ever runs.
    final class ManualClock: @unchecked Sendable {
        private let lock = NSLock()
        private var wallValue: Int64 = 1_800_000_000
        private var elapsedValue: Int64 = 50_000

        var wall: Int64 { lock.lock(); defer { lock.unlock() }; return wallValue }
        /// Real time passing: both hands move.
        func pass(_ seconds: Int64) { lock.lock(); wallValue += seconds; elapsedValue += seconds; lock.unlock() }
        /// A clock step: only the wall hand moves.
        func step(_ seconds: Int64) { lock.lock(); wallValue += seconds; lock.unlock() }
        var clock: Clock {
            Clock(now: { [self] in lock.lock(); defer { lock.unlock() }; return wallValue },
                  elapsed: { [self] in lock.lock(); defer { lock.unlock() }; return elapsedValue })
        }
    }

    var directory = ""
    let time = ManualClock()

    override func setUp() {
        directory = NSTemporaryDirectory() + "clock-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try! ensurePrivateDirectory(directory + "/entries")
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    /// An exec identity whose upstream issues tokens expiring at the absolute time in `expiry`
    /// (written by the test, i.e. by the upstream's clock) and fails while `down` exists.
    func upstream(more: String = "") throws -> (config: BrokerConfig, setExpiry: (Int64) -> Void, down: (Bool) -> Void, runs: () -> Int) {
        let expiry = directory + "/expiry", down = directory + "/down", counter = directory + "/runs"
        let command = "echo run >> \(counter); if [ -e \(down) ]; then echo 'upstream: 503 Service Unavailable' >&2; exit 7; fi; "
            + "echo username=u; echo password=token-$(wc -l < \(counter) | tr -d ' '); echo password_expiry_utc=$(cat \(expiry))"
        let text = "[identity \"bot\"]\nkind = exec\ncommand = \"\(command.replacingOccurrences(of: "\"", with: "\\\""))\"\n" + more
        let config = try BrokerConfig.parse(ConfigSyntax.parse(text: text, file: "cfg"))
        return (config,
                { FileManager.default.createFile(atPath: expiry, contents: Data(String($0).utf8)) },
                { $0 ? _ = FileManager.default.createFile(atPath: down, contents: Data()) : try? FileManager.default.removeItem(atPath: down) },
                { ((try? String(contentsOfFile: counter, encoding: .utf8)) ?? "").split(separator: "\n").count })
    }

    func resolver(bootID: String? = "boot-a") -> ChainResolver {
        let cache = CredentialCache(directory: directory + "/entries", bootID: bootID, log: { _ in })
        let r = ChainResolver(cache: cache, context: ResolveContext(environment: Environment(["PATH": "/usr/bin:/bin"]), clock: time.clock))
        r.refreshAhead = 0
        return r
    }

    func password(_ resolution: Resolution) -> String? { resolution.credential.password?.password.reveal() }

    // MARK: clock steps

    func testWallClockSteppedBackDoesNotStretchACredentialsLife() throws {
        let up = try upstream()
        let r = resolver()
        up.setExpiry(time.wall + 600)
        XCTAssertEqual(password(try r.resolve("bot", in: up.config, minimumValidity: 60)), "token-1")
        time.step(-7200)       // the wall clock goes back two hours…
        time.pass(580)         // …and the token's real life runs down to 20 s
        let r2 = try r.resolve("bot", in: up.config, minimumValidity: 60)
        // By the wall clock alone token-1 had 2 h 20 s left; the elapsed clock knows better.
        XCTAssertEqual(password(r2), "token-2")
        XCTAssertEqual(r2.tier, .upstream)
        XCTAssertEqual(up.runs(), 2)
    }

    func testExpiryHandedOutFollowsTheSteppedWallClock() throws {
        let up = try upstream()
        let r = resolver()
        up.setExpiry(time.wall + 3600)
        _ = try r.resolve("bot", in: up.config, minimumValidity: 60)
        time.step(-7200)
        time.pass(100)
        let served = try r.resolve("bot", in: up.config, minimumValidity: 60)
        XCTAssertEqual(served.tier, .memory)
        // git and botocore compare the expiry with their own (stepped) clock: it must say 3500 s.
        XCTAssertEqual(served.credential.expiresAt, time.wall + 3500)
    }

    func testWallClockSteppedForwardPastExpiryRefusesTheCachedCredential() throws {
        let up = try upstream()
        let r = resolver()
        let realExpiry = time.wall + 3600
        up.setExpiry(realExpiry)
        _ = try r.resolve("bot", in: up.config, minimumValidity: 60)
        time.step(7200)        // this machine now believes the token died an hour ago
        // The upstream (whose clock is right) issues another token that, by ours, is dead too:
        // a clear error about the clock, not an expired credential.
        XCTAssertThrowsError(try r.resolve("bot", in: up.config, minimumValidity: 60)) { error in
            XCTAssertTrue("\(error)".contains("expired 3600 s ago by this machine's clock"), "\(error)")
            XCTAssertEqual((error as? BrokerError)?.hint?.contains("check the system clock"), true, "\(error)")
        }
        XCTAssertEqual(up.runs(), 2)
    }

    func testEntryReloadedInTheSameBootKeepsItsElapsedExpiry() throws {
        let up = try upstream()
        up.setExpiry(time.wall + 600)
        _ = try resolver().resolve("bot", in: up.config, minimumValidity: 60)
        time.step(-7200)
        time.pass(590)
        // A restarted agent of the same boot: by the wall clock the entry has 2 h 10 s left.
        let same = resolver(bootID: "boot-a")
        same.cache.loadFromDisk(now: time.clock.instant())
        XCTAssertEqual(same.cache.lookup(try ChainResolver.key(for: ChainResolver.chain(of: "bot", in: up.config)[...], context: same.context))?
            .credential.remaining(at: time.clock.instant()), 10)
        // Another boot cannot read this boot's elapsed clock; it trusts the wall clock alone.
        let other = resolver(bootID: "boot-b")
        other.cache.loadFromDisk(now: time.clock.instant())
        XCTAssertEqual(other.cache.snapshot().first?.credential.remaining(at: time.clock.instant()), 7210)
    }

    func testEntryWhoseElapsedExpiryHasPassedIsDroppedAtLoad() throws {
        let up = try upstream()
        up.setExpiry(time.wall + 600)
        _ = try resolver().resolve("bot", in: up.config, minimumValidity: 60)
        time.step(-7200)
        time.pass(700)
        let restarted = resolver()
        restarted.cache.loadFromDisk(now: time.clock.instant())
        XCTAssertTrue(restarted.cache.snapshot().isEmpty)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory + "/entries"), [])
    }

    func testSweepUsesTheStricterClock() throws {
        let up = try upstream()
        let r = resolver()
        up.setExpiry(time.wall + 600)
        _ = try r.resolve("bot", in: up.config, minimumValidity: 60)
        time.step(-7200)
        time.pass(601)
        r.cache.sweep(now: time.clock.instant())
        XCTAssertTrue(r.cache.snapshot().isEmpty)
    }

    func testClocksOneSecondApartAreRoundingNotAStep() {
        // Read in whole seconds, the clocks disagree by one now and then; the expiry handed out
        // must not jitter with them (botocore and git would see it move).
        var credential = Credential(username: "u", password: Secret("p"), expiresAt: 10_000)
        credential.anchor(at: Clock.Instant(wall: 7_000, elapsed: 500))
        let later = Clock.Instant(wall: 8_000, elapsed: 1_501)
        XCTAssertEqual(credential.remaining(at: later), 2_000)
        XCTAssertEqual(credential.asSeen(at: later).expiresAt, 10_000)
        XCTAssertEqual(credential.remaining(at: Clock.Instant(wall: 8_000, elapsed: 1_503)), 1_997, "three seconds is a step")
    }

    func testAbsurdExpiriesSaturateInsteadOfTrapping() {
        var credential = Credential(username: "u", password: Secret("p"), expiresAt: .min)
        let instant = Clock.Instant(wall: .max, elapsed: .min)
        credential.anchor(at: instant)
        XCTAssertEqual(credential.remaining(at: instant), .min)
        XCTAssertEqual(Credential(username: "u", password: Secret("p"), expiresAt: .max).remaining(at: Clock.Instant(wall: .min, elapsed: 0)), .max)
    }

    // MARK: upstream down

    func testUpstreamFailureServesCachedCredentialAboveTheFloor() throws {
        let up = try upstream()
        let r = resolver()
        up.setExpiry(time.wall + 1500)
        XCTAssertEqual(password(try r.resolve("bot", in: up.config, minimumValidity: 1200, fallbackValidity: 900)), "token-1")
        time.pass(400)             // 1100 s left: short of 1200, above the 900 floor
        up.down(true)
        let served = try r.resolve("bot", in: up.config, minimumValidity: 1200, fallbackValidity: 900)
        XCTAssertEqual(password(served), "token-1")
        XCTAssertEqual(served.tier, .memory)
        XCTAssertTrue(served.fallbackReason?.contains("exit 7") == true || served.fallbackReason?.contains("status 7") == true,
                      served.fallbackReason ?? "nil")
        XCTAssertEqual(up.runs(), 2, "the failing upstream was asked once")
    }

    func testCallersRightAfterAFailureDoNotWaitOnTheUpstream() throws {
        let up = try upstream()
        let r = resolver()
        r.retryAfterFailure = 30
        up.setExpiry(time.wall + 1500)
        _ = try r.resolve("bot", in: up.config, minimumValidity: 1200, fallbackValidity: 900)
        time.pass(400)
        up.down(true)
        _ = try r.resolve("bot", in: up.config, minimumValidity: 1200, fallbackValidity: 900)
        for _ in 0..<5 {
            XCTAssertEqual(password(try r.resolve("bot", in: up.config, minimumValidity: 1200, fallbackValidity: 900)), "token-1")
        }
        XCTAssertEqual(up.runs(), 2, "within retry-after-failure nobody goes upstream in the foreground")
        // Once the upstream is back and the back-off has passed, the next caller refreshes.
        up.down(false)
        up.setExpiry(time.wall + 3600)
        time.pass(31)
        XCTAssertEqual(password(try r.resolve("bot", in: up.config, minimumValidity: 1200, fallbackValidity: 900)), "token-3")
    }

    func testBelowTheFloorTheUpstreamErrorIsReported() throws {
        let up = try upstream()
        let r = resolver()
        up.setExpiry(time.wall + 1500)
        _ = try r.resolve("bot", in: up.config, minimumValidity: 1200, fallbackValidity: 900)
        time.pass(700)             // 800 s left: under the floor
        up.down(true)
        XCTAssertThrowsError(try r.resolve("bot", in: up.config, minimumValidity: 1200, fallbackValidity: 900)) { error in
            XCTAssertTrue("\(error)".contains("503 Service Unavailable"), "\(error)")
        }
    }

    func testFallbackNeverServesACredentialExpiredByTheElapsedClock() throws {
        let up = try upstream()
        let r = resolver()
        up.setExpiry(time.wall + 1500)
        _ = try r.resolve("bot", in: up.config, minimumValidity: 1200, fallbackValidity: 900)
        time.step(-7200)
        time.pass(1400)            // by the wall clock 2 h 100 s left; really 100 s
        up.down(true)
        XCTAssertThrowsError(try r.resolve("bot", in: up.config, minimumValidity: 1200, fallbackValidity: 900))
    }

    func testAFailureUpstreamInTheChainAlsoStartsTheBackOff() throws {
        let counter = directory + "/derived-runs"
        let derived = "cat >/dev/null; echo run >> \(counter); echo username=d; echo password=derived-$(wc -l < \(counter) | tr -d ' '); "
            + "echo password_expiry_utc=$(cat \(directory)/expiry)"
        let up = try upstream(more: "[identity \"derived\"]\nkind = exec\nvia = identity:bot\ncommand = \"\(derived.replacingOccurrences(of: "\"", with: "\\\""))\"\n")
        let config = up.config
        let r = resolver()
        up.setExpiry(time.wall + 1500)
        XCTAssertEqual(password(try r.resolve("derived", in: config, minimumValidity: 1200, fallbackValidity: 900)), "derived-1")
        time.pass(400)
        up.down(true)   // the base identity's upstream fails; the derived one's own never runs
        for _ in 0..<3 {
            let served = try r.resolve("derived", in: config, minimumValidity: 1200, fallbackValidity: 900)
            XCTAssertEqual(password(served), "derived-1")
            XCTAssertNotNil(served.fallbackReason)
        }
        XCTAssertEqual(up.runs(), 2, "the base's upstream was asked once, not once per caller")
    }

    func testWithoutAFloorNothingChanges() throws {
        let up = try upstream()
        let r = resolver()
        up.setExpiry(time.wall + 1500)
        _ = try r.resolve("bot", in: up.config, minimumValidity: 1200)
        time.pass(400)
        up.down(true)
        XCTAssertThrowsError(try r.resolve("bot", in: up.config, minimumValidity: 1200))
    }
}
