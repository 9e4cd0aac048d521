// What the Azure kinds share: the Microsoft identity platform's v2 token endpoint, client
// assertions, the settings naming an app registration, and what broker-env-wrap delivers.

import BrokerWire
import Foundation

extension KindFamily {
    public static let azure = KindFamily(
        title: "AZURE IDENTITY KINDS",
        introduction: [
            "Azure kinds give an OAuth access token for one resource (`resource`, default Azure Resource Manager, `https://management.azure.com`) from the Microsoft identity platform's v2 token endpoint, `AUTHORITY/TENANT/oauth2/v2.0/token` with scope `RESOURCE/.default`. broker-env-wrap(1) hands the token to the wrapped command the way Azure's SDKs look for it: an App Service style managed-identity endpoint on 127.0.0.1 (`IDENTITY_ENDPOINT` and `IDENTITY_HEADER`, the default), or, for federated identities, a workload-identity token file (`--delivery file`: `AZURE_FEDERATED_TOKEN_FILE`). It also sets `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and terraform's `ARM_TENANT_ID`, `ARM_CLIENT_ID`; an azure/subscription identity adds the subscription and location. git receives the token as the password for Azure DevOps (`dev.azure.com`) when an identity is bound there.",
        ])
}

/// Where the identity platform lives and which app registration asks: the settings the
/// app-registration kinds share.
public struct AzureApplication: Sendable, Equatable {
    public static let defaultAuthority = "https://login.microsoftonline.com"
    public static let defaultResource = "https://management.azure.com"

    public static let tenantSpec = SettingSpec("tenant-id", "TENANT", required: true, "the directory (tenant) ID or domain the app registration lives in",
                                               details: "The directory (tenant) ID, a GUID, or a verified domain such as `contoso.onmicrosoft.com`.")
    public static let clientSpec = SettingSpec("client-id", "GUID", required: true, "the app registration's application (client) ID")
    public static let authoritySpec = SettingSpec("authority", "URL", "the identity platform (default https://login.microsoftonline.com)",
                                                  details: "The Microsoft identity platform's host: default `https://login.microsoftonline.com`; `https://login.microsoftonline.us` for US Government, `https://login.chinacloudapi.cn` for China. Plain http is refused except to a loopback address, and redirects are not followed, since the requests carry the secret or assertion.")
    public static let resourceSpec = SettingSpec("resource", "URI", "the resource the token is for (default https://management.azure.com)",
                                                 details: "The resource (audience) of the token: default Azure Resource Manager, `https://management.azure.com`; an application ID names one too (Azure DevOps, for git: `499b84ac-1321-427f-aa17-267ca6975798`). The scope asked for is `RESOURCE/.default`; the managed-identity endpoint answers only requests for this resource.")
    public static var specs: [SettingSpec] { [tenantSpec, clientSpec, authoritySpec, resourceSpec] }

    public let tenant: String
    public let clientID: String
    public let authority: String
    public let resource: String

    public init(_ definition: IdentityDefinition) throws {
        let (tenantText, tenantLocation) = try definition.require("tenant-id")
        guard Self.isTenant(tenantText) else {
            throw ConfigError("tenant-id must be a directory ID (a GUID) or a domain, not \"\(STSEndpoint.printable(tenantText))\"", at: tenantLocation,
                              hint: "find it under Microsoft Entra ID → Overview → Tenant ID")
        }
        tenant = tenantText
        let (clientText, clientLocation) = try definition.require("client-id")
        guard Self.isGUID(clientText) else {
            throw ConfigError("client-id must be the application (client) ID, a GUID such as 00000000-0000-0000-0000-000000000000", at: clientLocation,
                              hint: "find it on the app registration's Overview page")
        }
        clientID = clientText.lowercased()
        authority = try Self.authority(definition)
        resource = try Self.resource(definition)
    }

