// A newcomer's first hour against the real programs and real git: mistakes that say their fix,
// and states that never surprise (issue #10, section 3).

import BrokerWire
import Foundation
import XCTest

final class NewcomerMistakesTests: XCTestCase {
    func git(_ sandbox: Sandbox, _ action: String, _ input: String, config: String? = nil) -> ProcessResult {
        sandbox.run("/usr/bin/git", ["-c", "credential.helper=\(Sandbox.executable("git-credential-broker"))", "credential", action],
                    stdin: input, extraEnvironment: config.map { ["BROKER_CONFIG": $0] } ?? [:])
    }

    func statusJSON(_ sandbox: Sandbox, _ arguments: [String]) throws -> [String: Any] {
        let result = sandbox.broker("brokerctl", arguments + ["status", "--format", "json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], result.stdout)
    }

    // MARK: one agent per configuration

    func testTwoConfigurationsHaveTwoAgentsAndNeverAnswerForEachOther() throws {
        let sandbox = Sandbox()
        func team(_ name: String) -> String {
            sandbox.write("\(name)-token", "token-of-\(name)\n")
            return sandbox.write("\(name).conf", """
                [identity "bot"]
                    kind = static
                    username = \(name)-bot
                    secret = file:\(name)-token
                [git "https://example.com"]
                    identity = bot

                """)
        }
        let a = team("a"), b = team("b")
        defer {
            _ = sandbox.broker("brokerctl", ["--config", a, "stop"])
            _ = sandbox.broker("brokerctl", ["--config", b, "stop"])
        }
        let ask = "protocol=https\nhost=example.com\n"
        XCTAssertEqual(git(sandbox, "fill", ask, config: a).stdout, "protocol=https\nhost=example.com\nusername=a-bot\npassword=token-of-a\n")
        XCTAssertEqual(git(sandbox, "fill", ask, config: b).stdout, "protocol=https\nhost=example.com\nusername=b-bot\npassword=token-of-b\n")
        // The default configuration (none) is the credential-cache drop-in: it never saw a token.
        XCTAssertEqual(git(sandbox, "approve", "protocol=https\nhost=other.example\nusername=me\npassword=mine\n").status, 0)
        XCTAssertFalse(git(sandbox, "fill", ask).stdout.contains("token-of"), "the default configuration binds nothing")
        // What the default agent holds is not answered under another configuration either.
        let other = git(sandbox, "fill", "protocol=https\nhost=other.example\nusername=me\n", config: a)
        XCTAssertFalse(other.stdout.contains("password=mine"), other.stdout)
        XCTAssertEqual(git(sandbox, "fill", ask, config: a).stdout.contains("token-of-a"), true, "and A still answers as A")

        let statusA = try statusJSON(sandbox, ["--config", a])
        let statusB = try statusJSON(sandbox, ["--config", b])
        let statusDefault = try statusJSON(sandbox, [])
        XCTAssertEqual(statusA["config"] as? String, a)
        XCTAssertEqual(statusB["config"] as? String, b)
        XCTAssertTrue((statusDefault["config"] as? String ?? "").hasPrefix(sandbox.configPath), "\(statusDefault)")
        let pids = Set([statusA, statusB, statusDefault].compactMap { $0["pid"] as? Int })
        XCTAssertEqual(pids.count, 3, "three configurations, three agents")
        XCTAssertNotEqual(statusA["socket"] as? String, statusB["socket"] as? String)
        XCTAssertEqual(statusA["git_cache_entries"] as? Int, 0)
        XCTAssertEqual(statusDefault["git_cache_entries"] as? Int, 1)
        let table = sandbox.run(Sandbox.executable("brokerctl"), ["status"], extraEnvironment: ["BROKER_CONFIG": b])
        // Columns widen with the longest row name; match the rows, not the padding.
        let rows = table.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        XCTAssertTrue(rows.contains("config \(b)"), table.stdout)
        XCTAssertTrue(rows.contains("git cache 0 entries in memory"), table.stdout)
    }

    // MARK: a broken configuration keeps the credential-cache drop-in working

    func testABrokenConfigKeepsUnboundHostsWorkingAndFailsBoundOnesOncePerCall() {
        let sandbox = Sandbox()
        sandbox.writeConfig("""
            [identity "bot"]
                kind = static
                username = u
            [git "https://bound.example"]
                identity = bot
            [identiy "typo"]

            """)
        let credential = "protocol=https\nhost=unbound.example\nusername=me\npassword=hunter2\n"
        let approve = git(sandbox, "approve", credential)
        XCTAssertEqual(approve.status, 0, approve.stderr)
        let fill = git(sandbox, "fill", "protocol=https\nhost=unbound.example\n")
        XCTAssertEqual(fill.status, 0, fill.stderr)
        XCTAssertEqual(fill.stdout, credential)
        XCTAssertTrue(fill.stderr.contains("the configuration has errors (and 1 more); this URL is bound to no identity, so it is served like git credential-cache"), fill.stderr)
        XCTAssertEqual(git(sandbox, "reject", credential).status, 0)
        let afterReject = git(sandbox, "fill", "protocol=https\nhost=unbound.example\nusername=me\n")
        XCTAssertFalse(afterReject.stdout.contains("hunter2"), "erase works too: \(afterReject.stdout)")

        // The helper answers nothing, so git falls through to asking (the sandbox's askpass).
        let bound = git(sandbox, "fill", "protocol=https\nhost=bound.example\n")
        XCTAssertTrue(bound.stderr.contains("askpass: Username for 'https://bound.example'"), bound.stderr)
        let said = bound.stderr.components(separatedBy: "identity \"bot\" (kind static) needs secret").count - 1
        XCTAssertEqual(said, 1, "the config error once per call: \(bound.stderr)")
        XCTAssertTrue(bound.stderr.contains("\(sandbox.configPath):1:"), bound.stderr)
    }

    // MARK: validate

    func testValidateReportsEverySectionAndSecretMistakeAtItsLine() throws {
        let sandbox = Sandbox()
        let loose = sandbox.write("loose-token", "t\n", mode: 0o644)
        sandbox.write("empty-token", "")
        sandbox.writeConfig("""
            [identity "missing"]
                kind = static
                username = u
                secret = file:\(sandbox.root)/no-such-token
            [identity "loose"]
                kind = static
                username = u
                secret = file:\(loose)
            [identiy "x"]
            [identity "empty"]
                kind = static
                username = u
                secret = file:\(sandbox.root)/empty-token
            [identity "fromenv"]
                kind = static
                username = u
                secret = env:NEWCOMER_UNSET_TOKEN

            """)
        let path = sandbox.configPath
        let result = sandbox.broker("brokerctl", ["validate"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr.split(separator: "\n").map(String.init), [
            "brokerctl: \(path):9: unknown section [identiy \"x\"] (hint: did you mean [identity]?)",
            "brokerctl: \(path):4: identity \"missing\": secret file \(sandbox.root)/no-such-token does not exist or cannot be reached: No such file or directory (hint: create it with the secret in it and chmod 600 \(sandbox.root)/no-such-token)",
            "brokerctl: \(path):8: identity \"loose\": secret file \(loose) is readable by group or others (mode 644) (hint: chmod 600 \(loose))",
            "brokerctl: \(path):13: identity \"empty\": secret file \(sandbox.root)/empty-token is empty (hint: write the secret into it)",
            "brokerctl: warning: \(path):17: environment variable NEWCOMER_UNSET_TOKEN (env:NEWCOMER_UNSET_TOKEN) is not set in this environment, which broker-agent inherits when a request from here starts it (used by identity \"fromenv\") (hint: export NEWCOMER_UNSET_TOKEN in the environment git and the AWS tools run in)",
            "brokerctl: 4 errors in \(path)",
        ])
        XCTAssertEqual(result.stdout, "")

        let json = sandbox.broker("brokerctl", ["validate", "--format", "json"])
        XCTAssertEqual(json.status, 1)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], json.stdout)
        XCTAssertEqual(object["ok"] as? Bool, false)
        XCTAssertEqual(object["file"] as? String, path)
        let errors = try XCTUnwrap(object["errors"] as? [[String: Any]])
        XCTAssertEqual(errors.compactMap { $0["line"] as? Int }, [9, 4, 8, 13])
        XCTAssertEqual(errors.first?["hint"] as? String, "did you mean [identity]?")
        XCTAssertEqual((object["warnings"] as? [[String: Any]])?.count, 1)

        // With the variable set in the running agent's environment, and the files fixed: ok.
        chmod(loose, 0o600)
        sandbox.write("no-such-token", "t\n")
        sandbox.write("empty-token", "t\n")
        sandbox.writeConfig(sandbox.read(path).replacingOccurrences(of: "[identiy \"x\"]\n", with: ""))
        XCTAssertEqual(sandbox.broker("brokerctl", ["validate"]).stderr.contains("NEWCOMER_UNSET_TOKEN"), true)
        _ = sandbox.broker("brokerctl", ["logout", "--all"], extraEnvironment: ["NEWCOMER_UNSET_TOKEN": "x"])
        _ = git(sandbox, "fill", "protocol=https\nhost=nothing.example\nusername=u\n")  // starts the agent without the variable
        let agentLacks = sandbox.broker("brokerctl", ["validate"], extraEnvironment: ["NEWCOMER_UNSET_TOKEN": "x"])
        XCTAssertEqual(agentLacks.status, 1, "the running agent lacks it, whatever this shell has")
        XCTAssertTrue(agentLacks.stderr.contains("is not set in the running broker-agent's environment (pid "), agentLacks.stderr)
        sandbox.stopAgent()
        let good = sandbox.broker("brokerctl", ["validate"], extraEnvironment: ["NEWCOMER_UNSET_TOKEN": "x"])
        XCTAssertEqual(good.status, 0, good.stderr)
        XCTAssertEqual(good.stdout, "\(path): ok (4 identities, 0 git bindings)\n")
        XCTAssertEqual(good.stderr, "")
    }

    func testValidateCountsOneAsOne() {
        let sandbox = Sandbox()
        sandbox.write("token", "t\n")
        sandbox.writeConfig("[identity \"bot\"]\n    kind = static\n    username = u\n    secret = file:\(sandbox.root)/token\n[git \"https://example.com\"]\n    identity = bot\n")
        XCTAssertEqual(sandbox.broker("brokerctl", ["validate"]).stdout, "\(sandbox.configPath): ok (1 identity, 1 git binding)\n")
    }

    // MARK: secrets and commands through git

    func testAnEmptySecretAndAnUnexecutableCommandFailWithTheirWholeReason() {
        let sandbox = Sandbox()
        let script = sandbox.write("tools/mint-a-token-for-the-acme-organisation-from-its-github-app", "#!/bin/sh\necho password=x\n", mode: 0o644)
        sandbox.writeConfig("""
            [identity "empty"]
                kind = static
                username = u
                secret = cmd:true
            [identity "minted"]
                kind = exec
                username = u
                command = \(script)
            [git "https://empty.example"]
                identity = empty
            [git "https://minted.example"]
                identity = minted

            """)
        // The helper answers nothing (git then asks its askpass), never `password=`.
        let empty = git(sandbox, "fill", "protocol=https\nhost=empty.example\n")
        XCTAssertEqual(empty.stdout, "protocol=https\nhost=empty.example\nusername=askpass-username\npassword=askpass-password\n")
        XCTAssertTrue(empty.stderr.contains("secret command `cmd:true` printed nothing"), empty.stderr)
        let direct = sandbox.broker("git-credential-broker", ["get"], stdin: "protocol=https\nhost=empty.example\n\n")
        XCTAssertNotEqual(direct.status, 0)
        XCTAssertEqual(direct.stdout, "")
        let minted = git(sandbox, "fill", "protocol=https\nhost=minted.example\n")
        XCTAssertTrue(minted.stderr.contains("askpass: Username"), minted.stderr)
        XCTAssertTrue(minted.stderr.contains("\(script): Permission denied"), minted.stderr)
        XCTAssertFalse(sandbox.auditLines.contains { ($0["event"] as? String) == "issued" && ($0["identity"] as? String) == "empty" },
                       "an empty secret is not audited as issued")
    }

    // MARK: login

    func testLoginRefusesKindsWithoutALoginStepBeforeAnyPrompt() {
        let sandbox = Sandbox()
        sandbox.write("token", "t\n")
        sandbox.writeConfig("[identity \"bot\"]\n    kind = static\n    username = u\n    secret = file:\(sandbox.root)/token\n")
        let staticLogin = sandbox.broker("brokerctl", ["login", "bot"], stdin: "123456\n")
        XCTAssertEqual(staticLogin.status, 1)
        XCTAssertEqual(staticLogin.stderr, "brokerctl: identity \"bot\" (kind static) has no login step; there is nothing to log in to (hint: its credential needs nothing from a person, so just use it)\n")
        XCTAssertFalse(staticLogin.stdout.contains("logged in"))
        let undefined = sandbox.broker("brokerctl", ["login", "nosuch"], stdin: "123456\n")
        XCTAssertEqual(undefined.status, 1)
        XCTAssertFalse(undefined.stderr.contains("MFA code"), undefined.stderr)
        XCTAssertTrue(undefined.stderr.hasPrefix("brokerctl: identity \"nosuch\" is not defined in \(sandbox.configPath)"), undefined.stderr)
        XCTAssertNil(sandbox.agentPID, "nothing was sent to an agent")
    }

    // MARK: git-setup

    func testGitSetupKeepsExistingHelpersAndWritesTheAbsolutePath() {
        let sandbox = Sandbox()
        let home = sandbox.root + "/home"
        let storeA = sandbox.root + "/store-a", storeB = sandbox.root + "/store-b"
        sandbox.write("home/.gitconfig", "[credential]\n\thelper = store --file=\(storeA)\n\thelper = store --file=\(storeB)\n")
        let helper = Sandbox.executable("git-credential-broker")
        let printed = sandbox.broker("brokerctl", ["git-setup", "--print"])
        XCTAssertEqual(printed.status, 0, printed.stderr)
        XCTAssertEqual(printed.stdout, """
            # credential.helper in ~/.gitconfig, in the order git tries them (- removed, + added, ' ' kept):
            # + \(helper)
            #   store --file=\(storeA)
            #   store --file=\(storeB)
            git config --global --unset-all credential.helper
            git config --global --add credential.helper \(helper)
            git config --global --add credential.helper 'store --file=\(storeA)'
            git config --global --add credential.helper 'store --file=\(storeB)'

            """)
        XCTAssertFalse(sandbox.read(home + "/.gitconfig").contains(helper), "--print changes nothing")

        let written = sandbox.broker("brokerctl", ["git-setup", "--global"])
        XCTAssertEqual(written.status, 0, written.stderr)
        XCTAssertTrue(written.stdout.hasPrefix("set credential.helper = \(helper) (tried first; kept after it: \"store --file=\(storeA)\", \"store --file=\(storeB)\")\n"), written.stdout)
        let values = sandbox.run("/usr/bin/git", ["config", "--global", "--get-all", "credential.helper"])
        XCTAssertEqual(values.stdout, "\(helper)\nstore --file=\(storeA)\nstore --file=\(storeB)\n")
        XCTAssertEqual(sandbox.broker("brokerctl", ["git-setup", "--global"]).stdout,
                       "credential.helper already has \(helper) first; unchanged\n")

        // git, with nothing but the global config, reaches our helper by its path, first.
        let credential = "protocol=https\nhost=example.com\nusername=me\npassword=p\n"
        XCTAssertEqual(sandbox.run("/usr/bin/git", ["credential", "approve"], stdin: credential).status, 0)
        XCTAssertTrue(sandbox.read(storeA).contains("example.com"), "the kept helpers still run")
        try? FileManager.default.removeItem(atPath: storeA)
        try? FileManager.default.removeItem(atPath: storeB)
        let fill = sandbox.run("/usr/bin/git", ["credential", "fill"], stdin: "protocol=https\nhost=example.com\n")
        XCTAssertEqual(fill.stdout, credential, fill.stderr)
    }

    // MARK: completion

    func testCompletionOffersOnlyIdentitiesThatCanServeAndHonoursConfig() throws {
        let sandbox = Sandbox()
        sandbox.writeConfig("""
            [identity "plain"]
                kind = static
                username = u
                secret = env:T
            [identity "keys"]
                kind = aws/user
                access-key-id = AKIAEXAMPLE
                secret-access-key = env:T
            [identity "mfa"]
                kind = aws/user
                access-key-id = AKIAEXAMPLE
                secret-access-key = env:T
                mfa-serial = arn:aws:iam::123456789012:mfa/me
            [identity "pool"]
                kind = github/pat-pool
                token = env:T

            """)
        let other = sandbox.write("other.conf", "[identity \"elsewhere\"]\n    kind = aws/user\n    access-key-id = AKIAEXAMPLE\n    secret-access-key = env:T\n    mfa-serial = arn:aws:iam::123456789012:mfa/x\n")
        func names(_ arguments: [String]) -> [String] {
            sandbox.broker("brokerctl", arguments).stdout.split(separator: "\n").map(String.init)
        }
        XCTAssertEqual(names(["list", "--names"]), ["plain", "keys", "mfa", "pool"])
        XCTAssertEqual(names(["list", "--names", "--for", "aws"]), ["keys", "mfa"])
        XCTAssertEqual(names(["list", "--names", "--for", "login"]), ["mfa"])
        XCTAssertEqual(names(["list", "--names", "--for", "whoami"]), ["plain", "keys", "mfa"])

        // The generated bash completion, run by bash, with brokerctl on PATH.
        let docs = sandbox.root + "/docs"
        XCTAssertEqual(sandbox.broker("brokerctl", ["generate-docs", docs]).status, 0)
        func complete(_ script: String, _ words: [String]) -> [String] {
            let quoted = words.map { "'\($0)'" }.joined(separator: " ")
            let run = sandbox.run("/bin/bash", ["-c", "source \(docs)/completions/bash/\(script); COMP_WORDS=(\(quoted)); COMP_CWORD=\(words.count - 1); _\(script.replacingOccurrences(of: "-", with: "_")); printf '%s\\n' \"${COMPREPLY[@]}\""],
                                  extraEnvironment: ["PATH": Sandbox.binDirectory + ":/usr/bin:/bin"])
            return run.stdout.split(separator: "\n").map(String.init)
        }
        XCTAssertEqual(complete("brokerctl", ["brokerctl", "login", ""]), ["mfa"])
        XCTAssertEqual(complete("brokerctl", ["brokerctl", "whoami", ""]), ["plain", "keys", "mfa"])
        XCTAssertEqual(complete("brokerctl", ["brokerctl", "--config", other, "login", ""]), ["elsewhere"])
        XCTAssertEqual(complete("brokerctl", ["brokerctl", "logout", ""]), ["plain", "keys", "mfa", "pool"])
        XCTAssertEqual(complete("aws-credential-process", ["aws-credential-process", "--identity", ""]), ["keys", "mfa"])
    }
}
