// github/app end to end: real git clone and push with installation tokens minted against a loopback
// fake of GitHub's token API that verifies the JWT (Fixtures/github_api_fake.py).

import BrokerWire
import Foundation
import XCTest
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A GitHub App's key pair made for one test by Python's `cryptography`: the private key as
/// PKCS#1 PEM (what GitHub hands out) in a 0600 file, the public key for the fake to verify with.
struct GitHubAppKey {
    let privateKeyPath: String
    let publicKeyPath: String

    static func generate(in sandbox: Sandbox, name: String = "app") throws -> GitHubAppKey {
        let key = GitHubAppKey(privateKeyPath: sandbox.root + "/keys/\(name).pem", publicKeyPath: sandbox.root + "/keys/\(name).pub.pem")
        try FileManager.default.createDirectory(atPath: sandbox.root + "/keys", withIntermediateDirectories: true)
        let script = """
        import os, sys
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
        os.close(fd)
        with open(sys.argv[2], "wb") as f:
            f.write(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        """
        let result = sandbox.run(GitHTTPTestServer.python, ["-c", script, key.privateKeyPath, key.publicKeyPath])
        guard result.status == 0 else { throw GitHubAPIFake.StartError(description: "key generation failed: \(result.stderr)") }
        return key
    }
}

/// The fake GitHub API for one test. `tokensPath` lists the tokens it issued and has not revoked,
/// for the git server's `--tokens-file`.
final class GitHubAPIFake {
    let process: Process
    let port: Int
    let tokensPath: String
    let stderrPath: String

    struct StartError: Error, CustomStringConvertible { var description: String }

