// The helper under real git: approve then fill round-trips through an auto-started agent.

import XCTest

final class GitSmokeTests: XCTestCase {
    func testApprovedCredentialIsFilledFromTheAgent() {
        let sandbox = Sandbox()
        let approve = sandbox.git(["credential", "approve"], stdin: "protocol=https\nhost=example.com\nusername=store-user\npassword=store-pass\n")
        XCTAssertEqual(approve.status, 0, approve.stderr)
        let fill = sandbox.git(["credential", "fill"], stdin: "protocol=https\nhost=example.com\n")
        XCTAssertEqual(fill.stdout, "protocol=https\nhost=example.com\nusername=store-user\npassword=store-pass\n")
        XCTAssertEqual(fill.stderr, "")
    }
}
