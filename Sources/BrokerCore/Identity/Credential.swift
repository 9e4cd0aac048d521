// What an identity resolves to: public attributes, boxed secrets and an expiry.

import BrokerWire

public struct Credential: Sendable, Equatable {
    /// Non-secret fields (`username`, later `access_key_id`, `region`, …).
    public var attributes: [String: String]
    /// Secret fields (`password`, later `secret_access_key`, `session_token`, …).
    public var secrets: [String: Secret]
    /// Unix seconds; nil when the upstream gave no expiry (a long-lived secret).
    public var expiresAt: Int64?
    /// False for credentials obtained from ambient material (a CI job's OIDC token): they stay
    /// in memory and never reach the disk cache.
    public var persistable: Bool

    public init(attributes: [String: String] = [:], secrets: [String: Secret] = [:], expiresAt: Int64? = nil, persistable: Bool = true) {
        self.attributes = attributes
        self.secrets = secrets
        self.expiresAt = expiresAt
        self.persistable = persistable
    }

    public func remaining(at now: Int64) -> Int64? { expiresAt.map { $0 - now } }

    /// Key names in `attributes`/`secrets` for AWS credentials.
    public enum AWSField {
        public static let accessKeyID = "access_key_id"
        public static let secretAccessKey = "secret_access_key"
        public static let sessionToken = "session_token"
        public static let arn = "arn"
        /// "user" (long-lived keys), "session" (GetSessionToken), "role" (an assumed role).
        public static let sessionKind = "session_kind"
    }
}

/// Which tier answered a request (brokerctl whoami and the audit log say so).
public enum CacheTier: String, Sendable {
    case memory, disk, upstream
}

/// The clock, behind a seam so tests can move time.
public struct Clock: Sendable {
    public var now: @Sendable () -> Int64
    public init(now: @escaping @Sendable () -> Int64) { self.now = now }
    public static let system = Clock { Int64(time(nil)) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