    public var tokenURL: String { "\(authority)/\(tenant)/oauth2/v2.0/token" }
    public var scope: String { resource + "/.default" }
    public var endpoint: AzureTokenEndpoint { AzureTokenEndpoint(authority: authority, tenant: tenant) }
    public var delivery: AzureDelivery { AzureDelivery(tenant: tenant, clientID: clientID, authority: authority, resource: resource) }

    public var cacheParameters: [CacheParameter] {
        [CacheParameter("authority", authority), CacheParameter("tenant-id", tenant.lowercased()),
         CacheParameter("client-id", clientID), CacheParameter("resource", resource)]
    }

    public var upstreams: [UpstreamService] { [UpstreamService(name: "Microsoft identity platform", url: authority)] }

    /// The client-credentials grant with a client assertion (a certificate's JWT, a federated token).
    func assertionGrant(_ assertion: Secret) -> [(String, String)] {
        [("grant_type", "client_credentials"), ("client_id", clientID), ("client_assertion_type", AzureTokenEndpoint.assertionType),
         ("client_assertion", assertion.reveal()), ("scope", scope)]
    }

    /// An optional `tenant-id` (a GUID or a domain), checked at its line.
    static func optionalTenant(_ definition: IdentityDefinition) throws -> String? {
        guard let entry = definition.entry("tenant-id") else { return nil }
        guard let value = entry.value, isTenant(value) else {
            throw ConfigError("tenant-id must be a directory ID (a GUID) or a domain", at: entry.location)
        }
        return value
    }

    /// An optional `subscription-id`, checked at its line, in lower case.
    static func optionalSubscription(_ definition: IdentityDefinition) throws -> String? {
        guard let entry = definition.entry("subscription-id") else { return nil }
        guard let value = entry.value, isGUID(value) else {
            throw ConfigError("subscription-id must be a subscription ID, a GUID such as 00000000-0000-0000-0000-000000000000", at: entry.location,
                              hint: "az account list --output table shows them")
        }
        return value.lowercased()
    }

    static func authority(_ definition: IdentityDefinition) throws -> String {
        guard let entry = definition.entry("authority") else { return defaultAuthority }
        let text = entry.value ?? ""
        if let problem = AWSIdentityCenterProvider.problem(withURL: text, httpsOnly: false) {
            throw ConfigError("authority \"\(STSEndpoint.printable(text))\" is not usable: \(problem)", at: entry.location,
                              hint: "use https://login.microsoftonline.com (or your cloud's login host)")
        }
        var url = text
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    static func resource(_ definition: IdentityDefinition) throws -> String {
        guard let entry = definition.entry("resource") else { return defaultResource }
        let text = entry.value ?? ""
        guard let normalized = normalizedResource(text), text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw ConfigError("resource must be a URI such as https://management.azure.com or api://APP-ID, not \"\(STSEndpoint.printable(text))\"", at: entry.location)
        }
        return normalized
    }

