// aws-credential-process under the real aws CLI and boto3, against moto_server with signature checks on.

import Foundation
import XCTest

final class AWSCredentialProcessTests: MotoTestCase {
    /// dev (user keys) → first (role) → chained (role with an ExternalId condition).
    func chainSandbox(secret: String? = nil, extra: String = "") -> Sandbox {
        let sandbox = Sandbox()
        let secretFile = sandbox.write("secrets/dev", (secret ?? moto.secretAccessKey) + "\n")
        sandbox.writeConfig("""
            [identity "dev"]
                kind = aws/user
                access-key-id = \(moto.accessKeyID)
                secret-access-key = file:\(secretFile)
                sts-endpoint = \(moto.endpoint)
                long-lived-keys = true
            [identity "first"]
                kind = aws/assume-role
                via = identity:dev
                role-arn = \(moto.firstRoleARN)
                session-name = \(moto.chainSessionName)
                sts-endpoint = \(moto.endpoint)
            [identity "chained"]
                kind = aws/assume-role
                via = identity:first
                role-arn = \(moto.secondRoleARN)
                external-id = \(moto.externalID)
                sts-endpoint = \(moto.endpoint)
            \(extra)
            """)
        return sandbox
    }

    /// An AWS config whose profile runs our adapter, and an environment with nothing else of AWS's.
    func awsEnvironment(_ sandbox: Sandbox, identity: String) -> [String: String] {
        let config = sandbox.write("home/.aws/config", """
            [profile broker]
            credential_process = \(Sandbox.executable("aws-credential-process")) --identity \(identity)
            region = us-east-1

            """)
        return ["AWS_CONFIG_FILE": config, "AWS_SHARED_CREDENTIALS_FILE": sandbox.root + "/none", "AWS_PROFILE": "broker",
                "AWS_ENDPOINT_URL_STS": moto.endpoint, "AWS_EC2_METADATA_DISABLED": "true"]
    }

    func testAwsCLIGetCallerIdentityShowsTheChainedRole() throws {
        let sandbox = chainSandbox()
        let result = sandbox.run(pathOf("aws"), ["sts", "get-caller-identity", "--output", "json"],
                                 extraEnvironment: awsEnvironment(sandbox, identity: "chained"), timeout: 60)
        let arn = document(result)["Arn"] as? String ?? ""
        XCTAssertTrue(arn.hasPrefix("arn:aws:sts::\(moto.account):assumed-role/second/"), "got \(arn); stderr: \(result.stderr)")
    }

