// Per-caller token buckets: one runaway loop can neither starve other callers nor hammer an upstream.

import BrokerCore
import BrokerWire
import Foundation

/// Who a bucket belongs to: the identity asked for, the program that ran the adapter (git, the
/// AWS SDK's host, a CI runner's shell command), and that program's session. The uid is always
/// ours (DESIGN D6), so it says nothing. The session keeps two terminals or two CI jobs running
/// the same program for the same identity apart; the program keeps `terraform` apart from `git`
/// in one shell.
public struct RateKey: Hashable, Sendable {
    public var identity: String
    public var program: String
    public var session: Int32

    public init(identity: String, program: String, session: Int32) {
        self.identity = identity
        self.program = program
        self.session = session
    }

    /// The key for a request from `caller` about `identity` (a URL for unbound git requests).
    public static func of(_ caller: Caller, identity: String) -> RateKey {
        let program = caller.parentExecutable ?? caller.executable ?? "pid \(caller.parentPID ?? caller.pid)"
        return RateKey(identity: identity, program: program, session: caller.pid > 0 ? getsid(caller.pid) : -1)
    }
}

/// What a request costs: every request is served from a cache or goes upstream.
public enum RateClass: Sendable { case hit, upstream }

public struct RateSettings: Sendable, Equatable {
    public var enabled = true
    public var upstreamRate = 5.0
    public var upstreamBurst = 10.0
    public var hitRate = 50.0
    public var hitBurst = 100.0
    public init() {}

    public init(_ agent: AgentSettings) {
        enabled = agent.rateLimits
        upstreamRate = agent.upstreamRate
        upstreamBurst = Double(agent.upstreamBurst)
        hitRate = agent.hitRate
        hitBurst = Double(agent.hitBurst)
    }
}

public final class RateLimiter: @unchecked Sendable {
    /// Buckets held at most. At 100 bytes or so per bucket plus its key's strings (a path and a
    /// name), 4 096 buckets stay under 2 MiB.
    public static let defaultCapacity = 4096

    struct Bucket {
        var hitTokens: Double
        var upstreamTokens: Double
        var updated: Double
    }

    public struct Denial: Sendable, Equatable {
        public var rate: Double
        public var retryAfter: Double
    }

    private let lock = NSLock()
    private var buckets: [RateKey: Bucket] = [:]
    private let now: @Sendable () -> Double
    let capacity: Int

    /// `now` is monotonic seconds; tests pass a fake clock.
    public init(capacity: Int = RateLimiter.defaultCapacity, now: (@Sendable () -> Double)? = nil) {
        self.capacity = capacity
        self.now = now ?? { monotonicSeconds() }
    }

    public var count: Int {
        lock.lock(); defer { lock.unlock() }
        return buckets.count
    }

    /// Takes one token of `cost`'s class, or returns why not. Every request pays a hit token
    /// before it is served; one that then goes upstream pays an upstream token too.
    public func admit(_ key: RateKey, _ cost: RateClass, settings: RateSettings) -> Denial? {
        guard settings.enabled else { return nil }
        let t = now()
        lock.lock(); defer { lock.unlock() }
        var bucket = buckets[key] ?? Bucket(hitTokens: settings.hitBurst, upstreamTokens: settings.upstreamBurst, updated: t)
        let elapsed = max(0, t - bucket.updated)
        bucket.hitTokens = min(settings.hitBurst, bucket.hitTokens + elapsed * settings.hitRate)
        bucket.upstreamTokens = min(settings.upstreamBurst, bucket.upstreamTokens + elapsed * settings.upstreamRate)
        bucket.updated = t
        var denial: Denial?
        switch cost {
        case .hit:
            if bucket.hitTokens >= 1 { bucket.hitTokens -= 1 } else {
                denial = Denial(rate: settings.hitRate, retryAfter: (1 - bucket.hitTokens) / settings.hitRate)
            }
        case .upstream:
            if bucket.upstreamTokens >= 1 { bucket.upstreamTokens -= 1 } else {
                denial = Denial(rate: settings.upstreamRate, retryAfter: (1 - bucket.upstreamTokens) / settings.upstreamRate)
            }
        }
        if buckets[key] == nil && buckets.count >= capacity { makeRoom(at: t, settings: settings) }
        buckets[key] = bucket
        return denial
    }

    /// Drops buckets that have refilled: a full bucket is the same as none. Called by the
    /// agent's housekeeping tick, and when the table is full.
    public func sweep(settings: RateSettings) {
        let t = now()
        lock.lock(); defer { lock.unlock() }
        sweepLocked(at: t, settings: settings)
    }

    private func sweepLocked(at t: Double, settings: RateSettings) {
        buckets = buckets.filter { _, bucket in
            let elapsed = t - bucket.updated
            return bucket.hitTokens + elapsed * settings.hitRate < settings.hitBurst
                || bucket.upstreamTokens + elapsed * settings.upstreamRate < settings.upstreamBurst
        }
    }

    /// Still full after a sweep (thousands of busy callers): forget the longest-idle bucket.
    private func makeRoom(at t: Double, settings: RateSettings) {
        sweepLocked(at: t, settings: settings)
        if buckets.count >= capacity, let oldest = buckets.min(by: { $0.value.updated < $1.value.updated })?.key {
            buckets.removeValue(forKey: oldest)
        }
    }
}

/// A request refused by the limiter. Its description is the audit log's reason, so every
/// place that audits a failed request writes `reason: "rate limited"`; `failure` is the answer.
public struct RateLimited: Error, CustomStringConvertible {
    public var failure: BrokerFailure
    public var description: String { "rate limited" }
}

extension RateLimiter.Denial {
    /// "rate limited: 5 requests/s for identity "prod" from /usr/bin/git; try again in 0.2 s"
    public func failure(for key: RateKey) -> BrokerFailure {
        let seconds = (retryAfter * 10).rounded(.up) / 10
        let program = key.program.split(separator: "/").last.map(String.init) ?? key.program
        let whom = key.identity.contains("://") ? key.identity : "identity \"\(key.identity)\""
        return BrokerFailure(.denied, "rate limited: \(Self.perUnit(rate)) for \(whom) from \(program); try again in \(Self.format(max(seconds, 0.1))) s",
                             hint: "wait, or raise [agent] upstream-rate (rate-limits = false turns it off)")
    }

    /// "5 requests/s"; a slow configured rate in the unit it was written in: "30 requests/m".
    static func perUnit(_ rate: Double) -> String {
        if rate >= 0.1 { return "\(format(rate)) requests/s" }
        if rate * 60 >= 0.1 { return "\(format(rate * 60)) requests/m" }
        return "\(format(rate * 3600)) requests/h"
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
    }
}
