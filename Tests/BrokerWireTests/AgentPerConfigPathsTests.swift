// D15: one agent per configuration file — the socket a client uses is named by the config's canonical path.

@testable import BrokerWire
import Foundation
import XCTest

final class AgentPerConfigPathsTests: XCTestCase {
    let base = ["HOME": "/home/u", "XDG_CONFIG_HOME": "/home/u/.config", "BROKER_SOCKET_DIR": "/run/u/cb"]

    func paths(_ extra: [String: String]) throws -> BrokerPaths {
        try BrokerPaths.resolve(Environment(base.merging(extra) { $1 }))
    }

    func testTheDefaultConfigurationUsesTheDefaultSocket() throws {
        let standard = try paths([:])
        XCTAssertEqual(standard.socketPath, "/run/u/cb/agent.sock")
        XCTAssertEqual(standard.spawnLockPath, "/run/u/cb/spawn.lock")
        XCTAssertEqual(standard.configOrigin, .standard)
        // Naming the default file explicitly is still the default configuration: the same agent.
        XCTAssertEqual(try paths(["BROKER_CONFIG": "/home/u/.config/credential-broker/config"]).socketPath, "/run/u/cb/agent.sock")
    }

    func testAnotherFileGetsItsOwnSocketAndLockNamedByItsPath() throws {
        let a = try paths(["BROKER_CONFIG": "/etc/team-a.conf"])
        let b = try paths(["BROKER_CONFIG": "/etc/team-b.conf"])
        XCTAssertEqual(a.socketPath, "/run/u/cb/agent-\(BrokerPaths.agentKey(for: "/etc/team-a.conf")).sock")
        XCTAssertEqual(a.spawnLockPath, "/run/u/cb/spawn-\(BrokerPaths.agentKey(for: "/etc/team-a.conf")).lock")
        XCTAssertNotEqual(a.socketPath, b.socketPath)
        XCTAssertEqual(a.agentKey.count, 16)
        XCTAssertTrue(a.agentKey.allSatisfy { $0.isHexDigit })
        XCTAssertEqual(a.configOrigin, .environment)
        // Stable: the same file always names the same agent (FNV-1a 64, published vector for "a").
        XCTAssertEqual(BrokerPaths.agentKey(for: "a"), "af63dc4c8601ec8c")
        XCTAssertEqual(BrokerPaths.agentKey(for: ""), "cbf29ce484222325")
    }

    func testARelativeOrLinkedPathNamesTheSameAgentAsTheCanonicalOne() throws {
        let directory = NSTemporaryDirectory() + "per-config-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let real = try XCTUnwrap(realpath(directory, nil).map { String(cString: $0) })
        FileManager.default.createFile(atPath: real + "/team.conf", contents: Data())
        symlink(real + "/team.conf", real + "/link.conf")
        let canonical = try paths(["BROKER_CONFIG": real + "/team.conf"])
        XCTAssertEqual(canonical.configFile, real + "/team.conf")
        XCTAssertEqual(try paths(["BROKER_CONFIG": real + "/link.conf"]).socketPath, canonical.socketPath)
        let cwd = FileManager.default.currentDirectoryPath
        defer { FileManager.default.changeCurrentDirectoryPath(cwd) }
        FileManager.default.changeCurrentDirectoryPath(real)
        let relative = try paths(["BROKER_CONFIG": "team.conf"])
        XCTAssertEqual(relative.configFile, real + "/team.conf", "made absolute, so the agent (which works from /) reads the same file")
        XCTAssertEqual(relative.socketPath, canonical.socketPath)
        // A file that does not exist yet is named by its absolute path.
        XCTAssertEqual(try paths(["BROKER_CONFIG": "later.conf"]).configFile, real + "/later.conf")
    }
}
