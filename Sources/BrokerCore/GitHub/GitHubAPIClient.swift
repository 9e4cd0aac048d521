// A synchronous client for the two GitHub App calls the broker makes: find an installation, mint its token.

import BrokerWire
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An installation access token and when GitHub stops honouring it.
public struct GitHubInstallationToken: Sendable {
    public var token: Secret
    /// Unix seconds.
    public var expiresAt: Int64
}

/// What an installation token is narrowed to: repository names (without the owner) and permission
/// levels. Both empty: everything the installation was granted.
public struct GitHubTokenScope: Sendable, Equatable {
    public var repositories: [String]
    /// Permission name → `read`, `write` or `admin`.
    public var permissions: [String: String]

    public init(repositories: [String] = [], permissions: [String: String] = [:]) {
        self.repositories = repositories
        self.permissions = permissions
    }

    public var isNarrowed: Bool { !repositories.isEmpty || !permissions.isEmpty }

    /// The JSON body of `POST /app/installations/{id}/access_tokens`, or nil when nothing narrows
    /// the token (GitHub then grants all the installation has). Permissions are sorted so the same
    /// scope always reads the same.
    public var requestBody: String? {
        guard isNarrowed else { return nil }
        var members: [(String, JSONValue)] = []
        if !repositories.isEmpty { members.append(("repositories", .array(repositories.map { .string($0) }))) }
        if !permissions.isEmpty {
            members.append(("permissions", .object(permissions.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
        }
        return JSONValue.object(members).encoded()
    }
}

/// Calls GitHub's REST API as an app (a JWT bearer). Synchronous: the agent serves each connection
/// on its own thread, and a call blocks it for at most about `timeout` per attempt.
public struct GitHubAPIClient: Sendable {
    public static let defaultURL = "https://api.github.com"
    /// The REST API version the answers below are read against.
    public static let apiVersion = "2022-11-28"

    public let baseURL: String
    public let timeout: Double
    public let retry: RetryPolicy

    /// `baseURL` must have passed `problem(withURL:)`.
    public init(baseURL: String, timeout: Double = 10, retry: RetryPolicy = RetryPolicy()) {
        self.baseURL = baseURL
        self.timeout = timeout
        self.retry = retry
    }

    // MARK: - api-url

    /// Why `text` cannot be an API URL, or nil when it can: https (plain http only to a loopback
    /// address, since the answers carry tokens), a host, no user info, query or fragment.
    public static func problem(withURL text: String) -> String? {
        guard text.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7f }) else { return "it holds spaces or control characters" }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            return "it is not a URL"
        }
        guard scheme == "https" || scheme == "http" else { return "the scheme must be https" }
        guard let host = components.host?.lowercased(), !host.isEmpty else { return "it has no host" }
        guard components.user == nil && components.password == nil else { return "it must not hold a user name or password" }
        guard components.query == nil && components.fragment == nil else { return "it must not have a query or fragment" }
        if let port = components.port, !(1...65535).contains(port) { return "the port is out of range" }
        if scheme == "http" && !STSEndpoint.isLoopback(host) { return "plain http is allowed only to a loopback address" }
        // The web site answers API paths with HTML pages; say so now rather than after a confusing 404.
        if host == "github.com" || host == "www.github.com" { return "that is GitHub's web site; its API is https://api.github.com" }
        return nil
    }

    /// A section's `api-url` (github.com's API when unset), checked and without trailing slashes;
    /// every kind that calls GitHub's API reads it through here.
    public static func apiURL(_ definition: IdentityDefinition) throws -> String {
        guard let entry = definition.entry("api-url") else { return defaultURL }
        let text = entry.value ?? ""
        if let problem = problem(withURL: text) {
            throw ConfigError("api-url \"\(STSEndpoint.printable(text))\" is not usable: \(problem)", at: entry.location,
                              hint: "use https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server (plain http only for 127.0.0.1, ::1 or localhost)")
        }
        return normalizedURL(text)
    }

