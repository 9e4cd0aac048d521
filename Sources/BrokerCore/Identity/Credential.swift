// What an identity resolves to: public attributes, boxed secrets and an expiry.

import BrokerWire

/// The value of a credential, by type: each delivery reads the type it needs.
public enum CredentialValue: Sendable, Equatable {
    case password(username: String, password: Secret)
    case aws(AWSCredentials, arn: String?, session: AWSSessionKind)
    /// A bearer token: an OAuth access token, an OIDC ID token, a registry or cluster token.
    /// `scheme` says what it is (`Bearer`, `id-token`, `k8s-aws-v1`, …) for deliveries that care.
    case token(Secret, scheme: String)
}

/// How long-lived a set of AWS keys is: AWS caps role chaining from a role session at one hour.
public enum AWSSessionKind: String, Sendable {
    /// Long-lived user keys.
    case user
    /// GetSessionToken, or keys that are already temporary.
    case session
    /// An assumed role.
    case role
    /// A federated user's session (GetFederationToken): what the console accepts from user keys.
    case federated
}

public struct Credential: Sendable, Equatable {
    public var value: CredentialValue
    /// Unix seconds; nil when the upstream gave no expiry (a long-lived secret).
    public var expiresAt: Int64?
    /// The same expiry on the clock that never jumps (`Clock.elapsed`), fixed when the credential
    /// was obtained: a wall clock set back must not make an expired credential look valid.
    public var expiresAtElapsed: Int64?
    /// False for credentials obtained from ambient material (a CI job's OIDC token): they stay
    /// in memory and never reach the disk cache.
    public var persistable: Bool
    /// On the elapsed clock: when a credential built from a remote secret (Secrets Manager, SSM)
    /// is obtained again although it has not expired, so a rotation reaches it (`[secrets] ttl`).
    public var refreshAtElapsed: Int64?

    public init(_ value: CredentialValue, expiresAt: Int64? = nil, persistable: Bool = true) {
        self.value = value
        self.expiresAt = expiresAt
        self.persistable = persistable
    }

    public init(username: String, password: Secret, expiresAt: Int64? = nil) {
        self.init(.password(username: username, password: password), expiresAt: expiresAt)
    }

    public var type: CredentialType {
        switch value {
        case .password: return .password
        case .aws: return .aws
        case .token: return .token
        }
    }

    /// The user name and password, for git and env exports; nil for other types.
    public var password: (username: String, password: Secret)? {
        if case .password(let username, let password) = value { return (username, password) }
        return nil
    }

    /// The bearer token; nil for other types.
    public var token: (token: Secret, scheme: String)? {
        if case .token(let token, let scheme) = value { return (token, scheme) }
        return nil
    }

    /// AWS keys; nil for other types.
    public var aws: AWSCredentials? {
        if case .aws(let keys, _, _) = value { return keys }
        return nil
    }

    /// The credential as `key=value` fields (git's grammar): what an exec command reads on stdin
    /// and what a cache file holds. Secret fields are marked.
    public var fields: [(key: String, value: String, secret: Bool)] {
        switch value {
        case .password(let username, let password):
            return [("username", username, false), ("password", password.reveal(), true)]
        case .aws(let keys, let arn, let session):
            // Public fields first, then secret ones, each in name order (what exec commands have always read).
            var fields: [(key: String, value: String, secret: Bool)] = [("access_key_id", keys.accessKeyID, false)]
            if let arn { fields.append(("arn", arn, false)) }
            fields.append(("session_kind", session.rawValue, false))
            fields.append(("secret_access_key", keys.secretAccessKey.reveal(), true))
            if let token = keys.sessionToken { fields.append(("session_token", token.reveal(), true)) }
            return fields
        case .token(let token, let scheme):
            return [("token_scheme", scheme, false), ("token", token.reveal(), true)]
        }
    }

