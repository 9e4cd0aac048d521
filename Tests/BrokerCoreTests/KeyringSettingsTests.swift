// Specifies `[keyring]` and `keyring:NAME` in the configuration, and the file keyring reading what `age -p` writes.
@testable import BrokerCore
import BrokerWire
import Foundation
import XCTest

final class KeyringSettingsTests: XCTestCase {
    func parse(_ text: String) throws -> BrokerConfig { try BrokerConfig.parse(ConfigSyntax.parse(text: text, file: "cfg")) }

    func testKeyringSectionIsParsed() throws {
        let config = try parse("[keyring]\n    backend = file\n    directory = /k\n    passphrase = cmd:pass show broker\n    unlock-timeout = 5m\n    work-factor = 12\n")
        XCTAssertEqual(config.keyring.backend, .file)
        XCTAssertEqual(config.keyring.directory, "/k")
        XCTAssertEqual(config.keyring.passphrase?.description, "cmd:pass")
        XCTAssertEqual(config.keyring.unlockTimeout, 300)
        XCTAssertEqual(config.keyring.workFactor, 12)
        XCTAssertNil(try parse("").keyring.backend, "no backend named: chosen at run time")
    }

    func testGitStoreIsMemoryUnlessSetToKeyring() throws {
        XCTAssertEqual(try parse("").git.store, .memory)
        XCTAssertEqual(try parse("[git]\n    store = keyring\n").git.store, .keyring)
        XCTAssertThrowsError(try parse("[git]\n    store = disk\n")) {
            XCTAssertTrue("\($0)".hasPrefix("cfg:2: [git] store must be memory or keyring, not \"disk\""), "\($0)")
        }
    }

    func testBadKeyringSettingsCiteTheLine() {
        for (text, expected) in [
            ("[keyring]\n    backend = vault\n", "cfg:2: [keyring] backend must be system, file or memory, not \"vault\""),
            ("[keyring]\n    work-factor = 30\n", "cfg:2: [keyring] work-factor must be between 1 and 20 (age -p uses 18)"),
            ("[keyring]\n    directory = relative\n", "cfg:2: [keyring] directory must be an absolute path"),
            ("[keyring]\n    passphrase = hunter2\n", "cfg:2: a secret must be a reference"),
            ("[keyring \"x\"]\n    backend = file\n", "cfg:2: [keyring] takes no name"),
        ] {
            XCTAssertThrowsError(try parse(text), text) { error in
                XCTAssertTrue("\(error)".hasPrefix(expected), "\(error)")
                XCTAssertFalse("\(error)".contains("hunter2"))
            }
        }
    }

    func testKeyringReferenceParsesAndRefusesBadNames() throws {
        let here = SourceLocation(file: "cfg", line: 3)
        XCTAssertEqual(try SecretReference("keyring:github-bot", at: here), .keyring("github-bot"))
        XCTAssertEqual(try SecretReference("keyring:github-bot", at: here).keyMaterial, "keyring:github-bot")
        for bad in ["keyring:", "keyring:../etc/passwd", "keyring:.hidden", "keyring:a b"] {
            XCTAssertThrowsError(try SecretReference(bad, at: here), bad) { XCTAssertTrue("\($0)".contains("is not allowed"), "\($0)") }
        }
        XCTAssertThrowsError(try SecretReference("keyring:x", at: here).resolve(ResolveContext(environment: Environment([:])), timeout: 1)) {
            XCTAssertTrue("\($0)".contains("can only be read by broker-agent"), "\($0)")
        }
    }

    func testServiceRoundTripsOnTheMemoryAndFileBackends() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kr-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for backend in [KeyringBackendKind.memory, .file] {
            var settings = KeyringSettings()
            settings.backend = backend
            settings.directory = directory
            settings.workFactor = 4
            let service = KeyringService(environment: Environment(["HOME": directory, "BROKER_KEYRING_PASSWORD": "pw"]), settings: { settings })
            XCTAssertEqual(try service.set("a", Secret("value-1")), backend)
            XCTAssertEqual(try service.secret(named: "a").reveal(), "value-1")
            XCTAssertEqual(try service.list().map(\.name), ["a"])
            XCTAssertThrowsError(try service.set("b", Secret(""))) { XCTAssertTrue("\($0)".contains("an empty secret cannot be stored")) }
            XCTAssertThrowsError(try service.set("b", Secret("two\nlines")))
            XCTAssertTrue(try service.remove("a"))
            XCTAssertNil(try service.get("a"))
            XCTAssertThrowsError(try service.secret(named: "a")) { XCTAssertTrue("\($0)".contains("no secret \"a\" in the \(backend.rawValue) keyring"), "\($0)") }
        }
    }
}

final class KeyringUnlockTests: XCTestCase {
    final class Ticks: @unchecked Sendable { var now: Int64 = 1_000 }

    func testAnUnlockIsForgottenAfterTheIdleTimeoutAndByLock() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kr-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var settings = KeyringSettings()
        settings.backend = .file
        settings.directory = directory
        settings.workFactor = 4
        settings.unlockTimeout = 60
        let ticks = Ticks()
        let service = KeyringService(environment: Environment(["HOME": directory]), clock: Clock(now: { ticks.now }), settings: { [settings] in settings })
        XCTAssertThrowsError(try service.set("a", Secret("v"))) { XCTAssertTrue("\($0)".contains("the file keyring is locked"), "\($0)") }
        XCTAssertEqual(service.status().state, "locked")
        try service.unlock(passphrase: Array("pw".utf8))
        XCTAssertEqual(try service.set("a", Secret("v")), .file)
        XCTAssertEqual(service.status().state, "unlocked")
        ticks.now += 50
        XCTAssertEqual(try service.secret(named: "a").reveal(), "v", "used within the timeout")
        ticks.now += 61
        XCTAssertThrowsError(try service.get("a"), "idle past the timeout: passphrase and decrypted secrets forgotten") {
            XCTAssertTrue("\($0)".contains("locked"), "\($0)")
        }
        XCTAssertThrowsError(try service.unlock(passphrase: Array("wrong".utf8))) { XCTAssertTrue("\($0)".contains("wrong passphrase"), "\($0)") }
        try service.unlock(passphrase: Array("pw".utf8))
        XCTAssertEqual(try service.get("a")?.reveal(), "v")
        service.lockKeyring()
        XCTAssertThrowsError(try service.secret(named: "a"))
    }
}
