// `[git] store = keyring`: the credentials git approved for unbound URLs, as one keyring secret.

import BrokerCore
import BrokerWire

/// Keeps the whole list, in the credential-cache daemon's order, as one JSON secret named
/// `git-credentials` in whichever keyring backend is in use: one write per change keeps the
/// order `get` depends on, and the file backend pays one scrypt per write, not one per entry.
public final class GitKeyringVault: GitCredentialVault, @unchecked Sendable {
    public static let secretName = "git-credentials"
    let keyring: KeyringService

    public init(keyring: KeyringService) { self.keyring = keyring }

    public func generation() -> Int { keyring.generation() }

    public func load() throws -> [GitCredential] {
        guard let secret = try keyring.get(Self.secretName) else { return [] }
        guard let credentials = GitCredential.list(fromJSON: secret) else {
            throw BrokerFailure(.config, "keyring secret \"\(Self.secretName)\" does not hold git credentials",
                                hint: "remove it with `brokerctl secret rm \(Self.secretName)`; git asks again")
        }
        return credentials
    }

    public func save(_ credentials: [GitCredential]) throws {
        if credentials.isEmpty {
            _ = try keyring.remove(Self.secretName)
        } else {
            _ = try keyring.set(Self.secretName, GitCredential.json(credentials))
        }
    }
}

extension GitCredential {
    /// `{"version":1,"credentials":[{…}]}`: one line (JSON escapes every control character), so
    /// every backend can carry it. Only attributes present are written.
    static func json(_ credentials: [GitCredential]) -> Secret {
        let items = credentials.map { c -> JSONValue in
            var members: [(String, JSONValue)] = []
            func add(_ key: String, _ value: String?) { if let value { members.append((key, .string(value))) } }
            add("protocol", c.protocol)
            add("host", c.host)
            add("path", c.path)
            add("username", c.username)
            add("password", c.password?.reveal())
            add("authtype", c.authtype)
            add("credential", c.credential?.reveal())
            if let expiry = c.passwordExpiryUTC { members.append(("password_expiry_utc", .int(expiry))) }
            add("oauth_refresh_token", c.oauthRefreshToken?.reveal())
            if !c.capabilities.isEmpty { members.append(("capabilities", .array(c.capabilities.sorted().map { .string($0) }))) }
            return .object(members)
        }
        return Secret(JSONValue.object([("version", .int(1)), ("credentials", .array(items))]).encoded())
    }

    /// nil when the text is not such a list (never says why in terms of its content).
    static func list(fromJSON secret: Secret) -> [GitCredential]? {
        guard let document = try? JSONValue.parse(secret.reveal()), case .int(1)? = document[member: "version"],
              case .array(let items)? = document[member: "credentials"] else { return nil }
        var credentials: [GitCredential] = []
        for item in items {
            guard case .object = item else { return nil }
            var c = GitCredential()
            c.protocol = item[member: "protocol"]?.stringValue
            c.host = item[member: "host"]?.stringValue
            c.path = item[member: "path"]?.stringValue
            c.username = item[member: "username"]?.stringValue
            c.password = item[member: "password"]?.stringValue.map(Secret.init)
            c.authtype = item[member: "authtype"]?.stringValue
            c.credential = item[member: "credential"]?.stringValue.map(Secret.init)
            if case .int(let expiry)? = item[member: "password_expiry_utc"] { c.passwordExpiryUTC = expiry }
            c.oauthRefreshToken = item[member: "oauth_refresh_token"]?.stringValue.map(Secret.init)
            if case .array(let capabilities)? = item[member: "capabilities"] {
                c.capabilities = Set(capabilities.compactMap(\.stringValue))
            }
            credentials.append(c)
        }
        return credentials
    }
}
