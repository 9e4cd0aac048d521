// The one protocol every identity kind conforms to, and the registry that names them.

import BrokerWire
import Foundation

/// A key an identity section may hold, for validation, "did you mean" and the man page.
public struct SettingSpec: Sendable {
    public var name: String
    public var required: Bool
    public var summary: String
    public init(_ name: String, required: Bool = false, _ summary: String) {
        self.name = name
        self.required = required
        self.summary = summary
    }
}

/// Everything an identity kind may use while obtaining a credential.
public struct ResolveContext: Sendable {
    public var environment: Environment
    public var clock: Clock
    public var commandRunner: CommandRunner
    /// One-time codes a person handed over with `brokerctl login` (MFA), by identity name.
    public var oneTimeCodes: OneTimeCodes

    public init(environment: Environment, clock: Clock = .system, commandRunner: CommandRunner = CommandRunner(),
                oneTimeCodes: OneTimeCodes = OneTimeCodes()) {
        self.environment = environment
        self.clock = clock
        self.commandRunner = commandRunner
        self.oneTimeCodes = oneTimeCodes
    }
}

/// One kind of identity (`static`, `exec`, later `aws/assume-role`, `github/app`, …). Adding a
/// kind touches its own file and one line of `IdentityKinds.all`.
public protocol IdentityKind: Sendable {
    static var kindName: String { get }
    static var summary: String { get }
    /// Keys beyond the common `kind` and `via`.
    static var settings: [SettingSpec] { get }
    /// Whether `via` is required, allowed or refused for this kind.
    static var upstream: UpstreamRule { get }

    /// Builds the kind from a section that already passed key validation; throws `ConfigError`
    /// with the offending line for values it cannot accept.
    init(_ definition: IdentityDefinition) throws

    /// Everything that shapes the result, for the cache key: settings and whatever the context
    /// resolves them to (an endpoint taken from the environment, say). Never a secret.
    func cacheParameters(in context: ResolveContext) -> [String]

    /// Obtains a fresh credential, given the resolved upstream credential when `via` is set.
    func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential

    /// Seconds a credential of this kind must have left to be handed out, when the kind needs more
    /// than the requester asks for (the resolver takes the larger); nil: the requester decides.
    static var minimumValidity: Int? { get }
}

extension IdentityKind {
    public static var minimumValidity: Int? { nil }
}

/// MFA codes waiting to be used, each once, within a few minutes of being given.
public final class OneTimeCodes: @unchecked Sendable {
    private let lock = NSLock()
    private var codes: [String: (code: Secret, given: Int64)] = [:]

    public init() {}

    public func give(_ code: Secret, for identity: String, at now: Int64) {
        lock.lock(); codes[identity] = (code, now); lock.unlock()
    }

    /// The code for `identity` if one was given in the last five minutes; it is used up.
    public func take(for identity: String, at now: Int64) -> Secret? {
        lock.lock(); defer { lock.unlock() }
        guard let entry = codes.removeValue(forKey: identity), now - entry.given < 300 else { return nil }
        return entry.code
    }
}

public enum UpstreamRule: Sendable { case none, optional, required }

public enum IdentityKinds {
    public static let all: [any IdentityKind.Type] = [
        StaticIdentity.self,
        ExecIdentity.self,
        AWSUserIdentity.self,
        AWSCredentialProcessIdentity.self,
        AWSAssumeRoleIdentity.self,
        AWSWebIdentity.self,
        GitHubAppIdentity.self,
        GitHubPATPoolIdentity.self,
    ]

    public static func named(_ name: String) -> (any IdentityKind.Type)? {
        all.first { $0.kindName == name }
    }
}
