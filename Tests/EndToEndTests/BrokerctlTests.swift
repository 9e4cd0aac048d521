// brokerctl against a real agent and real config files: what a person sees.

import Foundation
import XCTest

final class BrokerctlTests: XCTestCase {
    func testValidateCitesFileAndLineAndExitsNonZero() {
        let sandbox = Sandbox()
        sandbox.writeConfig("[identity \"bot\"]\n    kind = static\n    usernmae = x\n")
        let result = sandbox.broker("brokerctl", ["validate"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr, "brokerctl: \(sandbox.configPath):3: unknown key \"usernmae\" in [identity \"bot\"] (kind static) (hint: did you mean \"username\"?)\n")
    }

    func testValidateAcceptsAGoodConfig() {
        let sandbox = Sandbox()
        sandbox.writeConfig("[identity \"bot\"]\n    kind = static\n    username = x\n    secret = env:T\n")
        let result = sandbox.broker("brokerctl", ["validate"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "\(sandbox.configPath): ok (1 identity, 0 git bindings)\n")
    }

    func testValidateReportsErrorsInIncludedFilesAtTheirOwnLine() {
        let sandbox = Sandbox()
        sandbox.write("config/credential-broker/more", "[identity \"a\"]\nkind = exec\ncommand = true\nvia = identity:b\n[identity \"b\"]\nkind = exec\ncommand = true\nvia = identity:a\n")
        sandbox.writeConfig("[include]\n    path = more\n")
        let result = sandbox.broker("brokerctl", ["validate"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("more:4: identity chain has a cycle: a → b → a"), result.stderr)
    }

    func testValidateRefusesAGroupWritableConfigWithTheChmod() {
        let sandbox = Sandbox()
        sandbox.writeConfig("[identity \"bot\"]\n    kind = static\n    username = x\n    secret = env:T\n")
        chmod(sandbox.configPath, 0o664)
        let result = sandbox.broker("brokerctl", ["validate"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr, "brokerctl: config file \(sandbox.configPath) is writable by group or others (hint: chmod go-w \(sandbox.configPath))\n")
    }

    func testAdaptersRefuseAConfigUnderAWritableDirectory() {
        let sandbox = Sandbox()
        sandbox.writeConfig("[identity \"bot\"]\n    kind = static\n    username = x\n    secret = env:T\n[git \"https://example.com\"]\n    identity = bot\n")
        let directory = sandbox.root + "/config/credential-broker"
        chmod(directory, 0o777)
        let result = sandbox.broker("git-credential-broker", ["get"], stdin: "protocol=https\nhost=example.com\n\n", extraEnvironment: ["T": "tok"])
        XCTAssertNotEqual(result.stdout, "username=x\npassword=tok\n")
        XCTAssertTrue(result.stderr.contains("directory \(directory) above config file \(sandbox.configPath) is writable by group or others (hint: chmod go-w \(directory))"), result.stderr)
    }

    func testValidateRejectsAGitURLThatIsNotAURLAtItsLine() {
        let sandbox = Sandbox()
        sandbox.writeConfig("""
            [identity "bot"]
                kind = static
                username = x
                secret = env:T
            [git "https://x';id>pwned;'.example.com/acme"]
                identity = bot
            """)
        let result = sandbox.broker("brokerctl", ["validate"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.hasPrefix("brokerctl: \(sandbox.configPath):6: git binding \"https://x';id>pwned;'.example.com/acme\" has a bad host"), result.stderr)
        _ = sandbox.broker("brokerctl", ["git-setup", "--global"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.root + "/pwned"), "git-setup ran a shell")
    }

    func testAuditEscapesControlCharactersInTargets() {
        let sandbox = Sandbox()
        let record = #"{"time":"2026-12-05T10:00:00Z","event":"issued","outcome":"ok","identity":"bot","adapter":"git","caller":{"pid":7,"exe":"/usr/bin/git"},"target":"https://example.com/acme/\u001b]0;owned\u0007\u001b[2Jrepo\u009b.git"}"#
        sandbox.write(String(sandbox.paths.auditLogPath.dropFirst(sandbox.root.count + 1)), record + "\n")
        let result = sandbox.broker("brokerctl", ["audit"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertFalse(result.stdout.unicodeScalars.contains { $0.value == 0x1b || $0.value == 0x07 || $0.value == 0x9b }, result.stdout)
        XCTAssertTrue(result.stdout.contains(#"https://example.com/acme/\x1b]0;owned\x07\x1b[2Jrepo\xc2\x9b.git"#) ||
                      result.stdout.contains(#"https://example.com/acme/\x1b]0;owned\x07\x1b[2Jrepo\x9b.git"#), result.stdout)
    }

    func testMissingExplicitConfigIsAnError() {
        let sandbox = Sandbox()
        let result = sandbox.broker("brokerctl", ["--config", sandbox.root + "/nope", "validate"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("does not exist"))
    }

    func testListShowsChainsAsTableAndJSON() throws {
        let sandbox = Sandbox()
        sandbox.writeConfig("""
            [identity "base"]
                kind = static
                username = u
                secret = env:T
            [identity "ci"]
                kind = exec
                via = identity:base
                command = true
            [git "https://github.com/acme"]
                identity = ci
            """)
        let table = sandbox.broker("brokerctl", ["list"])
        XCTAssertEqual(table.stdout, """
            IDENTITY  KIND    CHAIN
            base      static  base
            ci        exec    ci → base

            GIT URL                  IDENTITY
            https://github.com/acme  ci

            """)
        let json = sandbox.broker("brokerctl", ["list", "--format", "json"])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let identities = try XCTUnwrap(object["identities"] as? [[String: Any]])
        XCTAssertEqual(identities.map { $0["chain"] as? [String] }, [["base"], ["ci", "base"]])
        XCTAssertEqual(sandbox.broker("brokerctl", ["list", "--names"]).stdout, "base\nci\n")
    }

    func testStatusShowsCachedEntriesWithoutSecrets() throws {
        let sandbox = Sandbox()
        sandbox.writeConfig("""
            [identity "minted"]
                kind = exec
                command = "echo username=u; echo password=CANARY-SECRET; echo password_expiry_utc=$(( $(date +%s) + 3600 ))"
            [git "https://example.com"]
                identity = minted
            """)
        XCTAssertEqual(sandbox.broker("brokerctl", ["status"]).stdout, "broker-agent is not running for config \(sandbox.configPath) (socket \(sandbox.paths.socketPath))\n")
        let get = sandbox.broker("git-credential-broker", ["get"], stdin: "protocol=https\nhost=example.com\n")
        XCTAssertTrue(get.stdout.contains("password=CANARY-SECRET"))
        let table = sandbox.broker("brokerctl", ["status"])
        XCTAssertTrue(table.stdout.contains("minted"), table.stdout)
        XCTAssertTrue(table.stdout.contains("59m") || table.stdout.contains("1h0m"), table.stdout)
        let json = sandbox.broker("brokerctl", ["status", "--format", "json"])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["running"] as? Bool, true)
        XCTAssertEqual((object["entries"] as? [[String: Any]])?.first?["identity"] as? String, "minted")
        for output in [table.stdout, json.stdout, sandbox.read(sandbox.paths.auditLogPath), sandbox.read(sandbox.paths.agentLogPath)] {
            XCTAssertFalse(output.contains("CANARY"))
        }
    }

    func testLogoutDropsCachedCredentialsWithOrWithoutAnAgent() throws {
        let sandbox = Sandbox()
        sandbox.writeConfig("""
            [identity "minted"]
                kind = exec
                command = "echo username=u; echo password=p; echo password_expiry_utc=$(( $(date +%s) + 3600 ))"
            [git "https://example.com"]
                identity = minted
            """)
        sandbox.broker("git-credential-broker", ["get"], stdin: "protocol=https\nhost=example.com\n")
        let entries = sandbox.paths.cacheEntriesDirectory
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: entries).count, 1)
        XCTAssertEqual(sandbox.broker("brokerctl", ["logout", "minted"]).stdout, "dropped 1 cached credential of \"minted\"\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: entries).count, 0)
        sandbox.broker("git-credential-broker", ["get"], stdin: "protocol=https\nhost=example.com\n")
        sandbox.stopAgent()
        XCTAssertEqual(sandbox.broker("brokerctl", ["logout", "--all"]).stdout, "dropped 1 cached credential from disk\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: entries).count, 0)
    }

    func testStopEndsTheAgentAndRemovesItsSocket() {
        let sandbox = Sandbox()
        sandbox.broker("git-credential-broker", ["get"], stdin: "protocol=https\nhost=example.com\n")
        XCTAssertNotNil(sandbox.agentPID)
        XCTAssertTrue(sandbox.broker("brokerctl", ["stop"]).stdout.hasPrefix("stopped broker-agent"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.paths.socketPath))
    }

    func testAuditShowsIssuedRecords() {
        let sandbox = Sandbox()
        sandbox.git(["credential", "approve"], stdin: "protocol=https\nhost=example.com\nusername=u\npassword=SECRET-PW\n")
        sandbox.git(["credential", "fill"], stdin: "protocol=https\nhost=example.com\n")
        let table = sandbox.broker("brokerctl", ["audit"])
        XCTAssertTrue(table.stdout.contains("stored"), table.stdout)
        XCTAssertTrue(table.stdout.contains("issued"), table.stdout)
        XCTAssertFalse(table.stdout.contains("SECRET-PW"))
        XCTAssertFalse(sandbox.read(sandbox.paths.auditLogPath).contains("SECRET-PW"))
    }

    func testAuditReadsRotatedFilesOldestFirst() throws {
        let sandbox = Sandbox()
        sandbox.writeConfig("[audit]\n    max-size = 2k\n    keep = 5\n")
        for n in 0..<20 {
            let stored = sandbox.broker("git-credential-broker", ["store"], stdin: "protocol=https\nhost=h\(n).example\nusername=u\npassword=p\n")
            XCTAssertEqual(stored.status, 0, stored.stderr)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: sandbox.paths.auditLogPath + ".2"), "2k of records rotated at least twice")
        let json = sandbox.broker("brokerctl", ["audit", "--tail", "100", "--format", "json"])
        let records = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]], json.stdout)
        let hosts = records.compactMap { ($0["target"] as? String)?.split(separator: "/").last.map(String.init) }
        XCTAssertEqual(hosts, (0..<20).map { "h\($0).example" })
        let tail = sandbox.broker("brokerctl", ["audit", "--tail", "3"])
        XCTAssertEqual(tail.stdout.split(separator: "\n").count, 4, "a header and the last 3 records, across files: \(tail.stdout)")
        XCTAssertTrue(tail.stdout.split(separator: "\n").last?.contains("h19.example") ?? false, tail.stdout)
    }

    func testAuditFiltersByIdentityOutcomeEventAndTimeAcrossRotatedFiles() throws {
        let sandbox = Sandbox()
        sandbox.writeConfig("""
            [audit]
                max-size = 2k
            [identity "bot"]
                kind = exec
                command = "echo username=bot; echo password=BOT-SECRET"
            [identity "broken"]
                kind = exec
                command = exit 3
            [git "https://bot.example"]
                identity = bot
            [git "https://broken.example"]
                identity = broken
            """)
        for n in 0..<6 {
            XCTAssertEqual(sandbox.broker("git-credential-broker", ["store"], stdin: "protocol=https\nhost=h\(n).example\nusername=u\npassword=p\n").status, 0)
            sandbox.broker("git-credential-broker", ["get"], stdin: "protocol=https\nhost=bot.example\n")
            sandbox.broker("git-credential-broker", ["get"], stdin: "protocol=https\nhost=broken.example\n")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: sandbox.paths.auditLogPath + ".1"), "the records span a rotation")
        func records(_ args: [String]) throws -> [[String: Any]] {
            let result = sandbox.broker("brokerctl", ["audit", "--tail", "1000", "--format", "jsonl"] + args)
            XCTAssertEqual(result.status, 0, result.stderr)
            return try result.stdout.split(separator: "\n").map { line in
                try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
            }
        }
        let bot = try records(["--identity", "bot"])
        // Cache hits may or may not be audited one by one; the first issue always is.
        XCTAssertFalse(bot.isEmpty)
        XCTAssertTrue(bot.allSatisfy { $0["identity"] as? String == "bot" && $0["event"] as? String == "issued" })
        let errors = try records(["--outcome", "error"])
        XCTAssertEqual(errors.count, 6)
        XCTAssertTrue(errors.allSatisfy { $0["identity"] as? String == "broken" && $0["event"] as? String == "denied" })
        XCTAssertEqual(try records(["--event", "stored"]).count, 6)
        XCTAssertEqual(try records(["--since", "1h"]).count, bot.count + 12, "every record of this test is younger than an hour")
        XCTAssertEqual(try records(["--until", "1h"]).count, 0)
        XCTAssertEqual(try records(["--since", "2000-01-01", "--identity", "bot", "--outcome", "error"]).count, 0)
        let table = sandbox.broker("brokerctl", ["audit", "--identity", "nobody"])
        XCTAssertTrue(table.stdout.hasPrefix("no audit records match"), table.stdout)
        let bad = sandbox.broker("brokerctl", ["audit", "--since", "yesterday"])
        XCTAssertEqual(bad.status, 64, "a usage error: \(bad.stderr)")
        XCTAssertTrue(bad.stderr.contains("\"yesterday\" is not a time"), bad.stderr)
        XCTAssertNotEqual(sandbox.broker("brokerctl", ["audit", "--format", "xml"]).status, 0)
        XCTAssertFalse(sandbox.broker("brokerctl", ["audit", "--tail", "1000", "--format", "jsonl"]).stdout.contains("BOT-SECRET"))
    }

    func testGitSetupPrintsUseHttpPathForPathBoundHosts() {
        let sandbox = Sandbox()
        sandbox.writeConfig("[identity \"b\"]\nkind = exec\ncommand = true\n[git \"https://github.com/acme\"]\nidentity = b\n[git \"https://example.com\"]\nidentity = b\n")
        XCTAssertEqual(sandbox.broker("brokerctl", ["git-setup"]).stdout,
                       "git config --global credential.helper \(Sandbox.executable("git-credential-broker"))\ngit config --global credential.https://github.com.useHttpPath true\n")
    }

    func testUnknownCommandIsAUsageError() {
        let result = Sandbox().broker("brokerctl", ["frobnicate"])
        XCTAssertEqual(result.status, 64)
        XCTAssertTrue(result.stderr.hasPrefix("brokerctl: unknown command \"frobnicate\"\n"))
    }

    func testSelfTestPasses() {
        let result = Sandbox().broker("brokerctl", ["selftest"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("selftest passed"))
    }
}

final class AdapterLinkageTests: XCTestCase {
    /// Adapters start like a C program only if they do not load Foundation (DESIGN §1).
    func testGitHelperLinksNoFoundation() throws {
        let result = Sandbox().run("/usr/bin/ldd", [Sandbox.executable("git-credential-broker")])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertFalse(result.stdout.isEmpty)
        for library in ["libFoundation", "libFoundationEssentials", "libFoundationNetworking", "libFoundationInternationalization", "lib_FoundationICU"] {
            XCTAssertFalse(result.stdout.contains(library), "git-credential-broker links \(library):\n\(result.stdout)")
        }
    }

    func testAWSCredentialProcessLinksNoFoundation() throws {
        let result = Sandbox().run("/usr/bin/ldd", [Sandbox.executable("aws-credential-process")])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertFalse(result.stdout.contains("Foundation"), result.stdout)
    }

    func testContainerAdaptersLinkNoFoundation() throws {
        for adapter in ["docker-credential-broker", "kube-credential-broker"] {
            let result = Sandbox().run("/usr/bin/ldd", [Sandbox.executable(adapter)])
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertFalse(result.stdout.isEmpty)
            XCTAssertFalse(result.stdout.contains("Foundation"), "\(adapter):\n\(result.stdout)")
        }
    }

    func testAgentDoesLinkFoundationSoTheCheckAboveCanFail() {
        let result = Sandbox().run("/usr/bin/ldd", [Sandbox.executable("broker-agent")])
        XCTAssertTrue(result.stdout.contains("Foundation") || !result.stdout.contains("libswiftCore"),
                      "expected broker-agent to show Foundation in a dynamic build:\n\(result.stdout)")
    }
}
