// Profiles: BROKER_PROFILE / --profile select config.d/NAME, with its own agent, cache and audit
// log, so a token fetched for one client is never served to another — through real git.

import BrokerWire
import Foundation
import XCTest

final class ProfileTests: XCTestCase {
    typealias Kit = AgentProcessKit

    /// A main file defining one identity bound to a URL, read by two profiles whose overlays add
    /// nothing to it: an identical chain, so only the profile can keep their tokens apart.
    func twoProfiles(_ sandbox: Sandbox) -> (counter: String, url: String) {
        let mint = Kit.mintScript(sandbox, name: "mint")
        sandbox.writeConfig("""
            [identity "client-token"]
            \tkind = exec
            \tcommand = \(mint.script)
            [git "https://shared.example"]
            \tidentity = client-token

            """)
        sandbox.write("config/credential-broker/config.d/acme", "[agent]\n\tidle-timeout = 10m\n")
        sandbox.write("config/credential-broker/config.d/globex", "# the main file's identities, nothing more\n")
        return (mint.counter, "https://shared.example")
    }

    func fill(_ sandbox: Sandbox, profile: String?) -> ProcessResult {
        sandbox.environment["BROKER_PROFILE"] = profile
        return sandbox.git(["credential", "fill"], stdin: "protocol=https\nhost=shared.example\n\n")
    }

    func password(_ result: ProcessResult) -> String? {
        result.stdout.split(separator: "\n").first { $0.hasPrefix("password=") }.map { String($0.dropFirst("password=".count)) }
    }

    func testATokenCachedForOneProfileIsNeverServedToAnother() {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        let (counter, _) = twoProfiles(sandbox)

        let acme = fill(sandbox, profile: "acme")
        XCTAssertEqual(acme.status, 0, acme.stderr)
        XCTAssertEqual(password(acme), "tok-1")
        let globex = fill(sandbox, profile: "globex")
        XCTAssertEqual(globex.status, 0, globex.stderr)
        XCTAssertEqual(password(globex), "tok-2", "globex gets its own token, not acme's cached one")
        let none = fill(sandbox, profile: nil)
        XCTAssertEqual(password(none), "tok-3", "no profile is a configuration of its own too")
        XCTAssertEqual(password(fill(sandbox, profile: "acme")), "tok-1", "acme's own token is cached for acme")
        XCTAssertEqual(Kit.runs(sandbox, counter), 3)

        // Each profile has its own agent; with all of them gone, each disk cache still serves
        // only its own profile.
        let agents = Kit.agentPIDs(socketDirectory: sandbox.paths.runtimeDirectory)
        XCTAssertEqual(agents.count, 3, "one agent per profile and one without: \(agents)")
        Kit.stopAgents(sandbox)
        XCTAssertEqual(password(fill(sandbox, profile: "globex")), "tok-2")
        XCTAssertEqual(password(fill(sandbox, profile: "acme")), "tok-1")
        XCTAssertEqual(Kit.runs(sandbox, counter), 3, "both answered from their own disk cache")
    }

    func testEachProfileKeepsItsOwnAuditLogCacheAndSocket() {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        _ = twoProfiles(sandbox)
        XCTAssertEqual(fill(sandbox, profile: "acme").status, 0)
        XCTAssertEqual(fill(sandbox, profile: "acme").status, 0)
        XCTAssertEqual(fill(sandbox, profile: "globex").status, 0)

        sandbox.environment["BROKER_PROFILE"] = "acme"
        let acme = sandbox.paths
        sandbox.environment["BROKER_PROFILE"] = "globex"
        let globex = sandbox.paths
        sandbox.environment["BROKER_PROFILE"] = nil
        let plain = sandbox.paths
        XCTAssertEqual(acme.auditLogPath, sandbox.root + "/state/credential-broker/profiles/acme/audit.log")
        XCTAssertEqual(acme.cacheEntriesDirectory, sandbox.root + "/cache/credential-broker/profiles/acme/entries")
        XCTAssertEqual(Set([acme.socketPath, globex.socketPath, plain.socketPath]).count, 3)

        func issued(_ paths: BrokerPaths) -> Int {
            sandbox.read(paths.auditLogPath).split(separator: "\n").filter { $0.contains("\"event\":\"issued\"") && $0.contains("client-token") }.count
        }
        XCTAssertEqual(issued(acme), 2)
        XCTAssertEqual(issued(globex), 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: plain.auditLogPath), "nothing was asked without a profile")

