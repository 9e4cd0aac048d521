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
               target: String? = nil, reason: String? = nil) throws -> Resolution {
        do {
            let resolution = try resolve(name, in: config, validity: validity, caller: caller)
            audit.record(AuditRecord(event: .issued, identity: name, adapter: adapter, caller: caller, target: target,
                                     tier: resolution.tier.rawValue, reason: reason))
            return resolution
        } catch {
            throw denied(name, error, caller: caller, adapter: adapter, target: target)
        }
    }

    /// Resolves within the caller's rate limits: a hit token before serving, and an upstream
    /// token too when the resolver is about to go upstream (only the resolver knows a hit from a
    /// miss). A fallback served through an outage is audited with the upstream's error.
    func resolve(_ name: String, in config: BrokerConfig, validity: Validity, caller: Caller) throws -> Resolution {
        let settings = RateSettings(config.agent)
        try limit(name, .hit, caller: caller, settings: settings)
        let resolution = try resolver.resolve(name, in: config, minimumValidity: validity.minimum, fallbackValidity: validity.fallback,
                                              refreshAhead: config.agent.refreshAhead) {
            try self.limit(name, .upstream, caller: caller, settings: settings)
        }
        if let reason = resolution.fallbackReason {
            let left = resolution.credential.remaining(at: clock.now()).map { "\($0) s" } ?? "no expiry"
            audit.record(AuditRecord(event: .refreshed, outcome: "error", identity: name, adapter: "agent", caller: caller,
                                     tier: resolution.tier.rawValue,
                                     reason: "upstream failed; served the cached credential (\(left) left): \(reason)"))
        }
        return resolution
    }

    /// Audits a refusal and returns the error with the identity named, for the handler to throw.
    func denied(_ name: String, _ error: Error, caller: Caller, adapter: String, target: String? = nil,
                holder: Caller? = nil, reason: (Error) -> String = { "\($0)" }) -> Error {
        audit.record(AuditRecord(event: .denied, outcome: "error", identity: name, adapter: adapter, caller: caller,
                                 target: target, reason: reason(error), holder: holder))
        return Self.naming(name, error)
    }

    /// A hit token for a request served without resolving (git-cache, store, erase); audits a denial.
    func charge(_ key: String, caller: Caller, adapter: String, target: String?, config: BrokerConfig) throws {
        do {
            try limit(key, .hit, caller: caller, settings: RateSettings(config.agent))
        } catch {
            audit.record(AuditRecord(event: .denied, outcome: "error", identity: key.contains("://") ? nil : key,
                                     adapter: adapter, caller: caller, target: target, reason: "\(error)"))
            throw error
        }
    }

    func limit(_ identity: String, _ cost: RateClass, caller: Caller, settings: RateSettings) throws {
        let key = RateKey.of(caller, identity: identity)
        if let denial = limiter.admit(key, cost, settings: settings) {
            throw RateLimited(failure: denial.failure(for: key))
        }
    }

    /// Prefixes a failure with the identity it concerns, so a one-line error says whose it is.
    static func naming(_ identity: String, _ error: Error) -> Error {
        guard let broker = error as? BrokerError else { return error }
        var failure = (broker as? BrokerFailure) ?? BrokerFailure(.upstream, broker.message, hint: broker.hint)
        if !failure.message.hasPrefix("identity \"\(identity)\"") { failure.message = "identity \"\(identity)\": \(failure.message)" }
        return failure
    }
}
