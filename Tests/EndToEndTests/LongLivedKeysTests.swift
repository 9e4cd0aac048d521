// aws/user keys without a session are long-lived: handed to a host only when the identity opts in.

import Foundation
import XCTest

final class LongLivedKeysTests: XCTestCase {
    func sandbox(optIn: Bool) -> Sandbox {
        let sandbox = Sandbox()
        sandbox.writeConfig("""
            [identity "keys"]
                kind = aws/user
                access-key-id = AKIAEXAMPLE
                secret-access-key = env:LONG_SECRET
            \(optIn ? "    long-lived-keys = true" : "")
            [identity "bot"]
                kind = static
                username = u
                secret = env:LONG_SECRET
            """)
        sandbox.environment["LONG_SECRET"] = "long-lived-secret"
        return sandbox
    }

    func testUserKeysWithoutASessionAreRefusedToCredentialProcess() {
        let sandbox = sandbox(optIn: false)
        let result = sandbox.broker("aws-credential-process", ["--identity", "keys"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(result.stderr, "aws-credential-process: identity \"keys\" would hand out long-lived IAM user keys (hint: set get-session-token = true under [identity \"keys\"] to hand out a session instead, or long-lived-keys = true to accept the risk)\n")
    }

    func testUserKeysWithoutASessionAreRefusedToTheEnvironment() {
        let sandbox = sandbox(optIn: false)
        let result = sandbox.broker("broker-env-wrap", ["--identity", "keys", "--delivery", "env", "--", "/usr/bin/env"])
        XCTAssertEqual(result.status, 1)
        XCTAssertFalse(result.stdout.contains("long-lived-secret"))
        XCTAssertTrue(result.stderr.contains("would hand out long-lived IAM user keys"), result.stderr)
    }

    func testOptInHandsOutTheKeys() {
        let sandbox = sandbox(optIn: true)
        let result = sandbox.broker("aws-credential-process", ["--identity", "keys"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("\"SecretAccessKey\":\"long-lived-secret\""), result.stdout)
    }
}