    /// A resource or `RESOURCE/.default` scope in the one form the broker compares: no
    /// `/.default`, no trailing slash. nil when it is no URI at all.
    /// Bytes only: the managed-identity route runs this on every token request, and the
    /// Character-wise suffix tests, split and hex checks it was once made of cost more there than
    /// the AWS route's whole answer. Anything it accepts is printable ASCII.
    public static func normalizedResource(_ text: String) -> String? {
        var copy = text  // withUTF8 needs a var; a native string is not copied
        // How many leading bytes are the resource (the rest is `/.default` or slashes); nil when
        // it is no URI. A GUID comes back lower-cased.
        let kept: (count: Int, guid: String?)? = copy.withUTF8 { utf8 in
            var end = utf8.count
            if end >= defaultSuffix.count, UnsafeBufferPointer(rebasing: utf8[(end - defaultSuffix.count)...]).elementsEqual(defaultSuffix) {
                end -= defaultSuffix.count
            }
            while end > 0, utf8[end - 1] == UInt8(ascii: "/") { end -= 1 }
            let value = UnsafeBufferPointer(rebasing: utf8[..<end])
            // An application ID names a resource too: Azure DevOps is 499b84ac-1321-427f-aa17-267ca6975798.
            if isGUID(value) { return (end, String(decoding: value.map(\.asciiLowercased), as: UTF8.self)) }
            guard let colon = value.firstIndex(of: UInt8(ascii: ":")), colon != 0, colon + 1 != end else { return nil }
            for byte in value where byte <= 0x20 || byte >= 0x7f || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "#") { return nil }
            return (end, nil)
        }
        guard let kept else { return nil }
        if let guid = kept.guid { return guid }
        return kept.count == text.utf8.count ? text : String(decoding: text.utf8.prefix(kept.count), as: UTF8.self)
    }

    private static let defaultSuffix = Array("/.default".utf8)

    static func isGUID(_ text: String) -> Bool { isGUID(text.utf8) }

    /// 8-4-4-4-12 ASCII hex digits.
    static func isGUID<C: Collection<UInt8>>(_ bytes: C) -> Bool {
        var group = 0, run = 0
        for byte in bytes {
            let length = group == 0 ? 8 : group == 4 ? 12 : 4
            if byte == UInt8(ascii: "-") {
                guard group < 4, run == length else { return false }
                group += 1
                run = 0
            } else {
                guard run < length, (byte >= 48 && byte <= 57) || (byte | 0x20 >= 97 && byte | 0x20 <= 102) else { return false }
                run += 1
            }
        }
        return group == 4 && run == 12
    }

    /// A GUID, or a domain name: it becomes a path segment of the token URL.
    static func isTenant(_ text: String) -> Bool {
        isGUID(text) || (text.utf8.count <= 253 && text.contains(".") && !text.hasPrefix(".") && !text.contains("..")
            && text.utf8.allSatisfy { (0x61...0x7a).contains($0) || (0x41...0x5a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2d || $0 == 0x2e })
    }
}

/// What broker-env-wrap tells a wrapped command about an Azure identity, beyond its token.
public struct AzureDelivery: Sendable, Equatable {
    public var tenant: String?
    public var clientID: String?
    public var authority: String?
    public var resource: String?
    public var subscription: String?
    public var location: String?
    /// The identity can put a federated token in a workload-identity file (`--delivery file`).
    public var federated: Bool

    public init(tenant: String? = nil, clientID: String? = nil, authority: String? = nil, resource: String? = nil,
                subscription: String? = nil, location: String? = nil, federated: Bool = false) {
        self.tenant = tenant
        self.clientID = clientID
        self.authority = authority
        self.resource = resource
        self.subscription = subscription
        self.location = location
        self.federated = federated
    }

    /// This delivery with the gaps filled from the one beneath it (`via`).
    public func over(_ lower: AzureDelivery) -> AzureDelivery {
        AzureDelivery(tenant: tenant ?? lower.tenant, clientID: clientID ?? lower.clientID, authority: authority ?? lower.authority,
                      resource: resource ?? lower.resource, subscription: subscription ?? lower.subscription,
                      location: location ?? lower.location, federated: federated || lower.federated)
    }
}

/// An access token the identity platform issued.
public struct AzureToken: Sendable, Equatable {
    public var accessToken: Secret
    public var expiresAt: Int64
    public var refreshToken: Secret?

    public var credential: Credential { Credential(.token(accessToken, scheme: "Bearer"), expiresAt: expiresAt) }
}

/// `POST AUTHORITY/TENANT/oauth2/v2.0/token`, form-encoded, answering the OAuth 2.0 JSON.
public struct AzureTokenEndpoint: Sendable {
    public let authority: String
    public let tenant: String

    public var url: String { "\(authority)/\(tenant)/oauth2/v2.0/token" }

    /// Tokens longer than a day are nothing the platform issues; a larger `expires_in` is an
    /// answer we do not understand.
    static let longestLifetime: Int64 = 86400
    public static let assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

