// Resolves an identity through its `via` chain, with the cache, single-flight and refresh-ahead.

import BrokerWire
import Foundation

public struct Resolution: Sendable {
    public var credential: Credential
    public var tier: CacheTier
    public var key: CacheKey
    /// Set when the upstream failed and a cached credential, short of the requested validity but
    /// still above the caller's floor, was served instead: the failure's sentence, for the audit.
    public var fallbackReason: String?
}

/// One hop of a chain: the identity's name and its configured kind.
public struct ChainHop: Sendable {
    public var name: String
    public var kind: any ResolvedKind
    /// The provider this hop starts from (`via = provider:NAME`); only the chain's last hop has one.
    public var provider: ConfiguredProvider?

    public init(name: String, kind: any ResolvedKind, provider: ConfiguredProvider? = nil) {
        self.name = name
        self.kind = kind
        self.provider = provider
    }
}

public final class ChainResolver: @unchecked Sendable {
    public let cache: CredentialCache
    public var context: ResolveContext
    /// Start a background refresh when fewer than minimum-validity + this many seconds remain.
    public var refreshAhead: Int
    /// Told about background refreshes (for the audit log). Never given a secret.
    public var onBackgroundRefresh: @Sendable (_ identity: String, _ error: Error?) -> Void = { _, _ in }
    private let flights = SingleFlight<CacheKey, Credential>()
    /// Counts upstream calls per identity, for status and tests of single-flight.
    private let statsLock = NSLock()
    private var upstreamCalls: [String: Int] = [:]

    public init(cache: CredentialCache, context: ResolveContext, refreshAhead: Int = 300) {
        self.cache = cache
        self.context = context
        self.refreshAhead = refreshAhead
    }

    /// The chain of `name`: itself first, then each upstream identity.
    public static func chain(of name: String, in config: BrokerConfig) throws -> [ChainHop] {
        var hops: [ChainHop] = []
        var current: String? = name
        while let next = current {
            let identity = try config.identity(next)
            guard case .resolved(let kind) = identity.kind.acquisition else {
                throw BrokerFailure(.config, "identity \"\(next)\" (kind \(identity.kind.kindName)) leases its tokens to one process at a time; it cannot be resolved"
                                    + (next == name ? "" : " as the upstream of \"\(name)\""),
                                    hint: "bind it with [git \"URL\"], or export it with `env = NAME` under broker-env-wrap")
            }
            hops.append(ChainHop(name: next, kind: kind))
            let definition = identity.definition
            if hops.count > 64 { throw BrokerFailure(.config, "identity chain of \"\(name)\" is deeper than 64") }
            switch definition.via {
            case .identity(let upstream)?: current = upstream
            case .provider(let provider)?:
                hops[hops.count - 1].provider = try config.provider(provider)
                current = nil
            case nil: current = nil
            }
        }
        return hops
    }

    public static func key(for chain: ArraySlice<ChainHop>, context: ResolveContext) -> CacheKey {
        let root = chain.last?.provider.map { (name: $0.definition.name, kind: $0.kind.kindName, parameters: $0.kind.cacheParameters(in: context)) }
        return CacheKey(chain: chain.map { ($0.name, $0.kind) }, provider: root, context: context)
    }

    /// `beforeUpstream` runs when the answer is not in the cache and no other request is
    /// already fetching it, just before this one goes upstream; throwing stops it. The agent's
    /// rate limiter charges its upstream bucket there: only the resolver knows a hit from a miss.
    ///
    /// `fallbackValidity` (≤ `minimumValidity`) is the least a caller can still use: when the
    /// upstream fails, a cached credential with at least that much left is served instead of the
    /// error, and for `retryAfterFailure` seconds further callers get it at once while one
    /// background refresh at a time retries.
    ///
    /// `refreshAhead` overrides the resolver's own (the agent passes the configuration's current value).
    public func resolve(_ name: String, in config: BrokerConfig, minimumValidity: Int, fallbackValidity: Int? = nil,
                        refreshAhead: Int? = nil, beforeUpstream: (() throws -> Void)? = nil) throws -> Resolution {
        try resolve(Self.chain(of: name, in: config)[...], minimumValidity: minimumValidity, fallbackValidity: fallbackValidity,
                    refreshAhead: refreshAhead, beforeUpstream: beforeUpstream)
    }

