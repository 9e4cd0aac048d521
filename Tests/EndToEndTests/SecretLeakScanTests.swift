// Secret-leak scan: one representative end-to-end pass with canary secrets, then a search for every
// canary in every file the pass left behind, every adapter's stderr, and the agent's /proc entries.

import BrokerWire
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class SecretLeakScanTests: MotoTestCase {
    typealias Kit = AgentProcessKit

    /// Recognisable, unguessable secrets: a hit can only be a copy of one of these.
    struct Canaries {
        let run = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        func make(_ kind: String) -> String { "CANARY-\(run)-\(kind)" }
        var staticEnv: String { make("STATIC") }      // env: — the agent's environment holds it by design
        var file: String { make("FILE") }             // file: — a GitHub-ish PAT a real git server accepts
        var command: String { make("CMD") }           // cmd: that succeeds
        var failingCommand: String { make("CMDFAIL") } // cmd: that fails with the secret on stdout
        var exec: String { make("EXEC") }             // exec identity: cached in its own 0600 entry
        var awsSecret: String { make("AWSSECRET") }   // aws/credentials source: cached in its own entry
        var awsToken: String { make("AWSTOKEN") }
        var awsUser: String { make("AWSUSER") }       // aws/user secret moto rejects
        var stored: String { make("STORE") }          // git approve into the agent's memory
        var registry: String { make("REGISTRY") }     // file: secret of an identity bound to a registry
        var dockerStore: String { make("DOCKERSTORE") } // docker store into the agent's memory
        var keyring: String { make("KEYRING") }       // keyring: in the file keyring (an age file)
        var keyringPassphrase: String { make("KRPASS") } // the file keyring's passphrase, from a cmd: reference
        var all: [String] { [staticEnv, file, command, failingCommand, exec, awsSecret, awsToken, awsUser, stored, registry, dockerStore, keyring, keyringPassphrase] }
        /// Identities whose own cache entry may hold a canary: the short-lived credential itself.
        var ownEntries: [String: [String]] { ["minted": [exec], "src": [awsSecret, awsToken]] }
    }

    /// Texts to scan, each with a label for the failure message.
    final class Outputs {
        var texts: [(label: String, text: String)] = []
        /// Records stderr always, stdout unless printing the secret is the command's point.
        @discardableResult
        func record(_ label: String, _ result: ProcessResult, stdoutMayHoldSecret: Bool = false) -> ProcessResult {
            texts.append(("\(label): stderr", result.stderr))
            if !stdoutMayHoldSecret { texts.append(("\(label): stdout", result.stdout)) }
            return result
        }
    }

    func testNoCanarySecretAppearsOutsideWhereItBelongs() throws {
        let moto = try XCTUnwrap(startedMoto)
        let canary = Canaries()
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        // Every adapter carries the env: secret, so the agent it spawns inherits it.
        sandbox.environment["CB_LEAK_STATIC"] = canary.staticEnv
        let out = Outputs()
        let root = sandbox.root

        // Each spawned command records its own argv and environment, as /proc shows them.
        let recordSelf = "cat /proc/$$/cmdline > \(root)/spawned/$(basename $0).cmdline; cat /proc/$$/environ > \(root)/spawned/$(basename $0).environ"
        try FileManager.default.createDirectory(atPath: root + "/spawned", withIntermediateDirectories: true)

        let serverTokens = root + "/srv-tokens"
        FileManager.default.createFile(atPath: serverTokens, contents: Data("\(canary.file) 4102444800\n".utf8))
        let server = try GitHTTPTestServer(sandbox: sandbox, user: "unused", password: "unused", lifetime: 60,
                                           extraArguments: ["--tokens-file", serverTokens])
        defer { server.stop() }
        let patFile = sandbox.write("secrets/pat", canary.file + "\n")
        let awsUserFile = sandbox.write("secrets/aws-user", canary.awsUser + "\n")
        let registryFile = sandbox.write("secrets/registry", canary.registry + "\n")
        let cmd = sandbox.write("bin/cmd-secret", "#!/bin/sh\n\(recordSelf)\necho \(canary.command)\n", mode: 0o755)
        let broken = sandbox.write("bin/broken-secret", """
            #!/bin/sh
            \(recordSelf)
            echo \(canary.failingCommand)
            echo "vault: token expired" >&2
            exit 3

            """, mode: 0o755)
        let mint = sandbox.write("bin/mint", """
            #!/bin/sh
            \(recordSelf)
            echo username=minted-user
            echo password=\(canary.exec)
            echo password_expiry_utc=$(( $(date +%s) + 3600 ))

            """, mode: 0o755)
        let source = sandbox.write("bin/aws-source", """
            #!/bin/sh
            \(recordSelf)
            exp=$(date -u -d @$(( $(date +%s) + 3600 )) +%Y-%m-%dT%H:%M:%SZ)
            echo "{\\"Version\\": 1, \\"AccessKeyId\\": \\"AKIDLEAKSCAN\\", \\"SecretAccessKey\\": \\"\(canary.awsSecret)\\", \\"SessionToken\\": \\"\(canary.awsToken)\\", \\"Expiration\\": \\"$exp\\"}"

            """, mode: 0o755)
        let keyringPass = sandbox.write("bin/keyring-pass", "#!/bin/sh\n\(recordSelf)\necho \(canary.keyringPassphrase)\n", mode: 0o755)
        sandbox.writeConfig("""
            [keyring]
                backend = file
                directory = \(root)/keyring
                passphrase = cmd:\(keyringPass)
                work-factor = 4
            [identity "kr"]
                kind = static
                username = kr-user
                secret = keyring:kr
            [git "https://kr.example"]
                identity = kr
            [identity "envtok"]
                kind = static
                username = env-user
                secret = env:CB_LEAK_STATIC
                env = LEAK_TOKEN
            [identity "pat"]
                kind = static
                username = x-access-token
                secret = file:\(patFile)
            [identity "cmdtok"]
                kind = static
                username = cmd-user
                secret = cmd:\(cmd) --flag
            [identity "broken"]
                kind = static
                username = u
                secret = cmd:\(broken)
            [identity "minted"]
                kind = exec
                command = \(mint)
            [identity "src"]
                kind = aws/credentials
                command = \(source)
                timeout = 5s
            [identity "baduser"]
                kind = aws/user
                access-key-id = \(moto.accessKeyID)
                secret-access-key = file:\(awsUserFile)
                sts-endpoint = \(moto.endpoint)
            [identity "badrole"]
                kind = aws/assume-role
                via = identity:baduser
                role-arn = \(moto.firstRoleARN)
                session-name = \(moto.chainSessionName)
                sts-endpoint = \(moto.endpoint)
            [identity "reg"]
                kind = static
                username = reg-user
                secret = file:\(registryFile)
            [registry "registry.example:5000"]
                identity = reg
            [identity "eks"]
                kind = aws/eks
                via = identity:src
                cluster = leak-scan
                region = us-east-1
            [git "https://env.example"]
                identity = envtok
            [git "https://cmd.example"]
                identity = cmdtok
            [git "https://broken.example"]
                identity = broken
            [git "https://minted.example"]
                identity = minted
            [git "\(server.baseURL)"]
                identity = pat

            """)

        // keyring: stored through brokerctl (stdin), read by a helper get.
        let krSet = out.record("brokerctl secret set kr", sandbox.broker("brokerctl", ["secret", "set", "kr"], stdin: canary.keyring + "\n"))
        XCTAssertEqual(krSet.status, 0, krSet.stderr)
        out.record("brokerctl secret list", sandbox.broker("brokerctl", ["secret", "list", "--format", "json"]))
        let krGet = out.record("git-credential-broker get kr.example", Kit.helperGet(sandbox, host: "kr.example"), stdoutMayHoldSecret: true)
        XCTAssertTrue(krGet.stdout.contains(canary.keyring), krGet.stdout + krGet.stderr)

        // git: helper gets (their stdout is the answer), a real clone with the PAT, a failing cmd:.
        for host in ["env.example", "cmd.example", "minted.example"] {
            let got = out.record("git-credential-broker get \(host)", Kit.helperGet(sandbox, host: host), stdoutMayHoldSecret: true)
            XCTAssertEqual(got.status, 0, got.stderr)
        }
        out.record("brokerctl logout minted", sandbox.broker("brokerctl", ["logout", "minted"]))
        out.record("git-credential-broker get minted (cold)", Kit.helperGet(sandbox, host: "minted.example"), stdoutMayHoldSecret: true)
        let clone = out.record("git clone", sandbox.git(["clone", "-q", server.repoURL, root + "/clone"]))
        XCTAssertEqual(clone.status, 0, clone.stderr)
        let failing = out.record("git-credential-broker get broken", Kit.helperGet(sandbox, host: "broken.example"))
        XCTAssertEqual(failing.status, 1)
        out.record("git credential fill broken", sandbox.git(["credential", "fill"], stdin: "protocol=https\nhost=broken.example\n"))
        // credential-cache mode: a password git approves lives in the agent's memory only.
        let store = "protocol=https\nhost=store.example\nusername=u\npassword=\(canary.stored)\n"
        out.record("git credential approve", sandbox.git(["credential", "approve"], stdin: store))
        let filled = out.record("git credential fill store", sandbox.git(["credential", "fill"], stdin: "protocol=https\nhost=store.example\n"),
                                stdoutMayHoldSecret: true)
        XCTAssertTrue(filled.stdout.contains(canary.stored), filled.stdout)

        // AWS: the credential_process answer, a chain whose user secret moto rejects, env-wrap.
        let aws = out.record("aws-credential-process src", sandbox.broker("aws-credential-process", ["--identity", "src"]), stdoutMayHoldSecret: true)
        XCTAssertTrue(aws.stdout.contains(canary.awsSecret), aws.stderr)
        let rejected = out.record("aws-credential-process badrole", sandbox.broker("aws-credential-process", ["--identity", "badrole"]))
        XCTAssertEqual(rejected.status, 1)
        XCTAssertTrue(rejected.stderr.contains("SignatureDoesNotMatch"), rejected.stderr)
        let fetch = """
            import json, os, urllib.request
            url, token = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"], os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
            with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": token}), timeout=5) as r:
                doc = json.loads(r.read())
            print(token if doc["SecretAccessKey"] == os.environ["WANT"] else "mismatch")
            """
        let wrapped = out.record("broker-env-wrap src (endpoint)",
                                 sandbox.run(Sandbox.executable("broker-env-wrap"), ["--identity", "src", "--", MotoServer.python, "-c", fetch],
                                             extraEnvironment: ["WANT": canary.awsSecret]),
                                 stdoutMayHoldSecret: true)
        XCTAssertEqual(wrapped.status, 0, wrapped.stderr)
        let bearer = wrapped.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertFalse(bearer.isEmpty || bearer == "mismatch", wrapped.stdout)
        out.record("broker-env-wrap envtok", sandbox.run(Sandbox.executable("broker-env-wrap"), ["--identity", "envtok", "--", "true"]))
        out.record("broker-env-wrap --print", sandbox.run(Sandbox.executable("broker-env-wrap"),
                                                         ["--identity", "src", "--delivery", "env", "--print", "--format", "json"]),
                   stdoutMayHoldSecret: true)

        // docker-credential-broker: a bound registry, the memory store, list and a miss.
        let registryGet = out.record("docker-credential-broker get bound", sandbox.broker("docker-credential-broker", ["get"], stdin: "https://registry.example:5000/v2/"),
                                     stdoutMayHoldSecret: true)
        XCTAssertTrue(registryGet.stdout.contains(canary.registry), registryGet.stdout + registryGet.stderr)
        out.record("docker-credential-broker store", sandbox.broker("docker-credential-broker", ["store"],
                                                                    stdin: #"{"ServerURL":"mem.example","Username":"m","Secret":"\#(canary.dockerStore)"}"#))
        let memoryGet = out.record("docker-credential-broker get memory", sandbox.broker("docker-credential-broker", ["get"], stdin: "mem.example"),
                                   stdoutMayHoldSecret: true)
        XCTAssertTrue(memoryGet.stdout.contains(canary.dockerStore), memoryGet.stdout)
        out.record("docker-credential-broker list", sandbox.broker("docker-credential-broker", ["list"]))
        out.record("docker-credential-broker get miss", sandbox.broker("docker-credential-broker", ["get"], stdin: "nothing.example"))
        out.record("docker-credential-broker erase bound", sandbox.broker("docker-credential-broker", ["erase"], stdin: "registry.example:5000"))
        // kube-credential-broker: the EKS token (presigned with src's keys) is a secret too.
        let kube = out.record("kube-credential-broker eks", sandbox.broker("kube-credential-broker", ["--identity", "eks"]), stdoutMayHoldSecret: true)
        XCTAssertEqual(kube.status, 0, kube.stderr)
        let eksToken = ((try? JSONSerialization.jsonObject(with: Data(kube.stdout.utf8)) as? [String: Any])?["status"] as? [String: Any])?["token"] as? String ?? ""
        XCTAssertTrue(eksToken.hasPrefix("k8s-aws-v1."), kube.stdout)
        out.record("kube-credential-broker reg (wrong type)", sandbox.broker("kube-credential-broker", ["--identity", "reg"]))

        // brokerctl: a person's window shows names and fingerprints, never values.
        for args in [["status"], ["status", "--format", "json"], ["list"], ["whoami", "minted"], ["whoami", "src"], ["whoami", "eks"],
                     ["audit", "--format", "json"], ["validate"]] {
            out.record("brokerctl \(args.joined(separator: " "))", sandbox.broker("brokerctl", args))
        }

        // Gather. The agent's /proc entries first, while it runs.
        let agentPID = try XCTUnwrap(sandbox.agentPID)
        var hits: [String] = []
        let canaries = canary.all + (bearer.isEmpty || bearer == "mismatch" ? [] : [bearer]) + (eksToken.isEmpty ? [] : [eksToken])
        func scan(_ label: String, _ bytes: [UInt8], except allowed: Set<String> = []) {
            let text = String(decoding: bytes.map { $0 == 0 ? 10 : $0 }, as: UTF8.self)
            for secret in canaries where !allowed.contains(secret) && text.contains(secret) {
                hits.append("\(label): \(secret)")
            }
        }
        func bytes(_ path: String) -> [UInt8] { (FileManager.default.contents(atPath: path).map { [UInt8]($0) }) ?? [] }
        scan("/proc/\(agentPID)/cmdline", bytes("/proc/\(agentPID)/cmdline"))
        // The agent reads env: secrets from its own environment (DESIGN §4): that canary alone is expected there.
        let environ = bytes("/proc/\(agentPID)/environ")
        XCTAssertTrue(String(decoding: environ, as: UTF8.self).contains(canary.staticEnv), "the agent inherited the env: secret")
        scan("/proc/\(agentPID)/environ", environ, except: [canary.staticEnv])
        for (label, text) in out.texts { scan(label, Array(text.utf8)) }

        // Every file the pass left in the sandbox, apart from the secrets' own sources, the test's
        // scripts and fixtures, and a short-lived credential's own cache entry.
        let sources: Set<String> = [patFile, awsUserFile, serverTokens, registryFile]
        let entries = sandbox.paths.cacheEntriesDirectory + "/"
        var coreFiles: [String] = []
        var ownEntriesSeen: [String: Bool] = [:]
        let walker = FileManager.default.enumerator(atPath: root)
        while let relative = walker?.nextObject() as? String {
            let path = root + "/" + relative
            var st = stat()
            guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
            let name = (relative as NSString).lastPathComponent
            if name == "core" || name.hasPrefix("core.") { coreFiles.append(path) }
            if sources.contains(path) || relative.hasPrefix("bin/") || relative.hasPrefix("clone/.git/objects/") { continue }
            var allowed: Set<String> = []
            if relative.hasPrefix("spawned/") && relative.hasSuffix(".environ") { allowed.insert(canary.staticEnv) }  // inherited from the agent
            if path.hasPrefix(entries) && name.hasPrefix("eks.") { allowed.insert(eksToken) }  // the short-lived token's own entry
            if path.hasPrefix(entries) {
                for (identity, secrets) in canary.ownEntries where name.hasPrefix(identity + ".") {
                    allowed.formUnion(secrets)
                    XCTAssertEqual(Kit.mode(path), 0o600, path)
                    ownEntriesSeen[identity] = String(decoding: bytes(path), as: UTF8.self).contains(secrets[0])
                }
            }
            scan(relative, bytes(path), except: allowed)
        }
        XCTAssertEqual(ownEntriesSeen, ["minted": true, "src": true], "the exec and aws/credentials entries are the only places on disk")
        XCTAssertEqual(coreFiles, [], "a process dumped core")
        for name in ["cmd-secret.cmdline", "broken-secret.cmdline", "mint.cmdline", "aws-source.environ"] {
            XCTAssertTrue(Kit.fileExists(root + "/spawned/" + name), "spawned command recorded \(name)")
        }
        XCTAssertTrue(Sandbox.isAlive(agentPID))
        XCTAssertEqual(hits, [], "canary secrets found where they must not be:\n" + hits.joined(separator: "\n"))
    }

    /// #18's sources: a GitHub Actions job's variables (request token, GITHUB_TOKEN, runner AWS
    /// keys), the ID token, a github/sts exchange, Secrets Manager and SSM values, and upstreams
    /// that echo the caller's secrets back in their errors (Fixtures/hostile_upstream.py).
    func testNoCanaryFromCIAndFleetSourcesAppearsOutsideWhereItBelongs() throws {
        let canary = Canaries()
        let request = canary.make("ACTIONSREQ"), job = canary.make("JOBTOKEN"), awsKey = canary.make("RUNNERKEY")
        let awsSession = canary.make("RUNNERSESSION"), exchanged = "ghs_" + canary.make("STS").replacingOccurrences(of: "-", with: "")
        let remote = canary.make("REMOTE")
        // A person's ADC file, kept outside the sandbox (the scan walks it): the hostile Google
        // token endpoint quotes the refresh token and the client secret back in its errors.
        let refresh = "1//" + canary.make("GREFRESH"), clientSecret = canary.make("GCLIENTSECRET")
        let adcDirectory = NSTemporaryDirectory() + "leak-adc-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: adcDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: adcDirectory) }
        let adc = adcDirectory + "/adc.json"
        FileManager.default.createFile(atPath: adc, contents: Data(#"{"type":"authorized_user","client_id":"c.apps.googleusercontent.com","client_secret":"\#(clientSecret)","refresh_token":"\#(refresh)"}"#.utf8),
                                       attributes: [.posixPermissions: 0o600])
        // Every ID token the fixture signs ends in this signature: a JWT anywhere shows it.
        let jwtSignature = "bm90LWEtc2lnbmF0dXJl"
        let hostile = try PythonFixture("hostile_upstream.py", ["--request-token", request, "--sts-token", exchanged, "--secret-value", remote])
        let base = "http://127.0.0.1:\(hostile.port)"
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        for (key, value) in ["CI": "true", "GITHUB_ACTIONS": "true", "ACTIONS_ID_TOKEN_REQUEST_URL": base + "/oidc/ok",
                             "ACTIONS_ID_TOKEN_REQUEST_TOKEN": request, "GITHUB_TOKEN": job, "GITHUB_SERVER_URL": "https://gh.example",
                             "AWS_ACCESS_KEY_ID": "AKIALEAKSCAN", "AWS_SECRET_ACCESS_KEY": awsKey, "AWS_SESSION_TOKEN": awsSession,
                             "AWS_ENDPOINT_URL_SECRETS_MANAGER": base + "/aws", "AWS_ENDPOINT_URL_SSM": base + "/aws"] {
            sandbox.environment[key] = value
        }
        var sections = """
            [secrets]
                aws-identity = ci-aws
                region = us-east-1
            [identity "job"]
                kind = github/oidc
                audience = octo-sts.test

            """
        for (name, mode) in [("repo", "ok"), ("repo-echo", "echo")] {
            sections += "[identity \"\(name)\"]\n    kind = github/sts\n    via = identity:job\n    url = \(base)/sts/\(mode)\n"
                + "    scope = acme/app\n    policy = ci\n    env = GH_TOKEN\n[git \"https://\(name).example\"]\n    identity = \(name)\n"
        }
        for (name, reference) in [("sm", "aws-secretsmanager:ok"), ("ssm", "aws-ssm:/ok"), ("sm-denied", "aws-secretsmanager:denied"),
                                  ("ssm-denied", "aws-ssm:/denied")] {
            sections += "[identity \"\(name)\"]\n    kind = static\n    username = u\n    secret = \(reference)\n[git \"https://\(name).example\"]\n    identity = \(name)\n"
        }
        for mode in ["invalid_grant", "html502", "badjson"] {
            sections += "[identity \"gcp-\(mode)\"]\n    kind = gcp/adc\n    file = \(adc)\n    token-uri = \(base)/google/\(mode)/token\n"
                + "[git \"https://gcp-\(mode.replacingOccurrences(of: "_", with: "-")).example\"]\n    identity = gcp-\(mode)\n"
        }
        sandbox.writeConfig(sections)
        let out = Outputs()

        for host in ["repo.example", "sm.example", "ssm.example", "gh.example"] {
            let got = out.record("git-credential-broker get \(host)", Kit.helperGet(sandbox, host: host), stdoutMayHoldSecret: true)
            XCTAssertEqual(got.status, 0, "\(host): \(got.stderr)")
        }
        XCTAssertTrue(Kit.helperGet(sandbox, host: "repo.example").stdout.contains(exchanged))
        XCTAssertTrue(Kit.helperGet(sandbox, host: "sm.example").stdout.contains(remote))
        XCTAssertTrue(Kit.helperGet(sandbox, host: "gh.example").stdout.contains(job))
        for host in ["repo-echo.example", "sm-denied.example", "ssm-denied.example"] {
            let refused = out.record("git-credential-broker get \(host)", Kit.helperGet(sandbox, host: host))
            XCTAssertEqual(refused.status, 1, host)
            XCTAssertTrue(refused.stderr.contains("<redacted>"), "the echoed secret is cut out: \(refused.stderr)")
        }
        for mode in ["invalid_grant", "html502", "badjson"] {
            let refused = out.record("git-credential-broker get gcp-\(mode)", Kit.helperGet(sandbox, host: "gcp-\(mode.replacingOccurrences(of: "_", with: "-")).example"))
            XCTAssertEqual(refused.status, 1, refused.stderr)
            XCTAssertTrue(refused.stderr.contains("identity \"gcp-\(mode)\": Google's token endpoint"), refused.stderr)
            if mode == "invalid_grant" { XCTAssertTrue(refused.stderr.contains("revoked: <redacted>"), refused.stderr) }
        }
        out.record("git credential fill repo-echo", sandbox.git(["credential", "fill"], stdin: "protocol=https\nhost=repo-echo.example\n"))
        let execInfo = #"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#
        let kube = out.record("kube-credential-broker job", sandbox.broker("kube-credential-broker", ["--identity", "job"],
                                                                           extraEnvironment: ["KUBERNETES_EXEC_INFO": execInfo]),
                              stdoutMayHoldSecret: true)
        XCTAssertTrue(kube.stdout.contains(jwtSignature), kube.stderr)
        let wrap = out.record("broker-env-wrap repo", sandbox.run(Sandbox.executable("broker-env-wrap"),
                                                                  ["--identity", "repo", "--", "/bin/sh", "-c", "test \"$GH_TOKEN\" = \"$WANT\""],
                                                                  extraEnvironment: ["WANT": exchanged]))
        XCTAssertEqual(wrap.status, 0, wrap.stderr)
        for args in [["status"], ["status", "--format", "json"], ["list"], ["whoami", "job"], ["whoami", "repo"],
                     ["audit", "--format", "json"], ["validate"]] {
            out.record("brokerctl \(args.joined(separator: " "))", sandbox.broker("brokerctl", args))
        }

        let agentPID = try XCTUnwrap(sandbox.agentPID)
        // What the agent inherited from the job is in its environment by design; nothing it
        // obtained may be there or anywhere else.
        let inherited: Set<String> = [request, job, awsKey, awsSession]
        let obtained = [exchanged, remote, jwtSignature, refresh, clientSecret]
        var hits: [String] = []
        func scan(_ label: String, _ bytes: [UInt8], allowing allowed: Set<String> = []) {
            let text = String(decoding: bytes.map { $0 == 0 ? 10 : $0 }, as: UTF8.self)
            for secret in Array(inherited) + obtained where !allowed.contains(secret) && text.contains(secret) { hits.append("\(label): \(secret)") }
        }
        func bytes(_ path: String) -> [UInt8] { (FileManager.default.contents(atPath: path).map { [UInt8]($0) }) ?? [] }
        scan("/proc/\(agentPID)/cmdline", bytes("/proc/\(agentPID)/cmdline"))
        scan("/proc/\(agentPID)/environ", bytes("/proc/\(agentPID)/environ"), allowing: inherited)
        for (label, text) in out.texts { scan(label, Array(text.utf8)) }
        let walker = FileManager.default.enumerator(atPath: sandbox.root)
        var files = 0
        while let relative = walker?.nextObject() as? String {
            let path = sandbox.root + "/" + relative
            var st = stat()
            guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
            files += 1
            scan(relative, bytes(path))
        }
        XCTAssertTrue(sandbox.read(sandbox.paths.auditLogPath).contains("\"identity\":\"sm-denied\""), "the audit log was scanned")
        XCTAssertGreaterThan(files, 2)
        XCTAssertTrue(Sandbox.isAlive(agentPID))
        XCTAssertEqual(hits, [], "canary secrets found where they must not be:\n" + hits.joined(separator: "\n"))
    }
}
