// A synchronous AWS STS client: signed POST form requests, bounded retries, XML answers, errors a person can act on.

import BrokerWire
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Temporary credentials from STS.
public struct STSCredentials: Sendable {
    public var credentials: AWSCredentials
    /// Unix seconds.
    public var expiration: Int64
    /// `arn:aws:sts::…:assumed-role/ROLE/SESSION` for the AssumeRole family, `…:federated-user/NAME`
    /// for GetFederationToken; nil for GetSessionToken.
    public var assumedRoleARN: String?

    public init(credentials: AWSCredentials, expiration: Int64, assumedRoleARN: String?) {
        self.credentials = credentials
        self.expiration = expiration
        self.assumedRoleARN = assumedRoleARN
    }
}

/// Who a set of credentials belongs to (`GetCallerIdentity`).
public struct CallerIdentity: Sendable, Equatable {
    public var arn: String
    public var account: String
    public var userID: String

    public init(arn: String, account: String, userID: String) {
        self.arn = arn
        self.account = account
        self.userID = userID
    }
}

/// STS answered with an error, or with something that is not an STS answer (`code` "InvalidResponse").
/// `message` is our sentence (it quotes STS's own message with any secret of the request removed).
public struct STSError: BrokerError, Equatable {
    public var code: String
    public var message: String
    public var hint: String?
    public var httpStatus: Int

    public init(code: String, message: String, hint: String?, httpStatus: Int) {
        self.code = code
        self.message = message
        self.hint = hint
        self.httpStatus = httpStatus
    }
}

/// Exponential backoff with full jitter (AWS's recommended scheme) on throttling, 5xx and transport
/// errors; never on other 4xx answers, which say something about the request that a retry cannot fix.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included.
    public var maxAttempts = 4
    public var baseDelay = 0.2
    public var maxDelay = 5.0

    public init() {}

    /// The pause after failed attempt number `attempt` (1-based): uniform in 0…min(maxDelay, baseDelay·2^(attempt−1)).
    public func delay(afterAttempt attempt: Int, random: Double = Double.random(in: 0...1)) -> Double {
        let ceiling = min(maxDelay, baseDelay * pow(2, Double(max(0, min(attempt - 1, 30)))))
        return max(0, ceiling * min(1, max(0, random)))
    }

    /// The error codes AWS SDKs treat as throttling. `IDPCommunicationError` (AssumeRoleWithWebIdentity
    /// could not reach the identity provider) is transient too, and the SDKs retry it as well.
    static let retryableCodes: Set<String> = [
        "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException", "IDPCommunicationError",
    ]

    static func isRetryable(_ error: STSError) -> Bool {
        error.httpStatus == 429 || error.httpStatus >= 500 || retryableCodes.contains(error.code)
    }
}

/// Calls STS. Synchronous: the agent serves each connection on its own thread, and a call blocks
/// that thread for at most about `timeout` per attempt.
public struct STSClient: Sendable {
    public let endpoint: STSEndpoint
    public let timeout: Double
    public let retry: RetryPolicy
    let clock: @Sendable () -> Date

    public init(endpoint: STSEndpoint, timeout: Double = 10, retry: RetryPolicy = RetryPolicy(),
                clock: @escaping @Sendable () -> Date = { Date() }) {
        self.endpoint = endpoint
        self.timeout = timeout
        self.retry = retry
        self.clock = clock
    }

    /// Upstream requests made by this client (all instances, every attempt), for tests and stats.
    public static var requestCount: Int { RequestCounter.shared.value }

    // MARK: - Actions

    public func assumeRole(_ credentials: AWSCredentials, roleARN: String, sessionName: String, durationSeconds: Int,
                           externalID: String? = nil, sourceIdentity: String? = nil,
                           tags: [(String, String)] = [], transitiveTagKeys: [String] = [],
                           policyARNs: [String] = []) throws -> STSCredentials {
        var params: [(String, String)] = [
            ("RoleArn", roleARN), ("RoleSessionName", sessionName), ("DurationSeconds", String(durationSeconds)),
        ]
        if let externalID { params.append(("ExternalId", externalID)) }
        if let sourceIdentity { params.append(("SourceIdentity", sourceIdentity)) }
        for (n, tag) in tags.enumerated() {
            params.append(("Tags.member.\(n + 1).Key", tag.0))
            params.append(("Tags.member.\(n + 1).Value", tag.1))
        }
        for (n, key) in transitiveTagKeys.enumerated() { params.append(("TransitiveTagKeys.member.\(n + 1)", key)) }
        for (n, arn) in policyARNs.enumerated() { params.append(("PolicyArns.member.\(n + 1).arn", arn)) }
        let call = Call(action: "AssumeRole", target: roleARN, credentials: credentials)
        return try Self.credentials(in: perform(call, params), call: call, endpoint: endpoint)
    }

