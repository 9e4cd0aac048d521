// Specifies `brokerctl doctor`'s keyring check: the backend in use, whether it is open, and the fix when it is not.

import Foundation
import XCTest

final class DoctorKeyringTests: XCTestCase {
    func configure(_ sandbox: Sandbox, keyring: String, usesKeyring: Bool = true) {
        sandbox.writeConfig("""
            [keyring]
                \(keyring)
            """ + (usesKeyring ? """

            [identity "bot"]
                kind = static
                username = bot-user
                secret = keyring:bot

            """ : "\n"))
    }

    /// doctor's keyring line, and its exit status.
    func keyringLine(_ sandbox: Sandbox, file: StaticString = #filePath, line: UInt = #line) -> (String, Int32) {
        let doctor = sandbox.broker("brokerctl", ["doctor", "--offline"])
        let found = doctor.stdout.split(separator: "\n").map(String.init).filter { $0.dropFirst(6).hasPrefix("keyring: ") }
        XCTAssertEqual(found.count, 1, doctor.stdout, file: file, line: line)
        return (found.first ?? "", doctor.status)
    }

    func testLockedFileKeyringThatTheConfigNeedsFailsWithTheUnlockFixAndIsOkOnceUnlocked() throws {
        let sandbox = Sandbox()
        let directory = sandbox.root + "/keyring"
        configure(sandbox, keyring: "backend = file\n    directory = \(directory)\n    work-factor = 10")
        let (locked, status) = keyringLine(sandbox)
        XCTAssertEqual(locked, "fail  keyring: an agent started from here would use the keyring: file backend, locked, in \(directory) (needed by keyring: secrets of \"bot\") (fix: run `brokerctl unlock`, or set [keyring] passphrase = cmd:… (BROKER_KEYRING_PASSWORD works too, but any process of yours can read it))")
        XCTAssertEqual(status, 1)

        XCTAssertEqual(sandbox.broker("brokerctl", ["unlock"], stdin: "doctor pass phrase\n").status, 0)
        XCTAssertEqual(sandbox.broker("brokerctl", ["secret", "set", "bot"], stdin: "doctor-secret").status, 0)
        let (open, _) = keyringLine(sandbox)
        XCTAssertEqual(open, "ok    keyring: the running agent's keyring: file backend, unlocked, in \(directory), 1 secret (needed by keyring: secrets of \"bot\")")

        let json = sandbox.broker("brokerctl", ["doctor", "--offline", "--format", "json"])
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let checks = try XCTUnwrap(document["checks"] as? [[String: Any]]).filter { $0["check"] as? String == "keyring" }
        XCTAssertEqual(checks.count, 1)
        XCTAssertEqual(checks.first?["status"] as? String, "ok")
        XCTAssertTrue(checks.first?["fix"] is NSNull)
        XCTAssertFalse(json.stdout.contains("doctor-secret"))
        XCTAssertFalse(json.stdout.contains("doctor pass phrase"))
    }

    func testGitStoreKeyringCountsAsNeedingTheKeyring() {
        let sandbox = Sandbox()
        sandbox.writeConfig("[git]\n    store = keyring\n[keyring]\n    backend = file\n    directory = \(sandbox.root)/k\n")
        let (line, status) = keyringLine(sandbox)
        XCTAssertTrue(line.hasPrefix("fail  keyring: "), line)
        XCTAssertTrue(line.contains("(needed by [git] store = keyring)"), line)
        XCTAssertEqual(status, 1)
    }

    func testNoDBusSessionForAnUnusedSystemKeyringIsAWarningNamingTheFix() {
        let sandbox = Sandbox()
        sandbox.environment["DBUS_SESSION_BUS_ADDRESS"] = nil
        sandbox.environment["DISPLAY"] = nil
        configure(sandbox, keyring: "backend = system", usesKeyring: false)
        let (line, status) = keyringLine(sandbox)
        XCTAssertTrue(line.hasPrefix("warn  keyring: an agent started from here would use the keyring: system backend, unavailable: no D-Bus session bus"), line)
        XCTAssertTrue(line.contains("(fix: log in to a desktop session, or start one with `dbus-run-session -- $SHELL`"), line)
        XCTAssertEqual(status, 0)
    }

    func testMemoryKeyringSaysItIsTheAgentsOnly() {
        let sandbox = Sandbox()
        configure(sandbox, keyring: "backend = memory")
        let (line, _) = keyringLine(sandbox)
        XCTAssertEqual(line, "ok    keyring: an agent started from here would use the keyring: memory backend, unlocked (held by the agent only: gone when it exits) (needed by keyring: secrets of \"bot\")")
    }

    func testLockedGNOMEKeyringFailsWithTheUnlockFix() throws {
        let sandbox = Sandbox()
        let session = try SecretServiceSession(sandbox: sandbox)
        sandbox.environment["DBUS_SESSION_BUS_ADDRESS"] = session.address
        configure(sandbox, keyring: "backend = system")
        XCTAssertEqual(session.secretTool(sandbox, ["store", "--label=bot", "service", "credential-broker", "account", "bot"], stdin: "v").status, 0)
        XCTAssertTrue(keyringLine(sandbox).0.hasPrefix("ok    keyring: an agent started from here would use the keyring: system backend, unlocked"))
        XCTAssertEqual(session.lockLoginCollection(sandbox).status, 0)
        let (line, status) = keyringLine(sandbox)
        XCTAssertTrue(line.hasPrefix("fail  keyring: an agent started from here would use the keyring: system backend, locked (needed by"), line)
        XCTAssertTrue(line.contains("(fix: unlock it (log in to the desktop, `gnome-keyring-daemon --unlock`"), line)
        XCTAssertEqual(status, 1)
    }
}

extension DoctorKeyringTests {
    func testALockedKeyringNothingNeedsIsFine() {
        let sandbox = Sandbox()
        configure(sandbox, keyring: "backend = file\n    directory = \(sandbox.root)/k", usesKeyring: false)
        let (line, status) = keyringLine(sandbox)
        XCTAssertEqual(line, "ok    keyring: an agent started from here would use the keyring: file backend, locked, in \(sandbox.root)/k; nothing in the configuration needs it yet")
        XCTAssertEqual(status, 0)
    }
}
