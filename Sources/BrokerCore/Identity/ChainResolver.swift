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
    /// The kind of the identity resolved (its chain's first hop), so a handler asks it about the
    /// credential without looking the identity up again.
    public var kind: (any ResolvedKind)?
}

/// One hop of a chain: the identity's name and its configured kind.
public struct ChainHop: Sendable {
    public var name: String
    public var kind: any ResolvedKind
    /// The provider this hop starts from (`via = provider:NAME`); only the chain's last hop has one.
    public var provider: ConfiguredProvider?
    /// The kind's own least validity (`KindDescriptor.minimumValidity`), read once: a descriptor
    /// is a whole table of settings, copied on every read.
    let kindMinimumValidity: Int?

    public init(name: String, kind: any ResolvedKind, provider: ConfiguredProvider? = nil) {
        self.name = name
        self.kind = kind
        self.provider = provider
        kindMinimumValidity = type(of: kind).descriptor.minimumValidity
    }
}

public final class ChainResolver: @unchecked Sendable {
    public let cache: CredentialCache
    public var context: ResolveContext {
        didSet { contextEpoch += 1; StateGeneration.bump() }
    }
    /// Counts changes of `context`: a chain's cache key depends on it (the STS endpoint).
    private var contextEpoch = 0
    /// This resolver among all made in this process (a memo entry is never another's).
    private let serial = ConfigMemo.nextResolverSerial()
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
    ///
    /// With `idTokenAudience` the answer is an OIDC ID token for that audience (see `idTokenChain`).
    public func resolve(_ name: String, in config: BrokerConfig, minimumValidity: Int, fallbackValidity: Int? = nil,
                        refreshAhead: Int? = nil, idTokenAudience: String? = nil, beforeUpstream: (() throws -> Void)? = nil) throws -> Resolution {
        let (chain, key) = try idTokenAudience.map { try idTokenChain(name, audience: $0, in: config) } ?? chainAndKey(name, in: config)
        return try resolve(chain, key: key, minimumValidity: minimumValidity, fallbackValidity: fallbackValidity,
                           refreshAhead: refreshAhead, beforeUpstream: beforeUpstream)
    }

    /// `name`'s chain and cache key, worked out once per configuration (and context): the key is
    /// a digest of every hop's cache parameters, which kinds derive from their settings and the
    /// context alone.
    func chainAndKey(_ name: String, in config: BrokerConfig) throws -> (ArraySlice<ChainHop>, CacheKey) {
        try config.memo.chain(name, resolver: serial, epoch: contextEpoch, defined: config.identities[name] != nil) {
            let chain = try Self.chain(of: name, in: config)[...]
            return (chain, Self.key(for: chain, context: context))
        }
    }

    /// The chain that makes `name`'s ID token for `audience`: the first hop that is not a
    /// pass-through is replaced by the kind its `idTokenSource` names, which has its own cache
    /// key (one entry per audience), on the same upstream chain.
    func idTokenChain(_ name: String, audience: String, in config: BrokerConfig) throws -> (ArraySlice<ChainHop>, CacheKey) {
        var chain = try Self.chain(of: name, in: config)[...]
        while let hop = chain.first {
            let source: IDTokenSource
            do {
                source = try hop.kind.idTokenSource(audience: audience)
            } catch let failure as BrokerFailure where hop.name != name {
                throw BrokerFailure(failure.kind, "its via identity \"\(hop.name)\": \(failure.message)", hint: failure.hint)
            }
            switch source {
            case .kind(let kind):
                chain[chain.startIndex] = ChainHop(name: hop.name, kind: kind, provider: hop.provider)
                return (chain, Self.key(for: chain, context: context))
            case .upstream:
                chain = chain.dropFirst()
            }
        }
        throw BrokerFailure(.config, "no identity on the chain of \"\(name)\" makes OIDC ID tokens")
    }

