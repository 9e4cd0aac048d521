// The agent holds secrets in memory: no core file, no ptrace-by-dump, no directory kept busy.

import BrokerWire
import Foundation
import XCTest

final class AgentProcessHardeningTests: XCTestCase {
    /// Runs broker-agent in the foreground as another uid (so /proc shows whether it is
    /// dumpable: a non-dumpable process's /proc files belong to root) until its "ok".
    func testTheAgentCannotDumpCoreAndHoldsNoDirectory() throws {
        let dir = foreignDirectory(mode: 0o700)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let agent = dir + "/broker-agent"
        try FileManager.default.copyItem(atPath: Sandbox.executable("broker-agent"), toPath: agent)
        chown(agent, FakeAgent.nobody, FakeAgent.nobody)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", agent, "--foreground", "--idle-timeout", "60s"]
        process.environment = ["HOME": dir, "XDG_CACHE_HOME": dir + "/cache", "XDG_STATE_HOME": dir + "/state",
                               "XDG_CONFIG_HOME": dir + "/config", "BROKER_SOCKET_DIR": dir + "/run", "PATH": "/usr/bin:/bin"]
        process.currentDirectoryURL = URL(fileURLWithPath: dir)
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { process.terminate(); process.waitUntilExit() }
        let line = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        XCTAssertEqual(line, "ok\n")
        let pid = process.processIdentifier
        let limits = try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)
        let core = limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") }.map(String.init) ?? ""
        XCTAssertEqual(core.split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).prefix(2), ["0", "0"], core)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd"), "/")
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        XCTAssertTrue(status.contains("\nUid:\t65534\t65534\t65534\t65534"), "the agent runs as the other uid")
        var st = stat()
        XCTAssertEqual(stat("/proc/\(pid)/status", &st), 0)
        XCTAssertEqual(st.st_uid, 0, "a non-dumpable process's /proc files belong to root, not to uid 65534")
    }

    /// The agent leaves its spawner's directory for `/`; a relative BROKER_CONFIG still means
    /// the file the spawner saw.
    func testARelativeConfigPathSurvivesTheAgentLeavingItsDirectory() {
        let sandbox = Sandbox()
        sandbox.write("relative.conf", "[identity \"bot\"]\n    kind = static\n    username = u\n    secret = env:BOT_TOKEN\n[git \"https://example.com\"]\n    identity = bot\n")
        sandbox.environment["BROKER_CONFIG"] = "relative.conf"
        let get = sandbox.broker("git-credential-broker", ["get"], stdin: "protocol=https\nhost=example.com\n\n", extraEnvironment: ["BOT_TOKEN": "t0ken"])
        XCTAssertEqual(get.stdout, "username=u\npassword=t0ken\n", get.stderr)
        // The same file by its absolute path names the same agent (one agent per configuration);
        // the relative name meant the client's directory, not this test's.
        sandbox.environment["BROKER_CONFIG"] = sandbox.root + "/relative.conf"
        guard let pid = sandbox.agentPID else { return XCTFail("no agent") }
        XCTAssertEqual(try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd"), "/")
    }
}
