// Google Cloud's shared pieces: key files, the OAuth2 token endpoint, IAM Credentials and STS
// exchanges, and how their answers are read.

import BrokerWire
import Foundation

extension KindFamily {
    public static let gcp = KindFamily(title: "GOOGLE CLOUD IDENTITY KINDS", introduction: [
        "Google Cloud identities give an OAuth 2.0 access token and the service account it speaks for (the credential's user name; empty for a user's own login or a federated token without impersonation). broker-env-wrap hands it to a wrapped command through an emulated GCE metadata server (google-auth, gcloud and the client libraries find it through `GCE_METADATA_HOST`), or with `--delivery env` through `GOOGLE_OAUTH_ACCESS_TOKEN` and `CLOUDSDK_AUTH_ACCESS_TOKEN_FILE` (the file is rewritten before the token expires; the variable cannot be, being the running process's own environment, so it holds a token of an hour at most: long runs need the metadata server). git gets the token as the password for a `[git \"URL\"]` bound to the identity (Cloud Source Repositories).",
        "`scopes` (repeatable) are the OAuth scopes asked for; default `https://www.googleapis.com/auth/cloud-platform`. `project`, `region` and `zone` set the variables gcloud, the client libraries and terraform read (`CLOUDSDK_CORE_PROJECT`, `GOOGLE_CLOUD_PROJECT`, `CLOUDSDK_COMPUTE_REGION`, ...). `project-number` is what the metadata server reports as the numeric project ID; gcloud takes any number there as the sign that it runs on GCE (default 0).",
    ], commonSettings: ["scopes", "project", "region", "zone", "project-number"])
}

/// What a wrapped command learns besides the token: the project and location variables.
public struct GCPDelivery: Sendable, Equatable {
    public var project: String?
    public var projectNumber: String?
    public var region: String?
    public var zone: String?

    public init(project: String? = nil, projectNumber: String? = nil, region: String? = nil, zone: String? = nil) {
        self.project = project
        self.projectNumber = projectNumber
        self.region = region
        self.zone = zone
    }

    /// Settings every GCP kind takes, so any of them can carry its project.
    public static let specs = [
        SettingSpec("project", "PROJECT", "the project ID wrapped commands work in (CLOUDSDK_CORE_PROJECT, GOOGLE_CLOUD_PROJECT)"),
        SettingSpec("region", "REGION", "the default region (CLOUDSDK_COMPUTE_REGION, GOOGLE_CLOUD_REGION)"),
        SettingSpec("zone", "ZONE", "the default zone (CLOUDSDK_COMPUTE_ZONE, GOOGLE_CLOUD_ZONE)"),
        SettingSpec("project-number", "NUMBER", "the project number the metadata server reports (gcloud reads it as proof of GCE; default 0)"),
    ]

    public init(_ definition: IdentityDefinition) throws {
        for key in ["project", "region", "zone"] {
            if let entry = definition.entry(key), let value = entry.value,
               value.isEmpty || !value.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || "-_.:".unicodeScalars.contains($0) }) {
                throw ConfigError("\(key) must be letters, digits, '-', '_', '.' or ':'", at: entry.location)
            }
        }
        if let entry = definition.entry("project-number") {
            guard let value = entry.value, !value.isEmpty, value.allSatisfy(\.isNumber), value.count <= 20 else {
                throw ConfigError("project-number must be digits", at: entry.location)
            }
        }
        self.init(project: definition.value("project"), projectNumber: definition.value("project-number"),
                  region: definition.value("region"), zone: definition.value("zone"))
    }

    /// Later values (an outer gcp/project) win over the ones they wrap.
    public func overlaid(by other: GCPDelivery) -> GCPDelivery {
        GCPDelivery(project: other.project ?? project, projectNumber: other.projectNumber ?? projectNumber,
                    region: other.region ?? region, zone: other.zone ?? zone)
    }
}

/// OAuth scopes: the `scopes` setting, or cloud-platform.
public enum GCPScopes {
    public static let cloudPlatform = "https://www.googleapis.com/auth/cloud-platform"
    public static let spec = SettingSpec("scopes", "SCOPE", repeatable: true, "an OAuth scope to ask for (default cloud-platform)")

    public static func of(_ definition: IdentityDefinition) -> [String] {
        let given = definition.values("scopes").flatMap { $0.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init) }
        return given.isEmpty ? [cloudPlatform] : given
    }
}

/// A Google endpoint URL from a setting: https, or plain http to loopback only (the test fakes).
enum GCPEndpoint {
    static func url(_ definition: IdentityDefinition, key: String, default fallback: String) throws -> String {
        guard let entry = definition.entry(key), let value = entry.value else { return fallback }
        do {
            return try STSEndpoint.validURL(value, source: key)
        } catch let error as BrokerFailure {
            throw ConfigError(error.message, at: entry.location)
        }
    }
}

