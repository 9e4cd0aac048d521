// The rate limiter's bucket arithmetic, driven by a fake clock.

@testable import BrokerAgent
import BrokerCore
import Foundation
import XCTest

final class FakeSeconds: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 1000.0
    var now: Double { lock.lock(); defer { lock.unlock() }; return value }
    func advance(_ seconds: Double) { lock.lock(); value += seconds; lock.unlock() }
}

final class RateLimiterTests: XCTestCase {
    let clock = FakeSeconds()
    let ci = RateKey(identity: "prod", program: "/usr/bin/git", session: 100)
    let person = RateKey(identity: "prod", program: "/usr/bin/git", session: 200)

    func limiter(capacity: Int = 4096) -> RateLimiter {
        RateLimiter(capacity: capacity, now: { [clock] in clock.now })
    }

    func admitted(_ limiter: RateLimiter, _ key: RateKey, _ cost: RateClass, times: Int, settings: RateSettings = RateSettings()) -> Int {
        (0..<times).filter { _ in limiter.admit(key, cost, settings: settings) == nil }.count
    }

    func testBurstThenDenied() {
        let limiter = limiter()
        XCTAssertEqual(admitted(limiter, ci, .hit, times: 150), 100)
        XCTAssertEqual(admitted(limiter, ci, .upstream, times: 20), 10)
    }

    func testRefillsAtTheRate() {
        let limiter = limiter()
        XCTAssertEqual(admitted(limiter, ci, .upstream, times: 10), 10)
        let denial = limiter.admit(ci, .upstream, settings: RateSettings())
        XCTAssertEqual(denial, RateLimiter.Denial(rate: 5, retryAfter: 0.2))
        clock.advance(0.1)
        XCTAssertEqual(admitted(limiter, ci, .upstream, times: 1), 0, "half a token is not a token")
        clock.advance(0.1)
        XCTAssertEqual(admitted(limiter, ci, .upstream, times: 2), 1)
        clock.advance(1)
        XCTAssertEqual(admitted(limiter, ci, .upstream, times: 10), 5, "5/s for one second")
        clock.advance(3600)
        XCTAssertEqual(admitted(limiter, ci, .upstream, times: 20), 10, "never more than the burst")
    }

    func testRetryAfterIsTheTimeToTheNextToken() {
        let limiter = limiter()
        _ = admitted(limiter, ci, .hit, times: 100)
        clock.advance(0.005)
        let denial = limiter.admit(ci, .hit, settings: RateSettings())!
        XCTAssertEqual(denial.rate, 50)
        XCTAssertEqual(denial.retryAfter, 0.015, accuracy: 1e-9)
        XCTAssertEqual(denial.failure(for: ci).message,
                       "rate limited: 50 requests/s for identity \"prod\" from git; try again in 0.1 s")
        XCTAssertEqual(denial.failure(for: ci).kind, .denied)
    }

    func testCallersHaveTheirOwnBuckets() {
        let limiter = limiter()
        XCTAssertEqual(admitted(limiter, ci, .upstream, times: 50), 10)
        XCTAssertEqual(admitted(limiter, person, .upstream, times: 10), 10)
        let terraform = RateKey(identity: "prod", program: "/usr/bin/terraform", session: 100)
        XCTAssertEqual(admitted(limiter, terraform, .upstream, times: 10), 10)
    }

    func testHitsAndUpstreamAreSeparateClasses() {
        let limiter = limiter()
        XCTAssertEqual(admitted(limiter, ci, .upstream, times: 10), 10)
        XCTAssertEqual(admitted(limiter, ci, .hit, times: 100), 100)
    }

    func testConfiguredRatesAndOff() {
        var settings = RateSettings()
        settings.hitRate = 0.5
        settings.hitBurst = 2
        let limiter = limiter()
        XCTAssertEqual(admitted(limiter, ci, .hit, times: 5, settings: settings), 2)
        XCTAssertEqual(limiter.admit(ci, .hit, settings: settings)?.failure(for: ci).message,
                       "rate limited: 0.5 requests/s for identity \"prod\" from git; try again in 2 s")
        settings.enabled = false
        XCTAssertEqual(admitted(limiter, ci, .hit, times: 500, settings: settings), 500)
    }

    func testUnboundGitCallersAreNamedByURL() {
        let key = RateKey(identity: "https://example.com", program: "/usr/lib/git-core/git-remote-https", session: 1)
        let denial = RateLimiter.Denial(rate: 50, retryAfter: 0.02)
        XCTAssertEqual(denial.failure(for: key).message,
                       "rate limited: 50 requests/s for https://example.com from git-remote-https; try again in 0.1 s")
    }

    func testIdleBucketsAreSwept() {
        let limiter = limiter()
        _ = admitted(limiter, ci, .upstream, times: 3)
        _ = admitted(limiter, person, .hit, times: 1)
        XCTAssertEqual(limiter.count, 2)
        clock.advance(0.5)
        limiter.sweep(settings: RateSettings())
        XCTAssertEqual(limiter.count, 1, "the person's hit bucket refilled in 0.02 s; the CI's upstream one needs 0.6 s")
        clock.advance(0.1)
        limiter.sweep(settings: RateSettings())
        XCTAssertEqual(limiter.count, 0)
    }

    func testMemoryIsBoundedByCapacity() {
        let limiter = limiter(capacity: 64)
        for session in 0..<1000 {
            _ = limiter.admit(RateKey(identity: "prod", program: "/bin/loop", session: Int32(session)), .hit, settings: RateSettings())
            clock.advance(0.001)
        }
        XCTAssertLessThanOrEqual(limiter.count, 64)
        // The most recent caller keeps its (drained) bucket.
        let last = RateKey(identity: "prod", program: "/bin/loop", session: 999)
        XCTAssertEqual(admitted(limiter, last, .hit, times: 100), 99)
    }
}

final class RateLimitConfigTests: XCTestCase {
    func agent(_ text: String) throws -> AgentSettings {
        try BrokerConfig.parse(ConfigSyntax.parse(text: "[agent]\n" + text, file: "config")).agent
    }

    func testDefaultsArePaddocks() throws {
        XCTAssertEqual(RateSettings(try agent("")), RateSettings())
        let settings = RateSettings()
        XCTAssertEqual([settings.upstreamRate, settings.upstreamBurst, settings.hitRate, settings.hitBurst], [5, 10, 50, 100])
    }

    func testRatesAndBurstsParse() throws {
        let settings = try agent("upstream-rate = 30/m\nupstream-burst = 3\nhit-rate = 7\nhit-burst = 1k\nrate-limits = off\n")
        XCTAssertEqual(settings.upstreamRate, 0.5)
        XCTAssertEqual(settings.upstreamBurst, 3)
        XCTAssertEqual(settings.hitRate, 7)
        XCTAssertEqual(settings.hitBurst, 1024)
        XCTAssertFalse(settings.rateLimits)
        XCTAssertEqual(try agent("hit-rate = 3600/h\n").hitRate, 1)
    }

    func testBadRatesCiteTheLine() {
        for bad in ["0/s", "-5/s", "5/d", "five", "5/s/s", "", "1e9/s", "nan"] {
            XCTAssertThrowsError(try agent("upstream-rate = \(bad)\n"), bad) { error in
                XCTAssertEqual("\(error)", "config:2: invalid rate \"\(bad)\" for upstream-rate (hint: write a positive number of requests per second, minute or hour: 5/s, 30/m, 100/h)")
            }
        }
        XCTAssertThrowsError(try agent("hit-burst = 0\n")) { error in
            XCTAssertEqual("\(error)", "config:2: hit-burst must be greater than zero")
        }
    }
}