    /// `serialNumber` and `tokenCode` are the MFA device and its current code.
    public func getSessionToken(_ credentials: AWSCredentials, durationSeconds: Int?, serialNumber: String? = nil,
                                tokenCode: Secret? = nil) throws -> STSCredentials {
        var params: [(String, String)] = []
        if let durationSeconds { params.append(("DurationSeconds", String(durationSeconds))) }
        if let serialNumber { params.append(("SerialNumber", serialNumber)) }
        if let tokenCode { params.append(("TokenCode", tokenCode.reveal())) }
        var call = Call(action: "GetSessionToken", target: nil, credentials: credentials)
        call.secrets += [tokenCode?.reveal()].compactMap { $0 }
        return try Self.credentials(in: perform(call, params), call: call, endpoint: endpoint)
    }

    /// Long-lived IAM user keys only (AWS refuses session credentials). `policy`: the session
    /// policy (without one the federated session may do nothing).
    public func getFederationToken(_ credentials: AWSCredentials, name: String, durationSeconds: Int, policy: String) throws -> STSCredentials {
        let params: [(String, String)] = [("Name", name), ("DurationSeconds", String(durationSeconds)), ("Policy", policy)]
        let call = Call(action: "GetFederationToken", target: nil, credentials: credentials)
        return try Self.credentials(in: perform(call, params), call: call, endpoint: endpoint)
    }

    /// Unsigned, as AWS defines it: the web identity token is the proof.
    public func assumeRoleWithWebIdentity(roleARN: String, sessionName: String, webIdentityToken: Secret,
                                          durationSeconds: Int) throws -> STSCredentials {
        let params: [(String, String)] = [
            ("RoleArn", roleARN), ("RoleSessionName", sessionName), ("WebIdentityToken", webIdentityToken.reveal()),
            ("DurationSeconds", String(durationSeconds)),
        ]
        var call = Call(action: "AssumeRoleWithWebIdentity", target: roleARN, credentials: nil)
        call.secrets.append(webIdentityToken.reveal())
        return try Self.credentials(in: perform(call, params), call: call, endpoint: endpoint)
    }

    /// Unsigned, as AWS defines it: the SAML assertion (base64) is the proof.
    public func assumeRoleWithSAML(roleARN: String, principalARN: String, samlAssertion: Secret,
                                   durationSeconds: Int) throws -> STSCredentials {
        let params: [(String, String)] = [
            ("RoleArn", roleARN), ("PrincipalArn", principalARN), ("SAMLAssertion", samlAssertion.reveal()),
            ("DurationSeconds", String(durationSeconds)),
        ]
        var call = Call(action: "AssumeRoleWithSAML", target: roleARN, credentials: nil)
        call.secrets.append(samlAssertion.reveal())
        return try Self.credentials(in: perform(call, params), call: call, endpoint: endpoint)
    }

    public func getCallerIdentity(_ credentials: AWSCredentials) throws -> CallerIdentity {
        let call = Call(action: "GetCallerIdentity", target: nil, credentials: credentials)
        return try Self.callerIdentity(in: perform(call, []), call: call, endpoint: endpoint)
    }

    // MARK: - One call, with retries

    /// What an error message may say about a call, and what it must never say.
    struct Call {
        var action: String
        /// The role being assumed, for messages.
        var target: String?
        var credentials: AWSCredentials?
        /// Strings that must not appear in any message, whatever the server echoes back.
        var secrets: [String]

        init(action: String, target: String?, credentials: AWSCredentials?) {
            self.action = action
            self.target = target
            self.credentials = credentials
            secrets = [credentials?.secretAccessKey.reveal(), credentials?.sessionToken?.reveal()].compactMap { $0 }
        }

        /// `sts AssumeRole of arn:…:role/x with access key ****************ABCD`.
        var subject: String {
            var text = "sts \(action)"
            if let target { text += " of \(STSEndpoint.printable(target))" }
            if let key = credentials?.accessKeyID { text += " with access key \(Secret.masked(key))" }
            return text
        }

        /// Printable ASCII, whitespace collapsed, every secret of this call replaced by `<redacted>`,
        /// the access key id masked, and at most `limit` characters.
        func sanitized(_ text: String, limit: Int = 300) -> String {
            var cleaned = scrubbedForMessage(text, removing: secrets, minimumSecretLength: 4, limit: .max)
            if let key = credentials?.accessKeyID, key.count >= 4 {
                cleaned = String(decoding: replacingOccurrences(of: Array(key.utf8), with: Array(Secret.masked(key).utf8),
                                                                in: Array(cleaned.utf8)), as: UTF8.self)
            }
            return scrubbedForMessage(cleaned, removing: [], minimumSecretLength: 4, limit: limit)
        }
    }