/// A Google Cloud credential: the access token as the password, the service account's email
/// (or nothing) as the user name, so git and env exports take it as they are.
public enum GCPCredential {
    public static func make(email: String?, token: Secret, expiresAt: Int64, persistable: Bool = true) -> Credential {
        Credential(.password(username: email ?? "", password: token), expiresAt: expiresAt, persistable: persistable)
    }

    /// The access token of a credential from another GCP identity (`via`), or the sentence saying it gives none.
    static func accessToken(_ upstream: Credential?, identity: String) throws -> (email: String, token: Secret) {
        guard let given = upstream?.password else {
            throw BrokerFailure(.config, "identity \"\(identity)\" needs a Google Cloud access token from its via identity, which gives \(upstream?.type.rawValue ?? "nothing")",
                                hint: "chain from an identity of kind gcp/...")
        }
        return (given.username, given.password)
    }
}

/// A service-account key file (`"type": "service_account"`), read strictly: every field the
/// JWT-bearer grant needs, and a private key that parses.
public struct GCPServiceAccountKey: Sendable {
    public var clientEmail: String
    public var privateKeyID: String
    public var privateKey: RSAPrivateKey
    public var tokenURI: String
    public var projectID: String?

    public static let defaultTokenURI = "https://oauth2.googleapis.com/token"

    /// `source` names where the text came from (a secret reference's description), never its content.
    public static func parse(_ text: Secret, source: String) throws -> GCPServiceAccountKey {
        let object = try GCPJSON.object(text.reveal(), what: "the service-account key from \(source)",
                                        hint: "use the JSON file `gcloud iam service-accounts keys create` writes")
        return try parse(object, source: source)
    }

    static func parse(_ object: JSONValue, source: String) throws -> GCPServiceAccountKey {
        func field(_ name: String) throws -> String {
            guard let value = object[member: name]?.stringValue, !value.isEmpty else {
                throw BrokerFailure(.config, "the service-account key from \(source) has no \"\(name)\"",
                                    hint: "use the JSON file `gcloud iam service-accounts keys create` writes")
            }
            return value
        }
        let type = object[member: "type"]?.stringValue
        guard type == "service_account" else {
            throw BrokerFailure(.config, "the key from \(source) is of type \"\(WireCodec.printable(type ?? "none", limit: 40))\", not service_account",
                                hint: "a user's login is kind gcp/adc; a workload identity configuration is kind gcp/workload-identity-federation")
        }
        let email = try field("client_email")
        let keyID = try field("private_key_id")
        let pem = try field("private_key")
        let key: RSAPrivateKey
        do {
            key = try RSAPrivateKey(pem: pem)
        } catch let error as RSAKeyError {
            throw BrokerFailure(.config, "the private_key of the service-account key from \(source) cannot be used: \(error.message)",
                                hint: "download a fresh key; the file may have been edited")
        }
        let tokenURI = object[member: "token_uri"]?.stringValue ?? defaultTokenURI
        do {
            _ = try STSEndpoint.validURL(tokenURI, source: "token_uri")
        } catch let error as BrokerFailure {
            throw BrokerFailure(.config, "the token_uri of the service-account key from \(source) is refused: \(error.message)")
        }
        guard email.contains("@"), email.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw BrokerFailure(.config, "the client_email of the service-account key from \(source) is not an email address")
        }
        return GCPServiceAccountKey(clientEmail: email, privateKeyID: keyID, privateKey: key, tokenURI: tokenURI,
                                    projectID: object[member: "project_id"]?.stringValue)
    }

    /// The JWT-bearer assertion (RFC 7523) Google's token endpoint takes: RS256, `kid` naming
    /// the key, one hour from `iat`. With `targetAudience` it asks for an ID token instead.
    public func assertion(scopes: [String], targetAudience: String? = nil, now: Int64) throws -> Secret {
        let header = JSONValue.object([("alg", .string("RS256")), ("typ", .string("JWT")), ("kid", .string(privateKeyID))])
        var claims: [(String, JSONValue)] = [("iss", .string(clientEmail))]
        if let targetAudience {
            claims.append(("target_audience", .string(targetAudience)))
        } else {
            claims.append(("scope", .string(scopes.joined(separator: " "))))
        }
        claims += [("aud", .string(tokenURI)), ("iat", .int(now)), ("exp", .int(now + 3600))]
        let input = base64URLEncoded(Array(header.encoded().utf8)) + "." + base64URLEncoded(Array(JSONValue.object(claims).encoded().utf8))
        let signature = try privateKey.signPKCS1v15SHA256(Array(input.utf8))
        return Secret(input + "." + base64URLEncoded(signature))
    }

    /// The JWT-bearer grant at the key's token_uri: an access token for `scopes`, or with
    /// `idTokenAudience` the ID token Google answers a `target_audience` assertion with.
    func obtain(scopes: [String], idTokenAudience: String?, now: Int64) throws -> Credential {
        let answer = try GCPClient.tokenRequest(tokenURI, form: [
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", try assertion(scopes: scopes, targetAudience: idTokenAudience, now: now).reveal()),
        ], what: "Google's token endpoint", now: now)
        guard let token = idTokenAudience == nil ? answer.accessToken : answer.idToken else {
            throw BrokerFailure(.upstream, "Google's token endpoint answered without an \(idTokenAudience == nil ? "access_token" : "id_token")")
        }
        return GCPCredential.make(email: clientEmail, token: token, expiresAt: answer.expiresAt)
    }
}