    /// Sends `form` and reads the token. `secrets` are scrubbed from any echo in an error.
    public func request(_ form: [(String, String)], purpose: String, secrets: [String], now: Int64) throws -> AzureToken {
        let outcome = post(form, path: url)
        switch outcome {
        case .transport(let problem):
            throw BrokerFailure(.unavailable, "\(purpose): cannot reach the Microsoft identity platform at \(authority): \(problem.reason)",
                                hint: problem.retryable ? "check the network, or the identity's authority" : "check the identity's authority and its TLS certificate")
        case .response(let status, let body):
            return try Self.token(status: status, body: body, purpose: purpose, secrets: secrets, now: now)
        }
    }

    func post(_ form: [(String, String)], path: String) -> HTTPExchange.Outcome {
        let body = Self.formEncoded(form)
        return HTTPExchange.post(url: URL(string: path)!, headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")],
                                 body: Array(body.utf8), timeout: 15)
    }

    static func formEncoded(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(SSOClient.percentEncoded($0.0))=\(SSOClient.percentEncoded($0.1))" }.joined(separator: "&")
    }

    /// Reads a token answer, or turns an error answer into a sentence (the platform's
    /// `AADSTS…` description says which check failed). Public for the fuzz target.
    public static func token(status: Int, body: [UInt8], purpose: String, secrets: [String], now: Int64) throws -> AzureToken {
        let object = (try? JSONSerialization.jsonObject(with: Data(body), options: [])) as? [String: Any]
        guard status == 200 else {
            throw refusal(status: status, object: object, purpose: purpose, secrets: secrets)
        }
        guard let object else { throw invalid(purpose, "it is not a JSON object") }
        guard let access = object["access_token"] as? String, !access.isEmpty else { throw invalid(purpose, "it has no access_token") }
        guard access.utf8.count <= 16384, access.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw invalid(purpose, "its access_token is not printable ASCII of at most 16 KiB")
        }
        if let type = object["token_type"] {
            guard let text = type as? String, text.lowercased() == "bearer" else { throw invalid(purpose, "its token_type is not Bearer") }
        }
        guard let lifetime = seconds(object["expires_in"]), lifetime > 0, lifetime <= longestLifetime else {
            throw invalid(purpose, "its expires_in is not a number of seconds between 1 and \(longestLifetime)")
        }
        var refresh: Secret?
        if let value = object["refresh_token"] {
            guard let text = value as? String, !text.isEmpty, text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
                throw invalid(purpose, "its refresh_token is not printable ASCII")
            }
            refresh = Secret(text)
        }
        return AzureToken(accessToken: Secret(access), expiresAt: now + lifetime, refreshToken: refresh)
    }

    /// The v1 endpoints and some proxies send numbers as strings.
    static func seconds(_ value: Any?) -> Int64? {
        if let number = value as? NSNumber, !(value is Bool) {
            let double = number.doubleValue
            guard double.isFinite, double == double.rounded(), abs(double) < 1e15 else { return nil }
            return Int64(double)
        }
        if let text = value as? String, text.utf8.count <= 15, !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { return Int64(text) }
        return nil
    }

    static func refusal(status: Int, object: [String: Any]?, purpose: String, secrets: [String]) -> BrokerFailure {
        let code = (object?["error"] as? String).map { scrubbedForMessage($0, removing: secrets, minimumSecretLength: 4, limit: 60) }
        let description = (object?["error_description"] as? String).map {
            // The first line is the sentence; the rest is trace and correlation IDs.
            scrubbedForMessage(String($0.split(separator: "\r\n").first ?? ""), removing: secrets, minimumSecretLength: 4, limit: 300)
        }
        var message = "\(purpose): the Microsoft identity platform answered HTTP \(status)"
        if let code, !code.isEmpty { message += ": \(code)" }
        if let description, !description.isEmpty { message += ": \(description)" }
        let hint: String?
        switch code {
        case "invalid_client"?: hint = "check client-id and the secret or certificate: is it current, and registered on that app?"
        case "unauthorized_client"?: hint = "check client-id and tenant-id: is the app registered in that tenant?"
        case "invalid_scope"?: hint = "check resource: the token is asked for RESOURCE/.default"
        case "invalid_request"?: hint = "check tenant-id and, for a federated credential, its issuer, subject and audience"
        default: hint = status >= 500 ? "the service failed; try again later" : nil
        }
        return BrokerFailure(status >= 500 ? .unavailable : (status == 400 || status == 401 ? .denied : .upstream), message, hint: hint)
    }

    static func invalid(_ purpose: String, _ why: String) -> BrokerFailure {
        BrokerFailure(.upstream, "\(purpose): the Microsoft identity platform's answer could not be used: \(why)")
    }
}

