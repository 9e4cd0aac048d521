// Provider sections and the IAM Identity Center kinds: validation with file:line, the shared token file's name and format.

@testable import BrokerCore
import BrokerWire
import Foundation
import XCTest

final class IdentityCenterConfigTests: XCTestCase {
    let provider = """
        [provider "corp"]
            kind = aws/iam-identity-center
            start-url = https://d-1234567890.awsapps.com/start
            region = eu-west-1
        """

    func config(_ text: String) throws -> BrokerConfig {
        try BrokerConfig.parse(ConfigSyntax.parse(text: text, file: "cfg"))
    }

    func error(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try config(text)
            XCTFail("expected a config error", file: file, line: line)
            return ""
        } catch {
            return "\(error)"
        }
    }

    func testAProviderAndAPermissionSetBelowItLoad() throws {
        let c = try config(provider + """

            [identity "prod"]
                kind = aws/permission-set
                via = provider:corp
                account-id = 123456789012
                permission-set = AdministratorAccess
            """)
        XCTAssertEqual(c.providerOrder, ["corp"])
        let corp = try XCTUnwrap(c.providerKinds["corp"] as? AWSIdentityCenterProvider)
        XCTAssertEqual(corp.scopes, ["sso:account:access"])
        XCTAssertTrue(corp.shareTokenCache)
        let chain = try ChainResolver.chain(of: "prod", in: c)
        XCTAssertEqual(chain.last?.provider?.definition.name, "corp")
    }

    func testProviderSectionsAreValidatedFromTheirDescriptor() {
        XCTAssertTrue(error("[provider \"p\"]\nkind = aws/iam-identity-centre\n").contains("cfg:2: unknown provider kind \"aws/iam-identity-centre\" for provider \"p\" (hint: did you mean \"aws/iam-identity-center\"?)"))
        XCTAssertTrue(error("[provider \"p\"]\nkind = aws/assume-role\n").contains("is an identity kind: write it as [identity \"p\"]"))
        XCTAssertTrue(error("[provider \"p\"]\nstart-url = https://x.example/start\n").contains("cfg:2: provider \"p\" has no kind"))
        XCTAssertTrue(error("[provider \"p\"]\nkind = aws/iam-identity-center\nregion = eu-west-1\n").contains("provider \"p\" (kind aws/iam-identity-center) needs start-url"))
        XCTAssertTrue(error(provider + "\n    start-uri = x\n").contains("cfg:5: unknown key \"start-uri\" in [provider \"corp\"] (kind aws/iam-identity-center) (hint: did you mean \"start-url\"?)"))
        XCTAssertTrue(error("[provider \"p\"]\nkind = aws/iam-identity-center\nregion = eu-west-1\nstart-url = http://d-1.awsapps.com/start\n").contains("cfg:4: start-url \"http://d-1.awsapps.com/start\" is not usable: it must be https"))
        XCTAssertTrue(error(provider + "\n    portal-endpoint = http://portal.example.com\n").contains("plain http only to a loopback address"))
        XCTAssertTrue(error(provider + "\n    share-token-cache = maybe\n").contains("cfg:5:"))
    }

    func testViaRulesForProvidersAndIdentities() {
        XCTAssertTrue(error(provider + "\n[identity \"x\"]\nkind = aws/permission-set\naccount-id = 123456789012\npermission-set = A\n")
            .contains("cfg:6: identity \"x\" (kind aws/permission-set) needs via = provider:NAME"))
        XCTAssertTrue(error(provider + "\n[identity \"y\"]\nkind = static\nusername = u\nsecret = env:T\n[identity \"x\"]\nkind = aws/permission-set\nvia = identity:y\naccount-id = 123456789012\npermission-set = A\n")
            .contains("starts from a provider: via = provider:NAME, not identity:y"))
        XCTAssertTrue(error(provider + "\n[identity \"x\"]\nkind = aws/assume-role\nvia = provider:corp\nrole-arn = arn:aws:iam::123456789012:role/r\n")
            .contains("cfg:7: identity \"x\" (kind aws/assume-role) takes via = identity:NAME, not provider:corp"))
        XCTAssertTrue(error(provider + "\n[identity \"x\"]\nkind = aws/permission-set\nvia = provider:crop\naccount-id = 123456789012\npermission-set = A\n")
            .contains("identity \"x\" has via = provider:crop, which is not defined"))
        XCTAssertTrue(error(provider + "\n[identity \"x\"]\nkind = aws/permission-set\nvia = provider:corp\naccount-id = 1234\npermission-set = A\n")
            .contains("cfg:8: account-id \"1234\" is not a 12-digit AWS account id"))
    }

    // MARK: - SHA-1, for the file name only

    func testSHA1MatchesThePublishedVectors() {
        // FIPS 180 examples.
        XCTAssertEqual(SHA1.hash("abc").hexString, "a9993e364706816aba3e25717850c26c9cd0d89d")
        XCTAssertEqual(SHA1.hash("").hexString, "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        XCTAssertEqual(SHA1.hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").hexString,
                       "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        XCTAssertEqual(SHA1.hash([UInt8](repeating: 0x61, count: 1_000_000)).hexString, "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    func testSHA1AgreesWithPythonsHashlibAcrossLengths() throws {
        guard let python = findExecutable(named: "python3") else { return XCTFail("python3 not found on PATH") }
        var random = SplitMix64(seed: 14)
        let messages = (0..<130).map { random.bytes(count: $0) }
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("sha1-\(getpid()).txt")
        try messages.map(\.hexString).joined(separator: "\n").write(to: input, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: input) }
        let script = "import hashlib,sys\nfor line in open(sys.argv[1]).read().split('\\n'): print(hashlib.sha1(bytes.fromhex(line)).hexdigest())"
        let output = try runPeer(python, arguments: ["-c", script, input.path])
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertEqual(output.stdout.split(separator: "\n").map(String.init), messages.map { SHA1.hash($0).hexString })
    }

    // MARK: - The shared token file

    func testTheTokenFileIsNamedAsBotocoreNamesIt() {
        // botocore: sha1(session name), or sha1(start URL) for legacy profiles.
        XCTAssertEqual(SSOTokenCache.fileName(startURL: "https://d-1.awsapps.com/start", sessionName: "corp"), SHA1.hash("corp").hexString + ".json")
        XCTAssertEqual(SSOTokenCache(home: "/h", startURL: "https://d-1.awsapps.com/start", sessionName: nil).path,
                       "/h/.aws/sso/cache/" + SHA1.hash("https://d-1.awsapps.com/start").hexString + ".json")
    }

    func testTheTokenFileRoundTripsAndIgnoresWhatItMustNotTrust() throws {
        let home = NSTemporaryDirectory() + "sso-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: home) }
        let cache = SSOTokenCache(home: home, startURL: "https://d-1.awsapps.com/start", sessionName: "corp")
        let token = SSOToken(startURL: "https://d-1.awsapps.com/start", region: "eu-west-1", accessToken: Secret("at"), expiresAt: 1_900_000_000,
                             refreshToken: Secret("rt"), clientID: "cid", clientSecret: Secret("cs"), registrationExpiresAt: 1_950_000_000)
        try cache.write(token)
        let text = try String(contentsOfFile: cache.path, encoding: .utf8)
        XCTAssertTrue(text.contains("\"expiresAt\":\"2030-03-17T17:46:40Z\""), text)
        var info = stat()
        stat(cache.path, &info)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
        let read = try XCTUnwrap(cache.read(startURL: "https://d-1.awsapps.com/start"))
        XCTAssertEqual(read.accessToken, Secret("at"))
        XCTAssertEqual(read.registration?.clientID, "cid")
        XCTAssertNil(cache.read(startURL: "https://other.awsapps.com/start"), "another portal's token is not ours")
        chmod(cache.path, 0o644)
        XCTAssertNil(cache.read(startURL: "https://d-1.awsapps.com/start"), "a file others can read is refused")
        chmod(cache.path, 0o600)
        try #"{"accessToken":"at","expiresAt":"2030-03-17T17:46:40"}"#.write(toFile: cache.path, atomically: false, encoding: .utf8)
        XCTAssertNil(cache.read(startURL: "https://d-1.awsapps.com/start"), "a time without a zone is not guessed at")
        XCTAssertEqual(SSOTokenCache.time("2030-03-17T17:46:40UTC"), 1_900_000_000)
        XCTAssertEqual(SSOTokenCache.time("2030-03-17T17:46:40+00:00"), 1_900_000_000)
    }
}