/// JSON documents from files and upstreams, with errors that name the document and never quote it.
enum GCPJSON {
    static func object(_ text: String, what: String, hint: String) throws -> JSONValue {
        let value: JSONValue
        do {
            value = try JSONValue.parse(text)
        } catch {
            throw BrokerFailure(.config, "\(what) is not JSON", hint: hint)
        }
        guard case .object = value else { throw BrokerFailure(.config, "\(what) is not a JSON object", hint: hint) }
        return value
    }
}

/// An access token (and perhaps an ID token) as Google's token endpoints answer.
public struct GCPTokenAnswer: Sendable {
    public var accessToken: Secret?
    public var idToken: Secret?
    public var expiresAt: Int64
}

/// Calls to Google's OAuth 2.0 token endpoint, STS and IAM Credentials, with their answers read
/// strictly and their errors made into sentences.
public enum GCPClient {
    static let timeout = 15.0

    /// The form fields whose values are secrets: an error answer that quotes one shows `<redacted>`.
    static let secretFields: Set<String> = ["client_secret", "refresh_token", "assertion", "subject_token"]

    /// `POST` an `application/x-www-form-urlencoded` body to a token endpoint (OAuth2 or STS).
    static func tokenRequest(_ url: String, form: [(String, String)], what: String, now: Int64) throws -> GCPTokenAnswer {
        let body = form.map { "\(formEncoded($0.0))=\(formEncoded($0.1))" }.joined(separator: "&")
        let (status, answer) = try send(url, headers: [(name: "Content-Type", value: "application/x-www-form-urlencoded")],
                                        body: Array(body.utf8), what: what)
        return try parseTokenAnswer(status: status, body: answer, what: what, now: now,
                                    secrets: form.filter { secretFields.contains($0.0) }.map(\.1))
    }

    /// The hint for a success answer that is not a token answer Google gives.
    static let notToken = "this is not what Google's token endpoints answer; check the identity's endpoint setting (token-uri, sts-endpoint, the key's token_uri)"

    /// Tokens longer than this are nothing Google issues (its JWTs are a few KiB).
    static let longestToken = 16 * 1024

    /// `POST` JSON with a bearer token (IAM Credentials).
    static func jsonRequest(_ url: String, bearer: Secret, body: JSONValue, what: String) throws -> (Int, [UInt8]) {
        try send(url, headers: [(name: "Content-Type", value: "application/json"), (name: "Authorization", value: "Bearer " + bearer.reveal())],
                 body: Array(body.encoded().utf8), what: what)
    }

    static func send(_ url: String, headers: [(name: String, value: String)], body: [UInt8], what: String) throws -> (Int, [UInt8]) {
        guard let target = URL(string: url) else { throw BrokerFailure(.config, "the \(what) URL \"\(STSEndpoint.printable(url))\" is not a URL") }
        RequestCounter.shared.increment()
        switch HTTPExchange.post(url: target, headers: headers, body: body, timeout: timeout) {
        case .transport(let problem):
            throw BrokerFailure(.unavailable, "cannot reach \(what) at \(STSEndpoint.printable(url)): \(problem.reason)",
                                hint: "check the network and the endpoint setting")
        case .response(let status, let answer):
            return (status, answer)
        }
    }

