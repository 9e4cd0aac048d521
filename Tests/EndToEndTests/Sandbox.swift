// A private HOME/XDG world per test, and helpers to run the built executables and real git in it.

import BrokerWire
import Foundation
import XCTest

struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// One test's world: its own HOME, XDG directories, agent socket and config. Tear down stops the
/// agent it started and removes everything.
final class Sandbox {
    let root: String
    var environment: [String: String]
    /// CredentialConversation stops the agent before each step (the next one starts it again).
    var restartsAgentBetweenSteps = false

    /// The directory holding the built executables (next to the test bundle), or BROKER_BIN_DIR.
    static let binDirectory: String = {
        if let dir = ProcessInfo.processInfo.environment["BROKER_BIN_DIR"] { return dir }
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            return (bundle.bundlePath as NSString).deletingLastPathComponent
        }
        return (CommandLine.arguments[0] as NSString).deletingLastPathComponent
    }()

    static func executable(_ name: String) -> String { binDirectory + "/" + name }

    init(file: StaticString = #filePath, line: UInt = #line) {
        // Short paths: a Unix socket path must fit in 108 bytes.
        var template = Array("/tmp/cb-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        root = String(cString: template)
        chmod(root, 0o700)
        environment = [
            "HOME": root + "/home",
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            "XDG_CONFIG_HOME": root + "/config",
            "XDG_CACHE_HOME": root + "/cache",
            "XDG_STATE_HOME": root + "/state",
            "BROKER_SOCKET_DIR": root + "/run",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": root + "/askpass",
            "LANG": "C",
        ]
        try! FileManager.default.createDirectory(atPath: root + "/home", withIntermediateDirectories: true)
        try! FileManager.default.createDirectory(atPath: root + "/config/credential-broker", withIntermediateDirectories: true)
        // git's own test askpass (t/lib-credential.sh): any prompt shows up in the transcript.
        write("askpass", """
            #!/bin/sh
            echo >&2 askpass: $*
            what=$(echo $1 | cut -d" " -f1 | tr A-Z a-z | tr -cd a-z)
            echo "askpass-$what"

            """, mode: 0o755)
    }

    var paths: BrokerPaths { try! BrokerPaths.resolve(Environment(environment)) }
    var configPath: String { root + "/config/credential-broker/config" }

    func writeConfig(_ text: String) { write("config/credential-broker/config", text) }

    @discardableResult
    func write(_ relativePath: String, _ text: String, mode: mode_t = 0o600) -> String {
        let path = root + "/" + relativePath
        try! FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        chmod(path, mode)
        return path
    }

    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    var auditLines: [[String: Any]] {
        read(paths.auditLogPath).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// Runs a program with this sandbox's environment, feeding `stdin`, bounded by `timeout`.
    @discardableResult
    func run(_ executable: String, _ arguments: [String], stdin: String = "", extraEnvironment: [String: String] = [:],
             timeout: TimeInterval = 30, file: StaticString = #filePath, line: UInt = #line) -> ProcessResult {
        let raw = runRaw(executable, arguments, stdin: Array(stdin.utf8), extraEnvironment: extraEnvironment,
                         timeout: timeout, file: file, line: line)
        return ProcessResult(status: raw.status, stdout: raw.stdoutText, stderr: raw.stderr)
    }

    /// Runs one of our executables.
    @discardableResult
    func broker(_ name: String, _ arguments: [String], stdin: String = "", extraEnvironment: [String: String] = [:]) -> ProcessResult {
        run(Self.executable(name), arguments, stdin: stdin, extraEnvironment: extraEnvironment)
    }

    /// `git -c credential.helper=<our helper> <arguments>`.
    @discardableResult
    func git(_ arguments: [String], stdin: String = "", helperArguments: String = "", config: [String] = []) -> ProcessResult {
        let helper = Self.executable("git-credential-broker") + (helperArguments.isEmpty ? "" : " " + helperArguments)
        var args = ["-c", "credential.helper=\(helper)"]
        for item in config { args += ["-c", item] }
        return run("/usr/bin/git", args + arguments, stdin: stdin)
    }

    /// The running agent's pid, or nil (asks over the socket without starting one).
    var agentPID: Int32? {
        let client = AgentClient(paths: paths, environment: Environment(environment), timeoutSeconds: 5)
        guard let answer = try? client.send(WireMessage(["op": "ping"]), startAgent: false) else { return nil }
        return answer["pid"].flatMap(Int32.init)
    }

    func stopAgent() {
        guard let pid = agentPID else { return }
        kill(pid, SIGTERM)
        for _ in 0..<200 where Self.isAlive(pid) { usleep(10_000) }
        if Self.isAlive(pid) { kill(pid, SIGKILL) }
    }

    /// Alive and not a zombie: an exited agent waits for a slow reaper as state Z.
    static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    deinit {
        stopAgent()
        try? FileManager.default.removeItem(atPath: root)
    }
}

/// Splits a transcript the way git's `check` does: input, expected stdout, expected stderr,
/// separated by lines of `--`.
func transcript(_ text: String) -> (input: String, stdout: String, stderr: String) {
    var chunks: [[String]] = [[]]
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed == "--" { chunks.append([]) } else if !trimmed.isEmpty { chunks[chunks.count - 1].append(trimmed) }
    }
    while chunks.count < 3 { chunks.append([]) }
    func joined(_ lines: [String]) -> String { lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n" }
    return (joined(chunks[0]), joined(chunks[1]), joined(chunks[2]))
}
