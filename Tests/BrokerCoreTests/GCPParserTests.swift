// Bad input for the Google Cloud parsers: key files and token answers, each refused with a
// sentence that names the document (never quotes a secret) and a hint.

@testable import BrokerCore
import BrokerWire
import Foundation
import XCTest

final class GCPParserTests: XCTestCase {
    static let pem: String = {
        // A throwaway 2048-bit key (the smallest the broker accepts); the signature tests live in GoogleCloudTests.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["genrsa", "2048"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try? process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }()

    func key(_ fields: [String: Any]) -> Secret {
        var document: [String: Any] = ["type": "service_account", "client_email": "sa@p.iam.gserviceaccount.com",
                                       "private_key_id": "abc123", "private_key": Self.pem, "token_uri": "https://oauth2.googleapis.com/token"]
        for (name, value) in fields { document[name] = value is NSNull ? nil : value }
        return Secret(String(decoding: try! JSONSerialization.data(withJSONObject: document), as: UTF8.self))
    }

    func refusal(_ text: Secret) -> BrokerFailure? {
        do { _ = try GCPServiceAccountKey.parse(text, source: "file:/k.json"); return nil } catch { return error as? BrokerFailure }
    }

    func testAGoodKeyParsesAndSignsAnAssertionNamingItsKey() throws {
        let parsed = try GCPServiceAccountKey.parse(key([:]), source: "file:/k.json")
        let assertion = try parsed.assertion(scopes: ["s1", "s2"], now: 1_000_000).reveal()
        let parts = assertion.split(separator: ".").map(String.init)
        XCTAssertEqual(parts.count, 3)
        let header = try JSONValue.parse(Array(GCPIDToken.base64URLDecoded(parts[0]) ?? []))
        XCTAssertEqual(header[member: "kid"]?.stringValue, "abc123")
        XCTAssertEqual(header[member: "alg"]?.stringValue, "RS256")
        let claims = try JSONValue.parse(Array(GCPIDToken.base64URLDecoded(parts[1]) ?? []))
        XCTAssertEqual(claims[member: "scope"]?.stringValue, "s1 s2")
        XCTAssertEqual(claims[member: "aud"]?.stringValue, "https://oauth2.googleapis.com/token")
        XCTAssertEqual(claims[member: "exp"], .int(1_003_600))
    }

    func testBadKeyFilesAreRefusedWithASentenceThatQuotesNothingSecret() {
        let rows: [(String, Secret, String)] = [
            ("not JSON", Secret("-----BEGIN PRIVATE KEY-----"), "the service-account key from file:/k.json is not JSON"),
            ("an array", Secret("[1]"), "is not a JSON object"),
            ("a user's ADC", key(["type": "authorized_user"]), "is of type \"authorized_user\", not service_account"),
            ("no email", key(["client_email": NSNull()]), "has no \"client_email\""),
            ("no key id", key(["private_key_id": ""]), "has no \"private_key_id\""),
            ("a broken PEM", key(["private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"]), "cannot be used"),
            ("plain http token_uri", key(["token_uri": "http://evil.example/token"]), "token_uri of the service-account key from file:/k.json is refused"),
            ("an email that is not one", key(["client_email": "not an email"]), "is not an email address"),
        ]
        for (name, text, expected) in rows {
            let error = refusal(text)
            XCTAssertEqual(error?.kind, .config, name)
            XCTAssertTrue(error?.message.contains(expected) ?? false, "\(name): \(error?.message ?? "accepted")")
            XCTAssertFalse(error?.message.contains("BEGIN") ?? true, "\(name): the key is quoted")
        }
    }

    func parse(_ status: Int, _ body: String) -> Result<GCPTokenAnswer, BrokerFailure> {
        do {
            return .success(try GCPClient.parseTokenAnswer(status: status, body: Array(body.utf8), what: "Google's token endpoint", now: 100,
                                                           secrets: ["1//secret-refresh"]))
        } catch {
            return .failure(error as! BrokerFailure)
        }
    }

    func testTokenAnswersAreReadStrictly() throws {
        let good = try parse(200, #"{"access_token":"ya29.a","expires_in":3599,"token_type":"Bearer"}"#).get()
        XCTAssertEqual(good.accessToken?.reveal(), "ya29.a")
        XCTAssertEqual(good.expiresAt, 3699)
        let rows: [(Int, String, BrokerFailure.Kind, String)] = [
            (400, #"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#, .denied, "refused: invalid_grant: Invalid JWT Signature."),
            (403, #"{"error":{"code":403,"message":"denied","status":"PERMISSION_DENIED"}}"#, .denied, "refused: PERMISSION_DENIED: denied"),
            (502, "<html>bad gateway</html>", .unavailable, "answered HTTP 502 without an OAuth error"),
            (404, "<html>not found</html>", .upstream, "answered HTTP 404 without an OAuth error"),
            (400, #"{"error":"invalid_grant","error_description":"Token revoked: 1//secret-refresh"}"#, .denied, "Token revoked: <redacted>"),
            (200, "{\"access_token\":\"" + String(repeating: "g", count: 17 * 1024) + "\",\"expires_in\":3600}", .upstream, "longer than 16 KiB"),
            (200, "<html>", .upstream, "not a JSON object"),
            (200, #"{"token_type":"Bearer","expires_in":3600}"#, .upstream, "without an access_token"),
            (200, #"{"access_token":"ya29 a","expires_in":3600}"#, .upstream, "spaces or control characters"),
            (200, #"{"access_token":"ya29.a","expires_in":-5}"#, .upstream, "expires_in"),
            (200, #"{"access_token":"ya29.a","expires_in":"soon"}"#, .upstream, "expires_in"),
            (200, #"{"access_token":"ya29.a"}"#, .upstream, "expires_in"),
        ]
        for (status, body, kind, expected) in rows {
            guard case .failure(let error) = parse(status, body) else { XCTFail("accepted \(body)"); continue }
            XCTAssertEqual(error.kind, kind, body)
            XCTAssertTrue(error.message.contains(expected), "\(body): \(error.message)")
            XCTAssertFalse(error.message.contains("ya29") || error.message.contains("secret-refresh"), "a token is quoted: \(error.message)")
            XCTAssertNotNil(error.hint, "\(body): a hint says what to do")
        }
    }

    func testIAMCredentialsAnswersAreReadStrictly() {
        XCTAssertEqual(try GCPImpersonation.parseAccessToken(status: 200, body: Array(#"{"accessToken":"ya29.b","expireTime":"2026-12-06T01:00:00Z"}"#.utf8)).expiresAt,
                       parseRFC3339("2026-12-06T01:00:00Z"))
        for body in [#"{"accessToken":"ya29.b"}"#, #"{"expireTime":"2026-12-06T01:00:00Z"}"#, #"{"accessToken":"ya29.b","expireTime":"tomorrow"}"#, "x"] {
            XCTAssertThrowsError(try GCPImpersonation.parseAccessToken(status: 200, body: Array(body.utf8)), body)
        }
    }

    /// google-auth's serialization: compact JSON, sorted keys, headers in its order, then
    /// urllib.parse.quote (only unreserved characters and '/' stay).
    func testTheAWSSubjectTokenIsSerializedAsGoogleAuthDoes() throws {
        let token = GCPAWSSubjectToken.make(credentials: AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                                                                        sessionToken: Secret("TOKEN")),
                                            region: "us-east-1", targetResource: "//iam.googleapis.com/x", date: Date(timeIntervalSince1970: 1_440_938_160))
        let decoded = try XCTUnwrap(token.reveal().removingPercentEncoding)
        XCTAssertFalse(token.reveal().contains("{") || token.reveal().contains(":"), "percent-encoded")
        XCTAssertTrue(decoded.hasPrefix(#"{"headers":[{"key":"Authorization","value":"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature="#), decoded)
        XCTAssertTrue(decoded.hasSuffix(#"{"key":"host","value":"sts.us-east-1.amazonaws.com"},{"key":"x-amz-date","value":"20150830T123600Z"},{"key":"x-amz-security-token","value":"TOKEN"},{"key":"x-goog-cloud-target-resource","value":"//iam.googleapis.com/x"}],"method":"POST","url":"https://sts.us-east-1.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"}"#), decoded)
    }

    /// Which hop makes an identity's ID token: a project passes the question to its via; a key
    /// or an impersonation answers it with a variant cached apart per audience; a federated token
    /// without impersonation, or a kind that has no ID tokens, says why not, naming the hop.
    func testTheIDTokenChainReplacesTheFirstHopThatCanMakeOne() throws {
        let config = try BrokerConfig.parse(ConfigSyntax.parse(text: """
            [identity "key"]
                kind = gcp/service-account-key
                key = file:/k.json
            [identity "prod"]
                kind = gcp/project
                via = identity:key
                project = p
            [identity "wif"]
                kind = gcp/workload-identity-federation
                audience = //iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q
                subject-token = file:/t
            [identity "on-wif"]
                kind = gcp/project
                via = identity:wif
                project = p
            """, file: "cfg"))
        let resolver = ChainResolver(cache: CredentialCache(directory: NSTemporaryDirectory() + "gcp-id-\(UUID().uuidString)", log: { _ in }),
                                     context: ResolveContext(environment: Environment([:])))
        let (chain, key) = try resolver.idTokenChain("prod", audience: "https://a.example", in: config)
        XCTAssertEqual(chain.map(\.name), ["key"])
        XCTAssertEqual((chain.first?.kind as? GCPServiceAccountKeyIdentity)?.idTokenAudience, "https://a.example")
        let other = try resolver.idTokenChain("prod", audience: "https://b.example", in: config).1
        let access = try resolver.chainAndKey("key", in: config).1
        XCTAssertEqual(Set([key.digest, other.digest, access.digest]).count, 3, "one cache entry per audience, apart from the access token's")
        XCTAssertThrowsError(try resolver.idTokenChain("on-wif", audience: "https://a.example", in: config)) { error in
            XCTAssertEqual("\(error)", "its via identity \"wif\": a federated token without service-account impersonation cannot make ID tokens (hint: set service-account = EMAIL on the identity (generateIdToken needs a service account))")
        }
    }
}