    /// Reads `fields` back; nil when they make no credential of a known type.
    public init?(fields: [String: String], expiresAt: Int64?) {
        if let keyID = fields["access_key_id"], let secret = fields["secret_access_key"] {
            let keys = AWSCredentials(accessKeyID: keyID, secretAccessKey: Secret(secret), sessionToken: fields["session_token"].map(Secret.init))
            self.init(.aws(keys, arn: fields["arn"], session: fields["session_kind"].flatMap(AWSSessionKind.init) ?? .user), expiresAt: expiresAt)
        } else if let token = fields["token"] {
            self.init(.token(Secret(token), scheme: fields["token_scheme"] ?? "Bearer"), expiresAt: expiresAt)
        } else if let password = fields["password"] {
            self.init(username: fields["username"] ?? "", password: Secret(password), expiresAt: expiresAt)
        } else {
            return nil
        }
    }

    /// Seconds left by the wall clock alone (saturating: an upstream may send any number).
    public func remaining(at now: Int64) -> Int64? { expiresAt.map { $0.subtractingSaturating(now) } }

    /// Seconds left by whichever clock says fewer. A wall clock stepped back leaves the elapsed
    /// clock honest; one stepped forward makes the wall clock the stricter — never the laxer.
    public func remaining(at instant: Clock.Instant) -> Int64? {
        guard let wall = remaining(at: instant.wall) else { return nil }
        guard let anchored = expiresAtElapsed else { return wall }
        // Both clocks are read in whole seconds, so they may differ by one with no step at all:
        // within `Clock.stepTolerance` the wall clock stands, and the expiry a host sees holds still.
        let elapsed = anchored.subtractingSaturating(instant.elapsed)
        return elapsed < wall.subtractingSaturating(Clock.stepTolerance) ? elapsed : wall
    }

    /// Fixes `expiresAtElapsed` from the wall-clock expiry, as of `instant` (when obtained).
    public mutating func anchor(at instant: Clock.Instant) {
        expiresAtElapsed = remaining(at: instant.wall).map { instant.elapsed.addingSaturating($0) }
    }

    /// This credential as a client should see it at `instant`: its expiry moved to the wall-clock
    /// moment its time really runs out, so git and the AWS SDKs refresh on time after a clock step.
    public func asSeen(at instant: Clock.Instant) -> Credential {
        guard let left = remaining(at: instant) else { return self }
        var seen = self
        seen.expiresAt = instant.wall.addingSaturating(left)
        return seen
    }
}

/// Which tier answered a request (brokerctl whoami and the audit log say so).
public enum CacheTier: String, Sendable {
    case memory, disk, upstream
}

/// The clocks, behind a seam so tests can move time. `now` is wall-clock Unix seconds, which
/// an administrator or NTP may step either way; `elapsed` only ever moves forward with real time,
/// suspend included (CLOCK_BOOTTIME), and is comparable across processes until the next boot.
public struct Clock: Sendable {
    public var now: @Sendable () -> Int64
    public var elapsed: @Sendable () -> Int64

    /// A test clock with only `now` moves both clocks together.
    public init(now: @escaping @Sendable () -> Int64, elapsed: (@Sendable () -> Int64)? = nil) {
        self.now = now
        self.elapsed = elapsed ?? now
    }

    public struct Instant: Sendable, Equatable {
        public var wall: Int64
        public var elapsed: Int64
        public init(wall: Int64, elapsed: Int64) { self.wall = wall; self.elapsed = elapsed }
    }

    public func instant() -> Instant { Instant(wall: now(), elapsed: elapsed()) }

    /// Disagreement between the two clocks that is rounding, not a step (seconds).
    public static let stepTolerance: Int64 = 2

    public static let system = Clock(now: { Int64(time(nil)) }, elapsed: {
        var ts = timespec()
        #if os(Linux)
        clock_gettime(CLOCK_BOOTTIME, &ts)
        #else
        clock_gettime(CLOCK_MONOTONIC, &ts)
        #endif
        return Int64(ts.tv_sec)
    })

    /// Identifies this boot, so an elapsed-clock reading written to disk is trusted only by a
    /// process of the same boot (Linux; nil elsewhere, and the wall clock alone decides).
    public static let bootID: String? = ProcFS.bootID()
}

extension Int64 {
    func addingSaturating(_ other: Int64) -> Int64 {
        let (value, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : value
    }

    func subtractingSaturating(_ other: Int64) -> Int64 {
        let (value, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other < 0 ? .max : .min) : value
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
