// The SSO token cache shared with the AWS CLI v2 and botocore: ~/.aws/sso/cache/<sha1>.json.
//
// botocore (utils.SSOTokenLoader, tokens.SSOTokenProvider): the file name is the SHA-1 of the
// sso-session name, or of the start URL for legacy profiles; `accessToken` and `expiresAt` are
// required, and botocore refreshes only when all of `refreshToken`, `clientId`, `clientSecret`
// and `registrationExpiresAt` are there. It writes times as `%Y-%m-%dT%H:%M:%SZ` and crashes on a
// time without a zone, so that is the one format written here.

import BrokerWire
import Foundation

/// One session's tokens and the client registration that refreshes them.
public struct SSOToken: Sendable {
    public var startURL: String
    public var region: String
    public var accessToken: Secret
    public var expiresAt: Int64
    public var refreshToken: Secret?
    public var clientID: String?
    public var clientSecret: Secret?
    public var registrationExpiresAt: Int64?

    /// The registration, when the token carries a whole one.
    public var registration: SSOClientRegistration? {
        guard let clientID, let clientSecret, let registrationExpiresAt else { return nil }
        return SSOClientRegistration(clientID: clientID, clientSecret: clientSecret, expiresAt: registrationExpiresAt)
    }
}

public struct SSOTokenCache: Sendable {
    /// The file, under `home`.
    public let path: String

    /// `sessionName` nil: the legacy key, the start URL.
    public init(home: String, startURL: String, sessionName: String?) {
        path = home + "/.aws/sso/cache/" + Self.fileName(startURL: startURL, sessionName: sessionName)
    }

    public static func fileName(startURL: String, sessionName: String?) -> String {
        SHA1.hash(sessionName ?? startURL).hexString + ".json"
    }

    /// The token in the file, or nil when there is none we may use: missing, not private to us
    /// (another user could have planted it), unreadable, or for another start URL.
    public func read(startURL: String) -> SSOToken? {
        guard let bytes = try? PrivateFile.read(path: path, limit: 1 << 16),
              let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any],
              let access = object["accessToken"] as? String, !access.isEmpty, SSOClient.isTokenText(access),
              let expires = (object["expiresAt"] as? String).flatMap(Self.time) else { return nil }
        if let url = object["startUrl"] as? String, url != startURL { return nil }
        func secret(_ key: String) -> Secret? {
            (object[key] as? String).flatMap { !$0.isEmpty && SSOClient.isTokenText($0) ? Secret($0) : nil }
        }
        return SSOToken(startURL: startURL, region: object["region"] as? String ?? "", accessToken: Secret(access), expiresAt: expires,
                        refreshToken: secret("refreshToken"), clientID: object["clientId"] as? String, clientSecret: secret("clientSecret"),
                        registrationExpiresAt: (object["registrationExpiresAt"] as? String).flatMap(Self.time))
    }

    /// Writes atomically, 0600, in a 0700 directory made when missing.
    public func write(_ token: SSOToken) throws {
        var members: [(String, JSONValue)] = [
            ("startUrl", .string(token.startURL)), ("region", .string(token.region)),
            ("accessToken", .string(token.accessToken.reveal())), ("expiresAt", .string(rfc3339UTC(token.expiresAt))),
        ]
        if let refresh = token.refreshToken { members.append(("refreshToken", .string(refresh.reveal()))) }
        if let id = token.clientID { members.append(("clientId", .string(id))) }
        if let secret = token.clientSecret { members.append(("clientSecret", .string(secret.reveal()))) }
        if let expires = token.registrationExpiresAt { members.append(("registrationExpiresAt", .string(rfc3339UTC(expires)))) }
        let directory = String(path[..<path.lastIndex(of: "/")!])
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try writeFileAtomically(path, bytes: Array(JSONValue.object(members).encoded().utf8))
    }

    public func remove() { unlink(path) }

    /// botocore's own `%Y-%m-%dT%H:%M:%SZ`, any RFC 3339 form, and the `…UTC` its default JSON cache once wrote.
    static func time(_ text: String) -> Int64? {
        if text.hasSuffix("UTC") { return parseRFC3339(String(text.dropLast(3)) + "Z") }
        return parseRFC3339(text)
    }
}
