// The calls to AWS IAM Identity Center: SSO OIDC (register, device authorization, tokens) and the SSO portal.
//
// Shapes, paths and error codes follow botocore's service models (`sso-oidc` and `sso`, 2019-06-10).
// Both services take unsigned rest-json requests; the portal takes the access token in the
// `x-amz-sso_bearer_token` header.

import BrokerWire
import Foundation

/// A registered public OIDC client, valid until `expiresAt`.
public struct SSOClientRegistration: Sendable {
    public var clientID: String
    public var clientSecret: Secret
    public var expiresAt: Int64
}

/// What CreateToken answered.
public struct SSOTokenGrant: Sendable {
    public var accessToken: Secret
    public var expiresIn: Int64
    public var refreshToken: Secret?
}

/// An SSO OIDC or portal error, with the service's code (`authorization_pending`,
/// `UnauthorizedException`, …). Its message never holds a token.
public struct SSOError: BrokerError {
    public var code: String
    public var status: Int
    public var message: String
    public var hint: String?
}

public struct SSOAccount: Sendable, Equatable {
    public var id: String
    public var name: String
}

public struct SSOClient: Sendable {
    public var oidcURL: String
    public var portalURL: String
    public var timeout: Double

    public init(oidcURL: String, portalURL: String, timeout: Double = 10) {
        self.oidcURL = oidcURL
        self.portalURL = portalURL
        self.timeout = timeout
    }

    static let deviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code"

    // MARK: - SSO OIDC

    public func registerClient(name: String, scopes: [String], now: Int64) throws -> SSOClientRegistration {
        let body = JSONValue.object([("clientName", .string(name)), ("clientType", .string("public")),
                                     ("scopes", .array(scopes.map { .string($0) }))])
        let object = try oidc("/client/register", body, purpose: "registering the client", secrets: [])
        guard let id = object["clientId"] as? String, !id.isEmpty, let secret = object["clientSecret"] as? String, !secret.isEmpty else {
            throw invalid("RegisterClient", "it holds no clientId or clientSecret")
        }
        let expires = (object["clientSecretExpiresAt"] as? NSNumber)?.int64Value ?? (now + 90 * 86400)
        return SSOClientRegistration(clientID: id, clientSecret: Secret(secret), expiresAt: expires)
    }

    public func startDeviceAuthorization(_ registration: SSOClientRegistration, startURL: String, now: Int64) throws -> DeviceAuthorization {
        let body = JSONValue.object([("clientId", .string(registration.clientID)), ("clientSecret", .string(registration.clientSecret.reveal())),
                                     ("startUrl", .string(startURL))])
        let object = try oidc("/device_authorization", body, purpose: "starting the device authorization",
                              secrets: [registration.clientSecret.reveal()])
        guard let deviceCode = object["deviceCode"] as? String, !deviceCode.isEmpty,
              let userCode = object["userCode"] as? String, let uri = object["verificationUri"] as? String else {
            throw invalid("StartDeviceAuthorization", "it holds no deviceCode, userCode or verificationUri")
        }
        let expiresIn = (object["expiresIn"] as? NSNumber)?.int64Value ?? 600
        let interval = (object["interval"] as? NSNumber)?.intValue ?? 5
        return DeviceAuthorization(verificationURI: uri, verificationURIComplete: object["verificationUriComplete"] as? String,
                                   userCode: userCode, deviceCode: Secret(deviceCode), interval: max(1, interval),
                                   expiresAt: now + expiresIn)
    }

    /// CreateToken with the device code grant; `SSOError` codes `authorization_pending`,
    /// `slow_down`, `expired_token`, `access_denied` are the caller's to read.
    public func createToken(_ registration: SSOClientRegistration, deviceCode: Secret) throws -> SSOTokenGrant {
        try createToken([("clientId", .string(registration.clientID)), ("clientSecret", .string(registration.clientSecret.reveal())),
                         ("grantType", .string(Self.deviceCodeGrant)), ("deviceCode", .string(deviceCode.reveal()))],
                        secrets: [registration.clientSecret.reveal(), deviceCode.reveal()])
    }