    /// The body of the first 2xx answer.
    func perform(_ call: Call, _ params: [(String, String)]) throws -> [UInt8] {
        let form = [("Action", call.action), ("Version", "2011-06-15")] + params
        // A space goes as '+', byte for byte what botocore and the Go SDK send; AWS reads both
        // forms, but moto re-encodes the body it verifies and would reject "%20". Every '%' in the
        // encoder's output starts an escape, so "%20" can only be an encoded space.
        let body = Array(AWSURIEncoding.formBody(form.map { (name: $0.0, value: $0.1) })
            .replacingOccurrences(of: "%20", with: "+").utf8)
        // A URL with no path posts to "/", as the SDKs do; one with a path (a proxy prefix) posts there.
        let hasPath = !(URLComponents(string: endpoint.url)?.percentEncodedPath.isEmpty ?? true)
        let target = hasPath ? endpoint.url : endpoint.url + "/"
        guard let url = URL(string: target),
              let unsigned = SigV4Request(method: "POST", url: url, headers: [
                  (name: "Content-Type", value: "application/x-www-form-urlencoded; charset=utf-8"),
              ], body: body) else {
            throw BrokerFailure(.config, "the STS endpoint \"\(STSEndpoint.printable(endpoint.url))\" is not a URL",
                                hint: "set an endpoint such as https://sts.\(endpoint.region).amazonaws.com")
        }

        var attempt = 1
        while true {
            // Signed afresh on every attempt, so X-Amz-Date stays current across backoff pauses.
            let headers: [(name: String, value: String)]
            if let credentials = call.credentials {
                let signed = SigV4Signer(service: "sts", region: endpoint.region)
                    .sign(unsigned, credentials: credentials, date: clock())
                headers = signed.headersForSending()
            } else {
                headers = unsigned.headers
            }
            RequestCounter.shared.increment()
            let outcome = HTTPExchange.post(url: url, headers: headers, body: body, timeout: timeout)

            let failure: Error
            let retryable: Bool
            switch outcome {
            case .response(let status, let responseBody):
                if (200..<300).contains(status) { return responseBody }
                let error = Self.error(status: status, body: responseBody, call: call, endpoint: endpoint)
                failure = error
                retryable = RetryPolicy.isRetryable(error)
            case .transport(let problem):
                failure = BrokerFailure(
                    .unavailable, "cannot reach STS at \(STSEndpoint.printable(endpoint.url)): \(problem.reason)",
                    hint: "check the network connection and the STS endpoint "
                        + "(the identity's endpoint setting, AWS_ENDPOINT_URL_STS or AWS_ENDPOINT_URL)")
                retryable = problem.retryable
            }
            guard retryable && attempt < retry.maxAttempts else { throw failure }
            let pause = retry.delay(afterAttempt: attempt)
            if pause > 0 { Thread.sleep(forTimeInterval: pause) }
            attempt += 1
        }
    }

    // MARK: - Answers

    static func credentials(in body: [UInt8], call: Call, endpoint: STSEndpoint) throws -> STSCredentials {
        guard let result = XMLText(bytes: body).element(call.action + "Result") else {
            throw invalidResponse(call: call, endpoint: endpoint, status: 200,
                                  why: "the answer has no \(call.action)Result", body: body)
        }
        guard let block = result.element("Credentials") else {
            throw invalidResponse(call: call, endpoint: endpoint, status: 200,
                                  why: "the answer has no Credentials", body: nil)
        }
        func field(_ name: String) throws -> String {
            guard let value = block.text(name).map(trimmed), !value.isEmpty else {
                // Never quote this body: it may hold the very secrets it failed to deliver whole.
                throw invalidResponse(call: call, endpoint: endpoint, status: 200,
                                      why: "the answer's Credentials have no \(name)", body: nil)
            }
            return value
        }
        let accessKeyID = try field("AccessKeyId")
        let secret = try field("SecretAccessKey")
        let token = try field("SessionToken")
        let expirationText = try field("Expiration")
        guard let expiration = unixSeconds(iso8601: expirationText) else {
            throw invalidResponse(call: call, endpoint: endpoint, status: 200,
                                  why: "the Expiration \"\(call.sanitized(expirationText, limit: 40))\" is not an ISO 8601 time",
                                  body: nil)
        }
        let arn = (result.element("AssumedRoleUser") ?? result.element("FederatedUser"))?.text("Arn").map(trimmed)
        return STSCredentials(
            credentials: AWSCredentials(accessKeyID: accessKeyID, secretAccessKey: Secret(secret), sessionToken: Secret(token)),
            expiration: expiration, assumedRoleARN: arn.flatMap { $0.isEmpty ? nil : $0 })
    }

