// The AWS kinds' settings: what loads, and the file:line sentence for what does not.

@testable import BrokerCore
import BrokerWire
import XCTest

final class AWSIdentityConfigTests: XCTestCase {
    func config(_ text: String) throws -> BrokerConfig { try BrokerConfig.parse(ConfigSyntax.parse(text: text, file: "cfg")) }

    func error(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> ConfigError? {
        do {
            _ = try config(text)
            XCTFail("expected an error", file: file, line: line)
        } catch let error as ConfigError {
            return error
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
        return nil
    }

    let user = "[identity \"u\"]\nkind = aws/user\naccess-key-id = AKIDEXAMPLE\nsecret-access-key = env:SECRET\n"

    func role(_ arn: String, extra: String = "") -> String {
        user + "[identity \"r\"]\nkind = aws/assume-role\nvia = identity:u\nrole-arn = \(arn)\n\(extra)"
    }

    func testTransitiveTagKeysMustBeTagsAndPolicyARNsMustBePolicies() throws {
        let arn = "arn:aws:iam::123456789012:role/deploy"
        let loaded = try config(role(arn, extra: "tag = team=a\ntransitive-tag-key = team\npolicy-arn = arn:aws:iam::aws:policy/ReadOnlyAccess\n"))
        let kind = try XCTUnwrap(loaded.kinds["r"] as? AWSAssumeRoleIdentity)
        XCTAssertEqual(kind.transitiveTagKeys, ["team"])
        XCTAssertEqual(kind.policyARNs, ["arn:aws:iam::aws:policy/ReadOnlyAccess"])
        XCTAssertEqual(error(role(arn, extra: "tag = team=a\ntransitive-tag-key = owner\n"))?.description,
                       "cfg:10: transitive-tag-key \"owner\" names no tag of this identity (hint: add `tag = KEY=VALUE` for it; STS refuses transitive keys that are not session tags)")
        XCTAssertEqual(error(role(arn, extra: "policy-arn = arn:aws:iam::123456789012:role/x\n"))?.location?.line, 9)
        XCTAssertTrue(error(role(arn, extra: "policy-arn = arn:aws:iam::123456789012:role/x\n"))?.message.contains("is not an IAM policy ARN") == true)
    }

    func testRoleARNsOfEveryPartitionAndWithPathsLoad() throws {
        for arn in ["arn:aws:iam::123456789012:role/deploy", "arn:aws-cn:iam::123456789012:role/ops/deploy",
                    "arn:aws-us-gov:iam::123456789012:role/a/b/c+=,.@_-x"] {
            XCTAssertNoThrow(try config(role(arn)), arn)
        }
    }

    func testBadRoleARNsSayWhatIsWrongAtTheirLine() {
        let cases = [
            ("arn:aws:iam::12345:role/x", "needs a 12-digit account id"),
            ("arn:aws:iam::123456789012:user/x", "is not a role"),
            ("arn:aws:s3:::bucket", "is not an IAM role ARN"),
            ("arn:azure:iam::123456789012:role/x", "unknown partition"),
            ("arn:aws:iam::123456789012:role/", "invalid role name"),
            ("arn:aws:iam::123456789012:role/a b", "invalid role name"),
        ]
        for (arn, why) in cases {
            let e = error(role(arn))
            XCTAssertTrue(e?.message.contains(why) == true, "\(arn): \(e?.message ?? "")")
            XCTAssertEqual(e?.location?.line, 8, arn)
        }
    }

    func testAssumeRoleNeedsVia() {
        XCTAssertEqual(error("[identity \"r\"]\nkind = aws/assume-role\nrole-arn = arn:aws:iam::123456789012:role/x\n")?.message,
                       "identity \"r\" (kind aws/assume-role) needs via = identity:NAME")
    }

    func testDurationRangeIsChecked() {
        XCTAssertTrue(error(role("arn:aws:iam::123456789012:role/x", extra: "duration = 5m\n"))?.message.contains("between 15m and 12h") == true)
        XCTAssertNoThrow(try config(role("arn:aws:iam::123456789012:role/x", extra: "duration = 2h\n")))
    }

    func testTagsMustBeKeyValue() {
        XCTAssertEqual(error(role("arn:aws:iam::123456789012:role/x", extra: "tag = team=ci\ntag = oops\n"))?.message, "tag must be KEY=VALUE")
    }

    func testSessionNameIsValidated() {
        XCTAssertNotNil(error(role("arn:aws:iam::123456789012:role/x", extra: "session-name = has space\n")))
    }

    func testUserNeedsKeysOrProfileButNotBoth() {
        XCTAssertEqual(error("[identity \"u\"]\nkind = aws/user\n")?.message, "identity \"u\" (kind aws/user) needs access-key-id")
        XCTAssertNotNil(error("[identity \"u\"]\nkind = aws/user\nprofile = p\naccess-key-id = A\n"))
        XCTAssertNoThrow(try config("[identity \"u\"]\nkind = aws/user\nprofile = p\n"))
    }

    func testInlineSecretKeyIsRefused() {
        let e = error("[identity \"u\"]\nkind = aws/user\naccess-key-id = AKID\nsecret-access-key = wJalrXUtnFEMI\n")
        XCTAssertFalse(e!.description.contains("wJalr"))
    }

    func testWebIdentityTakesATokenFileOrGitHubNotBoth() {
        XCTAssertNotNil(error("[identity \"w\"]\nkind = aws/web-identity\nrole-arn = arn:aws:iam::123456789012:role/ci\ntoken-file = /t\ngithub-oidc = true\n"))
        XCTAssertNoThrow(try config("[identity \"w\"]\nkind = aws/web-identity\nrole-arn = arn:aws:iam::123456789012:role/ci\ngithub-oidc = yes\n"))
    }

    func testAWSMinimumValidityCannotGoBelowBotocoresWindow() {
        XCTAssertTrue(error("[aws]\nminimum-validity = 10m\n")?.message.contains("at least 15m") == true)
        XCTAssertEqual(try config("[aws]\nminimum-validity = 30m\n").aws.minimumValidity, 1800)
    }

    func testSessionNameDefaultIsSanitised() {
        XCTAssertEqual(AWSNames.sessionName(from: "broker-jane doe/ci"), "broker-jane-doe-ci")
        XCTAssertEqual(AWSNames.sessionName(from: String(repeating: "x", count: 100)).count, 64)
    }

    func testEndpointIsInTheCacheKey() throws {
        let c = try config(role("arn:aws:iam::123456789012:role/x"))
        let chain = try ChainResolver.chain(of: "r", in: c)[...]
        let a = ChainResolver.key(for: chain, context: ResolveContext(environment: Environment(["AWS_ENDPOINT_URL_STS": "http://127.0.0.1:1"])))
        let b = ChainResolver.key(for: chain, context: ResolveContext(environment: Environment(["AWS_ENDPOINT_URL_STS": "http://127.0.0.1:2"])))
        XCTAssertNotEqual(a, b)
    }

    func testSharedCredentialsFileProfile() throws {
        let path = NSTemporaryDirectory() + "creds-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(path) }
        FileManager.default.createFile(atPath: path, contents: Data("""
            [default]
            aws_access_key_id = AKIDDEFAULT
            aws_secret_access_key = d
            [work]
            aws_access_key_id=AKIDWORK
            aws_secret_access_key=w
            aws_session_token = t
            """.utf8), attributes: [.posixPermissions: 0o600])
        let keys = try SharedCredentialsFile.read(path: path, profile: "work")
        XCTAssertEqual(keys.accessKeyID, "AKIDWORK")
        XCTAssertEqual(keys.secretAccessKey.reveal(), "w")
        XCTAssertEqual(keys.sessionToken?.reveal(), "t")
        XCTAssertThrowsError(try SharedCredentialsFile.read(path: path, profile: "missing"))
        chmod(path, 0o644)
        XCTAssertThrowsError(try SharedCredentialsFile.read(path: path, profile: "work")) { error in
            XCTAssertEqual((error as? BrokerFailure)?.hint, "chmod 600 \(path)")
        }
    }
}

import Foundation