    /// The answer when the cache holds a usable credential for `name` (starting a background
    /// refresh when it is within the refresh-ahead window); nil when answering would mean going
    /// upstream or waiting on another request's flight. Never waits: the agent's poll loop
    /// answers cache hits with it and hands the rest to a thread that may wait.
    public func cachedResolution(_ name: String, in config: BrokerConfig, minimumValidity requested: Int,
                                 refreshAhead: Int? = nil, idTokenAudience: String? = nil) throws -> Resolution? {
        let (chain, key) = try idTokenAudience.map { try idTokenChain(name, audience: $0, in: config) } ?? chainAndKey(name, in: config)
        let minimumValidity = Self.minimumValidity(of: chain, requested: requested)
        return hit(cache.lookup(key), chain, key: key, minimumValidity: minimumValidity, refreshAhead: refreshAhead,
                   at: context.clock.instant())
    }

    /// A kind may demand more time left than the requester asks for (github/app: 8 minutes).
    static func minimumValidity(of chain: ArraySlice<ChainHop>, requested: Int) -> Int {
        max(requested, chain.first!.kindMinimumValidity ?? 0)
    }

    private func hit(_ cached: CachedCredential?, _ chain: ArraySlice<ChainHop>, key: CacheKey, minimumValidity: Int,
                     refreshAhead: Int?, at now: Clock.Instant) -> Resolution? {
        guard let cached, isUsable(cached.credential, at: now, minimumValidity: minimumValidity) else { return nil }
        // Saturating: absurd configured durations must not trap the agent.
        let window = Int64(minimumValidity).addingSaturating(Int64(refreshAhead ?? self.refreshAhead))
        if let remaining = cached.credential.remaining(at: now), remaining < window {
            refreshInBackground(chain, key: key, minimumValidity: minimumValidity)
        }
        return Resolution(credential: cached.credential.asSeen(at: now), tier: cached.tier, key: key, kind: chain.first!.kind)
    }

    func resolve(_ chain: ArraySlice<ChainHop>, key known: CacheKey? = nil, minimumValidity requested: Int, fallbackValidity: Int? = nil,
                 refreshAhead: Int? = nil, beforeUpstream: (() throws -> Void)? = nil) throws -> Resolution {
        let minimumValidity = Self.minimumValidity(of: chain, requested: requested)
        // Never down to 0: a credential with no time left is an expired one.
        let floor = max(1, min(fallbackValidity ?? minimumValidity, minimumValidity))
        let key = known ?? Self.key(for: chain, context: context)
        let now = context.clock.instant()
        let cached = cache.lookup(key)
        if let hit = hit(cached, chain, key: key, minimumValidity: minimumValidity, refreshAhead: refreshAhead, at: now) { return hit }
        if let cached, floor < minimumValidity, isUsable(cached.credential, at: now, minimumValidity: floor),
           let failure = recentFailure(key, at: now) {
            // The upstream failed moments ago: do not make this caller wait on it again.
            if now.elapsed.subtractingSaturating(failure.at) >= Int64(retryAfterFailure) / 2 {
                refreshInBackground(chain, key: key, minimumValidity: minimumValidity)
            }
            return Resolution(credential: cached.credential.asSeen(at: now), tier: cached.tier, key: key, fallbackReason: failure.reason,
                              kind: chain.first!.kind)
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
            return Resolution(credential: credential.asSeen(at: context.clock.instant()), tier: shared ? .memory : .upstream, key: key,
                              kind: chain.first!.kind)
        } catch {
            let now = context.clock.instant()
            guard let cached = cache.lookup(key), floor < minimumValidity || cached.credential.refreshAtElapsed != nil,
                  isUsable(cached.credential, at: now, minimumValidity: floor, ignoringRefresh: true) else { throw error }
            return Resolution(credential: cached.credential.asSeen(at: now), tier: cached.tier, key: key, fallbackReason: "\(error)",
                              kind: chain.first!.kind)
        }
    }

