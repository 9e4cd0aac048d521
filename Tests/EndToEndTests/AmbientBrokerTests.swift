// Ambient brokers: a GitHub Actions job with no config file at all — its OIDC token becomes a
// role in moto (signature checks on) through the real aws CLI, and its GITHUB_TOKEN clones a
// repository over real HTTP; a broker that does not fit is skipped and audited, not fatal.

import Foundation
#if canImport(Glibc)
import Glibc
#endif
import XCTest

/// The fake Actions token service (Fixtures/actions_oidc.py): RS256 ID tokens for one request token.
final class ActionsOIDCServer {
    let fixture: PythonFixture
    let requestToken = "actions-request-\(UUID().uuidString)"
    var port: Int { fixture.port }

    /// `tokenLifetime`: seconds each ID token lives (GitHub's are 5 minutes).
    init(serving: Int = 120, tokenLifetime: Int = 300) throws {
        fixture = try PythonFixture("actions_oidc.py", [requestToken, "--lifetime", String(serving), "--token-lifetime", String(tokenLifetime)])
    }

    var tokenURL: String { "http://127.0.0.1:\(port)/token" }
    var issuer: String { "http://127.0.0.1:\(port)" }
    var jwksURL: String { "http://127.0.0.1:\(port)/.well-known/jwks" }
    var issued: Int { fixture.get("/__count")["issued"] as? Int ?? -1 }
}

/// A Python fixture under Fixtures/ that prints its port and serves until our end of its stdin closes.
final class PythonFixture {
    let process = Process()
    private let stdin = Pipe()
    let port: Int

    init(_ script: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: MotoServer.python)
        process.arguments = [URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(script)").path] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardInput = stdin
        process.standardError = FileHandle.nullDevice
        try process.run()
        let fd = out.fileHandleForReading.fileDescriptor
        let line = FixtureOutput.firstLine(fd, within: 20)
        guard let port = Int(String(decoding: line.prefix { $0 != 10 }, as: UTF8.self)) else {
            process.terminate()
            throw NSError(domain: "\(script) did not print its port", code: 1)
        }
        self.port = port
    }

    /// A JSON object from the fixture's own control paths.
    func get(_ path: String) -> [String: Any] {
        let data = (try? Data(contentsOf: URL(string: "http://127.0.0.1:\(port)\(path)")!)) ?? Data()
        return ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any]) ?? [:]
    }

    deinit {
        try? stdin.fileHandleForWriting.close()
        process.terminate()
    }
}

final class AmbientBrokerTests: MotoTestCase {
    /// What a GitHub Actions job's environment holds, pointed at the test bed.
    func jobEnvironment(_ sandbox: Sandbox, oidc: ActionsOIDCServer, gitServer: String? = nil, extra: [String: String] = [:]) {
        var variables = [
            "CI": "true", "GITHUB_ACTIONS": "true",
            "ACTIONS_ID_TOKEN_REQUEST_URL": oidc.tokenURL, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": oidc.requestToken,
            "AWS_ROLE_ARN": moto.firstRoleARN, "AWS_ENDPOINT_URL_STS": moto.endpoint, "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": sandbox.root + "/none", "AWS_SHARED_CREDENTIALS_FILE": sandbox.root + "/none",
        ]
        if let gitServer { variables["GITHUB_TOKEN"] = "ghs_JOB_TOKEN_SECRET"; variables["GITHUB_SERVER_URL"] = gitServer }
        for (key, value) in variables.merging(extra, uniquingKeysWith: { $1 }) { sandbox.environment[key] = value }
    }