    static let script: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/github_api_fake.py").path
    }()

    init(sandbox: Sandbox, key: GitHubAppKey, appID: String = "123456", installationID: Int = 77, owner: String = "acme",
         ownerType: String = "org", repositories: String = "repo,tools", permissions: String = "contents=write,metadata=read",
         tokenLifetime: Int = 3600, lifetime: Int = 90) throws {
        tokensPath = sandbox.root + "/github-tokens"
        stderrPath = sandbox.root + "/github-fake-stderr.log"
        _ = FileManager.default.createFile(atPath: stderrPath, contents: Data())
        process = Process()
        process.executableURL = URL(fileURLWithPath: GitHTTPTestServer.python)
        process.arguments = [Self.script, "--public-key", key.publicKeyPath, "--app-id", appID,
                             "--installation-id", String(installationID), "--owner", owner, "--owner-type", ownerType,
                             "--repositories", repositories, "--permissions", permissions, "--tokens-file", tokensPath,
                             "--token-lifetime", String(tokenLifetime), "--lifetime", String(lifetime)]
        process.environment = ["PATH": sandbox.environment["PATH"] ?? "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"]
        let out = Pipe()
        process.standardOutput = out
        process.standardInput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()

        // First stdout line: the port, waited for with a deadline so a broken fixture cannot hang the run.
        let fd = out.fileHandleForReading.fileDescriptor
        let line = FixtureOutput.firstLine(fd, within: 10, while: { [process] in process.isRunning })
        guard let port = Int(String(decoding: line.prefix { $0 != 10 }, as: UTF8.self)) else {
            process.terminate()
            throw StartError(description: "github_api_fake.py did not print its port: \(sandbox.read(stderrPath))")
        }
        self.port = port
    }

    var apiURL: String { "http://127.0.0.1:\(port)" }

    /// `mint`, `lookup`, `rejected` (401s) and `total` API requests so far.
    func counts() -> [String: Int] {
        ((try? JSONSerialization.jsonObject(with: Data(request("GET", "/__counts")))) as? [String: Any] ?? [:]).compactMapValues { $0 as? Int }
    }

    /// One record per API request: method, path, accept, user_agent, api_version, content_type, body, claims, status.
    func requests() -> [[String: Any]] {
        (try? JSONSerialization.jsonObject(with: Data(request("GET", "/__requests")))) as? [[String: Any]] ?? []
    }

    /// Every token issued so far stops working, at once.
    func revokeAll() { request("POST", "/__revoke") }

    /// The next `count` API requests are answered with `status`.
    func fail(next count: Int, status: Int) { request("POST", "/__faults", body: #"{"status": \#(status), "count": \#(count)}"#) }

    /// The tokens currently valid, as the git server sees them.
    var liveTokens: [String] {
        ((try? String(contentsOfFile: tokensPath, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
    }

    @discardableResult
    private func request(_ method: String, _ path: String, body: String? = nil) -> [UInt8] {
        var request = URLRequest(url: URL(string: apiURL + path)!, timeoutInterval: 10)
        request.httpMethod = method
        request.httpBody = body.map { Data($0.utf8) }
        let done = DispatchSemaphore(value: 0)
        let answer = Answer()
        URLSession.shared.dataTask(with: request) { data, _, _ in
            answer.set(data.map { Array($0) } ?? [])
            done.signal()
        }.resume()
        _ = done.wait(timeout: .now() + 15)
        return answer.get()
    }

    private final class Answer: @unchecked Sendable {
        private let lock = NSLock()
        private var value: [UInt8] = []
        func set(_ bytes: [UInt8]) { lock.lock(); value = bytes; lock.unlock() }
        func get() -> [UInt8] { lock.lock(); defer { lock.unlock() }; return value }
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

final class GitHubAppTests: XCTestCase {
    typealias Kit = AgentProcessKit
    let author = ["user.name=Tester", "user.email=tester@example.com"]

    /// `[identity "app"]` of kind github/app against `fake`, plus `extra` lines, bound to `binding`.
    func appConfig(_ fake: GitHubAPIFake, key: GitHubAppKey, binding: String, extra: String = "installation-id = 77") -> String {
        """
        [identity "app"]
        \tkind = github/app
        \tapp-id = 123456
        \tprivate-key = file:\(key.privateKeyPath)
        \tapi-url = \(fake.apiURL)
        \(extra.split(separator: "\n").map { "\t\($0)" }.joined(separator: "\n"))
        [git "\(binding)"]
        \tidentity = app

        """
    }

    func auditEvents(_ sandbox: Sandbox, _ event: String) -> [[String: Any]] {
        sandbox.auditLines.filter { ($0["event"] as? String) == event && ($0["identity"] as? String) == "app" }
    }

    func commit(_ sandbox: Sandbox, _ file: String) {
        sandbox.write("work/\(file)", "\(file)\n")
        XCTAssertEqual(sandbox.git(["-C", sandbox.root + "/work", "add", file]).status, 0)
        let made = sandbox.git(["-C", sandbox.root + "/work", "commit", "-q", "-m", "add \(file)"], config: author)
        XCTAssertEqual(made.status, 0, made.stderr)
    }

    func testCloneAndPushWithAnInstallationTokenThenARevokedTokenIsErasedAndReplaced() throws {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        let key = try GitHubAppKey.generate(in: sandbox)
        let fake = try GitHubAPIFake(sandbox: sandbox, key: key)
        defer { fake.stop() }
        let server = try GitHTTPTestServer(sandbox: sandbox, user: "unused", password: "unused-\(UInt32.random(in: 0...UInt32.max))",
                                           extraArguments: ["--tokens-file", fake.tokensPath])
        defer { server.stop() }
        sandbox.writeConfig(appConfig(fake, key: key, binding: server.baseURL))

        // Clone, then push: one token serves both commands.
        let clone = sandbox.git(["clone", "-q", server.repoURL, "work"])
        XCTAssertEqual(clone.status, 0, clone.stderr + sandbox.read(fake.stderrPath))
        XCTAssertFalse(clone.stderr.contains("askpass:"), "git fell through to prompting: \(clone.stderr)")
        XCTAssertEqual(sandbox.read(sandbox.root + "/work/README"), "seed\n")
        commit(sandbox, "first.txt")
        let push = sandbox.git(["-C", sandbox.root + "/work", "push", "-q", "origin", "main"])
        XCTAssertEqual(push.status, 0, push.stderr)
        XCTAssertTrue(server.requests.contains { $0.hasPrefix("POST /repo.git/git-receive-pack x-access-token 200") }, "\(server.requests)")
        XCTAssertEqual(fake.counts()["mint"], 1, "the clone's token is reused for the push")

        // What GitHub would have seen: its headers and a JWT it accepts.
        let mint = try XCTUnwrap(fake.requests().first { ($0["path"] as? String) == "/app/installations/77/access_tokens" })
        XCTAssertEqual(mint["status"] as? Int, 201)
        XCTAssertEqual(mint["accept"] as? String, "application/vnd.github+json")
        XCTAssertEqual(mint["api_version"] as? String, "2022-11-28")
        XCTAssertEqual(mint["user_agent"] as? String, "credential-broker")
        let claims = try XCTUnwrap(mint["claims"] as? [String: Any])
        XCTAssertEqual(claims["iss"] as? String, "123456")
        XCTAssertEqual((claims["exp"] as? Int).map { $0 - (claims["iat"] as? Int ?? 0) }, 540)
        XCTAssertTrue(mint["body"] is NSNull, "an unnarrowed token is asked for without a body")

        // Revoke on the server: the next push presents the cached token, gets a 401, git erases it
        // and fails without prompting.
        let revoked = fake.liveTokens
        fake.revokeAll()
        commit(sandbox, "second.txt")
        let rejected = sandbox.git(["-C", sandbox.root + "/work", "push", "-q", "origin", "main"])
        XCTAssertNotEqual(rejected.status, 0)
        XCTAssertFalse(rejected.stderr.contains("askpass:"), rejected.stderr)
        XCTAssertTrue(server.requests.contains { $0.hasSuffix(" x-access-token 401") }, "\(server.requests)")
        XCTAssertEqual(auditEvents(sandbox, "erased").count, 1, "\(sandbox.auditLines)")

        // The retry mints a new token and the push goes through.
        let retried = sandbox.git(["-C", sandbox.root + "/work", "push", "-q", "origin", "main"])
        XCTAssertEqual(retried.status, 0, retried.stderr)
        XCTAssertEqual(fake.counts()["mint"], 2)
        XCTAssertEqual(fake.liveTokens.count, 1)
        XCTAssertNotEqual(fake.liveTokens, revoked)
        let log = sandbox.run("/usr/bin/git", ["--git-dir", server.repositoryRoot + "/repo.git", "log", "-1", "--format=%s", "main"])
        XCTAssertEqual(log.stdout, "add second.txt\n")

        // Neither token reaches the audit log or the agent's log.
        for token in revoked + fake.liveTokens {
            XCTAssertFalse(sandbox.read(sandbox.paths.auditLogPath).contains(token))
            XCTAssertFalse(sandbox.read(sandbox.paths.agentLogPath).contains(token))
        }
    }

    func testOwnerIsLookedUpAsOrganizationThenUserAndTheAnswerCarriesTheExpiry() throws {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        let key = try GitHubAppKey.generate(in: sandbox)
        let fake = try GitHubAPIFake(sandbox: sandbox, key: key, owner: "octo-user", ownerType: "user")
        defer { fake.stop() }
        sandbox.writeConfig(appConfig(fake, key: key, binding: "https://github.example",
                                      extra: "owner = octo-user\nrepositories = tools\npermissions = contents=read"))

        let before = Int64(time(nil))
        let result = Kit.helperGet(sandbox, host: "github.example")
        XCTAssertEqual(result.status, 0, result.stderr + sandbox.read(fake.stderrPath))
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "username=x-access-token")
        let password = try XCTUnwrap(lines.first { $0.hasPrefix("password=") }?.dropFirst("password=".count))
        XCTAssertEqual(fake.liveTokens, [String(password)])
        let expiry = try XCTUnwrap(lines.first { $0.hasPrefix("password_expiry_utc=") }.flatMap { Int64($0.dropFirst("password_expiry_utc=".count)) })
        XCTAssertTrue((before + 3590...Int64(time(nil)) + 3600).contains(expiry), "\(expiry) is about an hour from now")

        let calls = fake.requests().map { "\($0["method"] as? String ?? "") \($0["path"] as? String ?? "") \($0["status"] as? Int ?? 0)" }
        XCTAssertEqual(calls, ["GET /orgs/octo-user/installation 404", "GET /users/octo-user/installation 200",
                               "POST /app/installations/77/access_tokens 201"])
        let body = try XCTUnwrap(fake.requests().last?["body"] as? [String: Any])
        XCTAssertEqual(body["repositories"] as? [String], ["tools"])
        XCTAssertEqual(body["permissions"] as? [String: String], ["contents": "read"])
    }

    func testTenConcurrentColdGetsMintOneToken() throws {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        let key = try GitHubAppKey.generate(in: sandbox)
        let fake = try GitHubAPIFake(sandbox: sandbox, key: key)
        defer { fake.stop() }
        sandbox.writeConfig(appConfig(fake, key: key, binding: "https://github.example"))

        // No agent yet: the ten adapters also race to start it.
        let results = Kit.runConcurrently(sandbox, count: 10, executable: Sandbox.executable("git-credential-broker"),
                                          arguments: ["get"], stdin: Kit.getInput(host: "github.example"))
        let passwords = Set(results.map { $0.stdout.split(separator: "\n").first { $0.hasPrefix("password=") } ?? "" })
        for r in results { XCTAssertEqual(r.status, 0, r.stderr) }
        XCTAssertEqual(passwords.count, 1, "\(passwords)")
        XCTAssertEqual(fake.counts()["mint"], 1, "single-flight: one mint for ten requests")
    }

    func testServerErrorsAreRetriedAndATokenUnderEightMinutesIsReplaced() throws {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        let key = try GitHubAppKey.generate(in: sandbox)
        // 483 s: enough for the kind's 480 s now, not a few seconds from now; git's own minimum is 60 s.
        let fake = try GitHubAPIFake(sandbox: sandbox, key: key, tokenLifetime: 483)
        defer { fake.stop() }
        sandbox.writeConfig(appConfig(fake, key: key, binding: "https://github.example"))

        fake.fail(next: 1, status: 502)
        let first = Kit.helperGet(sandbox, host: "github.example")
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertEqual(fake.counts()["total"], 2, "the 502 was retried once")
        XCTAssertEqual(fake.counts()["mint"], 1)

        sleep(4)
        let second = Kit.helperGet(sandbox, host: "github.example")
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertEqual(fake.counts()["mint"], 2, "fewer than 480 s were left: a new token")
        XCTAssertNotEqual(first.stdout, second.stdout)
    }

    func testAWrappedJobGetsTheInstallationTokenInItsEnvironment() throws {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        let key = try GitHubAppKey.generate(in: sandbox)
        let fake = try GitHubAPIFake(sandbox: sandbox, key: key)
        defer { fake.stop() }
        sandbox.writeConfig(appConfig(fake, key: key, binding: "https://github.example", extra: "installation-id = 77\nenv = GH_TOKEN"))

        let result = sandbox.run(Sandbox.executable("broker-env-wrap"), ["--identity", "app", "--", "/bin/sh", "-c", "printf %s \"$GH_TOKEN\""])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(fake.liveTokens, [result.stdout])
        XCTAssertTrue(result.stdout.hasPrefix("ghs_"), result.stdout)
    }

    /// Each misconfiguration fails `get` with one stderr line that names the identity, prints
    /// nothing on stdout, and never shows the JWT or the key.
    func testMisconfiguredAppsFailWithOneLineNamingTheIdentity() throws {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        let key = try GitHubAppKey.generate(in: sandbox)
        let otherKey = try GitHubAppKey.generate(in: sandbox, name: "other")
        let garbage = sandbox.write("keys/garbage.pem", "this is not a key\n", mode: 0o600)
        let fake = try GitHubAPIFake(sandbox: sandbox, key: key)
        defer { fake.stop() }

        let cases: [(settings: String, expected: String)] = [
            ("app-id = 999\ninstallation-id = 77\nprivate-key = file:\(key.privateKeyPath)", "rejected the app's JWT while minting a token for installation 77 (HTTP 401)"),
            ("app-id = 123456\ninstallation-id = 77\nprivate-key = file:\(otherKey.privateKeyPath)", "rejected the app's JWT"),
            ("app-id = 123456\ninstallation-id = 77\nprivate-key = file:\(garbage)", "private-key file:\(garbage) cannot be used: not a PEM private key"),
            ("app-id = 123456\ninstallation-id = 5\nprivate-key = file:\(key.privateKeyPath)", "installation 5 of this app was not found"),
            ("app-id = 123456\nowner = nobody\nprivate-key = file:\(key.privateKeyPath)", "the app is not installed on \"nobody\""),
            ("app-id = 123456\ninstallation-id = 77\nprivate-key = file:\(key.privateKeyPath)\nrepositories = secret-repo",
             "GitHub refused to narrow the token to the configured repositories and permissions (HTTP 422): There is at least one repository"),
            ("app-id = 123456\ninstallation-id = 77\nprivate-key = file:\(key.privateKeyPath)\npermissions = administration=write",
             "(HTTP 422): The permissions requested are not granted to this installation."),
        ]
        var config = ""
        for (n, item) in cases.enumerated() {
            config += "[identity \"case\(n)\"]\n\tkind = github/app\n\tapi-url = \(fake.apiURL)\n"
                + item.settings.split(separator: "\n").map { "\t\($0)\n" }.joined()
                + "[git \"https://case\(n).example\"]\n\tidentity = case\(n)\n"
        }
        sandbox.writeConfig(config)
        let keyLines = sandbox.read(key.privateKeyPath).split(separator: "\n").filter { !$0.hasPrefix("-----") }

        for (n, item) in cases.enumerated() {
            let result = Kit.helperGet(sandbox, host: "case\(n).example")
            XCTAssertEqual(result.status, 1, "case \(n): \(result.stdout)")
            XCTAssertEqual(result.stdout, "", "case \(n)")
            let lines = result.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "case \(n): \(result.stderr)")
            XCTAssertTrue(result.stderr.hasPrefix("git-credential-broker: identity \"case\(n)\": "), result.stderr)
            XCTAssertTrue(result.stderr.contains(item.expected), "case \(n): \(result.stderr)")
            XCTAssertFalse(result.stderr.contains("eyJ"), "no JWT: \(result.stderr)")
            for line in keyLines { XCTAssertFalse(result.stderr.contains(line), "no key material: \(result.stderr)") }
        }
        XCTAssertEqual(fake.counts()["mint"], 0)
        XCTAssertTrue(fake.liveTokens.isEmpty)
    }
}