    public func createToken(clientID: String, clientSecret: Secret, refreshToken: Secret) throws -> SSOTokenGrant {
        try createToken([("clientId", .string(clientID)), ("clientSecret", .string(clientSecret.reveal())),
                         ("grantType", .string("refresh_token")), ("refreshToken", .string(refreshToken.reveal()))],
                        secrets: [clientSecret.reveal(), refreshToken.reveal()])
    }

    private func createToken(_ members: [(String, JSONValue)], secrets: [String]) throws -> SSOTokenGrant {
        let object = try oidc("/token", .object(members), purpose: "asking for a token", secrets: secrets)
        guard let access = object["accessToken"] as? String, !access.isEmpty, Self.isTokenText(access),
              let expiresIn = (object["expiresIn"] as? NSNumber)?.int64Value, expiresIn > 0 else {
            throw invalid("CreateToken", "it holds no usable accessToken and expiresIn")
        }
        let refresh = (object["refreshToken"] as? String).flatMap { Self.isTokenText($0) && !$0.isEmpty ? Secret($0) : nil }
        return SSOTokenGrant(accessToken: Secret(access), expiresIn: expiresIn, refreshToken: refresh)
    }

    // MARK: - SSO portal

    public func getRoleCredentials(accountID: String, roleName: String, accessToken: Secret) throws -> STSCredentials {
        let object = try portal("GET", "/federation/credentials", query: [("role_name", roleName), ("account_id", accountID)],
                                accessToken: accessToken, purpose: "getting role credentials for \(roleName) in \(accountID)")
        guard let credentials = object["roleCredentials"] as? [String: Any],
              let keyID = credentials["accessKeyId"] as? String, !keyID.isEmpty,
              let secret = credentials["secretAccessKey"] as? String, !secret.isEmpty,
              let token = credentials["sessionToken"] as? String, !token.isEmpty,
              let expirationMillis = (credentials["expiration"] as? NSNumber)?.int64Value else {
            throw invalid("GetRoleCredentials", "it holds no roleCredentials with keys, session token and expiration")
        }
        // ExpirationTimestampType is epoch milliseconds (botocore's SSOCredentialFetcher divides by 1000).
        return STSCredentials(credentials: AWSCredentials(accessKeyID: keyID, secretAccessKey: Secret(secret), sessionToken: Secret(token)),
                              expiration: expirationMillis / 1000, assumedRoleARN: nil)
    }

    /// Every account the token may reach, following `nextToken` to the last page.
    public func listAccounts(accessToken: Secret, pageSize: Int = 100) throws -> [SSOAccount] {
        try paged("/assignment/accounts", query: [], listKey: "accountList", accessToken: accessToken, pageSize: pageSize,
                  purpose: "listing accounts") { item in
            guard let id = item["accountId"] as? String else { return nil }
            return SSOAccount(id: id, name: item["accountName"] as? String ?? id)
        }
    }

    public func listAccountRoles(accountID: String, accessToken: Secret, pageSize: Int = 100) throws -> [String] {
        try paged("/assignment/roles", query: [("account_id", accountID)], listKey: "roleList", accessToken: accessToken,
                  pageSize: pageSize, purpose: "listing roles in \(accountID)") { $0["roleName"] as? String }
    }

    public func logout(accessToken: Secret) throws {
        _ = try portal("POST", "/logout", query: [], accessToken: accessToken, purpose: "logging out", allowEmpty: true)
    }

    private func paged<T>(_ path: String, query: [(String, String)], listKey: String, accessToken: Secret, pageSize: Int,
                          purpose: String, _ item: ([String: Any]) -> T?) throws -> [T] {
        var results: [T] = []
        var next: String?
        for _ in 0..<1000 {
            var parameters = query + [("max_result", String(pageSize))]
            if let next { parameters.append(("next_token", next)) }
            let object = try portal("GET", path, query: parameters, accessToken: accessToken, purpose: purpose)
            results += ((object[listKey] as? [[String: Any]]) ?? []).compactMap(item)
            next = (object["nextToken"] as? String).flatMap { $0.isEmpty ? nil : $0 }
            if next == nil { return results }
        }
        throw invalid(purpose, "it kept answering with another page after 1000")
    }

