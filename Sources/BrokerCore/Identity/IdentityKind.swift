// The one protocol every identity kind conforms to: a kind describes itself (name, settings with
// their docs, how it is obtained, what it delivers, its login), so nothing outside its file names it.

import BrokerWire
import Foundation

/// What a setting's value is; validation, `brokerctl validate` and completions read it.
public enum SettingType: Sendable, Equatable {
    case text
    case duration
    case boolean
    /// A secret reference (`env:`, `file:`, `cmd:`): never a literal.
    case secretReference
    /// Plain text or a secret reference (`access-key-id`).
    case textOrReference
    case choice([String])
}

/// A key an identity section may hold: validation, "did you mean", the man page and completions
/// are all made from this one declaration.
public struct SettingSpec: Sendable {
    public var name: String
    /// The metavariable the man page shows: `role-arn = ARN`.
    public var value: String
    public var type: SettingType
    public var required: Bool
    /// May the key appear more than once, each adding a value?
    public var repeatable: Bool
    /// One line, for hints and completions.
    public var summary: String
    /// The man page's text; the summary when nil.
    public var details: String?

    public init(_ name: String, _ value: String, required: Bool = false, repeatable: Bool = false, _ summary: String,
                details: String? = nil) {
        self.init(name, value, .text, required: required, repeatable: repeatable, summary, details: details)
    }

    public init(_ name: String, _ value: String, _ type: SettingType, required: Bool = false,
                repeatable: Bool = false, _ summary: String, details: String? = nil) {
        self.name = name
        self.value = value
        self.type = type
        self.required = required
        self.repeatable = repeatable
        self.summary = summary
        self.details = details
    }
}

/// What a kind's credential is; each delivery reads the type it needs.
public enum CredentialType: String, Sendable {
    /// A user name and a password or token (git, env exports).
    case password
    /// AWS access keys, maybe with a session token.
    case aws
    /// A bearer token (OAuth access token, OIDC ID token, registry or cluster token).
    case token
}

/// Where a kind's section sits in credential-broker(5): families share an introduction.
public struct KindFamily: Sendable, Equatable {
    public var title: String
    public var introduction: [String]
    /// Settings every kind of the family takes, explained once in the introduction.
    public var commonSettings: [String]
    public init(title: String, introduction: [String] = [], commonSettings: [String] = []) {
        self.title = title
        self.introduction = introduction
        self.commonSettings = commonSettings
    }

    public static let general = KindFamily(title: "IDENTITY KINDS")
}

/// A piece of a kind's manual text after its settings.
public enum KindDocBlock: Sendable {
    case paragraph(String)
    case code(String)
}

/// Everything about a kind that is true before any configuration is read.
public struct KindDescriptor: Sendable {
    public var name: String
    public var summary: String
    public var family: KindFamily
    /// Keys beyond the common `kind` and `via`.
    public var settings: [SettingSpec]
    /// Whether `via` is required, allowed or refused.
    public var upstream: UpstreamRule
    public var produces: CredentialType
    /// What a `.token` kind's token is: OIDC consumers need an ID token an issuer signed for a
    /// federation, which an access token for one API (Azure's, IAM Identity Center's) is not.
    public var tokenForm: TokenForm?
    /// The form the `via` identity's token must have, for kinds that exchange it (web identity,
    /// federation); nil: any credential the kind knows how to use.
    public var upstreamToken: TokenForm?
    /// Seconds a credential must have left to be handed out when the kind needs more than the
    /// requester asks for (the resolver takes the larger); nil: the requester decides.
    public var minimumValidity: Int?
    /// Seconds the `via` identity's credential must have left when this kind uses it only at
    /// the moment it obtains its own (an OIDC token exchanged for a role); nil: as long as the
    /// requester needs this kind's credential, which suits upstreams that sign or chain.
    public var upstreamValidity: Int?
    /// The man page's paragraphs before the settings, and blocks after them.
    public var description: [String]
    public var notes: [KindDocBlock]
    /// Settings a person types that `brokerctl add` keeps in the keyring by default and
    /// `brokerctl login` (re)stores there, as `aws-vault add` keeps an IAM user's key pair.
    public var keyringKeys: [String]

    public init(name: String, summary: String, family: KindFamily = .general, settings: [SettingSpec], upstream: UpstreamRule,
                produces: CredentialType, tokenForm: TokenForm? = nil, upstreamToken: TokenForm? = nil,
                minimumValidity: Int? = nil, upstreamValidity: Int? = nil,
                description: [String] = [], notes: [KindDocBlock] = [], keyringKeys: [String] = []) {
        self.keyringKeys = keyringKeys
        self.tokenForm = tokenForm
        self.upstreamToken = upstreamToken
        self.name = name
        self.summary = summary
        self.family = family
        self.settings = settings
        self.upstream = upstream
        self.produces = produces
        self.minimumValidity = minimumValidity
        self.upstreamValidity = upstreamValidity
        self.description = description
        self.notes = notes
    }
}

