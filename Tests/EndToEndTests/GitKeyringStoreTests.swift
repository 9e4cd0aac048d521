// Specifies `[git] store`: what git approved for unbound URLs outlives a killed agent in the keyring, and only there.

import Foundation
import XCTest

final class GitKeyringStoreTests: XCTestCase {
    static let approve = "protocol=https\nhost=unbound.tld\nusername=me\npassword=approved-secret-1\n\n"
    static let fill = "protocol=https\nhost=unbound.tld\n\n"

    func sandbox(store: String, keyring: String = "backend = file") -> Sandbox {
        let sandbox = Sandbox()
        sandbox.writeConfig("""
            [git]
                store = \(store)
            [keyring]
                \(keyring)
                directory = \(sandbox.root)/keyring
                work-factor = 10

            """)
        return sandbox
    }

    /// SIGKILL, so nothing is saved on the way out; the next helper call starts a new agent.
    func killAgent(_ sandbox: Sandbox, file: StaticString = #filePath, line: UInt = #line) {
        guard let pid = sandbox.agentPID else { return XCTFail("no agent running", file: file, line: line) }
        kill(pid, SIGKILL)
        for _ in 0..<500 where Sandbox.isAlive(pid) { usleep(10_000) }
        XCTAssertFalse(Sandbox.isAlive(pid), file: file, line: line)
    }

    func testKeyringStoreKeepsApprovedCredentialsAcrossAKilledAgent() {
        let sandbox = sandbox(store: "keyring")
        sandbox.environment["BROKER_KEYRING_PASSWORD"] = "store pass phrase"
        let approve = sandbox.git(["credential", "approve"], stdin: Self.approve)
        XCTAssertEqual(approve.status, 0, approve.stderr)
        XCTAssertEqual(approve.stderr, "")
        let firstAgent = sandbox.agentPID
        killAgent(sandbox)

        let fill = sandbox.git(["credential", "fill"], stdin: Self.fill)
        XCTAssertEqual(fill.stdout, "protocol=https\nhost=unbound.tld\nusername=me\npassword=approved-secret-1\n")
        XCTAssertEqual(fill.stderr, "", "no prompt: the new agent read it from the keyring")
        XCTAssertNotEqual(sandbox.agentPID, firstAgent)

        // Nothing decrypted is written outside the keyring's own encrypted file.
        for directory in [sandbox.root + "/cache", sandbox.root + "/state", sandbox.root + "/run", sandbox.root + "/keyring"] {
            for (path, text) in Self.files(under: directory) {
                XCTAssertFalse(text.contains("approved-secret-1"), "\(path) holds the password")
            }
        }
        XCTAssertFalse(sandbox.auditLines.isEmpty, "the audit log was written")
    }

    func testMemoryStoreDropsApprovedCredentialsWithAKilledAgent() {
        let sandbox = sandbox(store: "memory")
        sandbox.environment["BROKER_KEYRING_PASSWORD"] = "store pass phrase"
        XCTAssertEqual(sandbox.git(["credential", "approve"], stdin: Self.approve).status, 0)
        XCTAssertTrue(sandbox.git(["credential", "fill"], stdin: Self.fill).stdout.contains("password=approved-secret-1\n"))
        killAgent(sandbox)
        let fill = sandbox.git(["credential", "fill"], stdin: Self.fill)
        XCTAssertTrue(fill.stdout.contains("password=askpass-password\n"), fill.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.root + "/keyring/git-credentials.age"), "memory stays memory")
    }

    /// A locked file keyring loses nothing: the agent keeps the change, says why, and writes it
    /// once the keyring is unlocked.
    func testLockedKeyringKeepsApprovalsInMemoryUntilUnlocked() {
        let sandbox = sandbox(store: "keyring")
        let approve = sandbox.git(["credential", "approve"], stdin: Self.approve)
        XCTAssertEqual(approve.status, 0)
        XCTAssertTrue(approve.stderr.contains("are kept in memory until the keyring can be written: the file keyring is locked"), approve.stderr)
        XCTAssertTrue(approve.stderr.contains("brokerctl unlock"), approve.stderr)
        let fill = sandbox.git(["credential", "fill"], stdin: Self.fill)
        XCTAssertTrue(fill.stdout.contains("password=approved-secret-1\n"), "served from memory meanwhile: \(fill.stdout)")

        XCTAssertEqual(sandbox.broker("brokerctl", ["unlock"], stdin: "store pass phrase\n").status, 0)
        let afterUnlock = sandbox.git(["credential", "fill"], stdin: Self.fill)
        XCTAssertEqual(afterUnlock.stderr, "")
        XCTAssertTrue(FileManager.default.fileExists(atPath: sandbox.root + "/keyring/git-credentials.age"), "written at the first request after the unlock")

        killAgent(sandbox)
        XCTAssertEqual(sandbox.broker("brokerctl", ["unlock"], stdin: "store pass phrase\n").status, 0)
        XCTAssertTrue(sandbox.git(["credential", "fill"], stdin: Self.fill).stdout.contains("password=approved-secret-1\n"))
    }

    /// `brokerctl lock` makes the agent forget its decrypted copy too.
    func testLockForgetsTheDecryptedCopy() {
        let sandbox = sandbox(store: "keyring")
        XCTAssertEqual(sandbox.broker("brokerctl", ["unlock"], stdin: "store pass phrase\n").status, 0)
        XCTAssertEqual(sandbox.git(["credential", "approve"], stdin: Self.approve).stderr, "")
        XCTAssertEqual(sandbox.broker("brokerctl", ["lock"]).status, 0)
        let fill = sandbox.git(["credential", "fill"], stdin: Self.fill)
        XCTAssertTrue(fill.stdout.contains("password=askpass-password\n"), fill.stdout)
        XCTAssertTrue(fill.stderr.contains("the file keyring is locked"), fill.stderr)
    }

    static func files(under directory: String) -> [(String, String)] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        return walker.compactMap { item in
            let path = directory + "/" + (item as! String)
            guard let data = FileManager.default.contents(atPath: path) else { return nil }
            return (path, String(decoding: data, as: UTF8.self))
        }
    }
}
