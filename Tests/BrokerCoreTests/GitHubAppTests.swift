// Specifies the github/app kind without a network: its JWT, its key errors, its settings and the token request it makes.

@testable import BrokerCore
import BrokerWire
import Foundation
import XCTest

/// Keys made once per run by Python's `cryptography`: test material, never a secret.
private enum TestKeys {
    struct Material: Decodable {
        var app: String
        var appPublic: String
        var small: String
        var ec: String
    }

    static let script = """
    import json
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    def pem(key, form=serialization.PrivateFormat.TraditionalOpenSSL):
        return key.private_bytes(serialization.Encoding.PEM, form, serialization.NoEncryption()).decode()
    app = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    print(json.dumps({
        "app": pem(app),
        "appPublic": app.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
        "small": pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
        "ec": pem(ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8),
    }))
    """

    static let shared: Material? = {
        guard let output = try? python(script, stdin: ""), output.status == 0 else { return nil }
        return try? JSONDecoder().decode(Material.self, from: Data(output.stdout.utf8))
    }()

    static func keys() throws -> Material {
        try XCTUnwrap(shared, "python3 with cryptography is needed to make test keys (python3 -m pip install cryptography)")
    }

    /// Runs `python3 -c script`, feeding `stdin`.
    static func python(_ script: String, arguments: [String] = [], stdin: String) throws -> (status: Int32, stdout: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        try input.fileHandleForWriting.write(contentsOf: Data(stdin.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// Decodes one base64url segment of a JWT, refusing padding as RFC 7515 does.
private func base64URLDecoded(_ text: Substring) -> [UInt8]? {
    guard !text.contains("=") else { return nil }
    var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
    return Data(base64Encoded: standard).map { Array($0) }
}

final class GitHubAppJWTTests: XCTestCase {
    let now: Int64 = 1_700_000_000

    func testJWTIsThreeBase64URLSegmentsWithTheRS256Header() throws {
        let jwt = try GitHubAppJWT.make(appID: "123456", key: RSAPrivateKey(pem: TestKeys.keys().app), now: now).reveal()
        let segments = jwt.split(separator: ".", omittingEmptySubsequences: false)
        XCTAssertEqual(segments.count, 3)
        for segment in segments {
            XCTAssertTrue(segment.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }, "not base64url: \(segment)")
        }
        XCTAssertEqual(base64URLDecoded(segments[0]).map { String(decoding: $0, as: UTF8.self) }, #"{"alg":"RS256","typ":"JWT"}"#)
        XCTAssertEqual(base64URLDecoded(segments[2])?.count, 256, "a 2048-bit key signs 256 bytes")
    }

    func testClaimsAreBackdated30SecondsLastNineMinutesAndNameTheAppAsAString() throws {
        let jwt = try GitHubAppJWT.make(appID: "123456", key: RSAPrivateKey(pem: TestKeys.keys().app), now: now).reveal()
        let claimsSegment = jwt.split(separator: ".")[1]
        let claims = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(XCTUnwrap(base64URLDecoded(claimsSegment)))) as? [String: Any])
        XCTAssertEqual(claims["iat"] as? Int, Int(now) - 30)
        XCTAssertEqual(claims["exp"] as? Int, Int(now) - 30 + 540)
        XCTAssertEqual(claims["iss"] as? String, "123456", "iss is a string, even for a numeric App ID")
        XCTAssertEqual(Set(claims.keys), ["iat", "exp", "iss"])
        XCTAssertLessThanOrEqual((claims["exp"] as! Int) - (claims["iat"] as! Int), 600, "GitHub refuses more than 10 minutes")
    }

    func testSignatureVerifiesWithPythonCryptographyAgainstTheAppsPublicKey() throws {
        let keys = try TestKeys.keys()
        let jwt = try GitHubAppJWT.make(appID: "Iv1.0123abcd", key: RSAPrivateKey(pem: keys.app), now: now).reveal()
        let verify = """
        import sys, base64
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding
        key = serialization.load_pem_public_key(sys.argv[1].encode())
        head, claims, signature = sys.stdin.read().strip().split(".")
        key.verify(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)), (head + "." + claims).encode(),
                   padding.PKCS1v15(), hashes.SHA256())
        print("verified")
        """
        let result = try TestKeys.python(verify, arguments: [keys.appPublic], stdin: jwt)
        XCTAssertEqual(result.stdout, "verified\n")
    }

    func testTheJWTIsASecretThatPrintsRedacted() throws {
        let jwt = try GitHubAppJWT.make(appID: "1", key: RSAPrivateKey(pem: TestKeys.keys().app), now: now)
        XCTAssertEqual("\(jwt)", "<redacted>")
    }
}

final class GitHubAppConfigTests: XCTestCase {
    func config(_ text: String) throws -> BrokerConfig { try BrokerConfig.parse(ConfigSyntax.parse(text: text, file: "cfg")) }

    func identity(_ body: String) throws -> GitHubAppIdentity {
        let config = try config("[identity \"app\"]\nkind = github/app\n" + body)
        return try GitHubAppIdentity(XCTUnwrap(config.identities["app"]))
    }

    func error(_ body: String, file: StaticString = #filePath, line: UInt = #line) -> ConfigError? {
        do {
            _ = try config("[identity \"app\"]\nkind = github/app\n" + body)
            XCTFail("expected an error", file: file, line: line)
        } catch let error as ConfigError {
            return error
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
        return nil
    }

    let valid = "app-id = 123456\ninstallation-id = 42\nprivate-key = file:/keys/app.pem\n"

    func testTheKindIsRegisteredAndAsksForEightMinutesOfValidity() {
        XCTAssertTrue(IdentityKinds.named("github/app") == GitHubAppIdentity.self)
        XCTAssertEqual(GitHubAppIdentity.descriptor.minimumValidity, 480)
        XCTAssertNil(StaticIdentity.descriptor.minimumValidity, "other kinds leave it to the requester")
    }

    func testDefaultsAreGitHubDotComAndXAccessToken() throws {
        let app = try identity(valid)
        XCTAssertEqual(app.appID, "123456")
        XCTAssertEqual(app.installation, .id(42))
        XCTAssertEqual(app.privateKey, .file("/keys/app.pem"))
        XCTAssertEqual(app.apiURL, "https://api.github.com")
        XCTAssertEqual(app.username, "x-access-token")
        XCTAssertFalse(app.scope.isNarrowed)
    }

    func testOwnerInsteadOfInstallationIDAndAClientIDAsAppID() throws {
        let app = try identity("app-id = Iv1.0123abcdEF\nowner = acme-corp\nprivate-key = env:APP_KEY\n")
        XCTAssertEqual(app.installation, .owner("acme-corp"))
        XCTAssertEqual(app.appID, "Iv1.0123abcdEF")
    }

    func testEnterpriseServerURLIsKeptWithoutItsTrailingSlash() throws {
        XCTAssertEqual(try identity(valid + "api-url = https://ghe.example.com/api/v3/\n").apiURL, "https://ghe.example.com/api/v3")
        XCTAssertEqual(try identity(valid + "api-url = http://127.0.0.1:8080\n").apiURL, "http://127.0.0.1:8080")
    }

    func testMissingAppIDOrPrivateKeyIsNamedAtTheSection() {
        XCTAssertEqual(error("installation-id = 1\nprivate-key = env:K\n")?.message, "identity \"app\" (kind github/app) needs app-id")
        XCTAssertEqual(error("app-id = 1\ninstallation-id = 1\n")?.message, "identity \"app\" (kind github/app) needs private-key")
        XCTAssertEqual(error("app-id = 1\nprivate-key = env:K\n")?.message, "identity \"app\" (kind github/app) needs installation-id or owner")
        XCTAssertEqual(error("app-id = 1\nprivate-key = env:K\n")?.location, error("installation-id = 1\nprivate-key = env:K\n")?.location,
                       "reported where any missing required key is")
    }

    /// Every refusal of a value, with the line that holds it (the section starts at line 1).
    func testBadValuesAreRefusedAtTheirLine() {
        let cases: [(String, String, Int)] = [
            ("app-id = acme\ninstallation-id = 1\nprivate-key = env:K\n", "app-id must be the app's numeric App ID or its Client ID", 3),
            ("app-id = 1\ninstallation-id = 12x\nprivate-key = env:K\n", "installation-id must be a positive number", 4),
            ("app-id = 1\ninstallation-id = 0\nprivate-key = env:K\n", "installation-id must be a positive number", 4),
            ("app-id = 1\nowner = -acme\nprivate-key = env:K\n", "owner must be a GitHub organization or user name", 4),
            ("app-id = 1\nowner = a--b\nprivate-key = env:K\n", "owner must be a GitHub organization or user name", 4),
            ("app-id = 1\ninstallation-id = 1\nowner = acme\nprivate-key = env:K\n", "set installation-id or owner, not both", 5),
            (valid + "repositories = acme/tools\n", "repositories names a repository without its owner", 6),
            (valid + "repositories = tools, bad name\n", "\"bad name\" is not a repository name", 6),
            (valid + "permissions = contents\n", "permissions must be NAME=LEVEL", 6),
            (valid + "permissions = contents=rw\n", "permission contents has level \"rw\"; use read, write or admin", 6),
            (valid + "permissions = contents=read\npermissions = contents=write\n", "permission contents is set twice, to read and write", 7),
            (valid + "api-url = http://ghe.example.com/api/v3\n", "plain http is allowed only to a loopback address", 6),
            (valid + "api-url = https://github.com\n", "that is GitHub's web site; its API is https://api.github.com", 6),
            (valid + "api-url = ftp://api.github.com\n", "the scheme must be https", 6),
            (valid + "api-url = https://user:pw@api.github.com\n", "it must not hold a user name or password", 6),
            (valid + "username =\n", "username must be a non-empty name without spaces", 6),
        ]
        for (body, message, line) in cases {
            let e = error(body)
            XCTAssertTrue(e?.message.contains(message) == true, "\(body): \(e?.message ?? "no error")")
            XCTAssertEqual(e?.location?.line, line, body)
            XCTAssertEqual(e?.location?.file, "cfg", body)
        }
    }

    func testAnInlineKeyIsRefusedWithoutEchoingIt() {
        let e = error("app-id = 1\ninstallation-id = 1\nprivate-key = MIIEowIBAAKCAQEA4aHgau4Wl0qk\n")
        XCTAssertNotNil(e)
        XCTAssertFalse(e!.description.contains("MIIEow"), e!.description)
    }

    func testRepositoriesAndPermissionsAreMultiValuedOrCommaLists() throws {
        let app = try identity(valid + "repositories = tools, website\nrepositories = docs\nrepositories = Tools\n"
                               + "permissions = contents=write, issues=read\npermissions = metadata=read\n")
        XCTAssertEqual(app.scope.repositories, ["tools", "website", "docs"], "in file order, duplicates (any case) once")
        XCTAssertEqual(app.scope.permissions, ["contents": "write", "issues": "read", "metadata": "read"])
    }

    func testCacheParametersChangeWithTheScopeAndHoldNoSecret() throws {
        let context = ResolveContext(environment: Environment([:]))
        let broad = try identity(valid).cacheParameters(in: context)
        let narrow = try identity(valid + "repositories = tools\n").cacheParameters(in: context)
        XCTAssertNotEqual(broad, narrow)
        XCTAssertTrue(broad.contains(CacheParameter("private-key", "file:/keys/app.pem")), "the reference, not the key: \(broad)")
        XCTAssertEqual(try identity(valid + "permissions = b=read,a=write\n").cacheParameters(in: context),
                       try identity(valid + "permissions = a=write\npermissions = b=read\n").cacheParameters(in: context),
                       "the same scope written two ways is one cache entry")
    }
}

final class GitHubAppKeyTests: XCTestCase {
    var directory = ""

    override func setUp() {
        directory = NSTemporaryDirectory() + "github-app-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func app(keyFile: String) throws -> GitHubAppIdentity {
        let config = try BrokerConfig.parse(ConfigSyntax.parse(
            text: "[identity \"app\"]\nkind = github/app\napp-id = 1\ninstallation-id = 1\nprivate-key = file:\(keyFile)\n", file: "cfg"))
        return try GitHubAppIdentity(XCTUnwrap(config.identities["app"]))
    }

    func keyFile(_ contents: String, mode: mode_t = 0o600) -> String {
        let path = directory + "/key-\(UInt32.random(in: 0...UInt32.max)).pem"
        FileManager.default.createFile(atPath: path, contents: Data(contents.utf8))
        chmod(path, mode)
        return path
    }

    /// The failure `obtain` would report for this key file, before any request is made.
    func keyFailure(_ contents: String, mode: mode_t = 0o600, file: StaticString = #filePath, line: UInt = #line) throws -> BrokerFailure? {
        let path = keyFile(contents, mode: mode)
        do {
            _ = try app(keyFile: path).signingKey(ResolveContext(environment: Environment([:])))
            XCTFail("expected the key to be refused", file: file, line: line)
        } catch let failure as BrokerFailure {
            return failure
        }
        return nil
    }

    func testTheAppKeyInPKCS1PEMSigns() throws {
        let key = try app(keyFile: keyFile(TestKeys.keys().app)).signingKey(ResolveContext(environment: Environment([:])))
        XCTAssertEqual(key.modulusBitCount, 2048)
    }

    func testAFileThatIsNotAKeySaysSoAndNamesTheReference() throws {
        let failure = try XCTUnwrap(keyFailure("ghp_notakeyatall0123456789\n"))
        XCTAssertEqual(failure.kind, .config)
        XCTAssertTrue(failure.message.hasPrefix("private-key file:\(directory)/"), failure.message)
        XCTAssertTrue(failure.message.contains("cannot be used: not a PEM private key"), failure.message)
        XCTAssertFalse(failure.description.contains("ghp_notakeyatall"), "the content is never quoted")
    }

    func testAnECKeyIsRefusedAsNotRSA() throws {
        let failure = try XCTUnwrap(keyFailure(TestKeys.keys().ec))
        XCTAssertTrue(failure.message.contains("cannot be used"), failure.message)
        XCTAssertTrue(failure.description.contains("RSA"), failure.description)
    }

    func testA1024BitKeyIsRefused() throws {
        let failure = try XCTUnwrap(keyFailure(TestKeys.keys().small))
        XCTAssertTrue(failure.message.contains("cannot be used"), failure.message)
        XCTAssertTrue(failure.message.contains("1024"), failure.message)
    }

    func testAKeyFileOthersCanReadIsRefusedWithTheChmod() throws {
        let failure = try XCTUnwrap(keyFailure(TestKeys.keys().app, mode: 0o644))
        XCTAssertEqual(failure.kind, .permission)
        XCTAssertTrue(failure.hint?.hasPrefix("chmod 600 ") == true, failure.description)
    }

    func testNoKeyMaterialAppearsInAnyRefusal() throws {
        let keys = try TestKeys.keys()
        // The key with its middle damaged: a real key's lines must not leak through the error.
        var lines = keys.app.split(separator: "\n").map(String.init)
        lines[5] = String(lines[5].reversed())
        let failure = try XCTUnwrap(keyFailure(lines.joined(separator: "\n")))
        for line in lines where !line.hasPrefix("-----") {
            XCTAssertFalse(failure.description.contains(line), failure.description)
        }
    }
}

final class GitHubTokenRequestTests: XCTestCase {
    func testAnUnnarrowedTokenIsRequestedWithoutABody() {
        XCTAssertNil(GitHubTokenScope().requestBody)
    }

    func testRepositoriesAloneKeepTheirOrder() {
        XCTAssertEqual(GitHubTokenScope(repositories: ["tools", "docs"]).requestBody, #"{"repositories":["tools","docs"]}"#)
    }

    func testPermissionsAloneAreSortedByName() {
        XCTAssertEqual(GitHubTokenScope(permissions: ["pull_requests": "write", "contents": "read"]).requestBody,
                       #"{"permissions":{"contents":"read","pull_requests":"write"}}"#)
    }

    func testBothTogether() {
        XCTAssertEqual(GitHubTokenScope(repositories: ["tools"], permissions: ["contents": "write"]).requestBody,
                       #"{"repositories":["tools"],"permissions":{"contents":"write"}}"#)
    }
}

final class GitHubAPIAnswerTests: XCTestCase {
    let client = GitHubAPIClient(baseURL: "https://api.github.com")
    let jwt = Secret("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiIxIn0.c2lnbmF0dXJlLXNlY3JldA")

    func call() -> GitHubAPIClient.Call {
        GitHubAPIClient.Call(method: "POST", path: "/app/installations/1/access_tokens", purpose: "minting a token for installation 1", jwt: jwt)
    }

    func answer(_ status: Int, _ body: String) -> GitHubAPIClient.Answer { GitHubAPIClient.Answer(status: status, body: Array(body.utf8)) }

    func test401PointsAtTheAppIDTheKeyAndTheClock() {
        let failure = client.failure(answer(401, #"{"message":"A JSON web token could not be decoded"}"#), call())
        XCTAssertEqual(failure.message, "GitHub at https://api.github.com rejected the app's JWT while minting a token for installation 1 (HTTP 401): A JSON web token could not be decoded")
        XCTAssertTrue(failure.hint?.contains("app-id") == true && failure.hint?.contains("private-key") == true
                      && failure.hint?.contains("clock") == true, failure.hint ?? "")
    }

    func testAServerThatEchoesTheJWTHasItRedacted() {
        let echoed = #"{"message":"bad token \#(jwt.reveal()) and again c2lnbmF0dXJlLXNlY3JldA"}"#
        let failure = client.failure(answer(401, echoed), call())
        XCTAssertFalse(failure.message.contains("c2lnbmF0dXJlLXNlY3JldA"), failure.message)
        XCTAssertTrue(failure.message.contains("bad token <redacted> and again <redacted>"), failure.message)
    }

    func testAnAnswerThatIsNotGitHubsSuggestsCheckingTheAPIURL() {
        let failure = client.failure(answer(404, "<html>Not here</html>"), call())
        XCTAssertTrue(failure.message.hasSuffix("(the answer is not from GitHub's API)"), failure.message)
        XCTAssertTrue(failure.hint?.contains("https://HOST/api/v3") == true, failure.hint ?? "")
    }

    func testARedirectIsNotFollowed() {
        let failure = client.failure(answer(301, ""), call())
        XCTAssertTrue(failure.message.contains("redirect (HTTP 301), which is not followed"), failure.message)
    }

    func testServerErrorsAreUnavailableNotOurConfig() {
        XCTAssertEqual(client.failure(answer(502, #"{"message":"Server Error"}"#), call()).kind, .unavailable)
    }
}

/// The resolver honours a kind's own minimum validity: a token with less than 8 minutes left is
/// not handed out for a kind that demands 8, even when git asks for only 60 s.
final class KindMinimumValidityTests: XCTestCase {
    struct EightMinuteKind: ResolvedKind {
        static let descriptor = KindDescriptor(name: "test/eight-minutes", summary: "test", settings: [], upstream: .none,
                                               produces: .password, minimumValidity: 480)
        let mints: Counter

        init(_ definition: IdentityDefinition) throws { mints = Counter() }
        init(mints: Counter) { self.mints = mints }
        func cacheParameters(in context: ResolveContext) -> [CacheParameter] { [] }
        func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
            mints.add(1)
            return Credential(username: "u", password: Secret("p"), expiresAt: context.clock.now() + 1000)
        }
    }

    /// A number several threads may read and move.
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var count: Int64 = 0
        var value: Int64 { lock.lock(); defer { lock.unlock() }; return count }
        func add(_ n: Int64) { lock.lock(); count += n; lock.unlock() }
    }

    func testACredentialUnderTheKindsMinimumIsReplacedThoughTheRequesterWouldTakeIt() throws {
        let directory = NSTemporaryDirectory() + "kind-minimum-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try ensurePrivateDirectory(directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let time = Counter()
        time.add(1_700_000_000)
        let context = ResolveContext(environment: Environment([:]), clock: Clock { time.value })
        let resolver = ChainResolver(cache: CredentialCache(directory: directory, log: { _ in }), context: context, refreshAhead: 0)
        let mints = Counter()
        let chain = [ChainHop(name: "app", kind: EightMinuteKind(mints: mints))][...]

        _ = try resolver.resolve(chain, minimumValidity: 60)
        time.add(400)  // 600 s left: enough for 480
        XCTAssertEqual(try resolver.resolve(chain, minimumValidity: 60).tier, .memory)
        XCTAssertEqual(mints.value, 1)
        time.add(200)  // 400 s left: enough for git's 60, not for the kind's 480
        XCTAssertEqual(try resolver.resolve(chain, minimumValidity: 60).tier, .upstream)
        XCTAssertEqual(mints.value, 2)
    }
}
