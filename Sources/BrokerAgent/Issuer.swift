// The one path by which a handler obtains a credential: rate limit, resolve, audit, name the identity in errors.

import BrokerCore
import BrokerWire
import Foundation

/// How much life a host needs in a credential, and the least it can still use in an outage.
struct Validity {
    var minimum: Int
    /// When the upstream fails, a cached credential with at least this much left is served
    /// instead of the error (see `ChainResolver.resolve`).
    var fallback: Int?

    /// git uses a token at once.
    static func git(_ config: BrokerConfig) -> Validity { Validity(minimum: config.git.minimumValidity, fallback: 60) }
    /// botocore refreshes 15 minutes before expiry and refuses credentials within 10.
    static func aws(_ config: BrokerConfig) -> Validity { Validity(minimum: config.aws.minimumValidity, fallback: 900) }
    /// A person asking (whoami, login): a minute is plenty.
    static let person = Validity(minimum: 60, fallback: nil)
}

final class Issuer: @unchecked Sendable {
    let resolver: ChainResolver
    let audit: AuditLog
    let limiter: RateLimiter
    let clock: Clock

    init(resolver: ChainResolver, audit: AuditLog, limiter: RateLimiter, clock: Clock) {
        self.resolver = resolver
        self.audit = audit
        self.limiter = limiter
        self.clock = clock
    }

    /// Resolves `name` for `caller`, audits what was issued (or refused), and names the identity
    /// in any error. `reason` goes into the audit record of a successful issue.
    func issue(_ name: String, in config: BrokerConfig, validity: Validity, caller: Caller, adapter: String,
               target: String? = nil, reason: String? = nil, idTokenAudience: String? = nil) throws -> Resolution {
        do {
            let resolution = try resolve(name, in: config, validity: validity, caller: caller, idTokenAudience: idTokenAudience)
            // Audit before answer: the record is on disk before the handler returns the credential.
            audit.record(AuditRecord(event: .issued, identity: name, adapter: adapter, caller: caller, target: target,
                                     tier: resolution.tier.rawValue, reason: reason))
            return resolution
        } catch {
            throw denied(name, error, caller: caller, adapter: adapter, target: target)
        }
    }

    /// Resolves for `caller`. Cache hits are never refused (DESIGN D19); a request about to go
    /// upstream takes a token from the caller's upstream bucket, waiting for one up to
    /// `[agent] upstream-wait` (only the resolver knows a hit from a miss). A fallback served
    /// through an outage is audited with the upstream's error.
    ///
    /// On a serving loop only a cache hit is answered; anything else throws `MustWait`, and the
    /// request is answered again from the start on a thread that may wait.
    /// With `idTokenAudience`, an OIDC ID token for that audience instead (ChainResolver.idTokenChain).
    func resolve(_ name: String, in config: BrokerConfig, validity: Validity, caller: Caller,
                 idTokenAudience: String? = nil) throws -> Resolution {
        if !ServingThread.mayWait {
            guard let hit = try resolver.cachedResolution(name, in: config, minimumValidity: validity.minimum,
                                                          refreshAhead: config.agent.refreshAhead,
                                                          idTokenAudience: idTokenAudience) else { throw MustWait() }
            return hit
        }
        let settings = RateSettings(config.agent)
        let resolution = try resolver.resolve(name, in: config, minimumValidity: validity.minimum, fallbackValidity: validity.fallback,
                                              refreshAhead: config.agent.refreshAhead, idTokenAudience: idTokenAudience) {
            try self.waitForUpstream(name, caller: caller, settings: settings, bound: Double(config.agent.upstreamWait))
        }
        if let reason = resolution.fallbackReason {
            let left = resolution.credential.remaining(at: clock.now()).map { "\($0) s" } ?? "no expiry"
            audit.record(AuditRecord(event: .refreshed, outcome: "error", identity: name, adapter: "agent", caller: caller,
                                     tier: resolution.tier.rawValue,
                                     reason: "upstream failed; served the cached credential (\(left) left): \(reason)"))
        }
        return resolution
    }

    /// Takes an upstream token, sleeping until one is due when that is within `bound` seconds
    /// in all; a caller that would wait longer is refused with the time to its next token.
    func waitForUpstream(_ identity: String, caller: Caller, settings: RateSettings, bound: Double) throws {
        let key = RateKey.of(caller, identity: identity)
        var waited = 0.0
        while let denial = limiter.admit(key, .upstream, settings: settings) {
            guard waited + denial.retryAfter <= bound else { throw RateLimited(failure: denial.failure(for: key)) }
            let pause = max(denial.retryAfter, 0.001)
            usleep(UInt32(min(pause, bound) * 1_000_000))
            waited += pause
        }
    }

    /// Audits a refusal and returns the error with the identity named, for the handler to throw.
    func denied(_ name: String, _ error: Error, caller: Caller, adapter: String, target: String? = nil,
                holder: Caller? = nil, reason: (Error) -> String = { "\($0)" }) -> Error {
        // Not a refusal: the request is answered again on a thread (nothing is audited twice).
        if error is MustWait { return error }
        audit.record(AuditRecord(event: .denied, outcome: "error", identity: name, adapter: adapter, caller: caller,
                                 target: target, reason: reason(error), holder: holder))
        return Self.naming(name, error)
    }

    /// Prefixes a failure with the identity it concerns, so a one-line error says whose it is.
    static func naming(_ identity: String, _ error: Error) -> Error {
        guard let broker = error as? BrokerError else { return error }
        var failure = (broker as? BrokerFailure) ?? BrokerFailure(.upstream, broker.message, hint: broker.hint)
        if !failure.message.hasPrefix("identity \"\(identity)\"") { failure.message = "identity \"\(identity)\": \(failure.message)" }
        return failure
    }
}