    /// `text` without trailing slashes, so paths can be appended.
    public static func normalizedURL(_ text: String) -> String {
        var url = text
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    // MARK: - Calls

    /// The installation of this app on `owner`: an organization first, then a user account.
    public func installationID(owner: String, jwt: Secret) throws -> Int64 {
        for account in ["orgs", "users"] {
            let call = Call(method: "GET", path: "/\(account)/\(owner)/installation",
                            purpose: "looking up the app's installation on \"\(owner)\"", jwt: jwt)
            let answer = try perform(call)
            if answer.status == 404 && isGitHubError(answer.body) { continue }
            guard (200..<300).contains(answer.status) else { throw failure(answer, call) }
            guard let object = Self.jsonObject(answer.body), let id = Self.integer(object["id"]), id > 0 else {
                throw invalidAnswer(call, why: "it holds no installation id")
            }
            return id
        }
        throw BrokerFailure(.upstream, "the app is not installed on \"\(owner)\": GitHub at \(printableBase) has no organization or user installation of it there",
                            hint: "install the app on \(owner) (or check the spelling of owner), or set installation-id instead")
    }

    /// A new installation token, narrowed to `scope`.
    public func createInstallationToken(installationID: Int64, scope: GitHubTokenScope, jwt: Secret) throws -> GitHubInstallationToken {
        let call = Call(method: "POST", path: "/app/installations/\(installationID)/access_tokens",
                        purpose: "minting a token for installation \(installationID)", jwt: jwt, body: scope.requestBody)
        let answer = try perform(call)
        guard (200..<300).contains(answer.status) else {
            if answer.status == 404 && isGitHubError(answer.body) {
                throw BrokerFailure(.upstream, "installation \(installationID) of this app was not found at \(printableBase) (HTTP 404)",
                                    hint: "check installation-id (or set owner to look it up) and that the app is still installed there")
            }
            if (answer.status == 403 || answer.status == 422) && scope.isNarrowed {
                throw BrokerFailure(.upstream, "GitHub refused to narrow the token to the configured repositories and permissions (HTTP \(answer.status))"
                                    + said(answer.body, call),
                                    hint: "list only repositories this installation can access, and permissions the app has been granted at no more than their granted level")
            }
            throw failure(answer, call)
        }
        // Never quote this body: it may hold the very token it failed to deliver whole.
        guard let object = Self.jsonObject(answer.body) else { throw invalidAnswer(call, why: "it is not a JSON object") }
        guard let token = object["token"] as? String, !token.isEmpty,
              token.utf8.allSatisfy({ (0x21...0x7e).contains($0) }), token.utf8.count <= 1024 else {
            throw invalidAnswer(call, why: "it holds no usable token")
        }
        guard let text = object["expires_at"] as? String, let expiresAt = parseRFC3339(text) else {
            throw invalidAnswer(call, why: "its expires_at is missing or not an RFC 3339 time")
        }
        return GitHubInstallationToken(token: Secret(token), expiresAt: expiresAt)
    }

    /// Revokes an installation token with itself as the bearer (`DELETE /installation/token`,
    /// 204), retrying as any call does (a second revoke of a live token is harmless).
    public func revokeInstallationToken(_ token: Secret) throws {
        let call = Call(method: "DELETE", path: "/installation/token", purpose: "revoking an installation token", jwt: token)
        let answer = try perform(call)
        switch answer.status {
        case 204, 200: return
        case 401:
            // Already revoked or expired: what a revoke wants, but say it did not happen now.
            throw BrokerFailure(.upstream, "GitHub at \(printableBase) did not accept the token to revoke (HTTP 401): it was already revoked or has expired" + said(answer.body, call))
        default: throw failure(answer, call)
        }
    }

    // MARK: - One call, with retries

    /// A request, and what an error message may say about it.
    struct Call {
        var method: String
        var path: String
        /// "minting a token for installation 42", for messages.
        var purpose: String
        var jwt: Secret
        var body: String?
    }

    struct Answer {
        var status: Int
        var body: [UInt8]
    }

    /// Retries transport errors, 429 and 5xx with jittered backoff (a second token mint is
    /// harmless); answers anything else. The same JWT serves every attempt: it lives minutes,
    /// the retries seconds.
    func perform(_ call: Call) throws -> Answer {
        guard let url = URL(string: baseURL + call.path) else {
            throw BrokerFailure(.config, "api-url \"\(printableBase)\" does not make a URL with \(call.path)")
        }
        var headers = [
            ("Authorization", "Bearer " + call.jwt.reveal()),
            ("Accept", "application/vnd.github+json"),
            ("X-GitHub-Api-Version", Self.apiVersion),
            ("User-Agent", "credential-broker"),
        ]
        if call.body != nil { headers.append(("Content-Type", "application/json")) }
        var attempt = 1
        while true {
            let failure: Error
            let retryable: Bool
            switch HTTPExchange.send(method: call.method, url: url, headers: headers,
                                       body: call.body.map { Data($0.utf8) }, timeout: timeout) {
            case .response(let status, let body):
                guard status == 429 || status >= 500 else { return Answer(status: status, body: body) }
                failure = self.failure(Answer(status: status, body: body), call)
                retryable = true
            case .transport(let problem):
                failure = BrokerFailure(.unavailable, "cannot reach GitHub at \(printableBase) while \(call.purpose): \(problem.reason)",
                                        hint: "check the network connection and the identity's api-url")
                retryable = problem.retryable
            }
            guard retryable && attempt < retry.maxAttempts else { throw failure }
            let pause = retry.delay(afterAttempt: attempt)
            if pause > 0 { Thread.sleep(forTimeInterval: pause) }
            attempt += 1
        }
    }

    // MARK: - Answers

    /// The sentence for an answer no caller had a better one for.
    func failure(_ answer: Answer, _ call: Call) -> BrokerFailure {
        switch answer.status {
        case 401:
            return BrokerFailure(.upstream, "GitHub at \(printableBase) rejected the app's JWT while \(call.purpose) (HTTP 401)" + said(answer.body, call),
                                 hint: "check app-id and that private-key is a current key of that app; the JWT is dated, so also check this machine's clock")
        case 300..<400:
            return BrokerFailure(.upstream, "GitHub at \(printableBase) answered \(call.purpose) with a redirect (HTTP \(answer.status)), which is not followed: it would carry the JWT elsewhere",
                                 hint: "set api-url to the API's own address (GitHub Enterprise Server: https://HOST/api/v3)")
        default:
            var message = "GitHub at \(printableBase) answered HTTP \(answer.status) while \(call.purpose)" + said(answer.body, call)
            var hint: String?
            if !isGitHubError(answer.body) && answer.status < 500 && answer.status != 429 {
                message += " (the answer is not from GitHub's API)"
                hint = "check api-url: github.com's is https://api.github.com, GitHub Enterprise Server's is https://HOST/api/v3"
            }
            return BrokerFailure(answer.status >= 500 || answer.status == 429 ? .unavailable : .upstream, message, hint: hint)
        }
    }

    /// `: <GitHub's message>`, cleaned, or "" when the answer has none.
    func said(_ body: [UInt8], _ call: Call) -> String {
        guard let object = Self.jsonObject(body), let message = object["message"] as? String else { return "" }
        // A server (or a proxy) may echo the bearer back, whole or just its signature.
        let jwt = call.jwt.reveal()
        let cleaned = Self.sanitized(message, removing: [jwt, String(jwt.split(separator: ".").last ?? "")])
        return cleaned.isEmpty ? "" : ": \(cleaned)"
    }

    /// GitHub's error answers are `{"message": …, "documentation_url": …}`; a proxy's or a web
    /// site's are not.
    func isGitHubError(_ body: [UInt8]) -> Bool { Self.jsonObject(body)?["message"] is String }

    func invalidAnswer(_ call: Call, why: String) -> BrokerFailure {
        BrokerFailure(.upstream, "GitHub at \(printableBase) sent an answer we cannot read while \(call.purpose): \(why)",
                      hint: "check that api-url points at GitHub's API, not at a proxy or portal page")
    }

    var printableBase: String { STSEndpoint.printable(baseURL) }

    /// Printable ASCII, whitespace collapsed, every secret replaced by `<redacted>`, at most `limit` characters.
    static func sanitized(_ text: String, removing secrets: [String], limit: Int = 200) -> String {
        scrubbedForMessage(text, removing: secrets, minimumSecretLength: 8, limit: limit)
    }

    static func jsonObject(_ body: [UInt8]) -> [String: Any]? {
        guard !body.isEmpty, body.count <= 1 << 20 else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }

    static func integer(_ value: Any?) -> Int64? {
        (value as? Int).map(Int64.init)
    }
}