/// What a bearer token is to the party that receives it.
public enum TokenForm: Sendable, Equatable {
    /// A JWT an OIDC issuer signed (GitHub Actions'): what STS, Entra ID and Google's STS federate.
    case idToken
    /// An OAuth access token for one resource (ARM, Graph, an SSO portal): bearer only there.
    case accessToken
    /// A token only a Kubernetes cluster's authenticator reads (EKS's presigned GetCallerIdentity).
    case clusterToken
}

/// What `via` may name: nothing, an identity (optionally or necessarily), or a provider.
public enum UpstreamRule: Sendable, Equatable {
    case none, optional, required
    /// `via = provider:NAME` is required: the identity starts from a provider's session.
    case provider
    /// `via` is required and may name an identity or a provider (its session is the credential beneath).
    case identityOrProvider
}

/// Everything an identity kind may use while obtaining a credential.
public struct ResolveContext: Sendable {
    public var environment: Environment
    public var clock: Clock
    public var commandRunner: CommandRunner
    /// One-time codes a person handed over with `brokerctl login` (MFA), by identity name.
    public var oneTimeCodes: OneTimeCodes
    /// Reads `aws-secretsmanager:`/`aws-ssm:` references; nil outside the agent.
    public var remoteSecrets: (any RemoteSecretReader)?
    /// Where `keyring:` references are read; nil outside the agent.
    public var keyring: KeyringService?
    /// Providers' sessions and device logins, kept across configuration reloads (memory only).
    public var providerSessions: ProviderSessions
    /// While an identity with `via = provider:NAME` is obtained: that provider.
    public var upstreamProvider: (any ProviderKind)?

    public init(environment: Environment, clock: Clock = .system, commandRunner: CommandRunner = CommandRunner(),
                oneTimeCodes: OneTimeCodes = OneTimeCodes(), remoteSecrets: (any RemoteSecretReader)? = nil,
                keyring: KeyringService? = nil, providerSessions: ProviderSessions = ProviderSessions()) {
        self.environment = environment
        self.clock = clock
        self.commandRunner = commandRunner
        self.oneTimeCodes = oneTimeCodes
        self.remoteSecrets = remoteSecrets
        self.keyring = keyring
        self.providerSessions = providerSessions
    }
}

/// How a host receives an identity, beyond the credential itself.
public struct DeliverySettings: Sendable, Equatable {
    /// Variables broker-env-wrap sets to the secret (`env = GITHUB_TOKEN`).
    public var exports: [String] = []
    /// The region AWS deliveries announce (`AWS_REGION`).
    public var region: String?
    /// broker-env-wrap's delivery when its flag is not given.
    public var envDelivery: EnvDelivery?
    /// Set by Google Cloud kinds: deliver the credential as a GCP access token (metadata server,
    /// token file), with these project and location variables.
    public var gcp: GCPDelivery?
    /// Tenant, client, subscription and resource for Azure deliveries (managed-identity
    /// endpoint, workload-identity file, `ARM_*`); nil for kinds that are not Azure's.
    public var azure: AzureDelivery?
    public init(exports: [String] = [], region: String? = nil, envDelivery: EnvDelivery? = nil, gcp: GCPDelivery? = nil, azure: AzureDelivery? = nil) {
        self.exports = exports
        self.region = region
        self.envDelivery = envDelivery
        self.gcp = gcp
        self.azure = azure
    }
}

/// The person's part of obtaining a credential, run through `brokerctl login`.
public enum LoginFlow: Sendable, Equatable {
    /// A code typed once (MFA): brokerctl prompts, the agent hands it to the next obtain.
    case oneTimeCode(prompt: String)
}

/// How a kind's credentials are had.
public enum Acquisition: Sendable {
    /// Through the chain resolver and the cache.
    case resolved(any ResolvedKind)
    /// Leased to one process at a time, never cached (a token pool).
    case leased(any TokenPool)
}

/// One kind of identity. Adding a kind touches its own file and one line of `IdentityKinds.all`.
public protocol IdentityKind: Sendable {
    static var descriptor: KindDescriptor { get }
    /// Builds the kind from a section that already passed key validation; throws `ConfigError`
    /// with the offending line for values it cannot accept. Built once per configuration.
    init(_ definition: IdentityDefinition) throws
    var acquisition: Acquisition { get }
    var delivery: DeliverySettings { get }
    /// nil: `brokerctl login` refuses the identity before prompting.
    var loginFlow: LoginFlow? { get }
    /// The secret references in the section, for `validate`'s checks (never read here).
    var secretReferences: [SecretReference] { get }
    /// The services it calls to obtain a credential, for `brokerctl doctor` (reachability, clock).
    func upstreams(in context: ResolveContext) -> [UpstreamService]
}

