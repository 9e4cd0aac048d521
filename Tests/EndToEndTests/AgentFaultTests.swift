// broker-agent under faults: loose or long socket paths, stale sockets, spawn races, foreign
// peers, idle and oversized clients, kill -9 mid-burst, SIGTERM and the idle timeout.

import BrokerWire
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Process-level helpers shared by the agent fault and identity tests.
enum AgentProcessKit {
    /// Live (non-zombie) broker-agent processes whose command line names `socketDir`.
    static func agentPIDs(socketDirectory: String) -> [Int32] {
        var found: [Int32] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(name), isAlive(pid),
                  let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline") else { continue }
            let args = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard let first = args.first, first.hasSuffix("/broker-agent") || first == "broker-agent" else { continue }
            if args.contains(socketDirectory) { found.append(pid) }
        }
        return found.sorted()
    }

    /// True while `pid` exists and is not a zombie (a killed agent's parent may be gone, and
    /// whoever inherits it may be slow to reap).
    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].split(separator: " ").first
        return state != "Z" && state != "X"
    }

    /// Polls `condition` every 10 ms until it holds or `seconds` pass.
    @discardableResult
    static func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    /// Stops every agent of this sandbox (SIGTERM, then SIGKILL), treating a zombie as gone:
    /// Sandbox.stopAgent waits on kill(pid, 0), which a not-yet-reaped zombie passes for 2 s.
    static func stopAgents(_ sandbox: Sandbox) {
        for pid in agentPIDs(socketDirectory: sandbox.paths.runtimeDirectory) {
            kill(pid, SIGTERM)
            if !waitUntil(3, { !isAlive(pid) }) { killHard(pid) }
        }
    }

    static func killHard(_ pid: Int32) {
        kill(pid, SIGKILL)
        waitUntil(5) { !isAlive(pid) }
    }

    /// A program to run with its arguments and standard input.
    struct Command {
        var executable: String
        var arguments: [String]
        var stdin: String
    }

    /// Starts `count` copies of a program at once (stdout/stderr to files, stdin from a file),
    /// then waits for all of them, bounded by `timeout`.
    static func runConcurrently(_ sandbox: Sandbox, count: Int, executable: String, arguments: [String],
                                stdin: String, extraEnvironment: [String: String] = [:], timeout: Double = 30,
                                afterLaunch: (() -> Void)? = nil) -> [ProcessResult] {
        runConcurrently(sandbox, Array(repeating: Command(executable: executable, arguments: arguments, stdin: stdin), count: count),
                        extraEnvironment: extraEnvironment, timeout: timeout, afterLaunch: afterLaunch)
    }

    /// Starts every command at once, runs `afterLaunch` while they are in flight, then waits for
    /// all of them, bounded by `timeout`. Results come in the commands' order.
    static func runConcurrently(_ sandbox: Sandbox, _ commands: [Command], extraEnvironment: [String: String] = [:],
                                timeout: Double = 30, afterLaunch: (() -> Void)? = nil) -> [ProcessResult] {
        let dir = sandbox.root + "/burst-\(UInt32.random(in: 0...UInt32.max))"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var processes: [Process] = []
        for (i, command) in commands.enumerated() {
            _ = FileManager.default.createFile(atPath: "\(dir)/in-\(i)", contents: Data(command.stdin.utf8))
            _ = FileManager.default.createFile(atPath: "\(dir)/out-\(i)", contents: Data())
            _ = FileManager.default.createFile(atPath: "\(dir)/err-\(i)", contents: Data())
            let p = Process()
            p.executableURL = URL(fileURLWithPath: command.executable)
            p.arguments = command.arguments
            p.environment = sandbox.environment.merging(extraEnvironment) { $1 }
            p.currentDirectoryURL = URL(fileURLWithPath: sandbox.root)
            p.standardInput = FileHandle(forReadingAtPath: "\(dir)/in-\(i)")
            p.standardOutput = FileHandle(forWritingAtPath: "\(dir)/out-\(i)")
            p.standardError = FileHandle(forWritingAtPath: "\(dir)/err-\(i)")
            processes.append(p)
        }
        for p in processes { try! p.run() }
        afterLaunch?()
        let deadline = Date().addingTimeInterval(timeout)
        while processes.contains(where: { $0.isRunning }) && Date() < deadline { usleep(5_000) }
        for (i, p) in processes.enumerated() where p.isRunning {
            XCTFail("\(commands[i].executable) \(commands[i].arguments) did not finish within \(timeout) s")
            p.terminate()
        }
        return processes.enumerated().map { i, p in
            p.waitUntilExit()
            return ProcessResult(status: p.terminationStatus, stdout: sandbox.read("\(dir)/out-\(i)"),
                                 stderr: sandbox.read("\(dir)/err-\(i)"))
        }
    }

    /// `git-credential-broker get` for `protocol://host`, as git would call it.
    @discardableResult
    static func helperGet(_ sandbox: Sandbox, _ scheme: String = "https", host: String, path: String? = nil,
                          extraEnvironment: [String: String] = [:]) -> ProcessResult {
        sandbox.broker("git-credential-broker", ["get"], stdin: getInput(scheme, host: host, path: path),
                       extraEnvironment: extraEnvironment)
    }

    static func getInput(_ scheme: String = "https", host: String, path: String? = nil) -> String {
        "protocol=\(scheme)\nhost=\(host)\n" + (path.map { "path=\($0)\n" } ?? "") + "\n"
    }

    /// An exec-identity script: counts its runs in `counter`, optionally sleeps first, and
    /// prints a token valid for an hour.
    static func mintScript(_ sandbox: Sandbox, name: String, sleep: Double = 0, password: String? = nil) -> (script: String, counter: String) {
        let counter = sandbox.root + "/\(name).runs"
        let script = sandbox.write("bin/\(name)", """
            #!/bin/sh
            \(sleep > 0 ? "sleep \(sleep)" : ":")
            echo run >> \(counter)
            n=$(wc -l < \(counter) | tr -d ' ')
            echo username=minted-user
            echo password=\(password ?? "tok-$n")
            echo password_expiry_utc=$(( $(date +%s) + 3600 ))

            """, mode: 0o755)
        return (script, counter)
    }

    static func runs(_ sandbox: Sandbox, _ counter: String) -> Int {
        sandbox.read(counter).split(separator: "\n").count
    }

    static func cacheFiles(_ sandbox: Sandbox) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: sandbox.paths.cacheEntriesDirectory)) ?? []).sorted()
    }

    static func mode(_ path: String) -> mode_t? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return st.st_mode & 0o777
    }

    static func fileExists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }
}

