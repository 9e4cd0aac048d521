// Profiles (BROKER_PROFILE): config.d/NAME beside the config file, with a socket, cache and state of its own.

@testable import BrokerWire
import Foundation
import XCTest

final class ProfilePathsTests: XCTestCase {
    var root = ""

    override func setUpWithError() throws {
        root = try XCTUnwrap(realpath(NSTemporaryDirectory(), nil).map { String(cString: $0) }) + "/profile-paths-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: root + "/config/credential-broker/config.d", withIntermediateDirectories: true)
        for name in ["acme", "globex"] { FileManager.default.createFile(atPath: root + "/config/credential-broker/config.d/" + name, contents: Data()) }
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: root) }

    func paths(_ extra: [String: String]) throws -> BrokerPaths {
        let base = ["HOME": root, "XDG_CONFIG_HOME": root + "/config", "XDG_CACHE_HOME": root + "/cache",
                    "XDG_STATE_HOME": root + "/state", "BROKER_SOCKET_DIR": "/run/u/cb"]
        return try BrokerPaths.resolve(Environment(base.merging(extra) { $1 }))
    }

    func testAProfileHasItsOwnSocketCacheAndStateAndReadsItsOverlay() throws {
        let plain = try paths([:])
        let acme = try paths(["BROKER_PROFILE": "acme"])
        let globex = try paths(["BROKER_PROFILE": "globex"])
        XCTAssertNil(plain.profile)
        XCTAssertEqual(acme.profile, "acme")
        XCTAssertEqual(acme.configFile, plain.configFile, "the main file is still read")
        XCTAssertEqual(acme.profileFile, root + "/config/credential-broker/config.d/acme")
        XCTAssertEqual(acme.cacheEntriesDirectory, root + "/cache/credential-broker/profiles/acme/entries")
        XCTAssertEqual(acme.auditLogPath, root + "/state/credential-broker/profiles/acme/audit.log")
        XCTAssertEqual(acme.agentLogPath, root + "/state/credential-broker/profiles/acme/agent.log")
        XCTAssertEqual(acme.runtimeDirectory, plain.runtimeDirectory)
        XCTAssertEqual(Set([plain.socketPath, acme.socketPath, globex.socketPath]).count, 3)
        XCTAssertEqual(Set([plain.spawnLockPath, acme.spawnLockPath, globex.spawnLockPath]).count, 3)
        XCTAssertEqual(Set([plain.cacheDirectory, acme.cacheDirectory, globex.cacheDirectory]).count, 3)
        // An empty variable is no profile (an agent is started with `--profile ""` for that).
        XCTAssertEqual(try paths(["BROKER_PROFILE": ""]), plain)
    }

    func testTheOverlayItselfNamedAsAConfigFileIsAnotherAgent() throws {
        let overlay = root + "/config/credential-broker/config.d/acme"
        XCTAssertNotEqual(try paths(["BROKER_CONFIG": overlay]).socketPath, try paths(["BROKER_PROFILE": "acme"]).socketPath)
    }

    func testTheSameProfileNameUnderAnotherConfigFileIsAnotherProfile() throws {
        let other = root + "/team"
        try FileManager.default.createDirectory(atPath: other + "/config.d", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: other + "/config", contents: Data())
        FileManager.default.createFile(atPath: other + "/config.d/acme", contents: Data())
        let mine = try paths(["BROKER_PROFILE": "acme"])
        let team = try paths(["BROKER_PROFILE": "acme", "BROKER_CONFIG": other + "/config"])
        XCTAssertEqual(team.profileFile, other + "/config.d/acme")
        XCTAssertNotEqual(team.socketPath, mine.socketPath)
        XCTAssertNotEqual(team.cacheDirectory, mine.cacheDirectory)
        XCTAssertNotEqual(team.stateDirectory, mine.stateDirectory)
    }

    func testAnUnknownProfileNamesTheOnesThatExist() throws {
        XCTAssertThrowsError(try paths(["BROKER_PROFILE": "initech"])) { error in
            let failure = error as? BrokerFailure
            XCTAssertEqual(failure?.kind, .config)
            XCTAssertEqual(failure?.message, "profile \"initech\" does not exist: there is no \(self.root)/config/credential-broker/config.d/initech")
            XCTAssertEqual(failure?.hint, "profiles defined: acme, globex; or create \(self.root)/config/credential-broker/config.d/initech")
        }
        try FileManager.default.removeItem(atPath: root + "/config/credential-broker/config.d")
        XCTAssertThrowsError(try paths(["BROKER_PROFILE": "acme"])) { error in
            XCTAssertTrue((error as? BrokerFailure)?.hint?.contains("no profiles are defined") == true, "\(error)")
        }
    }

    func testNamesThatCouldLeaveConfigDAreRefused() {
        for name in ["..", ".", "../acme", "acme/..", "a/b", "/etc/passwd", ".hidden", "acme\n", "a b", "é", String(repeating: "x", count: 65)] {
            XCTAssertThrowsError(try BrokerPaths.checkProfileName(name), name) { error in
                XCTAssertTrue((error as? BrokerFailure)?.message.contains("is not allowed") == true, "\(error)")
            }
            XCTAssertThrowsError(try paths(["BROKER_PROFILE": name]), name)
        }
        for name in ["acme", "client-2", "a.b_c", "x..y", String(repeating: "x", count: 64)] {
            XCTAssertNoThrow(try BrokerPaths.checkProfileName(name), name)
        }
    }

    func testProfilesAreTheRegularFilesWithProfileNames() throws {
        let dir = root + "/config/credential-broker/config.d"
        FileManager.default.createFile(atPath: dir + "/acme~", contents: Data())
        FileManager.default.createFile(atPath: dir + "/.swp", contents: Data())
        try FileManager.default.createDirectory(atPath: dir + "/folder", withIntermediateDirectories: true)
        symlink(dir + "/acme", dir + "/linked")
        symlink(dir + "/missing", dir + "/dangling")
        XCTAssertEqual(BrokerPaths.profiles(in: dir), ["acme", "globex", "linked"])
        XCTAssertEqual(BrokerPaths.profiles(in: root + "/nowhere"), [])
    }
}
