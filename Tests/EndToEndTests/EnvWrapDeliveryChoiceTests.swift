// An AWS identity's own `delivery` setting, and the --delivery flag that overrides it.

import Foundation
import XCTest

final class EnvWrapDeliveryChoiceTests: XCTestCase {
    func sandbox(delivery: String?) -> Sandbox {
        let sandbox = Sandbox()
        let expiry = ISO8601DateFormatter().string(from: Date().addingTimeInterval(7200))
        let source = sandbox.write("bin/source", """
            #!/bin/sh
            echo '{"Version": 1, "AccessKeyId": "AKIDCHOICE", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": "\(expiry)"}'

            """, mode: 0o755)
        sandbox.writeConfig("""
            [identity "src"]
                kind = aws/credentials
                command = \(source)
            \(delivery.map { "    delivery = \($0)" } ?? "")
            """)
        return sandbox
    }

    let probe = ["sh", "-c", "echo key=${AWS_ACCESS_KEY_ID:-none} uri=${AWS_CONTAINER_CREDENTIALS_FULL_URI:+set}"]

    func testIdentityDeliveryIsUsedWhenNoFlagIsGiven() {
        let result = sandbox(delivery: "env").broker("broker-env-wrap", ["--identity", "src", "--"] + probe)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "key=AKIDCHOICE uri=\n")
    }

    func testFlagOverridesTheIdentity() {
        let result = sandbox(delivery: "env").broker("broker-env-wrap", ["--identity", "src", "--delivery", "endpoint", "--"] + probe)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "key=none uri=set\n")
    }

    func testEndpointIsTheDefault() {
        let result = sandbox(delivery: nil).broker("broker-env-wrap", ["--identity", "src", "--"] + probe)
        XCTAssertEqual(result.stdout, "key=none uri=set\n", result.stderr)
    }

    func testUnknownDeliveryIsAConfigErrorAtItsLine() {
        let result = sandbox(delivery: "carrier-pigeon").broker("brokerctl", ["validate"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("config:4: delivery must be endpoint, env or profile"), result.stderr)
    }
}
