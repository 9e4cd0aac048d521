// What an identity resolves to: public attributes, boxed secrets and an expiry.

import BrokerWire

public struct Credential: Sendable, Equatable {
    /// Non-secret fields (`username`, later `access_key_id`, `region`, …).
    public var attributes: [String: String]
    /// Secret fields (`password`, later `secret_access_key`, `session_token`, …).
    public var secrets: [String: Secret]
    /// Unix seconds; nil when the upstream gave no expiry (a long-lived secret).
    public var expiresAt: Int64?

    public init(attributes: [String: String] = [:], secrets: [String: Secret] = [:], expiresAt: Int64? = nil) {
        self.attributes = attributes
        self.secrets = secrets
        self.expiresAt = expiresAt
    }

    public func remaining(at now: Int64) -> Int64? { expiresAt.map { $0 - now } }
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
