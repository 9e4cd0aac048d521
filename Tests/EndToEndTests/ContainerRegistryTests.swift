// docker-credential-broker under real skopeo against the CNCF registry (htpasswd), and the helper protocol's details.

import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class ContainerRegistryTests: ContainersTestCase {
    /// skopeo reads `credHelpers` from the auth file it is given (containers-auth.json(5)).
    func authFile(_ sandbox: Sandbox) -> String {
        sandbox.write("auth.json", #"{"credHelpers": {"\#(bed["registry"])": "broker"}}"#)
    }

    /// skopeo finds `docker-credential-broker` on PATH, as docker does.
    func skopeo(_ sandbox: Sandbox, _ arguments: [String]) -> ProcessResult {
        sandbox.run("/usr/bin/skopeo", arguments, extraEnvironment: ["PATH": Sandbox.binDirectory + ":" + (sandbox.environment["PATH"] ?? "")],
                    timeout: 60)
    }

    func ecrSandbox() -> Sandbox {
        sandbox("""
            [identity "ecr"]
                kind = aws/ecr
                via = identity:deployer
                region = eu-west-1
            [registry "\(bed["registry"])"]
                identity = ecr
            """)
    }

    func testSkopeoCopiesToAndFromTheRegistryThroughAnECRIdentityChainedFromUserToRole() throws {
        let sandbox = ecrSandbox()
        bed.resetCounts()
        let auth = authFile(sandbox)
        let image = "docker://\(bed["registry"])/ecr-app:v1"
        let push = skopeo(sandbox, ["copy", "--authfile", auth, "--dest-tls-verify=false", "oci:\(bed["oci_layout"]):v1", image])
        XCTAssertEqual(push.status, 0, push.stderr)
        let inspect = skopeo(sandbox, ["inspect", "--authfile", auth, "--tls-verify=false", image])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertTrue(inspect.stdout.contains("\"v1\""), inspect.stdout)
        let pull = skopeo(sandbox, ["copy", "--authfile", auth, "--src-tls-verify=false", image, "oci:\(sandbox.root)/pulled:v1"])
        XCTAssertEqual(pull.status, 0, pull.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: sandbox.root + "/pulled/index.json"))
        // One role and one ECR login for the whole session: cached in the agent, never in auth.json.
        let counts = bed.counts()
        XCTAssertEqual(counts["sts:AssumeRole"], 1, "\(counts)")
        XCTAssertEqual(counts["ecr:GetAuthorizationToken"], 1, "\(counts)")
        XCTAssertEqual(counts["ecr-region:eu-west-1"], 1, "\(counts)")
        XCTAssertFalse(sandbox.read(auth).contains("auth-token"))
        XCTAssertEqual(sandbox.auditLines.filter { $0["adapter"] as? String == "docker" && $0["identity"] as? String == "ecr" }.isEmpty, false)
    }

    func testWithoutTheHelperTheRegistryRefusesSoTheLoginIsWhatLetsSkopeoIn() {
        let sandbox = ecrSandbox()
        let result = skopeo(sandbox, ["inspect", "--authfile", sandbox.write("empty.json", "{}"), "--tls-verify=false",
                                      "docker://\(bed["registry"])/nothing:v1"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.lowercased().contains("unauthorized") || result.stderr.contains("401"), result.stderr)
    }

    func staticSandbox(password: String) -> Sandbox {
        let sandbox = sandbox("""
            [identity "reg"]
                kind = static
                username = \(bed["static_user"])
                secret = env:REGISTRY_PASSWORD
            [registry "\(bed["registry"])"]
                identity = reg
            """)
        sandbox.environment["REGISTRY_PASSWORD"] = password
        return sandbox
    }

    func testSkopeoLogsInWithAStaticIdentity() {
        let sandbox = staticSandbox(password: bed["static_password"])
        let auth = authFile(sandbox)
        let image = "docker://\(bed["registry"])/static-app:v1"
        let push = skopeo(sandbox, ["copy", "--authfile", auth, "--dest-tls-verify=false", "oci:\(bed["oci_layout"]):v1", image])
        XCTAssertEqual(push.status, 0, push.stderr)
        let inspect = skopeo(sandbox, ["inspect", "--authfile", auth, "--tls-verify=false", image])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
    }

    func testAWrongSecretGetsTheRegistrys401() {
        let sandbox = staticSandbox(password: "not-the-password")
        let result = skopeo(sandbox, ["inspect", "--authfile", authFile(sandbox), "--tls-verify=false", "docker://\(bed["registry"])/static-app:v1"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.lowercased().contains("unauthorized") || result.stderr.contains("401"), result.stderr)
        XCTAssertFalse(result.stderr.contains("not-the-password"), "the secret never reaches an error message")
    }

    func testEraseOfABoundRegistryDropsTheCachedLoginSoTheNextGetIsFresh() {
        let sandbox = ecrSandbox()
        bed.resetCounts()
        let first = sandbox.broker("docker-credential-broker", ["get"], stdin: bed["registry"])
        XCTAssertEqual(first.status, 0, first.stdout)
        XCTAssertEqual(sandbox.broker("docker-credential-broker", ["get"], stdin: bed["registry"]).stdout, first.stdout)
        XCTAssertEqual(bed.counts()["ecr:GetAuthorizationToken"], 1)
        XCTAssertEqual(sandbox.broker("docker-credential-broker", ["erase"], stdin: "http://" + bed["registry"] + "/v2/").status, 0)
        XCTAssertEqual(sandbox.broker("docker-credential-broker", ["get"], stdin: bed["registry"]).status, 0)
        XCTAssertEqual(bed.counts()["ecr:GetAuthorizationToken"], 2, "erase was honoured: the login was fetched again")
        XCTAssertTrue(sandbox.auditLines.contains { $0["event"] as? String == "erased" && $0["identity"] as? String == "ecr" })
    }

    /// The docker CLI (no engine needed) with `credsStore`: `docker login` stores through the helper
    /// into the agent's memory, skopeo then uses that login, `docker logout` erases it, and
    /// config.json never holds the password.
    func testDockerLoginAndLogoutGoThroughTheHelpersStoreAndErase() throws {
        guard let docker = ["/usr/bin/docker", "/usr/local/bin/docker"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("docker CLI not installed")
        }
        let sandbox = sandbox("")
        let dockerConfig = sandbox.root + "/home/.docker"
        sandbox.write("home/.docker/config.json", #"{"credsStore": "broker"}"#)
        let env = ["PATH": Sandbox.binDirectory + ":" + (sandbox.environment["PATH"] ?? ""), "DOCKER_CONFIG": dockerConfig]
        let login = sandbox.run(docker, ["login", "-u", bed["static_user"], "--password-stdin", bed["registry"]],
                                stdin: bed["static_password"] + "\n", extraEnvironment: env, timeout: 60)
        XCTAssertEqual(login.status, 0, login.stderr)
        XCTAssertEqual(sandbox.broker("docker-credential-broker", ["list"]).stdout, #"{"\#(bed["registry"])":"\#(bed["static_user"])"}"# + "\n")
        XCTAssertFalse(sandbox.read(dockerConfig + "/config.json").contains(bed["static_password"]))
        // skopeo honours credHelpers (not docker's credsStore): through it, the unbound registry's stored login.
        let inspect = skopeo(sandbox, ["inspect", "--authfile", authFile(sandbox), "--tls-verify=false", "docker://\(bed["registry"])/nothing:v1"])
        XCTAssertTrue(inspect.stderr.contains("manifest unknown"), "the stored login was used: \(inspect.stderr)")
        let logout = sandbox.run(docker, ["logout", bed["registry"]], extraEnvironment: env, timeout: 30)
        XCTAssertEqual(logout.status, 0, logout.stderr)
        XCTAssertEqual(sandbox.broker("docker-credential-broker", ["get"], stdin: bed["registry"]).stdout, "credentials not found in native keychain\n")
    }

    func testRegistryIDsAndRegionShapeTheRequestAndTheCacheKey() {
        let sandbox = sandbox("""
            [identity "ecr-west"]
                kind = aws/ecr
                via = identity:deployer
                region = us-west-2
                registry-ids = \(bed["account"])
            [registry "\(bed["registry"])"]
                identity = ecr-west
            """)
        bed.resetCounts()
        let result = sandbox.broker("docker-credential-broker", ["get"], stdin: bed["registry"])
        XCTAssertEqual(result.status, 0, result.stdout)
        XCTAssertTrue(result.stdout.contains(#""Username":"AWS","Secret":"\#(bed["account"])-auth-token""#), result.stdout)
        XCTAssertEqual(bed.counts()["ecr-region:us-west-2"], 1, "\(bed.counts())")
    }

    /// A refused upstream is one line on stdout (where docker and skopeo read it), naming the
    /// identity and ECR's error, never the secret.
    func testAnUpstreamRefusalIsOneLineNamingTheIdentity() {
        let sandbox = sandbox("""
            [identity "wrong"]
                kind = aws/user
                access-key-id = \(bed["access_key_id"])
                secret-access-key = env:WRONG_SECRET
            [identity "ecr-bad"]
                kind = aws/ecr
                via = identity:wrong
            [registry "\(bed["registry"])"]
                identity = ecr-bad
            """)
        sandbox.environment["WRONG_SECRET"] = "wrong-secret-value"
        let result = sandbox.broker("docker-credential-broker", ["get"], stdin: bed["registry"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stdout.filter { $0 == "\n" }.count, 1, result.stdout)
        XCTAssertTrue(result.stdout.hasPrefix("docker-credential-broker: identity \"ecr-bad\""), result.stdout)
        XCTAssertTrue(result.stdout.contains("SignatureDoesNotMatch"), result.stdout)
        XCTAssertFalse(result.stdout.contains("wrong-secret-value"))
        let skopeoResult = skopeo(sandbox, ["inspect", "--authfile", authFile(sandbox), "--tls-verify=false", "docker://\(bed["registry"])/x:v1"])
        XCTAssertNotEqual(skopeoResult.status, 0)
        XCTAssertTrue(skopeoResult.stderr.contains("SignatureDoesNotMatch"), "skopeo shows the helper's line: \(skopeoResult.stderr)")
    }

    /// `brokerctl docker-setup` adds credHelpers for the bound registries and keeps everything
    /// else; skopeo then pulls through it.
    func testDockerSetupAddsCredHelpersKeepingTheRestAndSkopeoUsesThem() throws {
        let sandbox = ecrSandbox()
        let file = sandbox.write("home/.docker/config.json", #"{"auths": {"other.example": {}}, "credsStore": "desktop", "credHelpers": {"gcr.io": "gcloud"}}"#)
        let dry = sandbox.broker("brokerctl", ["docker-setup", "--print"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        XCTAssertEqual(dry.stdout, "+ \"credHelpers\": {\"\(bed["registry"])\": \"broker\"}\n")
        XCTAssertTrue(sandbox.read(file).contains("\"credsStore\": \"desktop\""), "--print writes nothing")
        let setup = sandbox.broker("brokerctl", ["docker-setup", "--registry", "ghcr.io"])
        XCTAssertEqual(setup.status, 0, setup.stderr)
        let written = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(sandbox.read(file).utf8)) as? [String: Any])
        XCTAssertEqual(written["credHelpers"] as? [String: String], ["gcr.io": "gcloud", bed["registry"]: "broker", "ghcr.io": "broker"])
        XCTAssertEqual(written["credsStore"] as? String, "desktop")
        XCTAssertNotNil((written["auths"] as? [String: Any])?["other.example"])
        XCTAssertEqual(sandbox.broker("brokerctl", ["docker-setup"]).stdout, "\(file): nothing to add\n", "idempotent")
        let push = skopeo(sandbox, ["copy", "--authfile", file, "--dest-tls-verify=false", "oci:\(bed["oci_layout"]):v1",
                                    "docker://\(bed["registry"])/setup-app:v1"])
        XCTAssertEqual(push.status, 0, push.stderr)
    }

    /// ghcr.io's scheme: user `x-access-token`, a GitHub App installation token as the password.
    /// The registry here is the CNCF one behind a gate that accepts exactly the tokens the fake
    /// GitHub API has issued (Fixtures/registry_token_gate.py); skopeo pulls and pushes through the helper.
    func testSkopeoPullsAndPushesWithAGitHubAppInstallationTokenFromARegistryThatAcceptsThem() throws {
        let sandbox = sandbox("")
        let key = try GitHubAppKey.generate(in: sandbox)
        let fake = try GitHubAPIFake(sandbox: sandbox, key: key)
        defer { fake.stop() }
        let seed = skopeo(sandbox, ["copy", "--dest-creds", "\(bed["static_user"]):\(bed["static_password"])", "--dest-tls-verify=false",
                                    "oci:\(bed["oci_layout"]):v1", "docker://\(bed["registry"])/acme/app:v1"])
        XCTAssertEqual(seed.status, 0, seed.stderr)

        let gate = try RegistryGate(tokensFile: fake.tokensPath, bed: bed)
        defer { gate.stop() }
        let ghcr = gate.host
        sandbox.writeConfig("""
            [identity "app"]
                kind = github/app
                app-id = 123456
                private-key = file:\(key.privateKeyPath)
                api-url = \(fake.apiURL)
                installation-id = 77
            [registry "\(ghcr)"]
                identity = app
            """)
        let anonymous = skopeo(sandbox, ["inspect", "--authfile", sandbox.write("empty.json", "{}"), "--tls-verify=false", "docker://\(ghcr)/acme/app:v1"])
        XCTAssertNotEqual(anonymous.status, 0, "the gate refuses requests without a token")
        let auth = sandbox.write("ghcr-auth.json", #"{"credHelpers": {"\#(ghcr)": "broker"}}"#)
        let inspect = skopeo(sandbox, ["inspect", "--authfile", auth, "--tls-verify=false", "docker://\(ghcr)/acme/app:v1"])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        let pull = skopeo(sandbox, ["copy", "--authfile", auth, "--src-tls-verify=false", "docker://\(ghcr)/acme/app:v1", "oci:\(sandbox.root)/ghcr-pulled:v1"])
        XCTAssertEqual(pull.status, 0, pull.stderr)
        let push = skopeo(sandbox, ["copy", "--authfile", auth, "--dest-tls-verify=false", "oci:\(bed["oci_layout"]):v1", "docker://\(ghcr)/acme/pushed:v2"])
        XCTAssertEqual(push.status, 0, push.stderr)
        let pushed = skopeo(sandbox, ["inspect", "--creds", "\(bed["static_user"]):\(bed["static_password"])", "--tls-verify=false",
                                      "docker://\(bed["registry"])/acme/pushed:v2"])
        XCTAssertEqual(pushed.status, 0, "the push reached the registry behind the gate: \(pushed.stderr)")
        let get = sandbox.broker("docker-credential-broker", ["get"], stdin: ghcr)
        XCTAssertTrue(get.stdout.contains(#""Username":"x-access-token""#), get.stdout)
        XCTAssertEqual(fake.counts()["mint"], 1, "one installation token for all of it")
    }

    /// One binding for every ECR registry: each region gets its own login (signed for that
    /// region), and registries of one region share it.
    func testAnECRWildcardBindingTakesTheRegionFromTheRegistryHost() {
        let sandbox = sandbox("""
            [identity "ecr"]
                kind = aws/ecr
                via = identity:deployer
            [registry "*.dkr.ecr.*.amazonaws.com"]
                identity = ecr
            """)
        XCTAssertTrue(sandbox.broker("brokerctl", ["list"]).stdout.hasSuffix("\nREGISTRY                   IDENTITY\n*.dkr.ecr.*.amazonaws.com  ecr\n"),
                      sandbox.broker("brokerctl", ["list"]).stdout)
        bed.resetCounts()
        for host in ["111111111111.dkr.ecr.us-west-2.amazonaws.com", "222222222222.dkr.ecr.eu-central-1.amazonaws.com",
                     "333333333333.dkr.ecr.us-west-2.amazonaws.com"] {
            let result = sandbox.broker("docker-credential-broker", ["get"], stdin: "https://\(host)/v2/")
            XCTAssertEqual(result.status, 0, result.stdout)
            XCTAssertTrue(result.stdout.contains(#""Username":"AWS""#), result.stdout)
        }
        let counts = bed.counts()
        XCTAssertEqual(counts["ecr:GetAuthorizationToken"], 2, "\(counts)")
        XCTAssertEqual(counts["ecr-region:us-west-2"], 1, "\(counts)")
        XCTAssertEqual(counts["ecr-region:eu-central-1"], 1, "\(counts)")
    }

    /// A pool of personal access tokens for a ghcr-like registry: each registry client process
    /// leases one token for its life, and the registry accepts it.
    func testAPATPoolLeasesATokenToEachRegistryClient() throws {
        let sandbox = sandbox("")
        let expiry = Int(Date().timeIntervalSince1970) + 3600
        let tokens = sandbox.write("gate-tokens", "ghp_poolTokenOne\(expiry) \(expiry)\nghp_poolTokenTwo\(expiry) \(expiry)\n")
        let seed = skopeo(sandbox, ["copy", "--dest-creds", "\(bed["static_user"]):\(bed["static_password"])", "--dest-tls-verify=false",
                                    "oci:\(bed["oci_layout"]):v1", "docker://\(bed["registry"])/acme/pool:v1"])
        XCTAssertEqual(seed.status, 0, seed.stderr)
        let gate = try RegistryGate(tokensFile: tokens, bed: bed)
        defer { gate.stop() }
        sandbox.environment["PAT_ONE"] = "ghp_poolTokenOne\(expiry)"
        sandbox.environment["PAT_TWO"] = "ghp_poolTokenTwo\(expiry)"
        sandbox.writeConfig("""
            [identity "pats"]
                kind = github/pat-pool
                token = env:PAT_ONE
                token = env:PAT_TWO
                username = robot
            [registry "\(gate.host)"]
                identity = pats
            """)
        let auth = sandbox.write("pool-auth.json", #"{"credHelpers": {"\#(gate.host)": "broker"}}"#)
        let inspect = skopeo(sandbox, ["inspect", "--authfile", auth, "--tls-verify=false", "docker://\(gate.host)/acme/pool:v1"])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        let leased = sandbox.auditLines.filter { $0["identity"] as? String == "pats" && $0["event"] as? String == "issued" && $0["adapter"] as? String == "docker" }
        XCTAssertFalse(leased.isEmpty, "skopeo's get was answered with a lease")
        let get = sandbox.broker("docker-credential-broker", ["get"], stdin: gate.host)
        XCTAssertTrue(get.stdout.contains(#""Username":"robot""#) && get.stdout.contains("ghp_poolToken"), get.stdout)
    }

    /// Registries matched by one wildcard binding, in one region: concurrent gets make one call.
    func testConcurrentGetsForOneRegionMakeOneUpstreamCall() {
        let sandbox = sandbox("""
            [identity "ecr"]
                kind = aws/ecr
                via = identity:deployer
                region = eu-west-1
            [registry "*.dkr.ecr.eu-west-1.amazonaws.com"]
                identity = ecr
            """)
        bed.resetCounts()
        XCTAssertEqual(sandbox.broker("brokerctl", ["status"]).status, 0)  // the agent is up before the fan-out
        let results = Locked<[ProcessResult]>([])
        DispatchQueue.concurrentPerform(iterations: 12) { index in
            let host = (index % 2 == 0 ? "111111111111" : "222222222222") + ".dkr.ecr.eu-west-1.amazonaws.com"
            let result = sandbox.broker("docker-credential-broker", ["get"], stdin: "https://\(host)")
            results.mutate { $0.append(result) }
        }
        XCTAssertEqual(results.value.filter { $0.status == 0 && $0.stdout.contains("\"Username\":\"AWS\"") }.count, 12,
                       results.value.map(\.stdout).joined(separator: "\n"))
        XCTAssertEqual(bed.counts()["ecr:GetAuthorizationToken"], 1, "\(bed.counts())")
    }
}

/// The helper protocol, transcript-style, against the real binary: what docker and skopeo match on.
final class DockerHelperProtocolTests: XCTestCase {
    func testUnboundRegistriesAreAPlainStoreWithDockersMessagesAndNormalisation() throws {
        let sandbox = Sandbox()
        addTeardownBlock { sandbox.stopAgent() }
        func helper(_ action: String, _ stdin: String) -> ProcessResult { sandbox.broker("docker-credential-broker", [action], stdin: stdin) }

        let miss = helper("get", "r.example:5000")
        XCTAssertEqual(miss.status, 1)
        XCTAssertEqual(miss.stdout, "credentials not found in native keychain\n")
        XCTAssertEqual(miss.stderr, "")

        XCTAssertEqual(helper("store", #"{"ServerURL":"https://R.example:5000/v2/","Username":"me","Secret":"s3cret"}"#).status, 0)
        XCTAssertEqual(helper("store", #"{"ServerURL":"other.example","Username":"you","Secret":"x"}"#).status, 0)
        // Scheme, path and case do not matter; the port does. `get` echoes what it was given.
        let hit = helper("get", "http://r.example:5000\n")
        XCTAssertEqual(hit.status, 0, hit.stdout)
        XCTAssertEqual(hit.stdout, #"{"ServerURL":"http://r.example:5000","Username":"me","Secret":"s3cret"}"# + "\n")
        XCTAssertEqual(helper("get", "r.example").stdout, "credentials not found in native keychain\n")
        XCTAssertEqual(helper("get", "r.example:5001").stdout, "credentials not found in native keychain\n")

        XCTAssertEqual(helper("list", "unused").stdout, #"{"https://R.example:5000/v2/":"me","other.example":"you"}"# + "\n")
        XCTAssertTrue(sandbox.broker("brokerctl", ["status"]).stdout.contains("docker logins  2 in memory"))

        XCTAssertEqual(helper("erase", "r.example:5000").status, 0)
        XCTAssertEqual(helper("get", "https://r.example:5000/v2/").stdout, "credentials not found in native keychain\n")
        XCTAssertEqual(helper("list", "").stdout, #"{"other.example":"you"}"# + "\n")

        XCTAssertEqual(helper("get", "").stdout, "no credentials server URL\n")
        XCTAssertEqual(helper("store", #"{"ServerURL":"r.example"}"#).stdout, "no credentials username\n")
        XCTAssertFalse(sandbox.read(sandbox.paths.auditLogPath).contains("s3cret"))
    }
}

extension DockerHelperProtocolTests {
    /// What cannot become a registry login is one line naming the identity and the fix.
    func testIdentitiesThatGiveNoRegistryLoginAreRefusedWithTheFix() {
        let sandbox = Sandbox()
        addTeardownBlock { sandbox.stopAgent() }
        let source = sandbox.write("bin/keys", """
            #!/bin/sh
            echo '{"Version": 1, "AccessKeyId": "AKIDTYPE", "SecretAccessKey": "type-secret", "SessionToken": "t", "Expiration": "2099-01-01T00:00:00Z"}'

            """, mode: 0o755)
        sandbox.writeConfig("""
            [identity "keys"]
                kind = aws/credentials
                command = \(source)
            [identity "eks"]
                kind = aws/eks
                via = identity:keys
                cluster = c
            [registry "eks.example"]
                identity = eks
            """)
        let eks = sandbox.broker("docker-credential-broker", ["get"], stdin: "eks.example")
        XCTAssertEqual(eks.status, 1)
        XCTAssertEqual(eks.stdout.filter { $0 == "\n" }.count, 1, eks.stdout)
        XCTAssertTrue(eks.stdout.hasPrefix("docker-credential-broker: identity \"eks\""), eks.stdout)
        XCTAssertTrue(eks.stdout.contains("gives token credentials, not a registry login"), eks.stdout)
    }
}

/// A value shared by concurrent closures.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.lock(); defer { lock.unlock() }; return stored }
    func mutate(_ body: (inout Value) -> Void) { lock.lock(); body(&stored); lock.unlock() }
}
