// A team's secrets in AWS: `aws-secretsmanager:` and `aws-ssm:` references read by the agent through
// a short-lived role, against moto with signature checks on — no long-lived secret on the machine
// but the base identity's, and rotations picked up after `[secrets] ttl`.

import Foundation
import XCTest

final class RemoteSecretsTests: MotoTestCase {
    /// Runs boto3 as moto's administrator with signature checks off (provisioning, rotation).
    func admin(_ script: String) {
        moto.setAuthentication(false)
        defer { moto.setAuthentication(true) }
        let prelude = """
            import boto3, json
            kw = dict(endpoint_url="\(moto.motoEndpoint)", region_name="us-east-1",
                      aws_access_key_id="AKIAFIXTUREADMIN0000", aws_secret_access_key="fixture-admin-secret")
            sm = boto3.client("secretsmanager", **kw); ssm = boto3.client("ssm", **kw); iam = boto3.client("iam", **kw)

            """
        let result = Sandbox().run(MotoServer.python, ["-c", prelude + script], timeout: 60)
        XCTAssertEqual(result.status, 0, result.stderr)
    }

    /// dev (user keys in a file) → reader (role `first`, allowed to read the team's secrets);
    /// bot's password lives in Secrets Manager, ci's in SSM.
    func teamSandbox(ttl: String = "1h", extra: String = "") -> (sandbox: Sandbox, name: String) {
        let name = "team/\(UUID().uuidString.prefix(8))"
        admin("""
            sm.create_secret(Name="\(name)/github", SecretString=json.dumps({"token": "ghs_FROM_SECRETS_MANAGER", "note": "rotated monthly"}))
            ssm.put_parameter(Name="/\(name)/ci", Value="ssm-SECURE-value", Type="SecureString")
            iam.put_role_policy(RoleName="first", PolicyName="read-team-secrets", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "ssm:GetParameter", "kms:Decrypt"], "Resource": "*"}]}))
            """)
        let sandbox = Sandbox()
        let secretFile = sandbox.write("secrets/dev", moto.secretAccessKey + "\n")
        sandbox.writeConfig("""
            [secrets]
                aws-identity = reader
                ttl = \(ttl)
            [identity "dev"]
                kind = aws/user
                access-key-id = \(moto.accessKeyID)
                secret-access-key = file:\(secretFile)
                sts-endpoint = \(moto.endpoint)
            [identity "reader"]
                kind = aws/assume-role
                via = identity:dev
                role-arn = \(moto.firstRoleARN)
                session-name = \(moto.chainSessionName)
                sts-endpoint = \(moto.endpoint)
            [identity "bot"]
                kind = static
                username = x-access-token
                secret = "aws-secretsmanager:\(name)/github#token"
            [identity "ci"]
                kind = static
                username = ci
                secret = aws-ssm:/\(name)/ci
            [git "https://bot.example"]
                identity = bot
            [git "https://ci.example"]
                identity = ci
            \(extra)
            """)
        return (sandbox, name)
    }

    var endpoints: [String: String] { ["AWS_ENDPOINT_URL_SECRETS_MANAGER": moto.endpoint, "AWS_ENDPOINT_URL_SSM": moto.endpoint] }

    func fill(_ sandbox: Sandbox, host: String) -> ProcessResult {
        sandbox.broker("git-credential-broker", ["get"], stdin: "protocol=https\nhost=\(host)\n", extraEnvironment: endpoints)
    }

    func testGitGetsATokenFromSecretsManagerThroughARoleAndAParameterFromSSM() {
        let (sandbox, _) = teamSandbox()
        let bot = fill(sandbox, host: "bot.example")
        XCTAssertEqual(bot.status, 0, bot.stderr)
        XCTAssertEqual(bot.stdout, "username=x-access-token\npassword=ghs_FROM_SECRETS_MANAGER\n")
        let ci = fill(sandbox, host: "ci.example")
        XCTAssertEqual(ci.status, 0, ci.stderr)
        XCTAssertEqual(ci.stdout, "username=ci\npassword=ssm-SECURE-value\n")
        for path in [sandbox.paths.auditLogPath, sandbox.paths.agentLogPath] {
            XCTAssertFalse(sandbox.read(path).contains("FROM_SECRETS_MANAGER"), path)
            XCTAssertFalse(sandbox.read(path).contains("SECURE-value"), path)
        }
        let cacheFiles = (try? FileManager.default.subpathsOfDirectory(atPath: sandbox.paths.cacheEntriesDirectory)) ?? []
        for file in cacheFiles {
            XCTAssertFalse(sandbox.read(sandbox.paths.cacheEntriesDirectory + "/" + file).contains("FROM_SECRETS_MANAGER"), "long-lived secrets stay in memory: \(file)")
        }
    }