/// The JWT an app signs with its certificate's key to prove itself (a client assertion):
/// RS256, `x5t#S256` naming the certificate, `aud` the token endpoint, ten minutes.
public enum AzureClientAssertion {
    public static let lifetime: Int64 = 600

    public static func make(clientID: String, audience: String, key: RSAPrivateKey, certificateDER: [UInt8], now: Int64) throws -> Secret {
        let header = JSONValue.object([("alg", .string("RS256")), ("typ", .string("JWT")),
                                       ("x5t#S256", .string(base64URLEncoded(SHA256.hash(certificateDER))))])
        var generator = SystemRandomNumberGenerator()
        let jti = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        let claims = JSONValue.object([("aud", .string(audience)), ("iss", .string(clientID)), ("sub", .string(clientID)),
                                       ("jti", .string(jti)), ("nbf", .int(now - 30)), ("iat", .int(now - 30)), ("exp", .int(now + lifetime))])
        let input = base64URLEncoded(Array(header.encoded().utf8)) + "." + base64URLEncoded(Array(claims.encoded().utf8))
        let signature = try key.signPKCS1v15SHA256(Array(input.utf8))
        return Secret(input + "." + base64URLEncoded(signature))
    }

    /// The first certificate and the private key of a PEM bundle (what `az ad sp create-for-rbac
    /// --create-cert` writes and azure-identity's ClientCertificateCredential reads).
    public static func certificateAndKey(pem: String) throws -> (der: [UInt8], key: RSAPrivateKey) {
        let blocks: [PEMBlock]
        do { blocks = try PEMBlock.blocks(in: pem) } catch let error as PEMError {
            throw RSAKeyError("malformed PEM: \(error.reason)", hint: error.hint)
        }
        guard let certificate = blocks.first(where: { $0.label == "CERTIFICATE" }) else {
            throw RSAKeyError("it holds no certificate", hint: "put the PEM certificate (-----BEGIN CERTIFICATE-----) and its private key in one file, as azure-identity expects")
        }
        let der: [UInt8]
        do { der = try certificate.decoded() } catch let error as PEMError { throw RSAKeyError("malformed certificate PEM: \(error.reason)") }
        guard der.first == 0x30, der.count > 64 else { throw RSAKeyError("the certificate is not DER") }
        return (der, try RSAPrivateKey(pem: pem))
    }
}

/// An OIDC token that becomes a client assertion for a federated credential: from `via` or a reference.
public enum FederatedTokenSource: Sendable, Equatable {
    case upstream
    case reference(SecretReference)
}

/// A kind whose credential rests on a federated OIDC token it can also hand over as such: what
/// broker-env-wrap writes into a workload-identity token file (`AZURE_FEDERATED_TOKEN_FILE`).
public protocol AzureFederatedKind: ResolvedKind {
    /// The OIDC token, given the `via` identity's credential when the kind chains from one.
    func federatedToken(upstream: Credential?, context: ResolveContext) throws -> Secret
}

/// The `exp` claim of a JWT, read without verifying anything: only to know when to fetch a
/// new one. nil when the text is no JWT with a numeric `exp`.
public func unverifiedJWTExpiry(_ token: Secret) -> Int64? {
    let parts = token.reveal().split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 3 else { return nil }
    var text = String(parts[1]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while text.utf8.count % 4 != 0 { text += "=" }
    guard let data = Data(base64Encoded: text), let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
    return AzureTokenEndpoint.seconds(object["exp"])
}
