// git's conformance groups (GitConformanceTests) again with `[git] store = keyring`, on the file keyring and on a real GNOME Keyring.
//
// git runs the same t/lib-credential.sh groups for git-credential-libsecret and osxkeychain
// (t0303 with GIT_TEST_CREDENTIAL_HELPER) minus helper_test_timeout: a keyring keeps what git
// approved until git erases it. Here the timeout groups say exactly that instead, and the agent
// is restarted before every step, so each answer comes from what the keyring kept.

import Foundation
import XCTest

class GitConformanceKeyringTests: GitConformanceTests {
    override var keepsPastTimeout: Bool { true }

    /// The `[keyring]` lines of the backend under test.
    func keyringConfig(_ sandbox: Sandbox) throws -> String { throw XCTSkip("a backend's subclass runs these") }

    override func makeSandbox() throws -> Sandbox {
        let sandbox = Sandbox()
        sandbox.writeConfig("""
            [git]
                store = keyring
            [keyring]
            \(try keyringConfig(sandbox))

            """)
        sandbox.restartsAgentBetweenSteps = true
        return sandbox
    }

    /// What git approved is in the keyring, not only in the agent.
    func approveOne(_ sandbox: Sandbox) {
        let approve = sandbox.git(["credential", "approve"], stdin: "protocol=https\nhost=kept.tld\nusername=u\npassword=kept-in-the-keyring\n\n")
        XCTAssertEqual(approve.status, 0, approve.stderr)
        XCTAssertEqual(approve.stderr, "")
    }
}

/// The file keyring, opened with BROKER_KEYRING_PASSWORD in the agent's environment.
final class GitConformanceKeyringFileTests: GitConformanceKeyringTests {
    override func keyringConfig(_ sandbox: Sandbox) throws -> String {
        sandbox.environment["BROKER_KEYRING_PASSWORD"] = "conformance pass phrase"
        // scrypt at 2^10: the suites write the keyring on every approve and reject.
        return "    backend = file\n    directory = \(sandbox.root)/keyring\n    work-factor = 10"
    }

    func testApprovedCredentialsAreOneAgeFileThatHoldsNoPlaintext() throws {
        let sandbox = try makeSandbox()
        approveOne(sandbox)
        let file = sandbox.root + "/keyring/git-credentials.age"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        XCTAssertTrue(bytes.starts(with: Data("age-encryption.org/v1\n".utf8)))
        XCTAssertNil(bytes.range(of: Data("kept-in-the-keyring".utf8)))
        XCTAssertNil(bytes.range(of: Data("kept.tld".utf8)), "hosts are not in the clear either")
    }
}

/// A real GNOME Keyring in a private D-Bus session (SecretServiceSession).
final class GitConformanceKeyringSystemTests: GitConformanceKeyringTests {
    private var session: SecretServiceSession?

    override func keyringConfig(_ sandbox: Sandbox) throws -> String {
        let session = try SecretServiceSession(sandbox: sandbox)
        self.session = session
        sandbox.environment["DBUS_SESSION_BUS_ADDRESS"] = session.address
        return "    backend = system"
    }

    override func tearDown() {
        session = nil
        super.tearDown()
    }

    func testApprovedCredentialsAreOneSecretServiceItem() throws {
        let sandbox = try makeSandbox()
        approveOne(sandbox)
        let lookup = try XCTUnwrap(session).secretTool(sandbox, ["lookup", "service", "credential-broker", "account", "git-credentials"])
        XCTAssertEqual(lookup.status, 0, lookup.stderr)
        XCTAssertTrue(lookup.stdout.contains("\"host\":\"kept.tld\""), "one item holds the list")
    }
}