final class AgentFaultTests: XCTestCase {
    typealias Kit = AgentProcessKit

    func testSocketDirectoryWithLoosePermissionsIsRefusedWithChmodHint() {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        let dir = sandbox.paths.runtimeDirectory
        XCTAssertEqual(mkdir(dir, 0o755), 0)
        chmod(dir, 0o755)

        let result = Kit.helperGet(sandbox, host: "example.com")
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertTrue(result.stderr.hasPrefix("git-credential-broker: "), result.stderr)
        XCTAssertTrue(result.stderr.contains("chmod 0700 \(dir)"), result.stderr)
        XCTAssertTrue(Kit.agentPIDs(socketDirectory: dir).isEmpty)
        XCTAssertEqual(Kit.mode(dir), 0o755, "the directory is reported, not silently changed")

        // The agent itself refuses it too.
        let agent = sandbox.broker("broker-agent", ["--foreground", "--socket-dir", dir])
        XCTAssertEqual(agent.status, 1)
        XCTAssertTrue(agent.stderr.contains("chmod 0700 \(dir)"), agent.stderr)
    }

    func testSocketPathTooLongForSockaddrIsAClearError() {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        let longDir = sandbox.root + "/" + String(repeating: "d", count: 100)
        sandbox.environment["BROKER_SOCKET_DIR"] = longDir
        let started = Date()
        let result = Kit.helperGet(sandbox, host: "example.com")
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("longer than the \(UnixSocket.maxPathBytes)"), result.stderr)
        XCTAssertTrue(result.stderr.contains("BROKER_SOCKET_DIR"), result.stderr)
        XCTAssertTrue(Kit.agentPIDs(socketDirectory: longDir).isEmpty)
    }

    func testStaleSocketOfAKilledAgentIsReplaced() {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        XCTAssertEqual(Kit.helperGet(sandbox, host: "example.com").status, 0)
        guard let first = sandbox.agentPID else { return XCTFail("no agent after the first request") }
        Kit.killHard(first)
        XCTAssertTrue(Kit.fileExists(sandbox.paths.socketPath), "kill -9 leaves the socket file behind")
        XCTAssertNil(sandbox.agentPID)

        let approve = sandbox.git(["credential", "approve"], stdin: "protocol=https\nhost=example.com\nusername=u\npassword=p\n")
        XCTAssertEqual(approve.status, 0, approve.stderr)
        let fill = sandbox.git(["credential", "fill"], stdin: "protocol=https\nhost=example.com\n")
        XCTAssertEqual(fill.stdout, "protocol=https\nhost=example.com\nusername=u\npassword=p\n", fill.stderr)
        guard let second = sandbox.agentPID else { return XCTFail("no agent after the stale socket") }
        XCTAssertNotEqual(first, second)
        XCTAssertTrue(sandbox.read(sandbox.paths.agentLogPath).contains("replacing stale socket"))
    }

    func testSimultaneousAdaptersStartExactlyOneAgent() {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        let dir = sandbox.paths.runtimeDirectory
        for count in [2, 10] {
            XCTAssertTrue(Kit.agentPIDs(socketDirectory: dir).isEmpty)
            let results = Kit.runConcurrently(sandbox, count: count, executable: Sandbox.executable("git-credential-broker"),
                                              arguments: ["get"], stdin: Kit.getInput(host: "example.com"))
            for r in results {
                XCTAssertEqual(r.status, 0, r.stderr)
                XCTAssertEqual(r.stderr, "")
            }
            usleep(300_000)  // let any redundant agent that lost the race finish exiting
            let agents = Kit.agentPIDs(socketDirectory: dir)
            XCTAssertEqual(agents.count, 1, "\(count) adapters at once started agents \(agents)")
            XCTAssertEqual(sandbox.agentPID, agents.first)
            Kit.stopAgents(sandbox)
            XCTAssertTrue(Kit.waitUntil(5) { Kit.agentPIDs(socketDirectory: dir).isEmpty })
        }
    }

    func testConnectionFromAnotherUIDIsClosedWithoutAnAnswer() throws {
        try XCTSkipIf(geteuid() != 0, "needs root to connect as another uid")
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        XCTAssertEqual(Kit.helperGet(sandbox, host: "example.com").status, 0)
        guard let pid = sandbox.agentPID else { return XCTFail("no agent") }
        // Let uid 65534 reach the socket: the directories and the socket file are the first
        // lock; this test is about the second one (the peer-uid check).
        let socket = sandbox.paths.socketPath
        chmod(sandbox.root, 0o711)
        chmod(sandbox.paths.runtimeDirectory, 0o711)
        chmod(socket, 0o666)
        defer {
            chmod(socket, 0o600)
            chmod(sandbox.paths.runtimeDirectory, 0o700)
            chmod(sandbox.root, 0o700)
        }
        let probe = sandbox.write("foreign_probe.py", """
            import os, socket, sys
            path = sys.argv[1]
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(path)
            try:
                s.sendall(b"v=1\\nop=ping\\n\\n")
            except OSError:
                pass
            data = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except ConnectionResetError:
                pass
            print("uid=%d bytes=%d" % (os.getuid(), len(data)))

            """)
        let result = sandbox.run(GitHTTPTestServer.python, [probe, socket], timeout: 15)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "uid=65534 bytes=0\n", result.stderr)
        XCTAssertTrue(Kit.waitUntil(2) { sandbox.read(sandbox.paths.agentLogPath).contains("refused a connection from another uid") })
        // Private again: our own client refuses a directory open to others (D14).
        chmod(sandbox.paths.runtimeDirectory, 0o700)
        XCTAssertEqual(sandbox.agentPID, pid, "the agent stays up")
    }

    func testIdleClientDoesNotDelayAnother() throws {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        XCTAssertEqual(Kit.helperGet(sandbox, host: "example.com").status, 0)
        guard let pid = sandbox.agentPID else { return XCTFail("no agent") }
        let idle = try UnixSocket.connect(path: sandbox.paths.socketPath)
        defer { idle.close() }
        usleep(100_000)  // the agent has accepted it and is waiting for its request

        let client = AgentClient(paths: sandbox.paths, environment: Environment(sandbox.environment), timeoutSeconds: 5)
        var started = Date()
        let answer = try client.send(WireMessage(["op": "ping"]), startAgent: false)
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.0)
        XCTAssertEqual(answer?["pid"], String(pid))

        started = Date()
        let viaAdapter = Kit.helperGet(sandbox, host: "example.com")
        XCTAssertEqual(viaAdapter.status, 0, viaAdapter.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.0)
        XCTAssertEqual(sandbox.agentPID, pid)
    }

    func testTenMegabyteRequestLineIsRefusedAndTheAgentStaysUp() throws {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        XCTAssertEqual(Kit.helperGet(sandbox, host: "example.com").status, 0)
        guard let pid = sandbox.agentPID else { return XCTFail("no agent") }

        let fd = try UnixSocket.connect(path: sandbox.paths.socketPath)
        defer { fd.close() }
        UnixSocket.setTimeouts(fd, seconds: 5)
        let huge = [UInt8]("v=1\nop=git.get\nhost=".utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 10 << 20)
        let writerDone = DispatchSemaphore(value: 0)
        let writer = Thread {
            huge.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = send(fd.rawValue, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                    if n <= 0 { break }  // EPIPE/ECONNRESET once the agent gives up, or the send timeout
                    offset += n
                }
            }
            writerDone.signal()
        }
        writer.start()
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd.rawValue, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            reply += buffer[0..<n]
        }
        XCTAssertEqual(writerDone.wait(timeout: .now() + 10), .success)
        let text = String(decoding: reply, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("status=error\n"), text)
        XCTAssertTrue(text.contains("line longer than"), text)
        XCTAssertEqual(sandbox.agentPID, pid, "the agent stays up")
        XCTAssertEqual(Kit.helperGet(sandbox, host: "example.com").status, 0)
    }

    func testKillDuringConcurrentBurstLeavesNoTornCacheAndRecovers() {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        let mint = Kit.mintScript(sandbox, name: "burst-mint", sleep: 0.4, password: "tok-burst")
        sandbox.writeConfig("""
            [identity "burst"]
            \tkind = exec
            \tcommand = \(mint.script)
            [git "https://burst.example"]
            \tidentity = burst

            """)
        XCTAssertEqual(Kit.helperGet(sandbox, host: "warm.example").status, 0)
        guard let first = sandbox.agentPID else { return XCTFail("no agent") }

        let results = Kit.runConcurrently(sandbox, count: 20, executable: Sandbox.executable("git-credential-broker"),
                                          arguments: ["get"], stdin: Kit.getInput(host: "burst.example")) {
            usleep(200_000)
            kill(first, SIGKILL)
        }
        var answered = 0, failed = 0
        for r in results {
            if r.status == 0 {
                answered += 1
                XCTAssertTrue(r.stdout.contains("username=minted-user\n") && r.stdout.contains("password=tok-burst\n"), r.stdout)
                XCTAssertEqual(r.stderr, "")
            } else {
                failed += 1
                XCTAssertEqual(r.stdout, "", "a failing adapter must print nothing on stdout")
                let lines = r.stderr.split(separator: "\n")
                XCTAssertEqual(lines.count, 1, r.stderr)
                XCTAssertTrue(r.stderr.hasPrefix("git-credential-broker: "), r.stderr)
                XCTAssertTrue(r.stderr.contains("broker-agent"), r.stderr)
                XCTAssertFalse(r.stderr.contains("without a status line"), "an agent that died is not a malformed answer: \(r.stderr)")
            }
        }
        XCTAssertEqual(answered + failed, 20)
        XCTAssertFalse(Kit.isAlive(first))

        // Kill whatever agent late clients started too, mid-life, then inspect the disk.
        for pid in Kit.agentPIDs(socketDirectory: sandbox.paths.runtimeDirectory) { Kit.killHard(pid) }
        let entries = sandbox.paths.cacheEntriesDirectory
        for name in Kit.cacheFiles(sandbox) where !name.hasPrefix(".tmp-") {
            XCTAssertTrue(name.hasSuffix(".cred"), name)
            guard let data = FileManager.default.contents(atPath: entries + "/" + name),
                  let message = try? WireCodec.decode(Array(data)) else {
                XCTFail("cache file \(name) does not parse"); continue
            }
            XCTAssertEqual(message["v"], "1")
            XCTAssertEqual(message["key"].map { $0 + ".cred" }, name)
            XCTAssertEqual(message["secret.password"], "tok-burst")
            XCTAssertNotNil(message["expires"])
            XCTAssertEqual(Kit.mode(entries + "/" + name), 0o600)
        }

        // The next request starts a new agent, which cleans up and serves.
        let next = Kit.helperGet(sandbox, host: "burst.example")
        XCTAssertEqual(next.status, 0, next.stderr)
        XCTAssertTrue(next.stdout.contains("password=tok-burst\n"), next.stdout)
        XCTAssertFalse(Kit.cacheFiles(sandbox).contains { $0.hasPrefix(".tmp-") }, "\(Kit.cacheFiles(sandbox))")
        XCTAssertNotNil(sandbox.agentPID)
        XCTAssertNotEqual(sandbox.agentPID, first)
    }

    func testSIGTERMStopsTheAgentAndRemovesItsSocket() {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        XCTAssertEqual(Kit.helperGet(sandbox, host: "example.com").status, 0)
        guard let pid = sandbox.agentPID else { return XCTFail("no agent") }
        XCTAssertTrue(Kit.fileExists(sandbox.paths.socketPath))
        kill(pid, SIGTERM)
        XCTAssertTrue(Kit.waitUntil(3) { !Kit.isAlive(pid) }, "the agent did not exit on SIGTERM")
        XCTAssertFalse(Kit.fileExists(sandbox.paths.socketPath), "the agent left its socket behind")
        XCTAssertTrue(sandbox.read(sandbox.paths.agentLogPath).contains("stopped"))
    }

    func testIdleTimeoutMakesTheAgentExitByItself() throws {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        let dir = sandbox.paths.runtimeDirectory
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Sandbox.executable("broker-agent"))
        process.arguments = ["--foreground", "--idle-timeout", "1s", "--socket-dir", dir]
        process.environment = sandbox.environment
        process.standardInput = FileHandle.nullDevice
        let out = Pipe()
        process.standardOutput = out
        _ = FileManager.default.createFile(atPath: sandbox.root + "/agent-stderr", contents: Data())
        process.standardError = FileHandle(forWritingAtPath: sandbox.root + "/agent-stderr")
        try process.run()
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        let started = Date()
        // Readiness line first.
        var ready: [UInt8] = []
        let fd = out.fileHandleForReading.fileDescriptor
        while !ready.contains(10) && Date().timeIntervalSince(started) < 5 {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) > 0 else { continue }
            var byte: UInt8 = 0
            if read(fd, &byte, 1) != 1 { break }
            ready.append(byte)
        }
        XCTAssertEqual(String(decoding: ready, as: UTF8.self), "ok\n", sandbox.read(sandbox.root + "/agent-stderr"))
        XCTAssertEqual(sandbox.agentPID, process.processIdentifier)

        XCTAssertTrue(Kit.waitUntil(6) { !process.isRunning }, "the agent did not exit after 1 s idle")
        let elapsed = Date().timeIntervalSince(started)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertGreaterThanOrEqual(elapsed, 0.9)
        XCTAssertFalse(Kit.fileExists(sandbox.paths.socketPath))
        XCTAssertTrue(sandbox.read(sandbox.root + "/agent-stderr").contains("idle; exiting"))
    }
}