extension IdentityKind {
    public var delivery: DeliverySettings { DeliverySettings() }
    public var loginFlow: LoginFlow? { nil }
    public var secretReferences: [SecretReference] { [] }
    public func upstreams(in context: ResolveContext) -> [UpstreamService] { [] }
    public var kindName: String { Self.descriptor.name }
}

/// A kind resolved through the chain resolver: obtained from upstream, cached, refreshed ahead.
public protocol ResolvedKind: IdentityKind {
    /// Everything that shapes the result, for the cache key: settings and whatever the context
    /// resolves them to (an endpoint taken from the environment, say). Never a secret value.
    func cacheParameters(in context: ResolveContext) -> [CacheParameter]
    /// Obtains a fresh credential, given the resolved upstream credential when `via` is set.
    func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential
    /// What `brokerctl whoami` shows of a credential; the default names the user and expiry.
    func whoami(_ credential: Credential, context: ResolveContext) throws -> [(String, String)]
    /// Throws when this credential must not be handed to a host (a tool outside the agent);
    /// it may still be used inside the agent as the upstream of another identity.
    func deliverable(_ credential: Credential) throws
    /// `brokerctl console`: session credentials the AWS sign-in federation accepts, made from
    /// this kind's credential when it is not one (aws/user: GetFederationToken). `duration`:
    /// the console session's length. The default is the credential itself.
    func consoleSession(from credential: Credential, duration: Int, context: ResolveContext) throws -> Credential
    /// True when a credential handed to a broker-env-wrap run must be revoked once no running
    /// wrap holds it any more (github/sts `revoke = true`); the default is false.
    var revokesAfterWrap: Bool { get }
    /// Ends `credential` at its issuer. Best-effort: the agent audits a failure and goes on.
    func revoke(_ credential: Credential, context: ResolveContext) throws
    /// How an OIDC ID token for `audience` is had from this identity (the GCE metadata server's
    /// `identity` path). Throws the sentence saying why it cannot be; the default cannot.
    func idTokenSource(audience: String) throws -> IDTokenSource
}

/// Where an identity's ID token for one audience comes from.
public enum IDTokenSource: Sendable {
    /// Resolve this kind in the identity's place, on the same `via` chain (and cache it apart).
    case kind(any ResolvedKind)
    /// The identity hands on its `via` identity's credential unchanged: ask that one.
    case upstream
}

extension ResolvedKind {
    public var acquisition: Acquisition { .resolved(self) }

    public func deliverable(_ credential: Credential) throws {}

    public func consoleSession(from credential: Credential, duration: Int, context: ResolveContext) throws -> Credential { credential }

    public var revokesAfterWrap: Bool { false }

    public func revoke(_ credential: Credential, context: ResolveContext) throws {}

    public func idTokenSource(audience: String) throws -> IDTokenSource {
        throw BrokerFailure(.config, "kind \(kindName) makes no OIDC ID tokens",
                            hint: "impersonate a service account: an identity of the impersonation kind with via = this one")
    }

    public func whoami(_ credential: Credential, context: ResolveContext) throws -> [(String, String)] {
        switch credential.value {
        case .password(let username, _): return [("username", username)]
        case .aws(let keys, let arn, _): return [("access_key_id", Secret.masked(keys.accessKeyID))] + (arn.map { [("arn", $0)] } ?? [])
        case .token(let token, let scheme): return [("token", "\(scheme) \(TokenFingerprint.of(token))")]
        }
    }
}

/// A kind whose tokens are leased per process by the agent, never resolved or cached.
public protocol TokenPool: IdentityKind {
    var name: String { get }
    var username: String { get }
    var leaseTTL: Int { get }
    var quarantine: Int { get }
    /// The pool's tokens, read from their sources now, in order, without duplicates.
    func tokens(_ context: ResolveContext, timeout: Int) throws -> [Secret]
}

extension TokenPool {
    public var acquisition: Acquisition { .leased(self) }
}

/// How a pool's token is named in leases, audit records and errors: the first 12 hex digits of
/// its SHA-256. Enough to tell a pool's tokens apart, useless for recovering one.
public enum TokenFingerprint {
    public static func of(_ token: Secret) -> String {
        String(SHA256.hash(token.reveal()).hexString.prefix(12))
    }
}

/// One structured part of a cache key. Built from values, never from display strings: a
/// description made for people once shortened `cmd:pass show a` to `cmd:pass`, and an edited
/// secret kept its old cache entry.
public struct CacheParameter: Sendable, Equatable {
    public var key: String
    public var value: String

    public init(_ key: String, _ value: String?) { self.key = key; self.value = value ?? "" }
    public init(_ key: String, _ value: Int) { self.init(key, String(value)) }
    public init(_ key: String, _ value: Bool) { self.init(key, value ? "true" : "false") }
    public init(_ key: String, _ reference: SecretReference?) { self.init(key, reference?.keyMaterial) }

    /// Length-prefixed, so no value can imitate another parameter.
    var material: String { "\(key.utf8.count):\(key)=\(value.utf8.count):\(value)" }
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