    func testWithOnlyTheJobsVariablesGitClonesAndTheAwsCLIAssumesTheRole() throws {
        let sandbox = Sandbox()
        defer { AgentProcessKit.stopAgents(sandbox) }
        let oidc = try ActionsOIDCServer()
        let server = try GitHTTPTestServer(sandbox: sandbox, user: "x-access-token", password: "ghs_JOB_TOKEN_SECRET")
        defer { server.stop() }
        jobEnvironment(sandbox, oidc: oidc, gitServer: server.baseURL)
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.root + "/config/credential-broker/config"), "no config file")

        let clone = sandbox.git(["clone", "-q", server.repoURL, "work"])
        XCTAssertEqual(clone.status, 0, clone.stderr)
        XCTAssertFalse(clone.stderr.contains("askpass:"), clone.stderr)
        XCTAssertEqual(sandbox.read(sandbox.root + "/work/README"), "seed\n")

        // moto answers AssumeRoleWithWebIdentity only with its checks off (TESTING.md): take the
        // role's session then, and let the aws CLI's signed calls below run with them on.
        moto.setAuthentication(false)
        let warm = sandbox.broker("aws-credential-process", ["--identity", "gha-aws"])
        moto.setAuthentication(true)
        XCTAssertEqual(warm.status, 0, warm.stderr)
        let awsConfig = sandbox.write("home/.aws/config", """
            [profile ci]
            credential_process = \(Sandbox.executable("aws-credential-process")) --identity gha-aws
            region = us-east-1

            """)
        let who = sandbox.run(pathOf("aws"), ["sts", "get-caller-identity", "--output", "json"],
                              extraEnvironment: ["AWS_CONFIG_FILE": awsConfig, "AWS_PROFILE": "ci"], timeout: 60)
        XCTAssertEqual(who.status, 0, who.stderr)
        XCTAssertTrue(who.stdout.contains("assumed-role/first/"), who.stdout)
        XCTAssertEqual(oidc.issued, 1, "one ID token for the role")
        // A second call: the role's credentials are served from memory, no new ID token.
        XCTAssertEqual(sandbox.broker("aws-credential-process", ["--identity", "gha-aws"]).status, 0)
        XCTAssertEqual(oidc.issued, 1)

        let status = sandbox.broker("brokerctl", ["status"])
        for name in ["gha-oidc", "gha-aws", "gha-token"] {
            XCTAssertTrue(status.stdout.contains("ambient identity: \(name)"), status.stdout)
        }
        for path in [sandbox.paths.auditLogPath, sandbox.paths.agentLogPath] {
            XCTAssertFalse(sandbox.read(path).contains("ghs_JOB_TOKEN_SECRET"), path)
            XCTAssertFalse(sandbox.read(path).contains(oidc.requestToken), path)
        }
        let cache = (try? FileManager.default.subpathsOfDirectory(atPath: sandbox.paths.cacheEntriesDirectory)) ?? []
        XCTAssertTrue(cache.filter { $0.hasSuffix(".cred") }.isEmpty, "ambient credentials never reach the disk cache: \(cache)")
    }

    func testAConfigWinsOverTheBrokersAndFalseTurnsThemOff() throws {
        let sandbox = Sandbox()
        defer { AgentProcessKit.stopAgents(sandbox) }
        let oidc = try ActionsOIDCServer()
        jobEnvironment(sandbox, oidc: oidc, gitServer: "https://git.example")
        sandbox.writeConfig("""
            [identity "gha-token"]
                kind = exec
                command = "echo username=mine; echo password=from-config"
            [git "https://git.example"]
                identity = gha-token
            """)
        let fill = sandbox.broker("git-credential-broker", ["get"], stdin: "protocol=https\nhost=git.example\n")
        XCTAssertEqual(fill.stdout, "username=mine\npassword=from-config\n", fill.stderr)
        XCTAssertTrue(sandbox.broker("brokerctl", ["status"]).stdout.contains("ambient identity: gha-aws"))

        sandbox.stopAgent()
        sandbox.writeConfig("[ambient]\n    github-actions = false\n")
        let off = sandbox.broker("aws-credential-process", ["--identity", "gha-aws"])
        XCTAssertNotEqual(off.status, 0)
        XCTAssertTrue(off.stderr.contains("identity \"gha-aws\" is not defined"), off.stderr)
        XCTAssertEqual(oidc.issued, 0)
    }

    func testAWebIdentityChainsFromAGitHubOIDCIdentityPerAudience() throws {
        let sandbox = Sandbox()
        defer { AgentProcessKit.stopAgents(sandbox) }
        let oidc = try ActionsOIDCServer()
        jobEnvironment(sandbox, oidc: oidc, extra: ["CI": "false"])
        sandbox.writeConfig("""
            [identity "job"]
                kind = github/oidc
                audience = sts.amazonaws.com
            [identity "deploy"]
                kind = aws/web-identity
                via = identity:job
                role-arn = \(moto.firstRoleARN)
                sts-endpoint = \(moto.endpoint)
            [identity "wrong"]
                kind = aws/web-identity
                via = identity:deploy
                role-arn = \(moto.firstRoleARN)
                sts-endpoint = \(moto.endpoint)
            """)
        moto.setAuthentication(false)
        defer { moto.setAuthentication(true) }
        let doc = document(sandbox.broker("aws-credential-process", ["--identity", "deploy"]))
        XCTAssertNotNil(doc["SessionToken"])
        XCTAssertEqual(oidc.issued, 1)
        let token = sandbox.broker("aws-credential-process", ["--identity", "job"])
        XCTAssertNotEqual(token.status, 0, "an ID token is not AWS credentials")
        let wrong = sandbox.broker("aws-credential-process", ["--identity", "wrong"])
        XCTAssertTrue(wrong.stderr.contains("needs an OIDC token from its via identity, which gives aws credentials"), wrong.stderr)
        sandbox.environment["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "not-the-job's"
        sandbox.stopAgent()
        let refused = sandbox.broker("aws-credential-process", ["--identity", "deploy"])
        XCTAssertTrue(refused.stderr.contains("GitHub's OIDC endpoint answered HTTP 401 without a token"), refused.stderr)
    }

    func testGitHubSTSExchangesTheJobsTokenUnderATrustPolicyAndGitClonesWithIt() throws {
        let sandbox = Sandbox()
        defer { AgentProcessKit.stopAgents(sandbox) }
        let oidc = try ActionsOIDCServer()
        let exchange = try PythonFixture("sts_exchange.py", [
            "--jwks-url", oidc.jwksURL, "--issuer", oidc.issuer, "--audience", "octo-sts.test", "--scope", "acme/app",
            "--policy", "ci", "--subject-pattern", "repo:acme/app:ref:refs/heads/.*", "--token", "ghs_EXCHANGED_TOKEN",
        ])
        let server = try GitHTTPTestServer(sandbox: sandbox, user: "x-access-token", password: "ghs_EXCHANGED_TOKEN")
        defer { server.stop() }
        jobEnvironment(sandbox, oidc: oidc, extra: ["CI": "false"])
        func config(policy: String, audience: String) -> String {
            """
            [identity "job"]
                kind = github/oidc
                audience = \(audience)
            [identity "repo"]
                kind = github/sts
                via = identity:job
                url = http://127.0.0.1:\(exchange.port)
                scope = acme/app
                policy = \(policy)
            [git "\(server.baseURL)"]
                identity = repo
            """
        }
        sandbox.writeConfig(config(policy: "ci", audience: "octo-sts.test"))
        let clone = sandbox.git(["clone", "-q", server.repoURL, "work"])
        XCTAssertEqual(clone.status, 0, clone.stderr)
        XCTAssertEqual(sandbox.read(sandbox.root + "/work/README"), "seed\n")
        XCTAssertEqual(exchange.get("/__count")["exchanged"] as? Int, 1)
        XCTAssertEqual(sandbox.git(["-C", sandbox.root + "/work", "fetch", "-q"]).status, 0)
        XCTAssertEqual(exchange.get("/__count")["exchanged"] as? Int, 1, "the exchanged token is served from memory")

        // The service verifies what octo-sts verifies: a token for another audience is refused.
        sandbox.stopAgent()
        sandbox.writeConfig(config(policy: "ci", audience: "someone-else"))
        let refused = sandbox.broker("git-credential-broker", ["get"], stdin: "protocol=http\nhost=127.0.0.1:\(server.port)\n")
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("refused scope acme/app policy ci: HTTP 401: audience 'someone-else' is not 'octo-sts.test'"), refused.stderr)
        sandbox.writeConfig(config(policy: "deploy", audience: "octo-sts.test"))
        let noPolicy = sandbox.broker("git-credential-broker", ["get"], stdin: "protocol=http\nhost=127.0.0.1:\(server.port)\n")
        XCTAssertTrue(noPolicy.stderr.contains("HTTP 404: unable to find trust policy 'deploy'"), noPolicy.stderr)
        XCTAssertEqual(exchange.get("/__count")["refused"] as? Int, 2)
        for path in [sandbox.paths.auditLogPath, sandbox.paths.agentLogPath] {
            XCTAssertFalse(sandbox.read(path).contains("ghs_EXCHANGED_TOKEN"), path)
        }
    }

    func testOutsideCIAutoConsultsNoBroker() throws {
        let sandbox = Sandbox()
        defer { AgentProcessKit.stopAgents(sandbox) }
        let oidc = try ActionsOIDCServer()
        jobEnvironment(sandbox, oidc: oidc, extra: ["CI": "false"])
        let result = sandbox.broker("aws-credential-process", ["--identity", "gha-aws"])
        XCTAssertTrue(result.stderr.contains("identity \"gha-aws\" is not defined"), result.stderr)
        sandbox.stopAgent()
        sandbox.writeConfig("[ambient]\n    enabled = true\n")
        moto.setAuthentication(false)
        defer { moto.setAuthentication(true) }
        let on = sandbox.broker("aws-credential-process", ["--identity", "gha-aws"])
        XCTAssertEqual(on.status, 0, "true consults the brokers anywhere: \(on.stderr)")
    }

    func testABrokerThatDoesNotFitIsSkippedAuditedAndTheRestWorks() throws {
        let sandbox = Sandbox()
        defer { AgentProcessKit.stopAgents(sandbox) }
        let oidc = try ActionsOIDCServer()
        // A role ARN that is not one: the GitHub Actions broker cannot build gha-aws.
        jobEnvironment(sandbox, oidc: oidc, gitServer: "https://git.example", extra: ["AWS_ROLE_ARN": "not-an-arn"])
        sandbox.environment["AWS_ACCESS_KEY_ID"] = moto.accessKeyID
        sandbox.environment["AWS_SECRET_ACCESS_KEY"] = moto.secretAccessKey
        sandbox.writeConfig("""
            [identity "deploy"]
                kind = aws/assume-role
                via = identity:ci-aws
                role-arn = \(moto.firstRoleARN)
                session-name = \(moto.chainSessionName)
                sts-endpoint = \(moto.endpoint)
            """)
        let doc = document(sandbox.broker("aws-credential-process", ["--identity", "deploy"]))
        XCTAssertNotNil(doc["SessionToken"], "a chain from the runner's own keys (aws-keys broker) works")
        let status = sandbox.broker("brokerctl", ["status"])
        XCTAssertTrue(status.stdout.contains("ambient error: ambient broker github-actions skipped:"), status.stdout)
        XCTAssertTrue(status.stdout.contains("ambient identity: ci-aws"), status.stdout)
        let audit = sandbox.read(sandbox.paths.auditLogPath)
        XCTAssertTrue(audit.contains("\"event\":\"ambient\"") && audit.contains("github-actions skipped"), audit)
        XCTAssertFalse(audit.contains(moto.secretAccessKey))
    }
}
