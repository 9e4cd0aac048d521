// The Azure kinds' readers of outside input, as tables: token endpoint answers, az CLI output,
// sections with wrong values, and the client assertion's shape.

@testable import BrokerCore
import BrokerWire
import Foundation
import XCTest

final class AzureParsingTests: XCTestCase {
    let secret = "the-client-secret-value"

    func token(_ status: Int, _ body: String) -> Result<AzureToken, BrokerFailure> {
        Result { try AzureTokenEndpoint.token(status: status, body: Array(body.utf8), purpose: "identity \"sp\"", secrets: [secret], now: 1000) }
            .mapError { $0 as! BrokerFailure }
    }

    func testAGoodAnswerGivesTheTokenAndItsExpiry() throws {
        let good = try token(200, #"{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ.abc.def"}"#).get()
        XCTAssertEqual(good.accessToken.reveal(), "eyJ.abc.def")
        XCTAssertEqual(good.expiresAt, 4599)
        XCTAssertNil(good.refreshToken)
        // v1 and some proxies send numbers as strings.
        XCTAssertEqual(try token(200, #"{"token_type":"bearer","expires_in":"60","access_token":"t","refresh_token":"r"}"#).get().expiresAt, 1060)
    }

    /// Every answer we cannot use, and the sentence it becomes.
    func testBadAnswersAreTypedErrorsThatSayWhatIsWrong() {
        let rows: [(Int, String, String)] = [
            (200, "not json", "identity \"sp\": the Microsoft identity platform's answer could not be used: it is not a JSON object"),
            (200, "[]", "identity \"sp\": the Microsoft identity platform's answer could not be used: it is not a JSON object"),
            (200, #"{"expires_in":60}"#, "identity \"sp\": the Microsoft identity platform's answer could not be used: it has no access_token"),
            (200, #"{"access_token":"a b","expires_in":60}"#, "identity \"sp\": the Microsoft identity platform's answer could not be used: its access_token is not printable ASCII of at most 16 KiB"),
            (200, #"{"access_token":"t","expires_in":60,"token_type":"pop"}"#, "identity \"sp\": the Microsoft identity platform's answer could not be used: its token_type is not Bearer"),
            (200, #"{"access_token":"t"}"#, "identity \"sp\": the Microsoft identity platform's answer could not be used: its expires_in is not a number of seconds between 1 and 86400"),
            (200, #"{"access_token":"t","expires_in":0}"#, "identity \"sp\": the Microsoft identity platform's answer could not be used: its expires_in is not a number of seconds between 1 and 86400"),
            (200, #"{"access_token":"t","expires_in":1e300}"#, "identity \"sp\": the Microsoft identity platform's answer could not be used: its expires_in is not a number of seconds between 1 and 86400"),
            (200, #"{"access_token":"t","expires_in":true}"#, "identity \"sp\": the Microsoft identity platform's answer could not be used: its expires_in is not a number of seconds between 1 and 86400"),
            (200, #"{"access_token":"t","expires_in":60,"refresh_token":""}"#, "identity \"sp\": the Microsoft identity platform's answer could not be used: its refresh_token is not printable ASCII"),
            (401, #"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided: the-client-secret-value.\r\nTrace ID: 1"}"#,
             "identity \"sp\": the Microsoft identity platform answered HTTP 401: invalid_client: AADSTS7000215: Invalid client secret provided: <redacted>."),
            (400, #"{"error":"invalid_scope"}"#, "identity \"sp\": the Microsoft identity platform answered HTTP 400: invalid_scope"),
            (502, "<html>bad gateway</html>", "identity \"sp\": the Microsoft identity platform answered HTTP 502"),
        ]
        for (status, body, expected) in rows {
            switch token(status, body) {
            case .success: XCTFail("accepted \(body)")
            case .failure(let failure):
                XCTAssertEqual(failure.message, expected, body)
                XCTAssertFalse(failure.message.contains(secret))
            }
        }
        if case .failure(let failure) = token(401, #"{"error":"invalid_client"}"#) {
            XCTAssertEqual(failure.kind, .denied)
            XCTAssertEqual(failure.hint, "check client-id and the secret or certificate: is it current, and registered on that app?")
        }
        if case .failure(let failure) = token(503, "") { XCTAssertEqual(failure.kind, .unavailable) }
    }

    func testAzCLIOutputIsReadOrRefusedWithASentence() throws {
        let fine = try AzureCLIIdentity.token(fromOutput: Array(#"{"accessToken":"abc","expires_on":1900000000,"tokenType":"Bearer"}"#.utf8), identity: "me")
        XCTAssertEqual(fine.expiresAt, 1900000000)
        XCTAssertEqual(fine.token?.token.reveal(), "abc")
        XCTAssertNotNil(try AzureCLIIdentity.token(fromOutput: Array(#"{"accessToken":"abc","expiresOn":"2030-01-01 00:00:00.000000"}"#.utf8), identity: "me").expiresAt)
        for (output, why) in [("", "it is not a JSON object"), (#"{"expires_on":1}"#, "it has no printable accessToken"),
                              (#"{"accessToken":"abc"}"#, "it has no expires_on or expiresOn"),
                              (#"{"accessToken":"abc","expiresOn":"tomorrow"}"#, "it has no expires_on or expiresOn")] {
            XCTAssertThrowsError(try AzureCLIIdentity.token(fromOutput: Array(output.utf8), identity: "me")) { error in
                XCTAssertEqual((error as? BrokerFailure)?.message, "identity \"me\": the output of az account get-access-token could not be used: \(why)")
            }
        }
    }

    func config(_ body: String) -> String {
        do {
            _ = try BrokerConfig.parse(ConfigSyntax.parse(text: "[identity \"a\"]\n" + body, file: "cfg"))
            return "ok"
        } catch {
            return "\(error)"
        }
    }

    func testSectionsWithWrongValuesNameTheLine() {
        let base = "    kind = azure/client-secret\n    client-secret = env:S\n"
        XCTAssertEqual(config(base + "    tenant-id = 72f988bf-86f1-41af-91ab-2d7cd011db47\n    client-id = 0b5e3f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b\n"), "ok")
        XCTAssertTrue(config(base + "    tenant-id = not a tenant\n    client-id = 0b5e3f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b\n")
            .contains("cfg:4: tenant-id must be a directory ID (a GUID) or a domain, not \"not a tenant\""))
        XCTAssertTrue(config(base + "    tenant-id = contoso.onmicrosoft.com\n    client-id = my-app\n")
            .contains("cfg:5: client-id must be the application (client) ID, a GUID"))
        XCTAssertTrue(config(base + "    tenant-id = contoso.onmicrosoft.com\n    client-id = 0b5e3f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b\n    authority = http://login.example.com\n")
            .contains("cfg:6: authority \"http://login.example.com\" is not usable: the scheme must be https (plain http only to a loopback address)"))
        XCTAssertTrue(config(base + "    tenant-id = contoso.onmicrosoft.com\n    client-id = 0b5e3f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b\n    resource = management\n")
            .contains("cfg:6: resource must be a URI"))
        XCTAssertTrue(config("    kind = azure/oidc\n    tenant-id = contoso.onmicrosoft.com\n    client-id = 0b5e3f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b\n")
            .contains("needs via or token"))
        XCTAssertTrue(config("    kind = azure/subscription\n    subscription-id = 9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d\n")
            .contains("needs via = identity:NAME or provider:NAME"))
        XCTAssertTrue(config("    kind = azure/cli\n    subscription-id = prod\n").contains("cfg:3: subscription-id must be a subscription ID, a GUID"))
    }

    /// An Azure access token is a bearer for ARM, not an ID token an issuer signed for a
    /// federation: kinds that exchange their via identity's token refuse it when the file is read.
    func testOIDCConsumersRefuseAnAccessTokenChain() {
        let app = "    tenant-id = contoso.onmicrosoft.com\n    client-id = 0b5e3f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b\n"
        let azure = "[identity \"arm\"]\n    kind = azure/client-secret\n    client-secret = env:S\n" + app
        XCTAssertEqual(config("    kind = aws/web-identity\n    via = identity:arm\n    role-arn = arn:aws:iam::123456789012:role/r\n" + azure),
                       "cfg:3: identity \"a\" needs an OIDC ID token from its via identity, but \"arm\" (kind azure/client-secret) gives an access token, which no federation accepts (hint: chain from an identity of kind github/oidc)")
        XCTAssertTrue(config("    kind = azure/oidc\n    via = identity:arm\n" + app + azure)
            .contains("cfg:3: identity \"a\" needs an OIDC ID token from its via identity, but \"arm\" (kind azure/client-secret) gives an access token"))
        let job = "[identity \"job\"]\n    kind = github/oidc\n    audience = api://AzureADTokenExchange\n"
        XCTAssertEqual(config("    kind = azure/oidc\n    via = identity:job\n" + app + job), "ok")
        XCTAssertEqual(config("    kind = azure/subscription\n    via = identity:arm\n    subscription-id = 9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d\n" + azure), "ok",
                       "kinds that only pass the token on take an access token")
    }

    func testResourcesCompareInOneForm() {
        XCTAssertEqual(AzureApplication.normalizedResource("https://management.azure.com/"), "https://management.azure.com")
        XCTAssertEqual(AzureApplication.normalizedResource("https://management.azure.com/.default"), "https://management.azure.com")
        XCTAssertEqual(AzureApplication.normalizedResource("api://my-app"), "api://my-app")
        XCTAssertEqual(AzureApplication.normalizedResource("499B84AC-1321-427F-AA17-267CA6975798"), "499b84ac-1321-427f-aa17-267ca6975798")
        XCTAssertNil(AzureApplication.normalizedResource("management"))
        XCTAssertNil(AzureApplication.normalizedResource("https://x?y"))
        XCTAssertNil(AzureApplication.normalizedResource(""))
    }

    /// The assertion's header names the certificate by its SHA-256 and the claims bind it to the
    /// token endpoint; the signature itself is verified by the fake (Python cryptography) end to end.
    func testTheClientAssertionNamesTheCertificateAndTheEndpoint() throws {
        let openssl = Process()
        let out = Pipe()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
        openssl.standardOutput = out
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        let pem = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        openssl.waitUntilExit()
        let key = try RSAPrivateKey(pem: pem)
        let der: [UInt8] = [0x30] + Array(repeating: 7, count: 100)
        let jwt = try AzureClientAssertion.make(clientID: "c", audience: "https://login.example/t/oauth2/v2.0/token", key: key,
                                                certificateDER: der, now: 1000).reveal()
        let parts = jwt.split(separator: ".").map(String.init)
        XCTAssertEqual(parts.count, 3)
        func json(_ text: String) throws -> [String: Any] {
            var b64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while b64.count % 4 != 0 { b64 += "=" }
            return try XCTUnwrap(try JSONSerialization.jsonObject(with: XCTUnwrap(Data(base64Encoded: b64))) as? [String: Any])
        }
        let header = try json(parts[0]), claims = try json(parts[1])
        XCTAssertEqual(header["alg"] as? String, "RS256")
        XCTAssertEqual(header["x5t#S256"] as? String, base64URLEncoded(SHA256.hash(der)))
        XCTAssertEqual(claims["aud"] as? String, "https://login.example/t/oauth2/v2.0/token")
        XCTAssertEqual(claims["iss"] as? String, "c")
        XCTAssertEqual(claims["sub"] as? String, "c")
        XCTAssertEqual(claims["exp"] as? Int, 1600)
        XCTAssertEqual((claims["jti"] as? String)?.count, 32)
        XCTAssertEqual(unverifiedJWTExpiry(Secret(jwt)), 1600)
    }
}