    // MARK: - Transport

    private func oidc(_ path: String, _ body: JSONValue, purpose: String, secrets: [String]) throws -> [String: Any] {
        guard let url = URL(string: oidcURL + path) else { throw invalid(purpose, "the SSO OIDC URL is not valid") }
        let outcome = HTTPExchange.send(method: "POST", url: url, headers: [("Content-Type", "application/json")],
                                        body: Data(body.encoded().utf8), timeout: timeout)
        return try answer(outcome, purpose: purpose, service: "SSO OIDC at \(oidcURL)", secrets: secrets, allowEmpty: false)
    }

    private func portal(_ method: String, _ path: String, query: [(String, String)], accessToken: Secret, purpose: String,
                        allowEmpty: Bool = false) throws -> [String: Any] {
        let queryText = query.map { "\(Self.percentEncoded($0.0))=\(Self.percentEncoded($0.1))" }.joined(separator: "&")
        guard let url = URL(string: portalURL + path + (queryText.isEmpty ? "" : "?" + queryText)) else {
            throw invalid(purpose, "the SSO portal URL is not valid")
        }
        let outcome = HTTPExchange.send(method: method, url: url, headers: [("x-amz-sso_bearer_token", accessToken.reveal())],
                                        body: method == "POST" ? Data() : nil, timeout: timeout)
        return try answer(outcome, purpose: purpose, service: "the SSO portal at \(portalURL)", secrets: [accessToken.reveal()],
                          allowEmpty: allowEmpty)
    }

    private func answer(_ outcome: HTTPExchange.Outcome, purpose: String, service: String, secrets: [String],
                        allowEmpty: Bool) throws -> [String: Any] {
        switch outcome {
        case .transport(let problem):
            throw BrokerFailure(.unavailable, "\(purpose): \(service) could not be reached: \(problem.reason)",
                                hint: "check the network and the endpoint settings of the provider")
        case .response(let status, let body):
            let object = body.count <= 1 << 20 ? (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] : nil
            guard (200..<300).contains(status) else {
                // OAuth errors carry `error` (authorization_pending, …); the portal's only a message.
                let code = (object?["error"] as? String) ?? (object?["__type"] as? String).map { String($0.split(separator: "#").last ?? "") }
                    ?? Self.portalCode(status)
                let said = ((object?["error_description"] as? String) ?? (object?["message"] as? String))
                    .map { scrubbedForMessage($0, removing: secrets, minimumSecretLength: 4, limit: 200) }
                throw SSOError(code: code, status: status,
                               message: "\(purpose): \(service) answered HTTP \(status) \(code)" + (said.map { ": \($0)" } ?? ""),
                               hint: nil)
            }
            if let object { return object }
            if allowEmpty { return [:] }
            throw invalid(purpose, "the answer is not a JSON object")
        }
    }

    static func portalCode(_ status: Int) -> String {
        switch status {
        case 401: return "UnauthorizedException"
        case 404: return "ResourceNotFoundException"
        case 429: return "TooManyRequestsException"
        case 400: return "InvalidRequestException"
        default: return "HTTP\(status)"
        }
    }

    private func invalid(_ purpose: String, _ why: String) -> BrokerFailure {
        BrokerFailure(.upstream, "\(purpose): the answer could not be used: \(why)")
    }

    /// RFC 3986 unreserved characters stay; everything else (a role name's `+`, `=`, `,`, `@`) is %-encoded.
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == 0x2d || byte == 0x2e || byte == 0x5f || byte == 0x7e {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    /// A token we will put into an HTTP header or a JSON file: printable ASCII, bounded.
    static func isTokenText(_ text: String) -> Bool {
        text.utf8.count <= 8192 && text.utf8.allSatisfy { (0x21...0x7e).contains($0) }
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
