// Identity kinds end to end, through `git-credential-broker get` and `git credential fill`:
// static secrets from env:/file:/cmd:, exec tokens cached on disk, chains, config errors,
// single-flight and a corrupt disk cache.

import BrokerWire
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class IdentityTests: XCTestCase {
    typealias Kit = AgentProcessKit

    func lines(_ text: String) -> [Substring] { text.split(separator: "\n") }

    func issued(_ sandbox: Sandbox, _ identity: String) -> [[String: Any]] {
        sandbox.auditLines.filter { ($0["event"] as? String) == "issued" && ($0["identity"] as? String) == identity }
    }

    func testRelativeFileAndCommandSecretsResolveAgainstTheConfigDirectory() {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        sandbox.write("config/credential-broker/token", "from-config-dir\n", mode: 0o600)
        sandbox.write("config/credential-broker/bin/print", "#!/bin/sh\ncat token\n", mode: 0o755)
        // Decoys where the client (and so the agent it spawns) runs.
        sandbox.write("token", "from-client-cwd\n", mode: 0o600)
        sandbox.write("bin/print", "#!/bin/sh\necho from-client-cwd\n", mode: 0o755)
        sandbox.writeConfig("""
            [identity "relfile"]
                kind = static
                username = u
                secret = file:token
            [identity "relcmd"]
                kind = static
                username = u
                secret = cmd:bin/print
            [git "https://file.example"]
                identity = relfile
            [git "https://cmd.example"]
                identity = relcmd
            """)
        for host in ["file.example", "cmd.example"] {
            let result = sandbox.broker("git-credential-broker", ["get"], stdin: "protocol=https\nhost=\(host)\n\n")
            XCTAssertEqual(result.stdout, "username=u\npassword=from-config-dir\n", "\(host): \(result.stderr)")
        }
    }

    func testStaticIdentityReadsEnvFileAndCommandSecrets() {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        let file = sandbox.write("secrets/file-token", "file-secret\n", mode: 0o600)
        let cmd = sandbox.write("bin/print-secret", "#!/bin/sh\necho cmd-secret\n", mode: 0o755)
        sandbox.writeConfig("""
            [identity "from-env"]
            \tkind = static
            \tusername = env-user
            \tsecret = env:BROKER_E2E_TOKEN
            [identity "from-file"]
            \tkind = static
            \tusername = file-user
            \tsecret = file:\(file)
            [identity "from-cmd"]
            \tkind = static
            \tusername = cmd-user
            \tsecret = cmd:\(cmd)
            [git "https://env.example"]
            \tidentity = from-env
            [git "https://file.example"]
            \tidentity = from-file
            [git "https://cmd.example"]
            \tidentity = from-cmd

            """)
        // env: is read from the agent's environment, inherited from the adapter that started it.
        let env = Kit.helperGet(sandbox, host: "env.example", extraEnvironment: ["BROKER_E2E_TOKEN": "env-secret"])
        XCTAssertEqual(env.status, 0, env.stderr)
        XCTAssertTrue(env.stdout.hasPrefix("username=env-user\npassword=env-secret\n"), env.stdout)

        let fromFile = Kit.helperGet(sandbox, host: "file.example")
        XCTAssertEqual(fromFile.status, 0, fromFile.stderr)
        XCTAssertTrue(fromFile.stdout.hasPrefix("username=file-user\npassword=file-secret\n"), fromFile.stdout)

        // Through real git too.
        let fill = sandbox.git(["credential", "fill"], stdin: "protocol=https\nhost=cmd.example\n")
        XCTAssertEqual(fill.status, 0, fill.stderr)
        XCTAssertTrue(fill.stdout.hasPrefix("protocol=https\nhost=cmd.example\nusername=cmd-user\npassword=cmd-secret\n"), fill.stdout)
        XCTAssertEqual(fill.stderr, "")

        for name in ["from-env", "from-file", "from-cmd"] {
            XCTAssertEqual(issued(sandbox, name).first?["tier"] as? String, "upstream", name)
        }
        // Long-lived secrets never reach the disk cache (D9).
        XCTAssertEqual(Kit.cacheFiles(sandbox), [])
        let audit = sandbox.read(sandbox.paths.auditLogPath)
        for secret in ["env-secret", "file-secret", "cmd-secret"] { XCTAssertFalse(audit.contains(secret)) }
    }

    func testFileSecretReadableByOthersIsRefusedWithChmodHint() {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        let file = sandbox.write("secrets/loose", "loose-secret\n", mode: 0o644)
        sandbox.writeConfig("""
            [identity "loose"]
            \tkind = static
            \tusername = u
            \tsecret = file:\(file)
            [git "https://loose.example"]
            \tidentity = loose

            """)
        let result = Kit.helperGet(sandbox, host: "loose.example")
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(lines(result.stderr).count, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("chmod 600 \(file)"), result.stderr)
        XCTAssertFalse(result.stderr.contains("loose-secret"))
        let denied = sandbox.auditLines.filter { ($0["event"] as? String) == "denied" }
        XCTAssertEqual(denied.first?["identity"] as? String, "loose")
    }

    func testFailingSecretCommandShowsStatusAndFirstStderrLineButNeverStdout() {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        let canary = "CANARY-9e1f-stdout-secret"
        let cmd = sandbox.write("bin/broken-secret", """
            #!/bin/sh
            echo \(canary)
            echo "vault: token expired" >&2
            echo "second line of stderr" >&2
            exit 3

            """, mode: 0o755)
        sandbox.writeConfig("""
            [identity "broken"]
            \tkind = static
            \tusername = u
            \tsecret = cmd:\(cmd) --flag
            [git "https://broken.example"]
            \tidentity = broken

            """)
        let result = Kit.helperGet(sandbox, host: "broken.example")
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(lines(result.stderr).count, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("exited with status 3"), result.stderr)
        XCTAssertTrue(result.stderr.contains("vault: token expired"), result.stderr)
        XCTAssertFalse(result.stderr.contains("second line of stderr"), result.stderr)
        XCTAssertFalse(result.stderr.contains("--flag"), "arguments of a cmd: secret may hold secrets: \(result.stderr)")

        let fill = sandbox.git(["credential", "fill"], stdin: "protocol=https\nhost=broken.example\n")
        XCTAssertTrue(fill.stderr.contains("exited with status 3"), fill.stderr)
        for text in [result.stdout, result.stderr, fill.stdout, fill.stderr,
                     sandbox.read(sandbox.paths.auditLogPath), sandbox.read(sandbox.paths.agentLogPath)] {
            XCTAssertFalse(text.contains(canary), "the command's stdout leaked: \(text)")
        }
        XCTAssertFalse(sandbox.read(sandbox.paths.auditLogPath).isEmpty, "the failure is audited")
    }

    func testExecIdentityIsCachedOnDiskAndSurvivesAgentRestart() {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        let mint = Kit.mintScript(sandbox, name: "mint")
        sandbox.writeConfig("""
            [identity "minted"]
            \tkind = exec
            \tcommand = \(mint.script)
            [git "https://exec.example"]
            \tidentity = minted

            """)
        let now = Int64(Date().timeIntervalSince1970)
        let first = Kit.helperGet(sandbox, host: "exec.example")
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.hasPrefix("username=minted-user\npassword=tok-1\n"), first.stdout)
        let expiry = lines(first.stdout).first { $0.hasPrefix("password_expiry_utc=") }.flatMap { Int64($0.dropFirst(20)) }
        XCTAssertNotNil(expiry, first.stdout)
        if let expiry { XCTAssertTrue(abs(expiry - (now + 3600)) < 60, "\(expiry) vs \(now + 3600)") }
        XCTAssertEqual(Kit.runs(sandbox, mint.counter), 1)

        let files = Kit.cacheFiles(sandbox).filter { $0.hasSuffix(".cred") }
        XCTAssertEqual(files.count, 1, "\(Kit.cacheFiles(sandbox))")
        if let file = files.first {
            XCTAssertTrue(file.hasPrefix("minted.exec."), file)
            XCTAssertEqual(Kit.mode(sandbox.paths.cacheEntriesDirectory + "/" + file), 0o600)
        }
        XCTAssertEqual(Kit.mode(sandbox.paths.cacheEntriesDirectory), 0o700)
        XCTAssertEqual(sandbox.paths.cacheEntriesDirectory, sandbox.environment["XDG_CACHE_HOME"]! + "/credential-broker/entries")

        // A new agent serves it from disk without running the command again.
        guard let oldPID = sandbox.agentPID else { return XCTFail("no agent") }
        Kit.stopAgents(sandbox)
        XCTAssertNil(sandbox.agentPID)
        let second = Kit.helperGet(sandbox, host: "exec.example")
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stdout.hasPrefix("username=minted-user\npassword=tok-1\n"), second.stdout)
        XCTAssertEqual(Kit.runs(sandbox, mint.counter), 1, "the command ran again after a restart")
        XCTAssertNotEqual(sandbox.agentPID, oldPID)
        XCTAssertEqual(issued(sandbox, "minted").map { $0["tier"] as? String }, ["upstream", "disk"])
    }

    func testExecIdentityViaIdentityReceivesTheUpstreamCredentialOnStdin() {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        let baseSecret = sandbox.write("secrets/base", "base-secret\n", mode: 0o600)
        let captured = sandbox.root + "/exec-stdin"
        let script = sandbox.write("bin/derive", """
            #!/bin/sh
            cat > \(captured)
            echo username=derived-user
            echo password=derived-token
            echo password_expiry_utc=$(( $(date +%s) + 3600 ))

            """, mode: 0o755)
        sandbox.writeConfig("""
            [identity "base"]
            \tkind = static
            \tusername = base-user
            \tsecret = file:\(baseSecret)
            [identity "derived"]
            \tkind = exec
            \tvia = identity:base
            \tcommand = \(script)
            [git "https://chain.example"]
            \tidentity = derived

            """)
        let result = Kit.helperGet(sandbox, host: "chain.example")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.hasPrefix("username=derived-user\npassword=derived-token\n"), result.stdout)
        let stdin = sandbox.read(captured)
        XCTAssertTrue(lines(stdin).contains("username=base-user"), stdin)
        XCTAssertTrue(lines(stdin).contains("password=base-secret"), stdin)
        XCTAssertFalse(sandbox.read(sandbox.paths.auditLogPath).contains("base-secret"))
    }

    func testMalformedConfigIsReportedWithFileAndLine() {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        sandbox.writeConfig("""
            [identity "bot"]
            \tkind = static
            \tusername = bot
            \tsecret = env:TOKEN
            \tcolour = blue
            [git "https://bad.example"]
            \tidentity = bot

            """)
        let unknownKey = Kit.helperGet(sandbox, host: "bad.example")
        XCTAssertEqual(unknownKey.status, 1)
        XCTAssertEqual(unknownKey.stdout, "")
        XCTAssertEqual(lines(unknownKey.stderr).count, 1, unknownKey.stderr)
        XCTAssertTrue(unknownKey.stderr.contains("\(sandbox.configPath):5"), unknownKey.stderr)
        XCTAssertTrue(unknownKey.stderr.contains("colour"), unknownKey.stderr)

        // A syntax error, picked up by the same running agent after the edit.
        sandbox.writeConfig("""
            [identity "bot"]
            \tkind = static
            [git "https://bad.example"
            \tidentity = bot

            """)
        let syntax = sandbox.git(["credential", "fill"], stdin: "protocol=https\nhost=bad.example\n")
        XCTAssertTrue(syntax.stderr.contains("git-credential-broker: \(sandbox.configPath):3"), syntax.stderr)
    }

    func testDanglingViaAndCycleAreRefusedWithTheChainSpelledOut() {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        sandbox.writeConfig("""
            [identity "a"]
            \tkind = exec
            \tcommand = true
            \tvia = identity:nowhere
            [git "https://chain.example"]
            \tidentity = a

            """)
        let dangling = Kit.helperGet(sandbox, host: "chain.example")
        XCTAssertEqual(dangling.status, 1)
        XCTAssertEqual(lines(dangling.stderr).count, 1, dangling.stderr)
        XCTAssertTrue(dangling.stderr.contains("\(sandbox.configPath):4"), dangling.stderr)
        XCTAssertTrue(dangling.stderr.contains("identity:nowhere"), dangling.stderr)
        XCTAssertTrue(dangling.stderr.contains("not defined"), dangling.stderr)

        sandbox.writeConfig("""
            [identity "a"]
            \tkind = exec
            \tcommand = true
            \tvia = identity:b
            [identity "b"]
            \tkind = exec
            \tcommand = true
            \tvia = identity:a
            [git "https://chain.example"]
            \tidentity = a

            """)
        let cycle = Kit.helperGet(sandbox, host: "chain.example")
        XCTAssertEqual(cycle.status, 1)
        XCTAssertEqual(lines(cycle.stderr).count, 1, cycle.stderr)
        XCTAssertTrue(cycle.stderr.contains("a → b → a"), cycle.stderr)
        XCTAssertTrue(cycle.stderr.contains("\(sandbox.configPath):4"), cycle.stderr)
    }

    func testConcurrentColdRequestsRunTheExecCommandOnce() {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        let mint = Kit.mintScript(sandbox, name: "slow-mint", sleep: 0.3)
        sandbox.writeConfig("""
            [identity "flight"]
            \tkind = exec
            \tcommand = \(mint.script)
            [git "https://flight.example"]
            \tidentity = flight

            """)
        // No agent yet: the 20 adapters also race to start it.
        let results = Kit.runConcurrently(sandbox, count: 20, executable: Sandbox.executable("git-credential-broker"),
                                          arguments: ["get"], stdin: Kit.getInput(host: "flight.example"))
        for r in results {
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.hasPrefix("username=minted-user\npassword=tok-1\n"), r.stdout)
        }
        XCTAssertEqual(Kit.runs(sandbox, mint.counter), 1, "single-flight: one upstream call for 20 requests")
        XCTAssertEqual(Kit.agentPIDs(socketDirectory: sandbox.paths.runtimeDirectory).count, 1)
        XCTAssertEqual(issued(sandbox, "flight").count, 20)
    }

    func testCorruptCacheFilesAreSkippedAndRemovedAtAgentStart() throws {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        let mint = Kit.mintScript(sandbox, name: "mint")
        sandbox.writeConfig("""
            [identity "cached"]
            \tkind = exec
            \tcommand = \(mint.script)
            [git "https://cache.example"]
            \tidentity = cached

            """)
        XCTAssertEqual(Kit.helperGet(sandbox, host: "cache.example").status, 0)
        Kit.stopAgents(sandbox)
        let entries = sandbox.paths.cacheEntriesDirectory
        guard let real = Kit.cacheFiles(sandbox).first(where: { $0.hasPrefix("cached.exec.") }) else {
            return XCTFail("no cache entry was written: \(Kit.cacheFiles(sandbox))")
        }
        let realBytes = try Data(contentsOf: URL(fileURLWithPath: entries + "/" + real))

        // 1. garbage bytes under a well-formed name
        let garbage = "ghost.exec.0123456789abcdef.cred"
        _ = FileManager.default.createFile(atPath: entries + "/" + garbage,
                                       contents: Data([0xff, 0x00, 0x13, 0x0a, 0x3d, 0xfe, 0x80, 0x0d, 0x0a, 0x00]),
                                       attributes: [.posixPermissions: 0o600])
        // 2. a valid entry whose key does not match its file name
        let wrongKey = "other.exec.fedcba9876543210.cred"
        _ = FileManager.default.createFile(atPath: entries + "/" + wrongKey, contents: realBytes, attributes: [.posixPermissions: 0o600])
        // 3. the real entry, now readable by others
        chmod(entries + "/" + real, 0o644)
        // 4. a temp file left by a writer killed before its rename
        _ = FileManager.default.createFile(atPath: entries + "/.tmp-1-2", contents: realBytes, attributes: [.posixPermissions: 0o600])

        let result = Kit.helperGet(sandbox, host: "cache.example")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.hasPrefix("username=minted-user\npassword=tok-2\n"), "the 0644 entry must not be served: \(result.stdout)")
        XCTAssertEqual(Kit.runs(sandbox, mint.counter), 2)
        XCTAssertEqual(Kit.cacheFiles(sandbox), [real], "only the freshly written entry remains")
        XCTAssertEqual(Kit.mode(entries + "/" + real), 0o600)
        let log = sandbox.read(sandbox.paths.agentLogPath)
        for name in [garbage, wrongKey, real] {
            XCTAssertTrue(log.contains("removing unusable entry \(name)"), "\(name) not reported in:\n\(log)")
        }
        XCTAssertFalse(log.contains("tok-1"), "a secret reached the agent log")
        XCTAssertEqual(Kit.helperGet(sandbox, host: "cache.example").status, 0, "the agent still serves")
    }
}