        // brokerctl reads the same files: --profile is BROKER_PROFILE for one command.
        let audit = sandbox.broker("brokerctl", ["--profile", "globex", "audit", "--format", "jsonl"])
        XCTAssertEqual(audit.status, 0, audit.stderr)
        XCTAssertEqual(audit.stdout.split(separator: "\n").filter { $0.contains("\"issued\"") }.count, 1, audit.stdout)
        let status = sandbox.broker("brokerctl", ["--profile", "acme", "status"])
        XCTAssertTrue(status.stdout.contains(acme.socketPath), status.stdout)
        XCTAssertTrue(status.stdout.contains("profile        acme (\(sandbox.root)/config/credential-broker/config.d/acme, read after config)"), status.stdout)
    }

    func testListProfilesNamesEachOverlayAndTheSelectedOne() throws {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        _ = twoProfiles(sandbox)
        // Not profiles: an editor's backup, a hidden file, a folder.
        sandbox.write("config/credential-broker/config.d/acme~", "")
        sandbox.write("config/credential-broker/config.d/.hidden", "")
        try FileManager.default.createDirectory(atPath: sandbox.root + "/config/credential-broker/config.d/folder", withIntermediateDirectories: true)

        let table = sandbox.broker("brokerctl", ["--profile", "globex", "list", "--profiles"])
        XCTAssertEqual(table.status, 0, table.stderr)
        let rows = table.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        XCTAssertEqual(rows.map { $0.first ?? "" }, ["PROFILE", "acme", "globex"], table.stdout)
        XCTAssertEqual(rows[2].last, "yes", table.stdout)

        // It works while the selected profile does not exist: that is when it is wanted.
        let json = sandbox.broker("brokerctl", ["list", "--profiles", "--format", "json"], extraEnvironment: ["BROKER_PROFILE": "typo"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["selected"] as? String, "typo")
        XCTAssertEqual(object["directory"] as? String, sandbox.root + "/config/credential-broker/config.d")
        let profiles = try XCTUnwrap(object["profiles"] as? [[String: Any]])
        XCTAssertEqual(profiles.compactMap { $0["name"] as? String }, ["acme", "globex"])
        XCTAssertEqual(profiles.compactMap { $0["selected"] as? Bool }, [false, false])
    }

    func testAnUnknownProfileIsAnErrorNamingTheProfilesThatExist() {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        _ = twoProfiles(sandbox)
        defer { sandbox.environment["BROKER_PROFILE"] = nil }
        sandbox.environment["BROKER_PROFILE"] = "initech"
        let expected = "profile \"initech\" does not exist: there is no \(sandbox.root)/config/credential-broker/config.d/initech (hint: profiles defined: acme, globex; or create"
        let helper = sandbox.broker("git-credential-broker", ["get"], stdin: "protocol=https\nhost=shared.example\n\n")
        XCTAssertNotEqual(helper.status, 0)
        XCTAssertTrue(helper.stderr.hasPrefix("git-credential-broker: " + expected), helper.stderr)
        XCTAssertEqual(helper.stdout, "")
        let aws = sandbox.broker("aws-credential-process", ["--identity", "client-token"])
        XCTAssertTrue(aws.stderr.contains(expected), aws.stderr)
        let ctl = sandbox.broker("brokerctl", ["--profile", "initech", "list"])
        XCTAssertEqual(ctl.status, 1)
        XCTAssertTrue(ctl.stderr.hasPrefix("brokerctl: " + expected), ctl.stderr)
        XCTAssertTrue(Kit.agentPIDs(socketDirectory: sandbox.root + "/run").isEmpty, "no agent started")
    }

    func testAProfileNameThatCouldLeaveConfigDIsRefusedBeforeAnyFileIsRead() {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        _ = twoProfiles(sandbox)
        // Files a traversal would reach: they must not be read as overlays.
        sandbox.write("config/credential-broker/outside", "[agent]\n")
        sandbox.write("config/credential-broker/config.d/sub/x", "[agent]\n")
        for name in ["../outside", "sub/x", "..", ".", "/etc/passwd", ".hidden", "a\nb", String(repeating: "p", count: 65)] {
            let helper = sandbox.broker("git-credential-broker", ["get"], stdin: "protocol=https\nhost=shared.example\n\n",
                                        extraEnvironment: ["BROKER_PROFILE": name])
            XCTAssertNotEqual(helper.status, 0, name)
            XCTAssertTrue(helper.stderr.contains("is not allowed: a profile is one file in config.d/"), "\(name): \(helper.stderr)")
            XCTAssertEqual(helper.stderr.split(separator: "\n").count, 1, "one line: \(helper.stderr)")
            let ctl = sandbox.broker("brokerctl", ["--profile", name, "status"])
            XCTAssertEqual(ctl.status, 1, name)
            XCTAssertTrue(ctl.stderr.contains("is not allowed"), "\(name): \(ctl.stderr)")
        }
        XCTAssertTrue(Kit.agentPIDs(socketDirectory: sandbox.paths.runtimeDirectory).isEmpty, "no agent started")
    }

    func testTheAgentRereadsTheOverlayWhenItChanges() {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        _ = twoProfiles(sandbox)
        XCTAssertEqual(password(fill(sandbox, profile: "acme")), "tok-1")
        let pid = sandbox.agentPID(profile: "acme")
        sandbox.write("config/credential-broker/config.d/acme", """
            [identity "fixed"]
            \tkind = static
            \tusername = acme
            \tsecret = env:HOME
            [git "https://shared.example"]
            \tidentity = fixed

            """)
        let after = fill(sandbox, profile: "acme")
        XCTAssertEqual(password(after), sandbox.root + "/home", after.stderr)
        XCTAssertEqual(sandbox.agentPID(profile: "acme"), pid, "the same agent, without a restart")
    }

    func testAnOverlayAddsToTheMainFileAndItsKeysWin() {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        _ = twoProfiles(sandbox)
        // The overlay chains from the main file's identity and rebinds the main file's URL.
        let derive = sandbox.write("bin/derive", """
            #!/bin/sh
            upstream=$(sed -n 's/^password=//p')
            echo username=acme
            echo password=acme-from-$upstream

            """, mode: 0o755)
        sandbox.write("config/credential-broker/config.d/acme", """
            [identity "acme-token"]
            \tkind = exec
            \tvia = identity:client-token
            \tcommand = \(derive)
            [git "https://shared.example"]
            \tidentity = acme-token

            """)
        let acme = fill(sandbox, profile: "acme")
        XCTAssertEqual(acme.status, 0, acme.stderr)
        XCTAssertEqual(password(acme), "acme-from-tok-1", acme.stderr)
        XCTAssertEqual(password(fill(sandbox, profile: "globex")), "tok-2", "globex does not see acme's overlay")
        let list = sandbox.broker("brokerctl", ["--profile", "acme", "list"])
        XCTAssertTrue(list.stdout.contains("acme-token") && list.stdout.contains("client-token"), list.stdout)
    }
}

