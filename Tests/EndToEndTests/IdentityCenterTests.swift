// IAM Identity Center end to end: device login through brokerctl, permission sets through the real aws CLI and
// boto3 against moto, a token file shared with botocore both ways, single-flight refresh, and pagination.

import Foundation
import XCTest
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Fixtures/sso_fake.py: SSO OIDC and the SSO portal, minting role credentials from moto's STS.
final class SSOFake {
    let endpoint: String
    private let process: Process
    private let stdin = Pipe()

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/sso_fake.py").path

    init(moto: MotoServer) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: MotoServer.python)
        process.arguments = [Self.script, "--moto", moto.endpoint, "--access-key-id", moto.accessKeyID,
                             "--secret-access-key", moto.secretAccessKey, "--session-name", moto.chainSessionName, "--lifetime", "300"]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        process.environment = environment
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        let deadline = Date().addingTimeInterval(30)
        while !line.contains(10) && Date() < deadline {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        let fields = (try? JSONSerialization.jsonObject(with: line.prefix { $0 != 10 })) as? [String: Any]
        guard let endpoint = fields?["endpoint"] as? String else {
            process.terminate()
            throw MotoServer.StartError(description: "sso_fake.py did not start")
        }
        self.endpoint = endpoint
    }

    func stop() {
        try? stdin.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { process.terminate() }
    }

    deinit { stop() }

    @discardableResult
    func control(_ what: String, _ body: [String: Any]? = nil) -> Any? {
        var request = URLRequest(url: URL(string: endpoint + "/__control/" + what)!, timeoutInterval: 10)
        if let body {
            request.httpMethod = "POST"
            request.httpBody = try! JSONSerialization.data(withJSONObject: body)
        }
        let done = DispatchSemaphore(value: 0)
        let box = DataBox()
        URLSession.shared.dataTask(with: request) { data, _, _ in box.data = data; done.signal() }.resume()
        _ = done.wait(timeout: .now() + 15)
        return box.data.flatMap { try? JSONSerialization.jsonObject(with: $0) }
    }

    func counts() -> [String: Int] { (control("counts") as? [String: Int]) ?? [:] }
    func pending() -> [String] { (control("pending") as? [String]) ?? [] }
    func used() -> [String] { (control("used") as? [String]) ?? [] }
    func polls() -> [Double] { (control("polls") as? [Double]) ?? [] }

    private final class DataBox: @unchecked Sendable { var data: Data? }

    /// Runs `brokerctl login corp --no-browser`, and when a code is pending acts as the person
    /// (`approve` true: Allow; false: Deny; nil: does nothing) after `delay` seconds.
    func login(_ sandbox: Sandbox, approve: Bool? = true, delay: Double = 0, beforeApproval: () -> Void = {}) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Sandbox.executable("brokerctl"))
        process.arguments = ["login", "corp", "--no-browser"]
        process.environment = sandbox.environment
        let out = sandbox.root + "/login.out", err = sandbox.root + "/login.err"
        FileManager.default.createFile(atPath: out, contents: nil)
        FileManager.default.createFile(atPath: err, contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: out)
        process.standardError = FileHandle(forWritingAtPath: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        if let approve {
            var codes: [String] = []
            for _ in 0..<100 where codes.isEmpty { codes = pending(); if codes.isEmpty { usleep(100_000) } }
            XCTAssertEqual(codes.count, 1, "one device code waits for approval")
            if delay > 0 { usleep(UInt32(delay * 1_000_000)) }
            beforeApproval()
            control(approve ? "approve" : "deny", ["user_code": codes.first ?? ""])
        }
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return ProcessResult(status: process.terminationStatus, stdout: sandbox.read(out), stderr: sandbox.read(err))
    }
}

final class IdentityCenterTests: MotoTestCase {
    var fake: SSOFake!

    override func setUpWithError() throws {
        guard startedMoto != nil else { throw XCTSkip("moto did not start") }
        fake = try SSOFake(moto: moto)
    }

    override func tearDown() {
        fake?.stop()
        fake = nil
    }

    func sandbox(share: Bool = true, autoProvision: Bool = false, extra: String = "") -> Sandbox {
        let sandbox = Sandbox()
        sandbox.writeConfig("""
            [provider "corp"]
                kind = aws/iam-identity-center
                start-url = https://d-1234567890.awsapps.com/start
                region = eu-west-1
                session-name = corp
                share-token-cache = \(share)
                auto-provision = \(autoProvision)
                oidc-endpoint = \(fake.endpoint)
                portal-endpoint = \(fake.endpoint)
            [identity "sandbox"]
                kind = aws/permission-set
                via = provider:corp
                account-id = \(moto.account)
                permission-set = first
                sts-endpoint = \(moto.endpoint)
            [identity "second"]
                kind = aws/assume-role
                via = identity:sandbox
                role-arn = \(moto.secondRoleARN)
                external-id = \(moto.externalID)
                sts-endpoint = \(moto.endpoint)
            \(extra)
            """)
        return sandbox
    }

    var firstSessionARN: String { "arn:aws:sts::\(moto.account):assumed-role/first/\(moto.chainSessionName)" }

