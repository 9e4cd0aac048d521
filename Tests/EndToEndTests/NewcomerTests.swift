// A newcomer's commands against the built programs and real git: doctor on a broken setup, explain,
// BROKER_TRACE, the slow-answer status line (on a pseudo-terminal and off one), whoami's default, add.

import BrokerWire
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// What a command wrote to a pseudo-terminal (its standard error, and standard input's echo).
struct TerminalRun {
    var status: Int32
    var stdout: String
    var tty: String
}

extension Sandbox {
    static let ptyScript: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/pty_run.py").path
    }()

    /// Runs `program` with standard error (and with `ttyStdin` standard input) on a fresh
    /// pseudo-terminal, through python3's `pty`; each (prompt, reply) pair answers a prompt seen there.
    func onTerminal(_ program: String, _ arguments: [String], ttyStdin: Bool = false, stdin: String = "",
                    replies: [(String, String)] = [], file: StaticString = #filePath, line: UInt = #line) -> TerminalRun {
        var options = ttyStdin ? ["--tty-stdin"] : ["--stdin", stdin]
        for (prompt, reply) in replies { options += ["--expect", prompt, "--send", reply] }
        let result = run(MotoServer.python, [Self.ptyScript] + options + ["--timeout", "40", "--", program] + arguments, timeout: 60)
        guard let object = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
            XCTFail("pty_run.py failed: \(result.stderr)", file: file, line: line)
            return TerminalRun(status: -1, stdout: "", tty: "")
        }
        return TerminalRun(status: Int32(object["status"] as? Int ?? -1), stdout: object["stdout"] as? String ?? "",
                           tty: object["tty"] as? String ?? "")
    }

    /// `git config --global KEY VALUE` in this sandbox's HOME.
    func gitConfigGlobal(_ key: String, _ value: String) {
        let result = run("/usr/bin/git", ["config", "--global", key, value])
        precondition(result.status == 0, result.stderr)
    }
}

/// A loopback port nobody listens on: bound, read, closed.
func closedLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

final class NewcomerTests: XCTestCase {
    // MARK: - doctor

