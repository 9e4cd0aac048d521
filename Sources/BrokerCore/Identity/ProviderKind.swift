// Provider kinds: the roots of chains (`via = provider:NAME`), holding a person's login session.
//
// A provider describes itself with a KindDescriptor as identity kinds do (validation, the manual and
// hints read it), is registered in `IdentityKinds.providers`, and hands the identities below it a
// session credential (a bearer token). Session tokens are long-lived secrets: the provider keeps them
// in memory (`ProviderSessions`) and, where its kind shares a file with other tools, in that file
// only — never in the broker's cache directory.

import BrokerWire
import Foundation

/// One kind of provider. Adding one touches its own file and one line of `IdentityKinds.providers`.
public protocol ProviderKind: Sendable {
    static var descriptor: KindDescriptor { get }
    /// Builds the kind from a `[provider "NAME"]` section that passed key validation.
    init(_ definition: IdentityDefinition) throws
    var name: String { get }
    /// Everything that shapes the sessions it hands out, for the cache keys of identities below it.
    func cacheParameters(in context: ResolveContext) -> [CacheParameter]
    /// A session credential with at least `minimumValidity` seconds left, renewed silently when it
    /// can be; otherwise a failure that tells the person to run `brokerctl login NAME`. Never prompts.
    func session(minimumValidity: Int, context: ResolveContext) throws -> Credential
    /// The person's part: nil when the provider needs none.
    var deviceLogin: (any DeviceLoginFlow)? { get }
    /// Ends the session upstream (where the service offers it) and forgets its tokens; returns
    /// what was removed, for the person.
    func logout(context: ResolveContext) throws -> [String]
    /// When the session this agent can use now ends (Unix seconds), without calling anyone;
    /// nil when there is none. For `brokerctl status`.
    func sessionExpiry(context: ResolveContext) -> Int64?
    /// The identities this provider can offer (`brokerctl list --provider`), each with the
    /// settings an `[identity]` section for it needs. `maximumAge`: a listing made at most this
    /// many seconds ago may answer (completions); 0 asks the upstream now.
    func offeredIdentities(context: ResolveContext, maximumAge: Int64) throws -> [OfferedIdentity]
    /// Whether the identities it offers exist without sections (virtual identities, Atmos's
    /// `auto_provision_identities`): a request may name one, and listings show them.
    var autoProvisions: Bool { get }
    /// The identity this provider would offer under `name`, read from the name alone (no
    /// network, no listing: the upstream decides whether the session may use it); nil when
    /// `name` does not have the shape of one. Asked only when `autoProvisions` is true.
    func offeredIdentity(named name: String) -> OfferedIdentity?
}

extension ProviderKind {
    public var kindName: String { Self.descriptor.name }
    public var deviceLogin: (any DeviceLoginFlow)? { nil }
    public func offeredIdentities(context: ResolveContext, maximumAge: Int64) throws -> [OfferedIdentity] { [] }
    public var autoProvisions: Bool { false }
    public func offeredIdentity(named name: String) -> OfferedIdentity? { nil }
}

/// An identity a provider can offer: a suggested name, its kind and its settings, in order.
public struct OfferedIdentity: Sendable, Equatable {
    public var name: String
    public var kind: String
    public var settings: [(String, String)]
    /// Extra columns for the listing (an account's name).
    public var notes: [(String, String)]

    public init(name: String, kind: String, settings: [(String, String)], notes: [(String, String)] = []) {
        self.name = name
        self.kind = kind
        self.settings = settings
        self.notes = notes
    }

    public static func == (a: OfferedIdentity, b: OfferedIdentity) -> Bool {
        a.name == b.name && a.kind == b.kind && a.settings.map { "\($0.0)=\($0.1)" } == b.settings.map { "\($0.0)=\($0.1)" }
    }
}

/// A configured provider: its section and the kind built from it.
public struct ConfiguredProvider: Sendable {
    public var definition: IdentityDefinition
    public var kind: any ProviderKind
}

// MARK: - Device authorization (RFC 8628), shared by every provider that logs in that way

/// What a person needs to approve a device login, and what the poller needs to finish it.
public struct DeviceAuthorization: Sendable {
    public var verificationURI: String
    /// The URI with the user code filled in, when the service gives one.
    public var verificationURIComplete: String?
    public var userCode: String
    public var deviceCode: Secret
    /// Seconds between polls, as the service asks.
    public var interval: Int
    /// Unix seconds after which the device code is dead.
    public var expiresAt: Int64

    public init(verificationURI: String, verificationURIComplete: String?, userCode: String, deviceCode: Secret,
                interval: Int, expiresAt: Int64) {
        self.verificationURI = verificationURI
        self.verificationURIComplete = verificationURIComplete
        self.userCode = userCode
        self.deviceCode = deviceCode
        self.interval = interval
        self.expiresAt = expiresAt
    }
}