    func login(_ sandbox: Sandbox, approve: Bool? = true, delay: Double = 0, beforeApproval: () -> Void = {}) throws -> ProcessResult {
        try fake.login(sandbox, approve: approve, delay: delay, beforeApproval: beforeApproval)
    }

    var cacheDirectory: String { "/.aws/sso/cache" }

    /// The shared token file (named by sha1("corp")), as botocore reads it.
    func tokenFile(_ sandbox: Sandbox) -> String { sandbox.root + "/home" + cacheDirectory + "/" + sha1Hex("corp") + ".json" }

    func sha1Hex(_ text: String) -> String {
        sandbox_python("import hashlib,sys; print(hashlib.sha1(sys.argv[1].encode()).hexdigest())", [text]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func sandbox_python(_ script: String, _ arguments: [String]) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: MotoServer.python)
        process.arguments = ["-c", script] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try? process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    func readJSON(_ path: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))) as? [String: Any] ?? [:]
    }

    func writeJSON(_ path: String, _ object: [String: Any]) {
        let data = try! JSONSerialization.data(withJSONObject: object)
        FileManager.default.createFile(atPath: path, contents: data)
        chmod(path, 0o600)
    }

    /// Moves the shared token's expiry into the past, as time would.
    func expireSharedToken(_ sandbox: Sandbox) {
        var token = readJSON(tokenFile(sandbox))
        token["expiresAt"] = "2020-01-01T00:00:00Z"
        writeJSON(tokenFile(sandbox), token)
    }

    func awsEnvironment(_ sandbox: Sandbox, identity: String) -> [String: String] {
        let config = sandbox.write("home/.aws/config", """
            [profile broker]
            credential_process = \(Sandbox.executable("aws-credential-process")) --identity \(identity)
            region = us-east-1

            """)
        return ["AWS_CONFIG_FILE": config, "AWS_SHARED_CREDENTIALS_FILE": sandbox.root + "/none", "AWS_PROFILE": "broker",
                "AWS_ENDPOINT_URL_STS": moto.endpoint, "AWS_EC2_METADATA_DISABLED": "true"]
    }

    /// A boto3 profile of the AWS CLI v2 kind: `sso_session` → the token file; endpoints → the fake and moto.
    func botoSSOEnvironment(_ sandbox: Sandbox) -> [String: String] {
        let config = sandbox.write("home/.aws/config", """
            [sso-session corp]
            sso_start_url = https://d-1234567890.awsapps.com/start
            sso_region = eu-west-1
            sso_registration_scopes = sso:account:access

            [profile sso]
            sso_session = corp
            sso_account_id = \(moto.account)
            sso_role_name = first
            region = us-east-1

            """)
        return ["AWS_CONFIG_FILE": config, "AWS_SHARED_CREDENTIALS_FILE": sandbox.root + "/none", "AWS_PROFILE": "sso",
                "AWS_ENDPOINT_URL_STS": moto.endpoint, "AWS_ENDPOINT_URL_SSO": fake.endpoint,
                "AWS_ENDPOINT_URL_SSO_OIDC": fake.endpoint, "AWS_EC2_METADATA_DISABLED": "true"]
    }

    func botoCallerARN(_ sandbox: Sandbox) -> ProcessResult {
        sandbox.run(MotoServer.python, ["-c", "import boto3; print(boto3.Session().client('sts').get_caller_identity()['Arn'])"],
                    extraEnvironment: botoSSOEnvironment(sandbox), timeout: 60)
    }

    // MARK: - Device flow end to end

    func testDeviceLoginThenTheAwsCLIThroughCredentialProcessIsThePermissionSetsRole() throws {
        let sandbox = sandbox()
        let login = try login(sandbox)
        XCTAssertEqual(login.status, 0, login.stderr)
        let code = try XCTUnwrap(login.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).last { $0.count == 10 && $0.hasSuffix(".") }, login.stdout).dropLast()
        XCTAssertTrue(login.stdout.contains("\(fake.endpoint)/start?user_code=\(code)"), login.stdout)
        XCTAssertTrue(login.stdout.contains("logged in: provider \"corp\" has a session until 20"), login.stdout)
        XCTAssertTrue(sandbox.auditLines.contains { ($0["identity"] as? String) == "provider:corp" && ($0["event"] as? String) == "issued" && ($0["reason"] as? String) == "login" })

        let status = sandbox.broker("brokerctl", ["status", "--format", "json"])
        let sessions = ((try? JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["provider_sessions"] as? [[String: Any]]) ?? []
        XCTAssertEqual(sessions.first?["provider"] as? String, "corp", status.stdout)
        XCTAssertGreaterThan(sessions.first?["expires_in"] as? Int ?? 0, 3000)
        let result = sandbox.run(pathOf("aws"), ["sts", "get-caller-identity", "--output", "json"],
                                 extraEnvironment: awsEnvironment(sandbox, identity: "sandbox"), timeout: 60)
        XCTAssertEqual(result.status, 0, result.stderr)
        let arn = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])?["Arn"] as? String
        XCTAssertEqual(arn, firstSessionARN)

        // The session's tokens live in the shared 0600 file and memory, never in the broker's cache.
        let file = tokenFile(sandbox)
        var info = stat()
        XCTAssertEqual(stat(file, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
        let token = readJSON(file)
        XCTAssertEqual(Set(token.keys), ["startUrl", "region", "accessToken", "expiresAt", "refreshToken", "clientId", "clientSecret", "registrationExpiresAt"])
        let access = try XCTUnwrap(token["accessToken"] as? String)
        let refresh = try XCTUnwrap(token["refreshToken"] as? String)
        XCTAssertTrue((token["expiresAt"] as? String ?? "").hasSuffix("Z"))
        for name in try FileManager.default.contentsOfDirectory(atPath: sandbox.paths.cacheEntriesDirectory) {
            let text = sandbox.read(sandbox.paths.cacheEntriesDirectory + "/" + name)
            XCTAssertFalse(text.contains(access) || text.contains(refresh), "\(name) holds a session token")
        }
        for path in [sandbox.paths.auditLogPath, sandbox.root + "/state/credential-broker/agent.log"] {
            XCTAssertFalse(sandbox.read(path).contains(access), path)
        }
    }

    func testAPermissionSetChainsOnwardWithAssumeRole() throws {
        let sandbox = sandbox()
        XCTAssertEqual(try login(sandbox).status, 0)
        let result = sandbox.run(MotoServer.python, ["-c", "import boto3; print(boto3.Session().client('sts').get_caller_identity()['Arn'])"],
                                 extraEnvironment: awsEnvironment(sandbox, identity: "second"), timeout: 60)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.hasPrefix("arn:aws:sts::\(moto.account):assumed-role/second/"), result.stdout)
    }

    func testWithoutASessionAdaptersSayRunBrokerctlLoginAndNeverPrompt() {
        let sandbox = sandbox()
        let result = sandbox.broker("aws-credential-process", ["--identity", "second"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("run: brokerctl login corp"), result.stderr)
        XCTAssertEqual(fake.counts()["RegisterClient"] ?? 0, 0, "no login was started behind the person's back")
    }

    func testBoto3ThroughBrokerEnvWrapsEndpointIsThePermissionSetsRole() throws {
        let sandbox = sandbox()
        XCTAssertEqual(try login(sandbox).status, 0)
        let script = "import boto3; s = boto3.Session(); print(s.get_credentials().method); print(s.client('sts').get_caller_identity()['Arn'])"
        let result = sandbox.run(Sandbox.executable("broker-env-wrap"), ["--identity", "sandbox", "--", MotoServer.python, "-c", script],
                                 extraEnvironment: ["AWS_ENDPOINT_URL_STS": moto.endpoint, "AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1",
                                                    "AWS_CONFIG_FILE": sandbox.root + "/none", "AWS_SHARED_CREDENTIALS_FILE": sandbox.root + "/none"],
                                 timeout: 60)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout.split(separator: "\n").map(String.init), ["container-role", firstSessionARN])
    }

    func testConsolePrintsASigninURLWhoseTokenTheAuditNeverSees() throws {
        let sandbox = sandbox(extra: "[aws]\n    console-session-duration = 2h\n    signin-endpoint = \(fake.endpoint)/federation\n")
        XCTAssertEqual(try login(sandbox).status, 0)
        let result = sandbox.broker("brokerctl", ["console", "second", "--print", "--destination", "https://console.aws.amazon.com/s3/"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let url = try XCTUnwrap(URLComponents(string: result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let query = Dictionary((url.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        XCTAssertEqual(query["Action"], "login")
        XCTAssertEqual(query["Destination"], "https://console.aws.amazon.com/s3/")
        let token = try XCTUnwrap(query["SigninToken"])
        XCTAssertTrue(token.hasPrefix("signin-"), token)
        let signins = (fake.control("signins") as? [[String: Any]]) ?? []
        XCTAssertEqual(signins.count, 1)
        XCTAssertTrue((signins.first?["arn"] as? String ?? "").contains(":assumed-role/second/"), "\(signins)")
        XCTAssertEqual(signins.first?["duration"] as? Int, 7200)
        let audit = sandbox.read(sandbox.paths.auditLogPath)
        XCTAssertFalse(audit.contains(token), "the sign-in token is never audited")
        XCTAssertTrue(sandbox.auditLines.contains { ($0["reason"] as? String) == "console" && ($0["target"] as? String) == "https://console.aws.amazon.com/s3/" })
    }

    func testConsoleForUserKeysSignsInAsAFederatedUser() throws {
        let sandbox = Sandbox()
        let secret = sandbox.write("secrets/dev", moto.secretAccessKey + "\n")
        chmod(secret, 0o600)
        sandbox.writeConfig("""
            [aws]
                signin-endpoint = \(fake.endpoint)/federation
                console-session-duration = 2h
            [identity "dev"]
                kind = aws/user
                access-key-id = \(moto.accessKeyID)
                secret-access-key = file:\(secret)
                sts-endpoint = \(moto.endpoint)
            """)
        let result = sandbox.broker("brokerctl", ["console", "dev", "--print"], extraEnvironment: ["USER": "dev"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let url = try XCTUnwrap(URLComponents(string: result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let token = try XCTUnwrap(url.queryItems?.first { $0.name == "SigninToken" }?.value)
        // The fake checked the federation token's session against moto (signatures on) before minting one.
        let signins = (fake.control("signins") as? [[String: Any]]) ?? []
        XCTAssertEqual(signins.count, 1)
        XCTAssertEqual(signins.first?["arn"] as? String, "arn:aws:sts::\(moto.account):federated-user/broker-dev", "\(signins)")
        XCTAssertTrue(signins.first?["duration"] is NSNull, "a federation token's session lasts as the token does: \(signins)")
        XCTAssertFalse(sandbox.read(sandbox.paths.auditLogPath).contains(token), "the sign-in token is never audited")
        // The long-lived keys are still never handed to a host.
        let keys = sandbox.broker("aws-credential-process", ["--identity", "dev"])
        XCTAssertEqual(keys.status, 1)
        XCTAssertTrue(keys.stderr.contains("would hand out long-lived IAM user keys"), keys.stderr)
    }

    func testConsoleRefusesKeysThatAreAlreadyTemporary() throws {
        let sandbox = Sandbox()
        let secret = sandbox.write("secrets/dev", moto.secretAccessKey + "\n")
        let token = sandbox.write("secrets/token", "FQoGZXIvYXdzEXAMPLE\n")
        chmod(secret, 0o600)
        chmod(token, 0o600)
        sandbox.writeConfig("""
            [aws]
                signin-endpoint = \(fake.endpoint)/federation
            [identity "dev"]
                kind = aws/user
                access-key-id = \(moto.accessKeyID)
                secret-access-key = file:\(secret)
                session-token = file:\(token)
                sts-endpoint = \(moto.endpoint)
            """)
        let result = sandbox.broker("brokerctl", ["console", "dev", "--print"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stdout, "")
        XCTAssertTrue(result.stderr.contains("has keys that are already temporary, which cannot ask for a console session"), result.stderr)
        XCTAssertEqual((fake.control("signins") as? [Any])?.count, 0)
    }

    // MARK: - Polling

    func testPollingKeepsTheIntervalAndAddsFiveSecondsAfterSlowDown() throws {
        fake.control("config", ["interval": 1])
        let sandbox = sandbox()
        // Three pending polls a second apart, then one slow_down, then the approval.
        let result = try login(sandbox, delay: 3.4) {
            fake.control("config", ["slow_down_next": 1])
            usleep(2_000_000)
        }
        XCTAssertEqual(result.status, 0, result.stderr)
        let polls = fake.polls()
        let gaps = zip(polls.dropFirst(), polls).map { $0 - $1 }
        XCTAssertEqual(fake.counts()["CreateToken.too_fast"] ?? 0, 0, "never faster than the interval: \(gaps)")
        XCTAssertEqual(fake.counts()["CreateToken.device_code"], 5, "3 pending, 1 slow_down, 1 approved: \(gaps)")
        guard gaps.count == 4 else { return XCTFail("\(gaps)") }
        for gap in gaps.prefix(3) { XCTAssertTrue(gap >= 0.95 && gap < 2, "the 1 s interval: \(gaps)") }
        XCTAssertTrue(gaps[3] >= 5.9 && gaps[3] < 8, "1 s + 5 s after slow_down: \(gaps)")
    }

    func testAnExpiredDeviceCodeIsAClearError() throws {
        fake.control("config", ["device_expires_in": 2])
        let sandbox = sandbox()
        let result = try login(sandbox, approve: nil)
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("device code of provider \"corp\" expired before the login was approved"), result.stderr)
        XCTAssertTrue(result.stderr.contains("brokerctl login corp"), result.stderr)
    }

    func testADeniedLoginIsAClearError() throws {
        let sandbox = sandbox()
        let result = try login(sandbox, approve: false)
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("login of provider \"corp\" was denied in the browser"), result.stderr)
        XCTAssertTrue(sandbox.auditLines.contains { ($0["identity"] as? String) == "provider:corp" && ($0["event"] as? String) == "denied" })
        XCTAssertFalse(FileManager.default.fileExists(atPath: tokenFile(sandbox)))
    }

    // MARK: - The token file, shared with botocore both ways

    func testABoto3SSOSessionProfileWorksFromTheFileTheBrokerWrote() throws {
        let sandbox = sandbox()
        XCTAssertEqual(try login(sandbox).status, 0)
        let before = fake.counts()
        let result = botoCallerARN(sandbox)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines), firstSessionARN)
        let after = fake.counts()
        for call in ["RegisterClient", "CreateToken.device_code", "CreateToken.refresh_token"] {
            XCTAssertEqual(after[call] ?? 0, before[call] ?? 0, "boto3 needed no \(call)")
        }
        XCTAssertEqual(fake.used().last, readJSON(tokenFile(sandbox))["accessToken"] as? String)
    }

    func testBotocoresRefreshRewritesTheFileAndTheBrokerUsesTheNewToken() throws {
        let sandbox = sandbox()
        XCTAssertEqual(try login(sandbox).status, 0)
        sandbox.stopAgent()
        let old = readJSON(tokenFile(sandbox))["accessToken"] as? String
        expireSharedToken(sandbox)
        let boto = botoCallerARN(sandbox)
        XCTAssertEqual(boto.status, 0, boto.stderr)
        XCTAssertEqual(fake.counts()["CreateToken.refresh_token"], 1, "botocore refreshed")
        let renewed = try XCTUnwrap(readJSON(tokenFile(sandbox))["accessToken"] as? String)
        XCTAssertNotEqual(renewed, old)

        let result = sandbox.broker("aws-credential-process", ["--identity", "sandbox"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(fake.counts()["CreateToken.refresh_token"], 1, "the broker took botocore's token rather than refreshing again")
        XCTAssertEqual(fake.used().last, renewed)
    }

    func testTheBrokersRefreshRewritesTheFileForBotocore() throws {
        let sandbox = sandbox()
        XCTAssertEqual(try login(sandbox).status, 0)
        sandbox.stopAgent()
        let old = readJSON(tokenFile(sandbox))
        expireSharedToken(sandbox)
        let result = sandbox.broker("aws-credential-process", ["--identity", "sandbox"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(fake.counts()["CreateToken.refresh_token"], 1)
        let renewed = readJSON(tokenFile(sandbox))
        XCTAssertNotEqual(renewed["accessToken"] as? String, old["accessToken"] as? String)
        XCTAssertNotEqual(renewed["refreshToken"] as? String, old["refreshToken"] as? String, "the rotated refresh token is kept")
        XCTAssertEqual(renewed["clientId"] as? String, old["clientId"] as? String)

        let boto = botoCallerARN(sandbox)
        XCTAssertEqual(boto.status, 0, boto.stderr)
        XCTAssertEqual(fake.counts()["CreateToken.refresh_token"], 1, "botocore found a fresh token and did not refresh")
        XCTAssertEqual(fake.used().last, renewed["accessToken"] as? String)
    }

    // MARK: - Refresh

    func testFiftyConcurrentRequestsWithAnExpiredAccessTokenMakeOneRefresh() throws {
        let sandbox = sandbox(extra: """
            [identity "sandbox-too"]
                kind = aws/permission-set
                via = provider:corp
                account-id = \(moto.account)
                permission-set = first
                sts-endpoint = \(moto.endpoint)
            """)
        XCTAssertEqual(try login(sandbox).status, 0)
        sandbox.stopAgent()
        expireSharedToken(sandbox)
        let identities = ["sandbox", "sandbox-too", "second"]
        let box = ResultsBox((0..<50).map { _ in nil as ProcessResult? })
        DispatchQueue.concurrentPerform(iterations: 50) { i in
            box.set(i, sandbox.broker("aws-credential-process", ["--identity", identities[i % 3]]))
        }
        for result in box.results { XCTAssertEqual(result?.status, 0, result?.stderr ?? "") }
        XCTAssertEqual(fake.counts()["CreateToken.refresh_token"], 1, "one refresh for every request")
        XCTAssertEqual(fake.counts()["GetRoleCredentials"], 2, "one per permission-set identity")
    }

    func testAnExpiredRefreshTokenIsOneClearLoginError() throws {
        let sandbox = sandbox()
        XCTAssertEqual(try login(sandbox).status, 0)
        sandbox.stopAgent()
        expireSharedToken(sandbox)
        fake.control("expire", ["what": "refresh"])
        let result = sandbox.broker("aws-credential-process", ["--identity", "second"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("provider \"corp\" could not renew its session (invalid_grant); run: brokerctl login corp"), result.stderr)
        XCTAssertEqual(fake.counts()["GetRoleCredentials"] ?? 0, 0)
    }

    func testWithoutTheSharedFileTheSessionLivesInTheAgentsMemoryOnly() throws {
        let sandbox = sandbox(share: false)
        XCTAssertEqual(try login(sandbox).status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.root + "/home/.aws/sso"))
        XCTAssertEqual(sandbox.broker("aws-credential-process", ["--identity", "sandbox"]).status, 0)
        // Role credentials survive a restart in the broker's cache; the session does not.
        sandbox.stopAgent()
        let after = sandbox.broker("brokerctl", ["list", "--provider", "corp"])
        XCTAssertEqual(after.status, 1)
        XCTAssertTrue(after.stderr.contains("provider \"corp\" has no session; run: brokerctl login corp"), after.stderr)
    }

    // MARK: - Listing, logout

    func testListProviderFollowsEveryPageOfAccountsAndRoles() throws {
        fake.control("config", ["page_size": 2])
        let sandbox = sandbox()
        XCTAssertEqual(try login(sandbox).status, 0)
        let result = sandbox.broker("brokerctl", ["list", "--provider", "corp", "--format", "json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let offers = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]]) ?? []
        XCTAssertEqual(offers.compactMap { $0["name"] as? String }, [
            "123456789012/Billing", "123456789012/ReadOnly", "123456789012/first",
            "210987654321/AdministratorAccess", "210987654321/ReadOnly", "333333333333/SecurityAudit",
        ])
        // 3 accounts at 2 a page: 2 pages; roles 3 + 2 + 1 at 2 a page: 2 + 1 + 1 pages.
        XCTAssertEqual(fake.counts()["ListAccounts"], 2)
        XCTAssertEqual(fake.counts()["ListAccountRoles"], 4)

        // The sections it prints are a valid configuration, and the new identity works.
        let sections = sandbox.broker("brokerctl", ["list", "--provider", "corp", "--as-config"])
        XCTAssertEqual(sections.status, 0, sections.stderr)
        let config = sandbox.read(sandbox.configPath) + "\n" + sections.stdout
        sandbox.writeConfig(config)
        XCTAssertEqual(sandbox.broker("brokerctl", ["validate"]).status, 0, sections.stdout)
        let doc = sandbox.broker("aws-credential-process", ["--identity", "123456789012/first"])
        XCTAssertEqual(doc.status, 0, doc.stderr)
    }

    // MARK: - Virtual identities (auto-provision)

    func testVirtualIdentitiesServeTheAdaptersWithoutASectionOrAListing() throws {
        let sandbox = sandbox(autoProvision: true, extra: """
            [identity "chained"]
                kind = aws/assume-role
                via = identity:\(moto.account)/first
                role-arn = \(moto.secondRoleARN)
                external-id = \(moto.externalID)
                sts-endpoint = \(moto.endpoint)
            """)
        XCTAssertEqual(try login(sandbox).status, 0)
        let virtual = "\(moto.account)/first"
        let cli = sandbox.run(pathOf("aws"), ["sts", "get-caller-identity", "--query", "Arn", "--output", "text"],
                              extraEnvironment: awsEnvironment(sandbox, identity: virtual), timeout: 60)
        XCTAssertEqual(cli.status, 0, cli.stderr)
        XCTAssertEqual(cli.stdout.trimmingCharacters(in: .whitespacesAndNewlines), firstSessionARN)

        let script = "import boto3; print(boto3.Session().client('sts').get_caller_identity()['Arn'])"
        let wrapped = sandbox.run(Sandbox.executable("broker-env-wrap"), ["--identity", virtual, "--", MotoServer.python, "-c", script],
                                  extraEnvironment: ["AWS_ENDPOINT_URL_STS": moto.endpoint, "AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1",
                                                     "AWS_CONFIG_FILE": sandbox.root + "/none", "AWS_SHARED_CREDENTIALS_FILE": sandbox.root + "/none"],
                                  timeout: 60)
        XCTAssertEqual(wrapped.status, 0, wrapped.stderr)
        XCTAssertEqual(wrapped.stdout.trimmingCharacters(in: .whitespacesAndNewlines), firstSessionARN)

        // A section chains onward from a virtual identity.
        let chained = sandbox.run(MotoServer.python, ["-c", script], extraEnvironment: awsEnvironment(sandbox, identity: "chained"), timeout: 60)
        XCTAssertEqual(chained.status, 0, chained.stderr)
        XCTAssertTrue(chained.stdout.hasPrefix("arn:aws:sts::\(moto.account):assumed-role/second/"), chained.stdout)

        XCTAssertEqual(fake.counts()["GetRoleCredentials"], 1, "one role credential, cached for every adapter and the chain")
        XCTAssertEqual(fake.counts()["ListAccounts"] ?? 0, 0, "a request reads the name; it never lists the accounts")
        XCTAssertTrue(sandbox.auditLines.contains { ($0["identity"] as? String) == virtual && ($0["adapter"] as? String) == "endpoint" })

        // A pair the session may not use: the portal's refusal, with where to look.
        let refused = sandbox.broker("aws-credential-process", ["--identity", "\(moto.account)/Nope"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.stdout, "")
        XCTAssertTrue(refused.stderr.contains("identity \"\(moto.account)/Nope\""), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("brokerctl list --provider corp"), refused.stderr)

        // Logout drops the virtual identity's cached credential too.
        let logout = sandbox.broker("brokerctl", ["logout", "corp"])
        XCTAssertEqual(logout.status, 0, logout.stderr)
        XCTAssertTrue(logout.stdout.contains("2 cached credential(s)"), logout.stdout)
        let after = sandbox.broker("aws-credential-process", ["--identity", virtual])
        XCTAssertEqual(after.status, 1)
        XCTAssertTrue(after.stderr.contains("run: brokerctl login corp"), after.stderr)
    }

    func testCompletionsOfferVirtualIdentitiesFromOneRememberedListing() throws {
        let sandbox = sandbox(autoProvision: true)
        // No session yet: completions offer the sections, and say nothing of the provider.
        let before = sandbox.broker("brokerctl", ["list", "--names"])
        XCTAssertEqual(before.status, 0, before.stderr)
        XCTAssertEqual(before.stdout.split(separator: "\n").map(String.init), ["sandbox", "second"])
        XCTAssertEqual(try login(sandbox).status, 0)

        let offered = ["123456789012/Billing", "123456789012/ReadOnly", "123456789012/first",
                       "210987654321/AdministratorAccess", "210987654321/ReadOnly", "333333333333/SecurityAudit"]
        let names = sandbox.broker("brokerctl", ["list", "--names"])
        XCTAssertEqual(names.stdout.split(separator: "\n").map(String.init), ["sandbox", "second"] + offered)
        let aws = sandbox.broker("brokerctl", ["list", "--names", "--for", "aws"])
        XCTAssertEqual(aws.stdout.split(separator: "\n").map(String.init), ["sandbox", "second"] + offered)
        let login = sandbox.broker("brokerctl", ["list", "--names", "--for", "login"])
        XCTAssertEqual(login.stdout, "", "permission sets have no login step of their own")
        // The fake pages two accounts at a time: one listing is two ListAccounts calls.
        XCTAssertEqual(fake.counts()["ListAccounts"], 2, "completions reuse the agent's listing")

        // The shell's own completion, through the committed bash script.
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../completions/bash/aws-credential-process").standardized.path
        let bash = sandbox.run("/bin/bash", ["-c", """
            source \(script); COMP_WORDS=(aws-credential-process --identity 2109); COMP_CWORD=2
            _aws_credential_process; printf '%s\\n' "${COMPREPLY[@]}"
            """], extraEnvironment: ["PATH": (Sandbox.executable("brokerctl") as NSString).deletingLastPathComponent + ":/usr/bin:/bin"], timeout: 30)
        XCTAssertEqual(bash.stdout.split(separator: "\n").map(String.init), ["210987654321/AdministratorAccess", "210987654321/ReadOnly"], bash.stderr)

        // A person's listing asks the portal now, and marks the names usable without a section.
        let table = sandbox.broker("brokerctl", ["list", "--provider", "corp"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.split(separator: "\n").contains { $0.hasPrefix("123456789012/first ") && $0.hasSuffix("virtual") }, table.stdout)
        XCTAssertEqual(fake.counts()["ListAccounts"], 4, "the bash completion reused the listing; list --provider made a new one")
        let listing = sandbox.broker("brokerctl", ["list"])
        XCTAssertTrue(listing.stdout.contains("provider \"corp\" offers its accounts and roles as identities ACCOUNT-ID/ROLE (auto-provision)"), listing.stdout)
    }

    func testAddFromProviderAppendsASectionForEachIdentityNotYetDefined() throws {
        let sandbox = sandbox(extra: """
            [identity "210987654321/ReadOnly"]
                kind = aws/permission-set
                via = provider:corp
                account-id = 210987654321
                permission-set = ReadOnly
            """)
        XCTAssertEqual(try login(sandbox).status, 0)
        let before = sandbox.read(sandbox.configPath)
        let misuse = sandbox.broker("brokerctl", ["add", "x", "--from-provider", "corp"])
        XCTAssertEqual(misuse.status, 64, misuse.stderr)
        XCTAssertTrue(misuse.stderr.contains("--from-provider takes no NAME, --kind, --set or --secret"), misuse.stderr)

        let added = sandbox.broker("brokerctl", ["add", "--from-provider", "corp"])
        XCTAssertEqual(added.status, 0, added.stderr)
        XCTAssertTrue(added.stdout.contains("added 5 identities from provider \"corp\"") && added.stdout.contains("(1 defined already)"), added.stdout)
        let after = sandbox.read(sandbox.configPath)
        XCTAssertTrue(after.hasPrefix(before), "the file as it was, then the new sections")
        XCTAssertEqual(sandbox.broker("brokerctl", ["validate"]).status, 0)
        let names = sandbox.broker("brokerctl", ["list", "--names"]).stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(names.filter { $0.contains("/") }.sorted(), ["123456789012/Billing", "123456789012/ReadOnly", "123456789012/first",
                                                                    "210987654321/AdministratorAccess", "210987654321/ReadOnly", "333333333333/SecurityAudit"])
        XCTAssertEqual(sandbox.broker("aws-credential-process", ["--identity", "123456789012/first"]).status, 0)
        let again = sandbox.broker("brokerctl", ["add", "--from-provider", "corp"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("provider \"corp\" offers 6 identities; all are defined already"), again.stdout)
        XCTAssertEqual(sandbox.read(sandbox.configPath), after)
    }

    func testLogoutEndsThePortalSessionAndForgetsTokensAndRoleCredentials() throws {
        let sandbox = sandbox()
        XCTAssertEqual(try login(sandbox).status, 0)
        XCTAssertEqual(sandbox.broker("aws-credential-process", ["--identity", "second"]).status, 0)
        let logout = sandbox.broker("brokerctl", ["logout", "corp"])
        XCTAssertEqual(logout.status, 0, logout.stderr)
        XCTAssertTrue(logout.stdout.contains("the portal session"), logout.stdout)
        XCTAssertTrue(logout.stdout.contains("2 cached credential(s)"), logout.stdout)
        XCTAssertEqual(fake.counts()["Logout"], 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: tokenFile(sandbox)))
        let after = sandbox.broker("aws-credential-process", ["--identity", "second"])
        XCTAssertEqual(after.status, 1)
        XCTAssertTrue(after.stderr.contains("run: brokerctl login corp"), after.stderr)
    }
}

/// terraform's s3 backend with credentials from a permission set, through broker-env-wrap's endpoint
/// (in EnvWrapAWSTests: its moto lets the `first` role use S3 and verifies terraform's queries).
extension EnvWrapAWSTests {
    func testTerraformS3BackendThroughAPermissionSet() throws {
        let fake = try SSOFake(moto: moto)
        defer { fake.stop() }
        let sandbox = roleSandbox(extra: """
            [provider "corp"]
                kind = aws/iam-identity-center
                start-url = https://d-1234567890.awsapps.com/start
                region = eu-west-1
                oidc-endpoint = \(fake.endpoint)
                portal-endpoint = \(fake.endpoint)
            [identity "sandbox"]
                kind = aws/permission-set
                via = provider:corp
                account-id = \(moto.account)
                permission-set = first
                sts-endpoint = \(moto.endpoint)
                region = us-east-1
            """)
        XCTAssertEqual(try fake.login(sandbox).status, 0)
        _ = try terraform(delivery: nil, identity: "sandbox", in: sandbox)
        XCTAssertGreaterThanOrEqual(fake.counts()["GetRoleCredentials"] ?? 0, 1)
        XCTAssertGreaterThanOrEqual(events(sandbox, adapter: "endpoint").filter { ($0["identity"] as? String) == "sandbox" }.count, 3)
    }
}

/// aws/saml against moto's AssumeRoleWithSAML, with the assertion from a `cmd:` reference.
final class AWSSAMLTests: MotoTestCase {
    func assertion(role: String, session: String) -> String {
        let xml = """
            <samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1" Version="2.0">
              <saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_2" Version="2.0">
                <saml:AttributeStatement>
                  <saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/Role">
                    <saml:AttributeValue>\(role),arn:aws:iam::\(moto.account):saml-provider/idp</saml:AttributeValue>
                  </saml:Attribute>
                  <saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName">
                    <saml:AttributeValue>\(session)</saml:AttributeValue>
                  </saml:Attribute>
                </saml:AttributeStatement>
              </saml:Assertion>
            </samlp:Response>
            """
        return Data(xml.utf8).base64EncodedString()
    }

    func testTheAssertionCommandsSAMLResponseBecomesTheRolesSession() throws {
        let sandbox = Sandbox()
        let file = sandbox.write("idp/assertion", assertion(role: moto.firstRoleARN, session: "alice@example.com") + "\n")
        let counter = sandbox.root + "/idp/runs"
        let tool = sandbox.write("idp/print-assertion", "#!/bin/sh\necho run >> \(counter)\ncat \(file)\n", mode: 0o755)
        sandbox.writeConfig("""
            [identity "saml"]
                kind = aws/saml
                role-arn = \(moto.firstRoleARN)
                principal-arn = arn:aws:iam::\(moto.account):saml-provider/idp
                saml-assertion = cmd:\(tool)
                sts-endpoint = \(moto.endpoint)
            """)
        // moto answers unsigned STS calls with HTTP 500 while its checks are on (TESTING.md).
        moto.setAuthentication(false)
        let first = sandbox.broker("aws-credential-process", ["--identity", "saml"])
        moto.setAuthentication(true)
        XCTAssertEqual(first.status, 0, first.stderr)
        let request = try XCTUnwrap(moto.requests().last { ($0["params"] as? [String])?.contains("SAMLAssertion") == true })
        XCTAssertNil(request["authorization"] as? String, "AssumeRoleWithSAML is unsigned")
        XCTAssertEqual(request["params"] as? [String], ["Action", "Version", "RoleArn", "PrincipalArn", "SAMLAssertion", "DurationSeconds"])

        let config = sandbox.write("home/.aws/config", "[profile saml]\ncredential_process = \(Sandbox.executable("aws-credential-process")) --identity saml\nregion = us-east-1\n")
        let result = sandbox.run(MotoServer.python, ["-c", "import boto3; print(boto3.Session().client('sts').get_caller_identity()['Arn'])"],
                                 extraEnvironment: ["AWS_CONFIG_FILE": config, "AWS_PROFILE": "saml", "AWS_ENDPOINT_URL_STS": moto.endpoint,
                                                    "AWS_SHARED_CREDENTIALS_FILE": sandbox.root + "/none", "AWS_EC2_METADATA_DISABLED": "true"],
                                 timeout: 60)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "arn:aws:sts::\(moto.account):assumed-role/first/alice@example.com")
        XCTAssertEqual(sandbox.read(counter), "run\n", "the cached role session served boto3; the assertion command ran once")
    }

    func testACommandThatPrintsNoAssertionIsAClearErrorWithoutItsOutput() {
        let sandbox = Sandbox()
        sandbox.writeConfig("""
            [identity "saml"]
                kind = aws/saml
                role-arn = \(moto.firstRoleARN)
                principal-arn = arn:aws:iam::\(moto.account):saml-provider/idp
                saml-assertion = cmd:echo '<html>login page CANARY</html>'
                sts-endpoint = \(moto.endpoint)
            """)
        let result = sandbox.broker("aws-credential-process", ["--identity", "saml"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("saml-assertion did not give a base64 SAMLResponse"), result.stderr)
        XCTAssertFalse(result.stderr.contains("CANARY"))
    }
}