    static func callerIdentity(in body: [UInt8], call: Call, endpoint: STSEndpoint) throws -> CallerIdentity {
        guard let result = XMLText(bytes: body).element("GetCallerIdentityResult") else {
            throw invalidResponse(call: call, endpoint: endpoint, status: 200,
                                  why: "the answer has no GetCallerIdentityResult", body: body)
        }
        guard let arn = result.text("Arn").map(trimmed), let account = result.text("Account").map(trimmed),
              let userID = result.text("UserId").map(trimmed), !arn.isEmpty, !account.isEmpty else {
            throw invalidResponse(call: call, endpoint: endpoint, status: 200,
                                  why: "the GetCallerIdentityResult lacks Arn, Account or UserId", body: nil)
        }
        return CallerIdentity(arn: arn, account: account, userID: userID)
    }

    /// An STS error answer (`<ErrorResponse><Error><Code>…`, AWS's shape, or moto's with `<Errors>`
    /// between) made into a sentence and a hint; anything else is "InvalidResponse".
    static func error(status: Int, body: [UInt8], call: Call, endpoint: STSEndpoint) -> STSError {
        let document = XMLText(bytes: body)
        guard let error = document.element("Error"),
              let code = error.text("Code").map(trimmed), !code.isEmpty,
              code.utf8.allSatisfy({ (0x21...0x7e).contains($0) }), code.count <= 100 else {
            return invalidResponse(call: call, endpoint: endpoint, status: status,
                                   why: "HTTP \(status) without an STS error", body: body)
        }
        let serverMessage = error.text("Message").map { call.sanitized($0) } ?? ""
        let message = "\(call.subject) failed: \(code)" + (serverMessage.isEmpty ? "" : ": \(serverMessage)")
        return STSError(code: code, message: message, hint: hint(code: code, region: endpoint.region, action: call.action), httpStatus: status)
    }

    static func hint(code: String, region: String, action: String = "AssumeRole") -> String? {
        let userCall = action == "GetFederationToken" || action == "GetSessionToken"
        switch code {
        case "AccessDenied" where userCall, "AccessDeniedException" where userCall:
            return "allow sts:\(action) in the IAM user's policy"
        case "AccessDenied", "AccessDeniedException":
            return "check the role's trust policy (and ExternalId / MFA conditions) and the caller's sts:AssumeRole permission"
        case "ExpiredToken", "ExpiredTokenException":
            return "the source credentials have expired; refresh them, or run brokerctl logout to drop cached ones"
        case "InvalidClientTokenId":
            return "the access key id is not valid (deleted key, wrong partition, or a session token is missing)"
        case "SignatureDoesNotMatch":
            return "the secret access key does not match the access key id"
        case "RegionDisabled", "RegionDisabledException":
            return "activate STS in that region (\(region)) or use another region"
        default:
            // MalformedPolicyDocument, ValidationError and the rest: STS's own message says it best.
            return nil
        }
    }

    /// `body`, when given, is quoted (at most 200 printable characters) unless it looks like it
    /// holds credentials.
    static func invalidResponse(call: Call, endpoint: STSEndpoint, status: Int, why: String, body: [UInt8]?) -> STSError {
        var message = "\(call.subject): STS at \(STSEndpoint.printable(endpoint.url)) sent an answer we cannot read: \(why)"
        if let bytes = body {
            // Only the head is ever shown; decoding the whole of a huge body would be wasted work.
            let body = String(decoding: bytes.prefix(64 * 1024), as: UTF8.self)
            let excerpt = call.sanitized(body, limit: 200)
            if body.contains("SecretAccessKey") || body.contains("SessionToken") {
                message += " (body not shown: it may hold credentials)"
            } else if !excerpt.isEmpty {
                message += " (body starts: \(excerpt))"
            }
        }
        return STSError(code: "InvalidResponse", message: message,
                        hint: "check that the STS endpoint points at AWS STS (or a compatible server), not at a proxy or portal page",
                        httpStatus: status)
    }

    /// An `Expiration` as Unix seconds: the shared RFC 3339 parser, `T` between date and time.
    static func unixSeconds(iso8601 text: String) -> Int64? {
        parseRFC3339(text, allowingSpaceSeparator: false)
    }
}

private func trimmed(_ text: String) -> String {
    text.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Counts upstream requests across all clients.
final class RequestCounter: @unchecked Sendable {
    static let shared = RequestCounter()
    private let lock = NSLock()
    private var count = 0

    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }

    func increment() {
        lock.lock()
        count += 1
        lock.unlock()
    }
}