    func testARotationIsPickedUpAfterTheTTLAndNotBefore() {
        let (sandbox, name) = teamSandbox(ttl: "3s")
        XCTAssertEqual(fill(sandbox, host: "bot.example").stdout, "username=x-access-token\npassword=ghs_FROM_SECRETS_MANAGER\n")
        admin("""
            sm.put_secret_value(SecretId="\(name)/github", SecretString=json.dumps({"token": "ghs_ROTATED"}))
            """)
        XCTAssertEqual(fill(sandbox, host: "bot.example").stdout, "username=x-access-token\npassword=ghs_FROM_SECRETS_MANAGER\n",
                       "within the TTL the value read before is served")
        Thread.sleep(forTimeInterval: 3.5)
        let after = fill(sandbox, host: "bot.example")
        XCTAssertEqual(after.stdout, "username=x-access-token\npassword=ghs_ROTATED\n", after.stderr)
        // Secrets Manager down at the next re-read: the value read before keeps serving.
        Thread.sleep(forTimeInterval: 3.5)
        moto.resetCounts()
        moto.injectFaults(status: 503, count: 1, code: "ServiceUnavailable")
        let during = fill(sandbox, host: "bot.example")
        XCTAssertEqual(during.stdout, "username=x-access-token\npassword=ghs_ROTATED\n", during.stderr)
        let reads = moto.requests().filter { $0["content_type"] as? String == "application/x-amz-json-1.1" }
        XCTAssertEqual(reads.count, 1, "one re-read was tried, and the injected fault refused it: \(moto.requests())")
    }

    func testMistakesNameTheReferenceAndNeverTheValue() {
        let (sandbox, name) = teamSandbox(extra: """
            [identity "missing"]
                kind = static
                username = u
                secret = aws-secretsmanager:team/no-such-secret
            [identity "badkey"]
                kind = static
                username = u
                secret = "aws-secretsmanager:PLACEHOLDER/github#nope"
            [git "https://missing.example"]
                identity = missing
            [git "https://badkey.example"]
                identity = badkey
            """)
        // The bad key's reference needs the real name: rewrite it.
        let config = sandbox.read(sandbox.root + "/config/credential-broker/config").replacingOccurrences(of: "PLACEHOLDER", with: name)
        sandbox.writeConfig(config)
        let missing = fill(sandbox, host: "missing.example")
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("Secrets Manager GetSecretValue failed: ResourceNotFoundException"), missing.stderr)
        let badKey = fill(sandbox, host: "badkey.example")
        XCTAssertNotEqual(badKey.status, 0)
        XCTAssertTrue(badKey.stderr.contains("has no string member \"nope\""), badKey.stderr)
        XCTAssertTrue(badKey.stderr.contains("note, token"), "the member names help; \(badKey.stderr)")
        XCTAssertFalse(badKey.stderr.contains("FROM_SECRETS_MANAGER"), badKey.stderr)
    }

    func testAnIdentityWithoutReadPermissionIsDeniedByAWSAndSaysWhatToAllow() {
        let (sandbox, name) = teamSandbox(extra: """
            [identity "as-user"]
                kind = static
                username = u
                secret = aws-ssm:/PLACEHOLDER/ci?identity=dev
            [git "https://as-user.example"]
                identity = as-user
            """)
        let config = sandbox.read(sandbox.root + "/config/credential-broker/config").replacingOccurrences(of: "PLACEHOLDER", with: name)
        sandbox.writeConfig(config.replacingOccurrences(of: "kind = aws/user", with: "kind = aws/user\n    long-lived-keys = true"))
        let denied = fill(sandbox, host: "as-user.example")
        XCTAssertNotEqual(denied.status, 0)
        XCTAssertTrue(denied.stderr.contains("Systems Manager GetParameter failed: AccessDenied"), denied.stderr)
        XCTAssertTrue(denied.stderr.contains("allow ssm:GetParameter on this resource in the reading identity's IAM policy"), denied.stderr)
        XCTAssertEqual(fill(sandbox, host: "ci.example").stdout, "username=ci\npassword=ssm-SECURE-value\n", "the role may")
    }

    func testTheReaderNeedsAnAWSIdentityWithoutRemoteSecretsOfItsOwn() {
        let sandbox = Sandbox()
        sandbox.writeConfig("""
            [identity "bot"]
                kind = static
                username = u
                secret = aws-secretsmanager:team/github
            """)
        var result = sandbox.broker("brokerctl", ["validate"])
        XCTAssertTrue(result.stderr.contains("config:4: identity \"bot\" reads aws-secretsmanager:team/github, but no AWS identity is named to read it with"), result.stderr)
        sandbox.writeConfig("""
            [secrets]
                aws-identity = bot
            [identity "bot"]
                kind = static
                username = u
                secret = aws-ssm:/team/pat?identity=bot
            """)
        result = sandbox.broker("brokerctl", ["validate"])
        XCTAssertTrue(result.stderr.contains("which gives no AWS credentials"), result.stderr)
        sandbox.writeConfig("""
            [secrets]
                aws-identity = dev
            [identity "dev"]
                kind = aws/user
                access-key-id = AKIAEXAMPLE
                secret-access-key = aws-ssm:/team/dev-secret
            """)
        result = sandbox.broker("brokerctl", ["validate"])
        XCTAssertTrue(result.stderr.contains("whose chain needs a remote secret itself (\"dev\")"), result.stderr)
        sandbox.writeConfig("""
            [identity "bot"]
                kind = static
                username = u
                secret = aws-secretsmanager:team/github?stage=AWSCURRENT
            """)
        result = sandbox.broker("brokerctl", ["validate"])
        XCTAssertTrue(result.stderr.contains("config:4: aws-secretsmanager: unknown option \"stage\""), result.stderr)
    }
}