private extension Sandbox {
    func agentPID(profile: String) -> Int32? {
        let saved = environment["BROKER_PROFILE"]
        defer { environment["BROKER_PROFILE"] = saved }
        environment["BROKER_PROFILE"] = profile
        return agentPID
    }
}

/// The same isolation through aws-credential-process and the aws CLI against moto (signature checks on).
final class ProfileAWSTests: MotoTestCase {
    func testAnAssumedRoleSessionOfOneProfileIsNeverServedToAnother() throws {
        let sandbox = Sandbox()
        defer { AgentProcessKit.stopAgents(sandbox) }
        let secretFile = sandbox.write("secrets/dev", moto.secretAccessKey + "\n")
        sandbox.writeConfig("""
            [identity "dev"]
                kind = aws/user
                access-key-id = \(moto.accessKeyID)
                secret-access-key = file:\(secretFile)
                sts-endpoint = \(moto.endpoint)
            [identity "deploy"]
                kind = aws/assume-role
                via = identity:dev
                role-arn = \(moto.firstRoleARN)
                session-name = \(moto.chainSessionName)
                sts-endpoint = \(moto.endpoint)

            """)
        sandbox.write("config/credential-broker/config.d/acme", "")
        sandbox.write("config/credential-broker/config.d/globex", "")
        func keyID(_ profile: String) -> String? {
            let result = sandbox.broker("aws-credential-process", ["--identity", "deploy"], extraEnvironment: ["BROKER_PROFILE": profile])
            return document(result)["AccessKeyId"] as? String
        }
        let acme = try XCTUnwrap(keyID("acme"))
        let globex = try XCTUnwrap(keyID("globex"))
        XCTAssertNotEqual(acme, globex, "each profile assumed the role itself")
        XCTAssertEqual(keyID("acme"), acme, "and keeps its own session")

        // The aws CLI, told only BROKER_PROFILE, signs with that profile's session, which moto accepts.
        let awsConfig = sandbox.write("home/.aws/config", """
            [profile broker]
            credential_process = \(Sandbox.executable("aws-credential-process")) --identity deploy
            region = us-east-1

            """)
        let who = sandbox.run(pathOf("aws"), ["sts", "get-caller-identity", "--output", "json"],
                              extraEnvironment: ["AWS_CONFIG_FILE": awsConfig, "AWS_PROFILE": "broker", "BROKER_PROFILE": "globex",
                                                 "AWS_SHARED_CREDENTIALS_FILE": sandbox.root + "/none", "AWS_ENDPOINT_URL_STS": moto.endpoint,
                                                 "AWS_EC2_METADATA_DISABLED": "true"], timeout: 60)
        XCTAssertEqual(who.status, 0, who.stderr)
        XCTAssertTrue(who.stdout.contains("assumed-role/first/"), who.stdout)
    }
}