    func resolve(_ chain: ArraySlice<ChainHop>, minimumValidity requested: Int, fallbackValidity: Int? = nil,
                 refreshAhead: Int? = nil, beforeUpstream: (() throws -> Void)? = nil) throws -> Resolution {
        // A kind may demand more time left than the requester asks for (github/app: 8 minutes).
        let minimumValidity = max(requested, type(of: chain.first!.kind).descriptor.minimumValidity ?? 0)
        // Never down to 0: a credential with no time left is an expired one.
        let floor = max(1, min(fallbackValidity ?? minimumValidity, minimumValidity))
        let key = Self.key(for: chain, context: context)
        let now = context.clock.instant()
        let cached = cache.lookup(key)
        if let cached, isUsable(cached.credential, at: now, minimumValidity: minimumValidity) {
            // Saturating: absurd configured durations must not trap the agent.
            let window = Int64(minimumValidity).addingSaturating(Int64(refreshAhead ?? self.refreshAhead))
            if let remaining = cached.credential.remaining(at: now), remaining < window {
                refreshInBackground(chain, key: key, minimumValidity: minimumValidity)
            }
            return Resolution(credential: cached.credential.asSeen(at: now), tier: cached.tier, key: key)
        }
        if let cached, floor < minimumValidity, isUsable(cached.credential, at: now, minimumValidity: floor),
           let failure = recentFailure(key, at: now) {
            // The upstream failed moments ago: do not make this caller wait on it again.
            if now.elapsed.subtractingSaturating(failure.at) >= Int64(retryAfterFailure) / 2 {
                refreshInBackground(chain, key: key, minimumValidity: minimumValidity)
            }
            return Resolution(credential: cached.credential.asSeen(at: now), tier: cached.tier, key: key, fallbackReason: failure.reason)
        }
        do {
            if let beforeUpstream, !flights.isRunning(key) { try beforeUpstream() }
            let (credential, shared) = try flights.run(key) {
                // Another flight may have stored a fresh value between our lookup and now.
                if let cached = cache.lookup(key), isUsable(cached.credential, at: context.clock.instant(), minimumValidity: minimumValidity) {
                    return cached.credential
                }
                return try obtain(chain, key: key, minimumValidity: minimumValidity)
            }
            return Resolution(credential: credential.asSeen(at: context.clock.instant()), tier: shared ? .memory : .upstream, key: key)
        } catch {
            let now = context.clock.instant()
            guard floor < minimumValidity, let cached = cache.lookup(key),
                  isUsable(cached.credential, at: now, minimumValidity: floor) else { throw error }
            return Resolution(credential: cached.credential.asSeen(at: now), tier: cached.tier, key: key, fallbackReason: "\(error)")
        }
    }

    func isUsable(_ credential: Credential, at now: Clock.Instant, minimumValidity: Int) -> Bool {
        guard let remaining = credential.remaining(at: now) else { return true }
        return remaining >= Int64(minimumValidity)
    }

    /// Obtains a fresh credential for `key` and caches it; a failure anywhere along the chain is
    /// remembered for `retryAfterFailure` seconds (see `resolve`).
    func obtain(_ chain: ArraySlice<ChainHop>, key: CacheKey, minimumValidity: Int) throws -> Credential {
        do {
            let credential = try obtainOnce(chain, key: key, minimumValidity: minimumValidity)
            failuresLock.lock(); failures[key] = nil; failuresLock.unlock()
            return credential
        } catch {
            noteFailure(key, error)
            throw error
        }
    }

    private func obtainOnce(_ chain: ArraySlice<ChainHop>, key: CacheKey, minimumValidity: Int) throws -> Credential {
        let hop = chain.first!
        var context = self.context
        let upstream: Credential?
        if chain.count > 1 {
            upstream = try resolve(chain.dropFirst(), minimumValidity: minimumValidity).credential
        } else if let provider = hop.provider {
            // The provider's session is never cached here: it keeps its own (memory, and a file it shares).
            upstream = try provider.kind.session(minimumValidity: 60, context: context)
            context.upstreamProvider = provider.kind
        } else {
            upstream = nil
        }
        statsLock.lock(); upstreamCalls[hop.name, default: 0] += 1; statsLock.unlock()
        var credential = try hop.kind.obtain(upstream: upstream, context: context)
        let now = context.clock.instant()
        credential.anchor(at: now)
        if let remaining = credential.remaining(at: now), remaining < Int64(minimumValidity) {
            let failure: BrokerFailure
            if remaining <= 0 {
                // Only a wrong clock here or there turns a fresh credential into an expired one.
                failure = BrokerFailure(.upstream, "identity \"\(hop.name)\" obtained a credential that expired \(-remaining) s ago by this machine's clock",
                                        hint: "check the system clock (timedatectl status; NTP) — the upstream's and this machine's disagree")
            } else {
                failure = BrokerFailure(.upstream, "identity \"\(hop.name)\" obtained a credential that expires in \(remaining) s, less than the \(minimumValidity) s required",
                                        hint: "ask the upstream for a longer lifetime")
            }
            throw failure
        }
        // A full or read-only disk must not stop a valid credential from being served: the
        // cache logs the failure and keeps it for `brokerctl status`; memory still holds the entry.
        try? cache.store(credential, for: key, obtainedAt: now.wall)
        return credential
    }

    /// How long after an upstream failure callers are served a fallback credential without
    /// waiting on the upstream themselves.
    public var retryAfterFailure = 30
    private let failuresLock = NSLock()
    private var failures: [CacheKey: (at: Int64, reason: String)] = [:]

    private func noteFailure(_ key: CacheKey, _ error: Error) {
        let at = context.clock.elapsed()
        failuresLock.lock(); failures[key] = (at, "\(error)"); failuresLock.unlock()
    }

    private func recentFailure(_ key: CacheKey, at now: Clock.Instant) -> (at: Int64, reason: String)? {
        failuresLock.lock(); defer { failuresLock.unlock() }
        guard let failure = failures[key], now.elapsed.subtractingSaturating(failure.at) < Int64(retryAfterFailure) else { return nil }
        return failure
    }

    func refreshInBackground(_ chain: ArraySlice<ChainHop>, key: CacheKey, minimumValidity: Int) {
        guard !flights.isRunning(key) else { return }
        let name = chain.first!.name
        DispatchQueue.global().async { [self] in
            do {
                _ = try flights.run(key) { try obtain(chain, key: key, minimumValidity: minimumValidity) }
                onBackgroundRefresh(name, nil)
            } catch {
                onBackgroundRefresh(name, error)
            }
        }
    }

    public func upstreamCallCount(_ identity: String) -> Int {
        statsLock.lock(); defer { statsLock.unlock() }
        return upstreamCalls[identity] ?? 0
    }
}