    /// Reads `{access_token | id_token, expires_in}` or an OAuth error; `secrets` (what the
    /// request carried) are never quoted from an error. Public for the bad-input tests.
    public static func parseTokenAnswer(status: Int, body: [UInt8], what: String, now: Int64, secrets: [String] = []) throws -> GCPTokenAnswer {
        let object = try? JSONValue.parse(body)
        guard (200..<300).contains(status) else { throw errorAnswer(status: status, object: object, what: what, secrets: secrets) }
        guard let object, case .object = object else {
            throw BrokerFailure(.upstream, "\(what) answered HTTP \(status) with something that is not a JSON object", hint: notToken)
        }
        let access = object[member: "access_token"]?.stringValue
        let id = object[member: "id_token"]?.stringValue
        guard access?.isEmpty == false || id?.isEmpty == false else {
            throw BrokerFailure(.upstream, "\(what) answered without an access_token", hint: notToken)
        }
        for token in [access, id].compactMap({ $0 }) {
            guard token.utf8.count <= longestToken else {
                throw BrokerFailure(.upstream, "\(what) answered with a token longer than \(longestToken / 1024) KiB", hint: notToken)
            }
            guard token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
                throw BrokerFailure(.upstream, "\(what) answered with a token holding spaces or control characters", hint: notToken)
            }
        }
        let lifetime: Int64
        switch object[member: "expires_in"] {
        case .int(let seconds)?: lifetime = seconds
        case .string(let text)?: lifetime = Int64(text) ?? -1
        case nil where id != nil && access == nil: lifetime = GCPIDToken.lifetime(id!) ?? 3600
        default: lifetime = -1
        }
        guard lifetime > 0, lifetime <= 86400 * 2 else {
            throw BrokerFailure(.upstream, "\(what) answered with an expires_in that is not a positive number of seconds", hint: notToken)
        }
        return GCPTokenAnswer(accessToken: access.map(Secret.init), idToken: id.map(Secret.init), expiresAt: now + lifetime)
    }

    /// An OAuth error (`{"error", "error_description"}`) or Google's API error
    /// (`{"error": {"code", "message", "status"}}`) as one sentence with a hint.
    static func errorAnswer(status: Int, object: JSONValue?, what: String, secrets: [String] = []) -> BrokerFailure {
        // Not Google's own error shape: a proxy's page, a load balancer's 502, another service.
        guard let object, case .object = object else {
            return status >= 500
                ? BrokerFailure(.unavailable, "\(what) answered HTTP \(status) without an OAuth error (the body is not JSON)",
                                hint: "the service, or a proxy on the way to it, is failing; retry later")
                : BrokerFailure(.upstream, "\(what) answered HTTP \(status) without an OAuth error (the body is not JSON)",
                                hint: "check the endpoint setting: it must name Google's service, not a web page")
        }
        var code = "HTTP \(status)"
        var message = ""
        if let error = object[member: "error"] {
            if let text = error.stringValue {
                code = text
                message = object[member: "error_description"]?.stringValue ?? ""
            } else {
                code = error[member: "status"]?.stringValue ?? code
                message = error[member: "message"]?.stringValue ?? ""
            }
        }
        let sentence = "\(what) refused: \(scrubbedForMessage(code, removing: secrets, minimumSecretLength: 4, limit: 60))"
            + (message.isEmpty ? "" : ": \(scrubbedForMessage(message, removing: secrets, minimumSecretLength: 4, limit: 300))")
        switch (status, code) {
        case (_, "invalid_grant"):
            return BrokerFailure(.denied, sentence, hint: "the key or refresh token is revoked, expired or for another token endpoint; make a new one")
        case (403, _), (_, "PERMISSION_DENIED"):
            return BrokerFailure(.denied, sentence, hint: "grant roles/iam.serviceAccountTokenCreator on the target to the calling identity (and to each delegate)")
        case (401, _), (_, "UNAUTHENTICATED"):
            return BrokerFailure(.denied, sentence, hint: "the calling token is expired or not accepted")
        case (400, _):
            return BrokerFailure(.upstream, sentence, hint: "check the identity's settings (audience, scopes, lifetime)")
        default:
            return BrokerFailure(.upstream, sentence)
        }
    }

    /// application/x-www-form-urlencoded, spaces as `+` (what Google's SDKs send).
    static func formEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "*"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: " "):
                out += "+"
            default:
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }
}

/// ID tokens: only what the broker needs to know of one (its expiry), read without trusting it.
enum GCPIDToken {
    static func lifetime(_ token: String, now: Int64 = Int64(Date().timeIntervalSince1970)) -> Int64? {
        let parts = token.split(separator: ".")
        guard parts.count == 3, let claims = base64URLDecoded(String(parts[1])), let object = try? JSONValue.parse(claims),
              case .int(let exp)? = object[member: "exp"] else { return nil }
        return exp - now
    }

    static func base64URLDecoded(_ text: String) -> [UInt8]? {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.count % 4 != 0 { standard += "=" }
        return Data(base64Encoded: standard).map { Array($0) }
    }
}