    /// `ignoringRefresh`: a credential past its remote secret's TTL still serves when the
    /// re-read fails (a Secrets Manager outage must not stop work the old value can do).
    func isUsable(_ credential: Credential, at now: Clock.Instant, minimumValidity: Int, ignoringRefresh: Bool = false) -> Bool {
        if !ignoringRefresh, let refreshAt = credential.refreshAtElapsed, now.elapsed >= refreshAt { return false }
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
            // A kind that spends its upstream at once (an OIDC token exchanged) asks only that it outlive the exchange.
            let upstreamMinimum = type(of: hop.kind).descriptor.upstreamValidity ?? minimumValidity
            upstream = try resolve(chain.dropFirst(), minimumValidity: upstreamMinimum).credential
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
        if let reader = context.remoteSecrets, hop.kind.secretReferences.contains(where: { $0.remote != nil }) {
            credential.refreshAtElapsed = now.elapsed.addingSaturating(Int64(reader.timeToLive))
        }
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

/// Chains and cache keys worked out from one configuration, by identity (see
/// `ChainResolver.chainAndKey`), and the virtual identities built from it (see
/// `BrokerConfig.virtualIdentity`). Bounded by the configuration's identities per resolver, plus
/// at most `virtualLimit` names no section defines (a provider may offer thousands; past the
/// limit they are built per request rather than remembered).
public final class ConfigMemo: @unchecked Sendable {
    struct Key: Hashable {
        var resolver: Int
        var epoch: Int
        var name: String
    }

    private let lock = NSLock()
    private var chains: [Key: (ArraySlice<ChainHop>, CacheKey)] = [:]
    private var virtuals: [String: ConfiguredIdentity] = [:]
    private var derivedValues: [DerivedKey: AnyObject] = [:]
    static let virtualLimit = 4096

    /// A derived value's type and name: with the type in the key, a stored box is known to hold
    /// a `T` and is read without a dynamic cast (casting `any Sendable` back to a struct, and
    /// hashing a key made by concatenation, had cost the Azure route 3–4 µs a request).
    private struct DerivedKey: Hashable {
        let type: ObjectIdentifier
        let name: String
    }

    private final class Box<T>: @unchecked Sendable {
        let value: T
        init(_ value: T) { self.value = value }
    }

    /// A value worked out from this configuration alone and asked for on every request (an Azure
    /// identity's delivery settings merged down its chain), made once per type and `name`.
    /// Bounded like the virtual identities: past the limit, made per request.
    public func derived<T: Sendable>(_ name: String, make: () throws -> T) rethrows -> T {
        let key = DerivedKey(type: ObjectIdentifier(T.self), name: name)
        lock.lock()
        if let known = derivedValues[key] { lock.unlock(); return unsafeDowncast(known, to: Box<T>.self).value }
        lock.unlock()
        let made = try make()
        lock.lock()
        if derivedValues.count < Self.virtualLimit { derivedValues[key] = Box(made) }
        lock.unlock()
        return made
    }

    public init() {}

    /// How many virtual identities are remembered (tests).
    var virtualCount: Int { lock.lock(); defer { lock.unlock() }; return virtuals.count }

    func virtualIdentity(_ name: String) -> ConfiguredIdentity? {
        lock.lock(); defer { lock.unlock() }
        return virtuals[name]
    }

    func remember(_ name: String, _ identity: ConfiguredIdentity) -> ConfiguredIdentity {
        lock.lock(); defer { lock.unlock() }
        if virtuals.count < Self.virtualLimit { virtuals[name] = identity }
        return identity
    }

    private static let serials = NSLock()
    nonisolated(unsafe) private static var lastSerial = 0

    static func nextResolverSerial() -> Int {
        serials.lock(); defer { serials.unlock() }
        lastSerial += 1
        return lastSerial
    }

    /// `defined`: `name` has a section (a virtual identity is remembered while the memo keeps it).
    func chain(_ name: String, resolver: Int, epoch: Int, defined: Bool,
               make: () throws -> (ArraySlice<ChainHop>, CacheKey)) throws -> (ArraySlice<ChainHop>, CacheKey) {
        let key = Key(resolver: resolver, epoch: epoch, name: name)
        lock.lock()
        if let known = chains[key] { lock.unlock(); return known }
        lock.unlock()
        let made = try make()
        lock.lock()
        // A virtual name the memo no longer keeps is built per request, its chain too.
        if defined || virtuals[name] != nil { chains[key] = made }
        lock.unlock()
        return made
    }
}