/// One poll's answer (RFC 8628 §3.5): `authorization_pending`, `slow_down`, or the session.
/// `expired_token` and `access_denied` are thrown as failures with their sentence.
public enum DevicePoll: Sendable, Equatable {
    case pending
    case slowDown
    /// The session exists now; it expires then (Unix seconds).
    case approved(expiresAt: Int64?)
}

/// The provider's half of a device login: start one, poll it once.
public protocol DeviceLoginFlow: Sendable {
    func start(context: ResolveContext) throws -> DeviceAuthorization
    func poll(_ authorization: DeviceAuthorization, context: ResolveContext) throws -> DevicePoll
}

/// Where a device login stands, for `brokerctl login`'s progress.
public enum DeviceLoginState: Sendable {
    case pending(polls: Int)
    case approved(expiresAt: Int64?)
    case failed(String, hint: String?)
}

/// One running device login: polls on its own thread at the service's interval (plus 5 s after
/// each `slow_down`), until approved, refused, or the code expires.
public final class DeviceLogin: @unchecked Sendable {
    public let authorization: DeviceAuthorization
    private let lock = NSLock()
    private var stateValue: DeviceLoginState = .pending(polls: 0)
    private var cancelled = false

    public var state: DeviceLoginState { lock.lock(); defer { lock.unlock() }; return stateValue }
    public var isFinished: Bool { if case .pending = state { return false } else { return true } }

    init(_ authorization: DeviceAuthorization) { self.authorization = authorization }

    public func cancel() { lock.lock(); cancelled = true; lock.unlock() }

    func run(_ flow: any DeviceLoginFlow, provider: String, context: ResolveContext, sleep: @escaping (Int) -> Void,
             finished: @escaping @Sendable (DeviceLoginState) -> Void) {
        poll(flow, provider: provider, context: context, sleep: sleep)
        finished(state)
    }

    private func poll(_ flow: any DeviceLoginFlow, provider: String, context: ResolveContext, sleep: @escaping (Int) -> Void) {
        var interval = max(1, authorization.interval)
        var polls = 0
        while true {
            sleep(interval)
            lock.lock(); let stop = cancelled; lock.unlock()
            if stop { return finish(.failed("the login of provider \"\(provider)\" was replaced by a newer one", hint: nil)) }
            if context.clock.now() > authorization.expiresAt {
                return finish(.failed("the device code of provider \"\(provider)\" expired before the login was approved",
                                      hint: "run `brokerctl login \(provider)` again and approve it within the time shown"))
            }
            polls += 1
            do {
                switch try flow.poll(authorization, context: context) {
                case .pending: break
                case .slowDown: interval += 5  // RFC 8628 §3.5
                case .approved(let expiresAt): return finish(.approved(expiresAt: expiresAt))
                }
                lock.lock(); stateValue = .pending(polls: polls); lock.unlock()
            } catch let failure as BrokerError {
                return finish(.failed(failure.message, hint: failure.hint))
            } catch {
                return finish(.failed("\(error)", hint: nil))
            }
        }
    }

    private func finish(_ state: DeviceLoginState) { lock.lock(); stateValue = state; lock.unlock() }
}

/// Providers' state that must outlive one configuration (kinds are rebuilt when the file changes):
/// sessions by a key the provider chooses, and device logins by provider name. Memory only.
public final class ProviderSessions: @unchecked Sendable {
    private let lock = NSLock()
    private var states: [String: AnyObject] = [:]
    private var logins: [String: DeviceLogin] = [:]

    public init() {}

    /// The state object for `key`, made on first use.
    public func state<State: AnyObject>(_ key: String, make: () -> State) -> State {
        lock.lock(); defer { lock.unlock() }
        if let existing = states[key] as? State { return existing }
        let made = make()
        states[key] = made
        return made
    }

    /// Starts a device login for `provider`, replacing a running one.
    /// `finished` is told how it ended (for the audit log), on the polling thread.
    public func startLogin(_ flow: any DeviceLoginFlow, provider: String, context: ResolveContext,
                           sleep: @escaping @Sendable (Int) -> Void = { Foundation.sleep(UInt32($0)) },
                           finished: @escaping @Sendable (DeviceLoginState) -> Void = { _ in }) throws -> DeviceLogin {
        let login = DeviceLogin(try flow.start(context: context))
        lock.lock()
        logins[provider]?.cancel()
        logins[provider] = login
        lock.unlock()
        Thread.detachNewThread { login.run(flow, provider: provider, context: context, sleep: sleep, finished: finished) }
        return login
    }

    public func login(_ provider: String) -> DeviceLogin? {
        lock.lock(); defer { lock.unlock() }
        return logins[provider]
    }
}