    func testDoctorNamesEachBrokenThingWithItsFix() throws {
        let sandbox = Sandbox()
        let token = sandbox.write("token", "CANARY-token-doctor\n", mode: 0o644)
        let port = closedLoopbackPort()
        sandbox.writeConfig("""
            [identity "bot"]
                kind = static
                username = x-access-token
                secret = file:\(token)
            [identity "dev"]
                kind = aws/user
                access-key-id = AKIDEXAMPLE
                secret-access-key = file:\(token)
                sts-endpoint = http://127.0.0.1:\(port)
            [git "https://git.example.com/acme"]
                identity = bot
            """)
        // The helper by name, while git-credential-broker is not on PATH (nor any other install of it).
        sandbox.environment["PATH"] = "/usr/bin:/bin"
        sandbox.gitConfigGlobal("credential.helper", "broker")
        sandbox.write("home/.aws/config", "[profile prod]\ncredential_process = \(Sandbox.executable("aws-credential-process")) --identity prod\n")
        sandbox.environment["BROKER_AGENT"] = sandbox.root + "/nonexistent/broker-agent"

        let result = sandbox.broker("brokerctl", ["doctor"])
        XCTAssertEqual(result.status, 1, result.stdout + result.stderr)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        func expect(_ prefix: String, fix: String, file: StaticString = #filePath, line: UInt = #line) {
            let match = lines.first { $0.hasPrefix(prefix) }
            XCTAssertNotNil(match, "no line starting \(prefix) in:\n\(result.stdout)", file: file, line: line)
            XCTAssertTrue(match?.hasSuffix("(fix: \(fix))") == true, "\(match ?? "")", file: file, line: line)
        }
        expect("fail  git: credential.helper = broker, but git-credential-broker (on PATH) cannot be run",
               fix: "run brokerctl git-setup --global (the helper is at \(Sandbox.binDirectory)/git-credential-broker), or add its directory to PATH")
        expect("fail  git: the rule https://git.example.com/acme (\(sandbox.configPath):11) needs a path, but git sends none for https://git.example.com",
               fix: "git config --global credential.https://git.example.com.useHttpPath true")
        expect("fail  secret: identity \"bot\" file:\(token): secret file \(token) is readable by group or others (mode 644)", fix: "chmod 600 \(token)")
        expect("fail  upstream: AWS STS http://127.0.0.1:\(port) (\"dev\"): unreachable: connection refused",
               fix: "check the network, a proxy, or the endpoint setting (sts-endpoint, api-url, AWS_ENDPOINT_URL*)")
        expect("fail  agent: broker-agent is not running and cannot be started", fix: "run ./install.sh")
        expect("fail  aws: [profile prod] credential_process (\(sandbox.root)/home/.aws/config:2) names identity \"prod\", which the configuration does not define",
               fix: "define [identity \"prod\"] or fix the name (brokerctl list)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("warn  adapters: git-credential-broker is not on PATH") }, result.stdout)
        XCTAssertFalse(result.stdout.contains("CANARY") || result.stderr.contains("CANARY"))

        // The same findings for a program, with a fix on every failure.
        let json = sandbox.broker("brokerctl", ["doctor", "--format", "json"])
        XCTAssertEqual(json.status, 1)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let checks = try XCTUnwrap(object["checks"] as? [[String: Any]])
        let failures = checks.filter { $0["status"] as? String == "fail" }
        XCTAssertEqual(object["failures"] as? Int, failures.count)
        XCTAssertEqual(failures.count, lines.filter { $0.hasPrefix("fail ") }.count)
        XCTAssertTrue(failures.allSatisfy { ($0["fix"] as? String)?.isEmpty == false }, "\(failures)")
    }

    func testDoctorSaysAnAgentThatIsNotRunningStartsOnDemandWithoutFailing() {
        let sandbox = Sandbox()
        sandbox.environment["PATH"] = Sandbox.binDirectory + ":" + (sandbox.environment["PATH"] ?? "")
        sandbox.gitConfigGlobal("credential.helper", Sandbox.executable("git-credential-broker"))
        let result = sandbox.broker("brokerctl", ["doctor", "--offline"])
        XCTAssertEqual(result.status, 0, result.stdout)
        XCTAssertTrue(result.stdout.contains("warn  agent: broker-agent is not running (socket \(sandbox.paths.socketPath)); the first request starts "), result.stdout)
        XCTAssertNil(sandbox.agentPID, "doctor starts no agent")
    }

    func testDoctorFailsAnAgentWhoseExecutableWasReplacedAndWarnsOfAnotherConfig() throws {
        let sandbox = Sandbox()
        // A private copy of the agent, so its file can be "upgraded" under the running process.
        let copy = sandbox.root + "/bin/broker-agent"
        try FileManager.default.createDirectory(atPath: sandbox.root + "/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Sandbox.executable("broker-agent"), toPath: copy)
        sandbox.environment["BROKER_AGENT"] = copy
        sandbox.writeConfig("[git]\n\tcache-timeout = 60\n")
        let store = sandbox.broker("git-credential-broker", ["store"], stdin: "protocol=https\nhost=h.example\nusername=u\npassword=p\n\n")
        XCTAssertEqual(store.status, 0, store.stderr)  // starts the agent
        guard sandbox.agentPID != nil else { return XCTFail("no agent started") }
        var healthy = sandbox.broker("brokerctl", ["doctor", "--offline"])
        XCTAssertTrue(healthy.stdout.contains("ok    agent: broker-agent pid \(sandbox.agentPID!), version "), healthy.stdout)

        var future = [timespec(tv_sec: time(nil) + 60, tv_nsec: 0), timespec(tv_sec: time(nil) + 60, tv_nsec: 0)]
        XCTAssertEqual(utimensat(AT_FDCWD, copy, &future, 0), 0)
        healthy = sandbox.broker("brokerctl", ["doctor", "--offline"])
        XCTAssertEqual(healthy.status, 1)
        XCTAssertTrue(healthy.stdout.contains("fail  agent: broker-agent (pid \(sandbox.agentPID!)) runs a build that has since been replaced on disk (\(copy)) (fix: brokerctl stop (the next request starts the new one))"), healthy.stdout)

        let other = sandbox.write("other.conf", "")
        let mismatch = sandbox.broker("brokerctl", ["--config", other, "doctor", "--offline"])
        // Each configuration has its own agent: another file is never answered by this one.
        XCTAssertTrue(mismatch.stdout.contains("warn  agent: broker-agent is not running (socket \(sandbox.root)/run/agent-"), mismatch.stdout)
        XCTAssertFalse(mismatch.stdout.contains("pid \(sandbox.agentPID!)"), mismatch.stdout)
    }

    func testDoctorFailsASocketDirectoryOthersCanEnter() {
        let sandbox = Sandbox()
        let store = sandbox.broker("git-credential-broker", ["store"], stdin: "protocol=https\nhost=h.example\nusername=u\npassword=p\n\n")
        XCTAssertEqual(store.status, 0, store.stderr)
        let directory = sandbox.paths.runtimeDirectory
        chmod(directory, 0o755)
        defer { chmod(directory, 0o700) }
        let result = sandbox.broker("brokerctl", ["doctor", "--offline"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stdout.contains("fail  agent: socket directory \(directory) is accessible by group or others (mode 0755) (fix: chmod 0700 \(directory))"), result.stdout)
    }

    // MARK: - explain

    func explainSandbox() -> Sandbox {
        let sandbox = Sandbox()
        let token = sandbox.write("token", "CANARY-explain-token\n")
        let mint = sandbox.write("mint", """
            #!/bin/sh
            while IFS== read -r key value; do [ "$key" = password ] && p=$value; done
            echo username=ci
            echo "password=minted-$p"
            echo "password_expiry_utc=$(( $(date +%s) + 3600 ))"

            """, mode: 0o755)
        sandbox.writeConfig("""
            [identity "acme-bot"]
                kind = static
                username = bot
                secret = file:\(token)
            [identity "acme-ci"]
                kind = exec
                via = identity:acme-bot
                command = \(mint)
            [identity "host-wide"]
                kind = static
                username = h
                secret = file:\(token)
            [git "https://git.example.com/acme"]
                identity = acme-ci
            [git "https://other.example.com"]
                identity = host-wide
            """)
        return sandbox
    }

    func testExplainSaysWhyAPathBoundRuleDoesNotMatchWithoutUseHttpPath() throws {
        let sandbox = explainSandbox()
        let result = sandbox.broker("brokerctl", ["explain", "https://git.example.com/acme/tools.git"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("git sends     protocol=https host=git.example.com (credential.useHttpPath is off for https://git.example.com)"), result.stdout)
        XCTAssertTrue(result.stdout.contains("with path     [git \"https://git.example.com/acme\"] (\(sandbox.configPath):14) → identity \"acme-ci\""), result.stdout)
        XCTAssertTrue(result.stdout.contains("git uses      no identity: the helper acts as git credential-cache for this URL"), result.stdout)
        XCTAssertTrue(result.stdout.contains("run: git config --global credential.https://git.example.com.useHttpPath true"), result.stdout)

        let json = sandbox.broker("brokerctl", ["which", "https://git.example.com/acme/tools.git", "--format", "json"])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertTrue(object["identity"] is NSNull)
        XCTAssertEqual(object["use_http_path"] as? Bool, false)
        XCTAssertEqual((object["binding_with_path"] as? [String: Any])?["identity"] as? String, "acme-ci")
    }

    func testExplainFollowsTheChainAndShowsWhatTheAgentHasCached() throws {
        let sandbox = explainSandbox()
        sandbox.gitConfigGlobal("credential.https://git.example.com.useHttpPath", "true")
        var result = sandbox.broker("brokerctl", ["explain", "https://git.example.com/acme/tools.git"])
        XCTAssertTrue(result.stdout.contains("git sends     protocol=https host=git.example.com path=acme/tools.git (credential.useHttpPath is on for https://git.example.com)"), result.stdout)
        XCTAssertTrue(result.stdout.contains("git uses      identity \"acme-ci\""), result.stdout)
        XCTAssertTrue(result.stdout.contains("chain         acme-ci (exec) → via acme-bot (static)"), result.stdout)
        XCTAssertTrue(result.stdout.contains("cached        nothing: broker-agent is not running"), result.stdout)

        // git asks through the helper; afterwards the agent holds the minted token until its expiry.
        let fill = sandbox.run("/usr/bin/git", ["-c", "credential.helper=\(Sandbox.executable("git-credential-broker"))", "credential", "fill"],
                               stdin: "url=https://git.example.com/acme/tools.git\n")
        XCTAssertTrue(fill.stdout.contains("password=minted-CANARY-explain-token"), fill.stdout + fill.stderr)
        result = sandbox.broker("brokerctl", ["explain", "https://git.example.com/acme/tools.git"])
        XCTAssertTrue(result.stdout.range(of: #"cached        acme-ci: until \d{4}-\d\d-\d\dT[0-9:]+Z \(in (59m|1h0m)\)"#, options: .regularExpression) != nil, result.stdout)
        XCTAssertTrue(result.stdout.contains("cached        acme-bot: in memory, no expiry"), result.stdout)
        XCTAssertFalse(result.stdout.contains("CANARY"), result.stdout)

        // The host-wide rule answers with or without a path.
        result = sandbox.broker("brokerctl", ["explain", "https://other.example.com"])
        XCTAssertTrue(result.stdout.contains("without path  [git \"https://other.example.com\"] (\(sandbox.configPath):16) → identity \"host-wide\""), result.stdout)
        XCTAssertTrue(result.stdout.contains("git uses      identity \"host-wide\""), result.stdout)
    }

    func testExplainOfAnUnboundHostAndOfSomethingThatIsNotAURL() {
        let sandbox = explainSandbox()
        let result = sandbox.broker("brokerctl", ["explain", "https://unbound.example.org/x.git"])
        XCTAssertTrue(result.stdout.contains("why           no [git \"…\"] rule matches https://unbound.example.org (rules: https://git.example.com/acme, https://other.example.com)"), result.stdout)
        let bad = sandbox.broker("brokerctl", ["explain", "git.example.com/acme"])
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderr.contains("\"git.example.com/acme\" is not a URL git would ask credentials for"), bad.stderr)
    }

    // MARK: - BROKER_TRACE

    func testTraceShowsEachStepAndNoSecret() throws {
        let sandbox = explainSandbox()
        sandbox.gitConfigGlobal("credential.https://git.example.com.useHttpPath", "true")
        let git = ["-c", "credential.helper=\(Sandbox.executable("git-credential-broker"))", "credential"]
        sandbox.environment["BROKER_TRACE"] = "1"
        let first = sandbox.run("/usr/bin/git", git + ["fill"], stdin: "url=https://git.example.com/acme/tools.git\n")
        XCTAssertEqual(first.status, 0, first.stderr)
        let trace = first.stderr.split(separator: "\n").map(String.init)
        XCTAssertEqual(Array(trace.prefix(3)), [
            "trace: git-credential-broker: no broker-agent at \(sandbox.paths.socketPath); starting one",
            "trace: git-credential-broker: started broker-agent; it is ready",
            "trace: git-credential-broker: sent op=git.get adapter=git protocol=https host=git.example.com path=acme/tools.git",
        ], first.stderr)
        XCTAssertTrue(trace.count == 4 && trace[3].hasPrefix("trace: git-credential-broker: received status=ok username=ci password_expiry_utc="), first.stderr)
        XCTAssertTrue(trace[3].hasSuffix("broker.identity=acme-ci broker.tier=upstream (withheld: password)"), trace[3])

        let second = sandbox.run("/usr/bin/git", git + ["fill"], stdin: "url=https://git.example.com/acme/tools.git\n")
        XCTAssertTrue(second.stderr.hasPrefix("trace: git-credential-broker: found broker-agent at \(sandbox.paths.socketPath)\n"), second.stderr)
        XCTAssertTrue(second.stderr.contains("broker.identity=acme-ci broker.tier=memory"), second.stderr)

        // A password git approves for an unbound host goes to the agent; the trace names it only.
        let approve = sandbox.run("/usr/bin/git", git + ["approve"], stdin: "protocol=https\nhost=plain.example.org\nusername=me\npassword=CANARY-approved\n")
        XCTAssertTrue(approve.stderr.contains("sent op=git.store adapter=git protocol=https host=plain.example.org username=me (withheld: password)"), approve.stderr)
        let brokerctl = sandbox.broker("brokerctl", ["logout", "acme-ci"])
        XCTAssertTrue(brokerctl.stderr.contains("trace: brokerctl: sent op=identity.logout identity=acme-ci"), brokerctl.stderr)
        for output in [first, second, approve, brokerctl] {
            XCTAssertFalse(output.stderr.contains("CANARY") || output.stderr.contains("minted-"), output.stderr)
        }
    }

    // MARK: - progress

    func slowSandbox() -> Sandbox {
        let sandbox = Sandbox()
        sandbox.writeConfig("""
            [identity "slow"]
                kind = exec
                command = "sleep 2; echo username=u; echo password=CANARY-slow"
            [git "https://slow.example.com"]
                identity = slow
            """)
        return sandbox
    }

    func testNoStatusLineWhenStandardErrorIsNotATerminal() {
        let sandbox = slowSandbox()
        let result = sandbox.broker("git-credential-broker", ["get"], stdin: "protocol=https\nhost=slow.example.com\n\n")
        XCTAssertEqual(result.status, 0)
        XCTAssertTrue(result.stdout.contains("password=CANARY-slow"))
        XCTAssertEqual(result.stderr, "", "not one byte on stderr when it is not a terminal")
    }

    func testStatusLineOnATerminalWhileASlowIdentityIsObtainedThenErased() {
        let sandbox = slowSandbox()
        let run = sandbox.onTerminal(Sandbox.executable("git-credential-broker"), ["get"], stdin: "protocol=https\nhost=slow.example.com\n\n")
        XCTAssertEqual(run.status, 0, run.tty)
        XCTAssertTrue(run.stdout.contains("password=CANARY-slow"), run.stdout)
        XCTAssertEqual(run.tty, "\rgit-credential-broker: waiting for broker-agent to obtain a credential for https://slow.example.com…\r\u{1b}[K")
        // A fast answer (now cached) shows nothing.
        let fast = sandbox.onTerminal(Sandbox.executable("git-credential-broker"), ["get"], stdin: "protocol=https\nhost=slow.example.com\n\n")
        XCTAssertEqual(fast.tty, "")
    }

    // MARK: - whoami without an argument

    func testWhoamiWithoutAnArgumentUsesBrokerIdentityThenTheDefault() {
        let sandbox = Sandbox()
        let token = sandbox.write("token", "CANARY-whoami\n")
        sandbox.writeConfig("""
            [identity "first"]
                kind = static
                username = first-user
                secret = file:\(token)
            [identity "second"]
                kind = exec
                command = "echo username=second-user; echo password=CANARY-exec"
            """)
        let none = sandbox.broker("brokerctl", ["whoami"])
        XCTAssertEqual(none.status, 64)
        XCTAssertTrue(none.stderr.hasPrefix("brokerctl: whoami needs an identity: name one, set BROKER_IDENTITY, or mark one `default = true`; choices: first, second\n"), none.stderr)

        sandbox.writeConfig(sandbox.read(sandbox.configPath) + "\n    default = true\n")
        let byDefault = sandbox.broker("brokerctl", ["whoami"])
        XCTAssertEqual(byDefault.status, 0, byDefault.stderr)
        XCTAssertTrue(byDefault.stdout.contains("identity       second\nkind           exec\nusername       second-user\n"), byDefault.stdout)
        let named = sandbox.broker("brokerctl", ["whoami", "--format", "json"], extraEnvironment: ["BROKER_IDENTITY": "first"])
        XCTAssertTrue(named.stdout.contains("\"username\" : \"first-user\""), named.stdout)
        XCTAssertTrue(named.stdout.contains("\"kind\" : \"static\""), named.stdout)
        XCTAssertFalse((byDefault.stdout + named.stdout).contains("CANARY"))
    }

    // MARK: - add

    func testAddAppendsASectionKeepsTheRestAndStoresTheSecretPrivately() throws {
        let sandbox = Sandbox()
        let original = "# my settings\n[git]\n\tcache-timeout = 60 ; a comment\n"
        sandbox.writeConfig(original)
        let result = sandbox.broker("brokerctl", ["add", "acme-bot", "--kind", "static", "--set", "username=x-access-token"], stdin: "CANARY-added\n")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, """
            added identity "acme-bot" (kind static) to \(sandbox.configPath); secrets stored as file:secrets/acme-bot.secret
            \(sandbox.configPath): ok (1 identities, 0 git bindings)

            """)
        XCTAssertEqual(sandbox.read(sandbox.configPath), original + "\n[identity \"acme-bot\"]\n\tkind = static\n\tusername = x-access-token\n\tsecret = file:secrets/acme-bot.secret\n")
        let secretPath = sandbox.root + "/config/credential-broker/secrets/acme-bot.secret"
        XCTAssertEqual(sandbox.read(secretPath), "CANARY-added\n")
        let st = try FileManager.default.attributesOfItem(atPath: secretPath)
        XCTAssertEqual((st[.posixPermissions] as? Int), 0o600)
        XCTAssertFalse((result.stdout + result.stderr).contains("CANARY"))
        // The identity works: whoami reads the stored secret.
        let whoami = sandbox.broker("brokerctl", ["whoami", "acme-bot"])
        XCTAssertTrue(whoami.stdout.contains("username       x-access-token"), whoami.stdout + whoami.stderr)
    }

    func testAddAsksForASecretOnTheTerminalWithoutEcho() {
        let sandbox = Sandbox()
        let run = sandbox.onTerminal(Sandbox.executable("brokerctl"), ["add", "me", "--kind", "aws/user", "--set", "access-key-id=AKIDEXAMPLE",
                                                                      "--set", "long-lived-keys=true", "--secret", "secret-access-key", "--store", "file"],
                                     ttyStdin: true, replies: [("(not shown): ", "CANARY-typed\n")])
        XCTAssertEqual(run.status, 0, run.tty + run.stdout)
        XCTAssertTrue(run.tty.contains("secret-access-key for identity \"me\" (not shown): "), run.tty)
        XCTAssertFalse(run.tty.contains("CANARY"), "the typed secret was echoed: \(run.tty)")
        XCTAssertEqual(sandbox.read(sandbox.root + "/config/credential-broker/secrets/me.secret-access-key"), "CANARY-typed\n")
        XCTAssertTrue(sandbox.read(sandbox.configPath).contains("\tsecret-access-key = file:secrets/me.secret-access-key\n"))
    }

    func testAddRefusesUnknownKindsSettingsAndInlineSecretsAndLosesNothing() {
        let sandbox = Sandbox()
        let original = "[identity \"old\"]\n\tkind = exec\n\tcommand = true\n"
        sandbox.writeConfig(original)
        let kind = sandbox.broker("brokerctl", ["add", "x", "--kind", "aws/usr"], stdin: "s\n")
        XCTAssertEqual(kind.status, 64)
        XCTAssertTrue(kind.stderr.hasPrefix("brokerctl: --kind takes static, exec, aws/user"), kind.stderr)
        let setting = sandbox.broker("brokerctl", ["add", "x", "--kind", "static", "--set", "usrname=u"], stdin: "s\n")
        XCTAssertEqual(setting.status, 64)
        XCTAssertTrue(setting.stderr.contains("kind static has no setting \"usrname\"; did you mean \"username\"?"), setting.stderr)
        let inline = sandbox.broker("brokerctl", ["add", "x", "--kind", "static", "--set", "username=u", "--set", "secret=CANARY-inline"])
        XCTAssertEqual(inline.status, 64)
        XCTAssertTrue(inline.stderr.contains("secret is a secret: --set it to a reference (env:NAME, file:PATH, cmd:COMMAND), not a value"), inline.stderr)
        XCTAssertFalse(inline.stderr.contains("CANARY"))
        let taken = sandbox.broker("brokerctl", ["add", "old", "--kind", "exec", "--set", "command=true"])
        XCTAssertEqual(taken.status, 1)
        XCTAssertTrue(taken.stderr.contains("identity \"old\" is already defined at \(sandbox.configPath):1"), taken.stderr)
        // A section that does not validate (a dangling via) is rolled back with its secret file.
        let dangling = sandbox.broker("brokerctl", ["add", "y", "--kind", "static", "--set", "username=u", "--set", "via=identity:nosuch"], stdin: "CANARY-rolled-back\n")
        XCTAssertEqual(dangling.status, 1)
        XCTAssertTrue(dangling.stderr.contains("the new section does not validate, so the file is unchanged"), dangling.stderr)
        XCTAssertEqual(sandbox.read(sandbox.configPath), original)
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.root + "/config/credential-broker/secrets/y.secret"))
    }
}