    func testBoto3SeesTheChainedRoleToo() {
        let sandbox = chainSandbox()
        let script = "import boto3; print(boto3.Session().client('sts').get_caller_identity()['Arn'])"
        let result = sandbox.run(MotoServer.python, ["-c", script], extraEnvironment: awsEnvironment(sandbox, identity: "chained"), timeout: 60)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains(":assumed-role/second/"), result.stdout)
    }

    func testDocumentIsVersion1WithAtLeastTwentyMinutes() throws {
        let sandbox = chainSandbox()
        let result = sandbox.broker("aws-credential-process", ["--identity", "chained"])
        let doc = document(result)
        XCTAssertEqual(Set(doc.keys), ["Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"])
        XCTAssertEqual(doc["Version"] as? Int, 1)
        let expiration = try XCTUnwrap(doc["Expiration"] as? String)
        XCTAssertTrue(expiration.hasSuffix("Z"), expiration)
        let formatter = ISO8601DateFormatter()
        let date = try XCTUnwrap(formatter.date(from: expiration))
        XCTAssertGreaterThan(date.timeIntervalSinceNow, 20 * 60)
        XCTAssertEqual(result.stdout.filter { $0 == "\n" }.count, 1, "exactly one line of JSON")
        XCTAssertEqual(result.stderr, "")
    }

    func testLongLivedUserKeysCarryNoExpiration() {
        let sandbox = chainSandbox()
        let doc = document(sandbox.broker("aws-credential-process", ["--identity", "dev"]))
        XCTAssertEqual(doc["AccessKeyId"] as? String, moto.accessKeyID)
        XCTAssertNil(doc["Expiration"])
        XCTAssertNil(doc["SessionToken"])
    }

    func testWrongSecretNamesTheIdentityAndTheSTSErrorCode() {
        let sandbox = chainSandbox(secret: "not-the-secret-CANARY")
        let result = sandbox.broker("aws-credential-process", ["--identity", "chained"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertTrue(result.stderr.hasPrefix("aws-credential-process: identity \"chained\""), result.stderr)
        XCTAssertTrue(result.stderr.contains("SignatureDoesNotMatch"), result.stderr)
        XCTAssertFalse(result.stderr.contains("CANARY"))
        XCTAssertFalse(sandbox.read(sandbox.paths.auditLogPath).contains("CANARY"))
    }

    func testFiftyConcurrentColdCallsMakeOneAssumeRolePerHop() throws {
        let sandbox = chainSandbox()
        moto.resetCounts()
        let results = (0..<50).map { _ in nil as ProcessResult? }
        let box = ResultsBox(results)
        DispatchQueue.concurrentPerform(iterations: 50) { i in
            box.set(i, sandbox.broker("aws-credential-process", ["--identity", "chained"]))
        }
        let keys = Set(box.results.map { document($0!)["AccessKeyId"] as? String ?? "" })
        XCTAssertEqual(keys.count, 1, "every caller got the same credentials")
        XCTAssertEqual(moto.counts()["AssumeRole"], 2, "one AssumeRole for first, one for chained")
    }

    func testRestartedAgentServesFromTheDiskCacheWithoutUpstreamCalls() throws {
        let sandbox = chainSandbox()
        let first = document(sandbox.broker("aws-credential-process", ["--identity", "chained"]))
        sandbox.stopAgent()
        moto.resetCounts()
        let second = document(sandbox.broker("aws-credential-process", ["--identity", "chained"]))
        XCTAssertEqual(first["AccessKeyId"] as? String, second["AccessKeyId"] as? String)
        XCTAssertEqual(moto.counts()["AssumeRole"] ?? 0, 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: sandbox.paths.cacheEntriesDirectory)
        XCTAssertEqual(files.filter { $0.hasPrefix("first.") || $0.hasPrefix("chained.") }.count, 2, "\(files)")
        XCTAssertFalse(files.contains { $0.hasPrefix("dev.") }, "long-lived user keys never reach the disk")
        XCTAssertEqual(sandbox.auditLines.last?["tier"] as? String, "disk")
    }

    func testWhoamiReportsARNAccountAndTier() throws {
        let sandbox = chainSandbox()
        let json = sandbox.broker("brokerctl", ["whoami", "chained", "--format", "json"])
        let object = document(json)
        XCTAssertTrue((object["arn"] as? String ?? "").contains(":assumed-role/second/"), json.stdout)
        XCTAssertEqual(object["account"] as? String, moto.account)
        XCTAssertEqual(object["tier"] as? String, "upstream")
        XCTAssertFalse(json.stdout.contains(moto.secretAccessKey))
        let again = sandbox.broker("brokerctl", ["whoami", "chained"])
        XCTAssertTrue(again.stdout.contains("memory"), again.stdout)
    }

    func testEndpointIsPartOfTheCacheKey() throws {
        let sandbox = chainSandbox()
        _ = document(sandbox.broker("aws-credential-process", ["--identity", "first"]))
        // The same identity against another endpoint must not be served the first endpoint's keys.
        let text = sandbox.read(sandbox.configPath).replacingOccurrences(of: "sts-endpoint = \(moto.endpoint)", with: "sts-endpoint = \(moto.motoEndpoint)")
        sandbox.writeConfig(text)
        moto.resetCounts()
        _ = document(sandbox.broker("aws-credential-process", ["--identity", "first"]))
        let files = try FileManager.default.contentsOfDirectory(atPath: sandbox.paths.cacheEntriesDirectory).filter { $0.hasPrefix("first.") }
        XCTAssertEqual(files.count, 2, "one entry per endpoint: \(files)")
    }

    func testMFAIdentityNeverPromptsAndPointsAtBrokerctlLogin() {
        let probe = Sandbox()
        let sandboxSecret = probe.write("dev-secret", moto.secretAccessKey)
        let sandbox = chainSandbox(extra: """
            [identity "mfa"]
                kind = aws/user
                access-key-id = \(moto.accessKeyID)
                secret-access-key = file:\(sandboxSecret)
                mfa-serial = arn:aws:iam::\(moto.account):mfa/dev
                sts-endpoint = \(moto.endpoint)
            """)
        let result = sandbox.broker("aws-credential-process", ["--identity", "mfa"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stdout, "")
        XCTAssertTrue(result.stderr.contains("run: brokerctl login mfa"), result.stderr)
    }

    func testBrokerctlLoginHandsTheCodeToTheAgent() {
        let sandbox = chainSandbox()
        let secretFile = sandbox.root + "/secrets/dev"
        sandbox.writeConfig(sandbox.read(sandbox.configPath) + """

            [identity "mfa"]
                kind = aws/user
                access-key-id = \(moto.accessKeyID)
                secret-access-key = file:\(secretFile)
                mfa-serial = arn:aws:iam::\(moto.account):mfa/dev
                sts-endpoint = \(moto.endpoint)
            """)
        moto.resetCounts()
        let login = sandbox.broker("brokerctl", ["login", "mfa"], stdin: "123456\n")
        XCTAssertEqual(login.status, 0, login.stderr)
        XCTAssertTrue(login.stdout.hasPrefix("logged in: identity \"mfa\" has a session until "), login.stdout)
        XCTAssertEqual(moto.counts()["GetSessionToken"], 1)
        // The session is cached: the adapter now answers without needing a code.
        let doc = document(sandbox.broker("aws-credential-process", ["--identity", "mfa"]))
        XCTAssertNotNil(doc["SessionToken"])
        XCTAssertEqual(moto.counts()["GetSessionToken"], 1)
    }

    func testWebIdentityChainsIntoARoleAndNeverReachesTheDisk() throws {
        // moto answers AssumeRoleWithWebIdentity only with its checks off (TESTING.md).
        moto.setAuthentication(false)
        defer { moto.setAuthentication(true) }
        let sandbox = Sandbox()
        let token = sandbox.write("token", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.c2ln\n")
        sandbox.writeConfig("""
            [identity "ci"]
                kind = aws/web-identity
                role-arn = \(moto.firstRoleARN)
                token-file = \(token)
                sts-endpoint = \(moto.endpoint)
            [identity "deploy"]
                kind = aws/assume-role
                via = identity:ci
                role-arn = \(moto.secondRoleARN)
                sts-endpoint = \(moto.endpoint)
            """)
        moto.resetCounts()
        let doc = document(sandbox.broker("aws-credential-process", ["--identity", "deploy"]))
        XCTAssertNotNil(doc["SessionToken"])
        XCTAssertEqual(moto.counts()["AssumeRoleWithWebIdentity"], 1)
        XCTAssertEqual(moto.counts()["AssumeRole"], 1)
        // Ambient CI material: neither the web-identity session nor what was derived from it
        // may be found on disk by the next job on the same runner.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: sandbox.paths.cacheEntriesDirectory), [])
        // Still cached in memory: a second call makes no upstream request.
        _ = document(sandbox.broker("aws-credential-process", ["--identity", "deploy"]))
        XCTAssertEqual(moto.counts()["AssumeRoleWithWebIdentity"], 1)
    }

    func testWebIdentityWithoutATokenSaysWhere() {
        let sandbox = Sandbox()
        sandbox.writeConfig("[identity \"ci\"]\n kind = aws/web-identity\n role-arn = \(moto.firstRoleARN)\n sts-endpoint = \(moto.endpoint)\n")
        let result = sandbox.broker("aws-credential-process", ["--identity", "ci"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("AWS_WEB_IDENTITY_TOKEN_FILE is not set in broker-agent's environment"), result.stderr)
    }

    func testUnknownIdentityAndMissingIdentity() {
        let sandbox = chainSandbox()
        let unknown = sandbox.broker("aws-credential-process", ["--identity", "nope"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.stderr.contains("identity \"nope\" is not defined"), unknown.stderr)
        let missing = sandbox.broker("aws-credential-process", [])
        XCTAssertEqual(missing.status, 64)
        XCTAssertEqual(missing.stdout, "")
        XCTAssertEqual(sandbox.broker("aws-credential-process", [], extraEnvironment: ["BROKER_IDENTITY": "dev"]).status, 0)
    }
}

/// The aws/credentials kind with good, crashing, slow and lying external processes.
final class AWSCredentialsSourceTests: XCTestCase {
    func sandbox(_ script: String, timeout: String = "5s") -> Sandbox {
        let sandbox = Sandbox()
        let path = sandbox.write("bin/source", "#!/bin/sh\n" + script + "\n", mode: 0o755)
        sandbox.writeConfig("""
            [identity "src"]
                kind = aws/credentials
                command = \(path)
                timeout = \(timeout)
            """)
        return sandbox
    }

    func failure(_ script: String, timeout: String = "5s") -> String {
        let result = sandbox(script, timeout: timeout).broker("aws-credential-process", ["--identity", "src"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        return result.stderr
    }

    func testGoodProcessIsUsedAsItIs() throws {
        let expiry = ISO8601DateFormatter().string(from: Date().addingTimeInterval(3600))
        let result = sandbox(#"echo '{"Version": 1, "AccessKeyId": "AKIDSOURCE", "SecretAccessKey": "s3cr3t", "SessionToken": "tok", "Expiration": "\#(expiry)"}'"#)
            .broker("aws-credential-process", ["--identity", "src"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(doc["AccessKeyId"] as? String, "AKIDSOURCE")
        XCTAssertEqual(doc["SecretAccessKey"] as? String, "s3cr3t")
        XCTAssertEqual(doc["Expiration"] as? String, expiry)
    }

    func testCrashingProcess() {
        XCTAssertTrue(failure("echo boom >&2; kill -SEGV $$").contains("crashed (killed by signal 11)"))
    }

    func testFailingProcessShowsStatusAndStderrButNotStdout() {
        let text = failure("echo '{\"SecretAccessKey\": \"CANARY\"}'; echo 'no such profile' >&2; exit 3")
        XCTAssertTrue(text.contains("exited with status 3: no such profile"), text)
        XCTAssertFalse(text.contains("CANARY"))
    }

    func testSlowProcessTimesOut() {
        let start = Date()
        XCTAssertTrue(failure("sleep 20", timeout: "1s").contains("timed out after 1 s"))
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
    }

    func testLyingProcesses() {
        XCTAssertTrue(failure("echo 'not json CANARY'").contains("not a JSON object"))
        XCTAssertTrue(failure(#"echo '{"Version": 2, "AccessKeyId": "A", "SecretAccessKey": "S"}'"#).contains("printed Version 2; only Version 1"))
        XCTAssertTrue(failure(#"echo '{"Version": 1, "AccessKeyId": "A"}'"#).contains("no AccessKeyId or SecretAccessKey"))
        XCTAssertTrue(failure(#"echo '{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "S", "Expiration": "soon"}'"#).contains("not an RFC 3339 time"))
        XCTAssertTrue(failure(#"echo '{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "S", "Expiration": "2001-01-01T00:00:00Z"}'"#).contains("expired at 2001-01-01T00:00:00Z"))
    }

    func testShortLivedSourceBelowTheMinimumIsRefused() {
        let expiry = ISO8601DateFormatter().string(from: Date().addingTimeInterval(600))
        let text = failure(#"echo '{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "S", "Expiration": "\#(expiry)"}'"#)
        XCTAssertTrue(text.contains("less than the 1200 s required"), text)
    }
}

final class ResultsBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var results: [ProcessResult?]
    init(_ results: [ProcessResult?]) { self.results = results }
    func set(_ i: Int, _ value: ProcessResult) { lock.lock(); results[i] = value; lock.unlock() }
}
