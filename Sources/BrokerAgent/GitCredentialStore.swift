// In-memory credentials for unbound URLs: a drop-in for git credential-cache's daemon.

import BrokerCore
import BrokerWire
import Foundation

/// Follows credential-cache--daemon.c (git ≥ 2.46): `store` replaces the entry with the same
/// protocol/host/path/username; `erase` removes entries whose given fields match, including the
/// password when one is given (git ≥ 2.42); `get` answers the first match. Entries live for
/// the client's timeout and never touch the disk.
public final class GitCredentialStore: @unchecked Sendable {
    struct Entry {
        var fields: GitCredential
        var expiration: Int64
    }

    private let lock = NSLock()
    private var entries: [Entry] = []
    private let clock: Clock

    public init(clock: Clock = .system) { self.clock = clock }

    public enum StoreOutcome: Equatable { case stored, ephemeral, partial }

    public func store(_ credential: GitCredential, timeout: Int) -> StoreOutcome {
        if credential.ephemeral { return .ephemeral }
        let complete = (credential.username != nil && credential.password != nil)
            || (credential.authtype != nil && credential.credential != nil)
        guard complete else { return .partial }
        lock.lock(); defer { lock.unlock() }
        entries.removeAll { credential.matches($0.fields, matchPassword: false) }
        entries.append(Entry(fields: credential, expiration: clock.now() + Int64(timeout)))
        return .stored
    }

    /// Returns how many entries were removed.
    @discardableResult
    public func erase(_ request: GitCredential) -> Int {
        lock.lock(); defer { lock.unlock() }
        let before = entries.count
        entries.removeAll { request.matches($0.fields, matchPassword: true) }
        return before - entries.count
    }

    public func get(_ request: GitCredential) -> GitCredential? {
        lock.lock(); defer { lock.unlock() }
        expire()
        return entries.first { request.matches($0.fields, matchPassword: false) }?.fields
    }

    /// Live entries; the agent stays up while there are any, as credential-cache's daemon does.
    public var count: Int {
        lock.lock(); defer { lock.unlock() }
        expire()
        return entries.count
    }

    public func removeAll() {
        lock.lock(); entries.removeAll(); lock.unlock()
    }

    private func expire() {
        let now = clock.now()
        entries.removeAll { $0.expiration <= now || ($0.fields.passwordExpiryUTC ?? .max) <= now }
    }
}

/// The attributes of git's credential protocol that the store keeps.
public struct GitCredential: Sendable, Equatable {
    public var `protocol`: String?
    public var host: String?
    public var path: String?
    public var username: String?
    public var password: Secret?
    public var authtype: String?
    public var credential: Secret?
    public var passwordExpiryUTC: Int64?
    public var oauthRefreshToken: Secret?
    public var ephemeral = false
    public var capabilities: Set<String> = []

    public init() {}

    public init(_ message: WireMessage) {
        `protocol` = message["protocol"]
        host = message["host"]
        path = message["path"]
        username = message["username"]
        password = message["password"].map(Secret.init)
        authtype = message["authtype"]
        credential = message["credential"].map(Secret.init)
        passwordExpiryUTC = message["password_expiry_utc"].flatMap(Int64.init)
        oauthRefreshToken = message["oauth_refresh_token"].map(Secret.init)
        ephemeral = message["ephemeral"].map { ["1", "true", "yes", "on"].contains($0.lowercased()) } ?? false
        capabilities = Set(message.values("capability[]"))
    }

    /// git's credential_match(want: self, have: other): every field `self` gives must be equal.
    func matches(_ have: GitCredential, matchPassword: Bool) -> Bool {
        func check(_ want: String?, _ got: String?) -> Bool { want == nil || want == got }
        func check(_ want: Secret?, _ got: Secret?) -> Bool {
            guard let want else { return true }
            guard let got else { return false }
            return want.constantTimeEquals(got)
        }
        return check(`protocol`, have.protocol) && check(host, have.host) && check(path, have.path)
            && check(username, have.username)
            && (!matchPassword || (check(password, have.password) && check(credential, have.credential)))
    }

    /// What `get` prints for a stored entry, in credential-cache's order. authtype/credential
    /// only go to a caller that announced the capability.
    public func answer(for request: GitCredential) -> WireMessage {
        var out = WireMessage()
        let capable = request.capabilities.contains("authtype")
        if capable { out.append("capability[]", "authtype") }
        out.append("username", ifPresent: username)
        out.append("password", ifPresent: password?.reveal())
        if capable {
            out.append("authtype", ifPresent: authtype)
            out.append("credential", ifPresent: credential?.reveal())
        }
        out.append("password_expiry_utc", ifPresent: passwordExpiryUTC.map(String.init))
        out.append("oauth_refresh_token", ifPresent: oauthRefreshToken?.reveal())
        return out
    }
}
