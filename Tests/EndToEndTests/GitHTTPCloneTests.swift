// Real git over HTTP: clone, push, a revoked password, path-bound rules and credential-cache mode,
// against a loopback `git http-backend` server that demands Basic auth (Fixtures/git_http_server.py).

import BrokerWire
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A loopback git smart-HTTP server for one test: its repositories, its password file and its
/// request log live in the sandbox; `stop()` (and deinit) kill it.
final class GitHTTPTestServer {
    let process: Process
    let port: Int
    let repositoryRoot: String
    let credentialsPath: String
    let logPath: String

    static let script: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/git_http_server.py").path
    }()

    static let python: String = {
        if access("/usr/bin/python3", X_OK) == 0 { return "/usr/bin/python3" }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            if access("\(dir)/python3", X_OK) == 0 { return "\(dir)/python3" }
        }
        return "/usr/bin/python3"
    }()

    /// Starts the server with `user:password` as the only accepted credential and one bare
    /// repository `repo.git` holding one commit on `main`. `extraArguments` go to the script
    /// (`--tokens-file PATH` accepts tokens listed there instead).
    init(sandbox: Sandbox, user: String, password: String, lifetime: Int = 90, extraArguments: [String] = []) throws {
        repositoryRoot = sandbox.root + "/srv"
        credentialsPath = sandbox.root + "/srv-credentials"
        logPath = sandbox.root + "/srv-requests.log"
        try FileManager.default.createDirectory(atPath: repositoryRoot, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: logPath, contents: Data())
        _ = FileManager.default.createFile(atPath: credentialsPath, contents: Data("\(user):\(password)\n".utf8))

        // Seed: a bare repo with one commit, pushed over the file system (no credentials).
        let bare = repositoryRoot + "/repo.git"
        let seed = sandbox.root + "/seed"
        let author = ["-c", "user.name=Seed", "-c", "user.email=seed@example.com"]
        for args in [["init", "-q", "--bare", "-b", "main", bare],
                     ["init", "-q", "-b", "main", seed]] {
            let r = sandbox.run("/usr/bin/git", args)
            guard r.status == 0 else { throw ServerError(text: "git \(args): \(r.stderr)") }
        }
        sandbox.write("seed/README", "seed\n")
        for args in [["-C", seed, "add", "README"],
                     author + ["-C", seed, "commit", "-q", "-m", "seed commit"],
                     ["-C", seed, "push", "-q", bare, "main"]] {
            let r = sandbox.run("/usr/bin/git", args)
            guard r.status == 0 else { throw ServerError(text: "git \(args): \(r.stderr)") }
        }

        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = [Self.script, "--root", repositoryRoot, "--credentials", credentialsPath,
                             "--log", logPath, "--lifetime", String(lifetime)] + extraArguments
        var env = sandbox.environment
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        process.environment = env
        let out = Pipe()
        process.standardOutput = out
        process.standardInput = FileHandle.nullDevice
        _ = FileManager.default.createFile(atPath: sandbox.root + "/srv-stderr.log", contents: Data())
        process.standardError = FileHandle(forWritingAtPath: sandbox.root + "/srv-stderr.log")
        try process.run()

        // First stdout line: the port. Bounded wait.
        let fd = out.fileHandleForReading.fileDescriptor
        let line = FixtureOutput.firstLine(fd, within: 10)
        guard let port = Int(String(decoding: line.prefix { $0 != 10 }, as: UTF8.self)) else {
            process.terminate()
            throw ServerError(text: "git_http_server.py did not print its port: \(sandbox.read(sandbox.root + "/srv-stderr.log"))")
        }
        self.port = port
    }

    struct ServerError: Error, CustomStringConvertible { var text: String; var description: String { text } }

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var repoURL: String { baseURL + "/repo.git" }

    func setCredentials(user: String, password: String) {
        // Write then rename: the server never reads a half-written file.
        let temp = credentialsPath + ".new"
        _ = FileManager.default.createFile(atPath: temp, contents: Data("\(user):\(password)\n".utf8))
        rename(temp, credentialsPath)
    }

    /// `METHOD path user status` per request.
    var requests: [String] {
        ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(3)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

final class GitHTTPCloneTests: XCTestCase {
    let author = ["user.name=Tester", "user.email=tester@example.com"]

    func botConfig(secretPath: String, binding: String) -> String {
        """
        [identity "bot"]
        \tkind = static
        \tusername = bot
        \tsecret = file:\(secretPath)
        [git "\(binding)"]
        \tidentity = bot

        """
    }

    func auditEvents(_ sandbox: Sandbox, _ event: String, identity: String?) -> [[String: Any]] {
        sandbox.auditLines.filter { ($0["event"] as? String) == event && ($0["identity"] as? String) == identity }
    }

    func testCloneAndPushThroughBoundIdentityThenRevokedPasswordIsErasedAndRecovered() throws {
        let sandbox = Sandbox()
        defer { AgentProcessKit.stopAgents(sandbox) }
        let server = try GitHTTPTestServer(sandbox: sandbox, user: "bot", password: "pw-one")
        defer { server.stop() }
        let secret = sandbox.write("secrets/bot", "pw-one\n", mode: 0o600)
        sandbox.writeConfig(botConfig(secretPath: secret, binding: server.baseURL))

        // Clone: git gets a 401, asks the helper, the agent answers from the identity.
        let clone = sandbox.git(["clone", "-q", server.repoURL, "work"])
        XCTAssertEqual(clone.status, 0, clone.stderr)
        XCTAssertFalse(clone.stderr.contains("askpass:"), "git fell through to prompting: \(clone.stderr)")
        XCTAssertEqual(sandbox.read(sandbox.root + "/work/README"), "seed\n")
        XCTAssertTrue(server.requests.contains { $0.hasSuffix(" bot 200") }, "\(server.requests)")

        // Push a new commit through the same helper.
        sandbox.write("work/pushed.txt", "pushed\n")
        XCTAssertEqual(sandbox.git(["-C", sandbox.root + "/work", "add", "pushed.txt"]).status, 0)
        let commit = sandbox.git(["-C", sandbox.root + "/work", "commit", "-q", "-m", "pushed through the broker"], config: author)
        XCTAssertEqual(commit.status, 0, commit.stderr)
        let push = sandbox.git(["-C", sandbox.root + "/work", "push", "-q", "origin", "main"])
        XCTAssertEqual(push.status, 0, push.stderr)
        XCTAssertFalse(push.stderr.contains("askpass:"), push.stderr)
        let log = sandbox.run("/usr/bin/git", ["--git-dir", server.repositoryRoot + "/repo.git", "log", "-1", "--format=%s", "main"])
        XCTAssertEqual(log.stdout, "pushed through the broker\n")
        XCTAssertTrue(server.requests.contains { $0.hasPrefix("POST /repo.git/git-receive-pack bot 200") }, "\(server.requests)")

        let issued = auditEvents(sandbox, "issued", identity: "bot")
        XCTAssertGreaterThanOrEqual(issued.count, 2)
        XCTAssertEqual(issued.first?["tier"] as? String, "upstream")
        XCTAssertEqual(issued.last?["tier"] as? String, "memory", "the second command should be served from the agent's memory")
        XCTAssertEqual(issued.first?["target"] as? String, "http://127.0.0.1:\(server.port)")

        // Revoke: the server now wants another password. git sends the cached one, gets a
        // 401 with credentials, calls erase and fails without prompting.
        server.setCredentials(user: "bot", password: "pw-two")
        let rejected = sandbox.git(["ls-remote", server.repoURL])
        XCTAssertNotEqual(rejected.status, 0, rejected.stdout)
        XCTAssertFalse(rejected.stderr.contains("askpass:"), rejected.stderr)
        XCTAssertTrue(server.requests.contains { $0.hasSuffix(" bot 401") }, "\(server.requests)")
        let erased = auditEvents(sandbox, "erased", identity: "bot")
        XCTAssertEqual(erased.count, 1, "\(sandbox.auditLines)")
        XCTAssertEqual(erased.first?["adapter"] as? String, "git")

        // Fix the secret: the cached value must be gone, so the next command reads the source.
        sandbox.write("secrets/bot", "pw-two\n", mode: 0o600)
        let recovered = sandbox.git(["ls-remote", server.repoURL])
        XCTAssertEqual(recovered.status, 0, recovered.stderr)
        XCTAssertTrue(recovered.stdout.contains("refs/heads/main"), recovered.stdout)
        XCTAssertFalse(recovered.stderr.contains("askpass:"), recovered.stderr)
        let reissued = auditEvents(sandbox, "issued", identity: "bot")
        XCTAssertEqual(reissued.count, issued.count + 2, "one issue for the rejected try, one for the recovery")
        XCTAssertEqual(reissued.last?["tier"] as? String, "upstream", "\(reissued.last ?? [:])")

        // No password ever reaches the audit log.
        let auditText = sandbox.read(sandbox.paths.auditLogPath)
        XCTAssertFalse(auditText.contains("pw-one") || auditText.contains("pw-two"))
    }

    func testPathBoundBindingNeedsUseHttpPath() throws {
        let sandbox = Sandbox()
        defer { AgentProcessKit.stopAgents(sandbox) }
        let server = try GitHTTPTestServer(sandbox: sandbox, user: "bot", password: "path-pw")
        defer { server.stop() }
        let secret = sandbox.write("secrets/bot", "path-pw\n", mode: 0o600)
        sandbox.writeConfig(botConfig(secretPath: secret, binding: server.repoURL))

        // Without useHttpPath git sends no path: the rule cannot match, the helper says why.
        let without = sandbox.git(["clone", "-q", server.repoURL, "without"])
        XCTAssertNotEqual(without.status, 0)
        let hints = without.stderr.split(separator: "\n").filter { $0.contains("useHttpPath") }
        XCTAssertEqual(hints.count, 1, without.stderr)
        if let hint = hints.first {
            XCTAssertTrue(hint.hasPrefix("git-credential-broker: "), String(hint))
            XCTAssertTrue(hint.contains("credential.http://127.0.0.1:\(server.port).useHttpPath true"), String(hint))
            XCTAssertTrue(hint.contains("\"bot\""), String(hint))
        }
        XCTAssertFalse(server.requests.contains { $0.contains(" bot ") }, "no credential of bot may be sent: \(server.requests)")
        XCTAssertTrue(auditEvents(sandbox, "issued", identity: "bot").isEmpty)

        // With it, the path reaches the helper and the rule matches.
        let with = sandbox.git(["clone", "-q", server.repoURL, "with"], config: ["credential.useHttpPath=true"])
        XCTAssertEqual(with.status, 0, with.stderr)
        XCTAssertFalse(with.stderr.contains("askpass:"), with.stderr)
        XCTAssertFalse(with.stderr.contains("useHttpPath"), with.stderr)
        XCTAssertEqual(sandbox.read(sandbox.root + "/with/README"), "seed\n")
        let issued = auditEvents(sandbox, "issued", identity: "bot")
        XCTAssertEqual(issued.count, 1)
        XCTAssertEqual(issued.first?["target"] as? String, "http://127.0.0.1:\(server.port)/repo.git")
    }

    func testUnboundURLActsAsCredentialCache() throws {
        let sandbox = Sandbox()
        defer { AgentProcessKit.stopAgents(sandbox) }
        // The sandbox's askpass answers "askpass-username" / "askpass-password".
        let server = try GitHTTPTestServer(sandbox: sandbox, user: "askpass-username", password: "askpass-password")
        defer { server.stop() }

        let first = sandbox.git(["clone", "-q", server.repoURL, "first"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stderr.contains("askpass: Username for 'http://127.0.0.1:\(server.port)'"), first.stderr)
        XCTAssertTrue(first.stderr.contains("askpass: Password for"), first.stderr)
        let stored = sandbox.auditLines.filter { ($0["event"] as? String) == "stored" }
        XCTAssertEqual(stored.count, 1, "\(sandbox.auditLines)")
        XCTAssertEqual(stored.first?["outcome"] as? String, "ok")

        let second = sandbox.git(["clone", "-q", server.repoURL, "second"])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertFalse(second.stderr.contains("askpass:"), "the approved credential should have been cached: \(second.stderr)")
        XCTAssertEqual(sandbox.read(sandbox.root + "/second/README"), "seed\n")
        let issued = sandbox.auditLines.filter { ($0["event"] as? String) == "issued" }
        XCTAssertEqual(issued.count, 1)
        XCTAssertEqual(issued.first?["tier"] as? String, "memory")
        XCTAssertNil(issued.first?["identity"])
    }
}