/// The device-login poller (RFC 8628) with a scripted flow and a recorded sleep: no network, no waiting.
final class DeviceLoginTests: XCTestCase {
    final class ScriptedFlow: DeviceLoginFlow, @unchecked Sendable {
        let answers: [Result<DevicePoll, BrokerFailure>]
        let expiresIn: Int64
        private let lock = NSLock()
        private var index = 0
        init(_ answers: [Result<DevicePoll, BrokerFailure>], expiresIn: Int64 = 600) { self.answers = answers; self.expiresIn = expiresIn }
        func start(context: ResolveContext) throws -> DeviceAuthorization {
            DeviceAuthorization(verificationURI: "https://v", verificationURIComplete: nil, userCode: "ABCD-EFGH",
                                deviceCode: Secret("dc"), interval: 2, expiresAt: context.clock.now() + expiresIn)
        }
        func poll(_ authorization: DeviceAuthorization, context: ResolveContext) throws -> DevicePoll {
            lock.lock(); defer { lock.unlock() }
            index += 1
            return try answers[min(index - 1, answers.count - 1)].get()
        }
    }

    final class FakeTime: @unchecked Sendable {
        private let lock = NSLock()
        private var now: Int64 = 1_000_000
        var sleeps: [Int] = []
        func sleep(_ seconds: Int) { lock.lock(); sleeps.append(seconds); now += Int64(seconds); lock.unlock() }
        func read() -> Int64 { lock.lock(); defer { lock.unlock() }; return now }
    }

    func run(_ flow: ScriptedFlow) throws -> (DeviceLoginState, [Int]) {
        let time = FakeTime()
        let context = ResolveContext(environment: Environment([:]), clock: Clock(now: { time.read() }))
        let done = DispatchSemaphore(value: 0)
        let result = Box()
        _ = try ProviderSessions().startLogin(flow, provider: "corp", context: context, sleep: { time.sleep($0) }) { state in
            result.state = state
            done.signal()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        return (result.state!, time.sleeps)
    }

    final class Box: @unchecked Sendable { var state: DeviceLoginState? }

    func testPollsAtTheIntervalAndFiveSecondsSlowerAfterEachSlowDown() throws {
        let (state, sleeps) = try run(ScriptedFlow([.success(.pending), .success(.slowDown), .success(.pending), .success(.slowDown),
                                                    .success(.approved(expiresAt: 42))]))
        guard case .approved(let expiresAt) = state else { return XCTFail("\(state)") }
        XCTAssertEqual(expiresAt, 42)
        XCTAssertEqual(sleeps, [2, 2, 7, 7, 12])
    }

    func testTheCodeExpiringEndsTheLoginWithoutAnotherPoll() throws {
        let flow = ScriptedFlow([.success(.pending)], expiresIn: 5)
        let (state, sleeps) = try run(flow)
        guard case .failed(let message, let hint) = state else { return XCTFail("\(state)") }
        XCTAssertEqual(message, "the device code of provider \"corp\" expired before the login was approved")
        XCTAssertEqual(hint, "run `brokerctl login corp` again and approve it within the time shown")
        XCTAssertEqual(sleeps, [2, 2, 2])
    }

    func testARefusalFromTheFlowEndsTheLoginWithItsSentence() throws {
        let (state, _) = try run(ScriptedFlow([.success(.pending), .failure(BrokerFailure(.denied, "the login was denied", hint: "try again"))]))
        guard case .failed(let message, let hint) = state else { return XCTFail("\(state)") }
        XCTAssertEqual(message, "the login was denied")
        XCTAssertEqual(hint, "try again")
    }
}
