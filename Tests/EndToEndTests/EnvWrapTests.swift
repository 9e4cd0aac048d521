// broker-env-wrap end to end: terraform and boto3 against moto through the credentials endpoint,
// env and profile delivery, the endpoint's refusals, exit status and signals, git and env exports.

import BrokerWire
import Foundation
import XCTest
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Where a program lives on the test's PATH (terraform, aws, python3).
private func onPath(_ program: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") where access("\(dir)/\(program)", X_OK) == 0 {
        return "\(dir)/\(program)"
    }
    return nil
}

/// The wrap's process-level contract: no AWS, no moto, just a static identity.
final class EnvWrapProcessTests: XCTestCase {
    let wrap = Sandbox.executable("broker-env-wrap")

    /// `gh`: a static token exported as GITHUB_TOKEN and bound to a git URL with a path.
    func tokenSandbox() -> Sandbox {
        let sandbox = Sandbox()
        sandbox.environment["BROKER_E2E_TOKEN"] = "ghp_e2e_CANARY"
        sandbox.writeConfig("""
            [identity "gh"]
                kind = static
                username = x-access-token
                secret = env:BROKER_E2E_TOKEN
                env = GITHUB_TOKEN
                env = GH_TOKEN
            [git "https://git.example.test/org"]
                identity = gh
            [identity "plain"]
                kind = static
                username = u
                secret = env:BROKER_E2E_TOKEN

            """)
        return sandbox
    }

    func testExitStatusIsTheCommandsOwn() {
        let sandbox = tokenSandbox()
        let result = sandbox.run(wrap, ["--identity", "gh", "--", "sh", "-c", "exit 7"])
        XCTAssertEqual(result.status, 7, result.stderr)
        XCTAssertEqual(result.stderr, "")
    }

    func testTheWrapBecomesTheCommandSoSIGTERMReachesIt() throws {
        let sandbox = tokenSandbox()
        let child = try StartedProcess(wrap, ["--identity", "gh", "--", "sh", "-c",
                                              "trap 'echo got TERM; exit 42' TERM; echo $$; while :; do sleep 0.05; done"],
                                       environment: sandbox.environment)
        let firstLine = try XCTUnwrap(child.readLine(timeout: 10))
        XCTAssertEqual(Int32(firstLine), child.pid, "the shell runs under the wrap's own pid: the wrap exec'd")
        kill(child.pid, SIGTERM)
        let (status, signalled) = child.wait()
        XCTAssertFalse(signalled)
        XCTAssertEqual(status, 42)
        XCTAssertTrue(child.remainingOutput().contains("got TERM"))
    }

    func testAnUntrappedSignalKillsTheCommandAndTheCallerSeesTheSignal() throws {
        let sandbox = tokenSandbox()
        let child = try StartedProcess(wrap, ["--identity", "gh", "--", "sh", "-c", "echo ready; exec sleep 30"],
                                       environment: sandbox.environment)
        XCTAssertEqual(child.readLine(timeout: 10), "ready")
        kill(child.pid, SIGTERM)
        let (status, signalled) = child.wait()
        XCTAssertTrue(signalled)
        XCTAssertEqual(status, SIGTERM)
    }

    func testAMissingCommandExits127AndAnUnexecutableOne126LikeAShell() {
        let sandbox = tokenSandbox()
        let missing = sandbox.run(wrap, ["--identity", "gh", "--", "no-such-command-anywhere"])
        XCTAssertEqual(missing.status, 127)
        XCTAssertEqual(missing.stderr, "broker-env-wrap: no-such-command-anywhere: command not found\n")
        let notExecutable = sandbox.write("bin/not-executable", "#!/bin/sh\necho hi\n", mode: 0o644)
        let denied = sandbox.run(wrap, ["--identity", "gh", "--", notExecutable])
        XCTAssertEqual(denied.status, 126)
        XCTAssertEqual(denied.stderr, "broker-env-wrap: \(notExecutable): Permission denied\n")
    }

    func testCommandsAreFoundOnPathAndScriptsWithoutAShebangRunWithSh() {
        let sandbox = tokenSandbox()
        sandbox.write("bin/no-shebang", "echo ran as a script: $1\n", mode: 0o755)
        let result = sandbox.run(wrap, ["--identity", "gh", "no-shebang", "yes"],
                                 extraEnvironment: ["PATH": sandbox.root + "/bin:" + (sandbox.environment["PATH"] ?? "")])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "ran as a script: yes\n")
    }

    func testEnvExportsTheTokenAndLeavesOtherVariablesUntouched() {
        let sandbox = tokenSandbox()
        let result = sandbox.run(wrap, ["--identity", "gh", "--", "env"], extraEnvironment: ["KEEP_ME": "kept", "AWS_PROFILE": "mine"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let env = Self.parseEnv(result.stdout)
        XCTAssertEqual(env["GITHUB_TOKEN"], "ghp_e2e_CANARY")
        XCTAssertEqual(env["GH_TOKEN"], "ghp_e2e_CANARY")
        XCTAssertEqual(env["KEEP_ME"], "kept")
        XCTAssertEqual(env["AWS_PROFILE"], "mine", "a non-AWS identity does not touch AWS variables")
        XCTAssertNotNil(env["BROKER_ENV_WRAP"])
        XCTAssertFalse(sandbox.read(sandbox.paths.auditLogPath).contains("CANARY"))
    }

    func testGitInTheCommandAsksTheBrokerForBoundURLsAndNoOtherHelper() {
        let sandbox = tokenSandbox()
        // A helper configured globally that would answer first, if the wrap did not reset it.
        sandbox.write("home/.gitconfig", "[credential]\n\thelper = \"!f() { echo username=wrong; echo password=WRONG; }; f\"\n")
        let script = "printf 'url=https://git.example.test/org/repo.git\\n\\n' | git credential fill; echo count=$GIT_CONFIG_COUNT"
        let result = sandbox.run(wrap, ["--identity", "gh", "--", "sh", "-c", script],
                                 extraEnvironment: ["GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "user.name", "GIT_CONFIG_VALUE_0": "Me"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("username=x-access-token\npassword=ghp_e2e_CANARY\n"), result.stdout)
        XCTAssertFalse(result.stdout.contains("WRONG"))
        XCTAssertTrue(result.stdout.contains("count=4\n"), "the caller's entry plus reset, helper and useHttpPath: \(result.stdout)")
        XCTAssertFalse(result.stderr.contains("askpass"), result.stderr)

        // Unbound URLs keep the user's own helpers.
        let other = sandbox.run(wrap, ["--identity", "gh", "--", "sh", "-c", "printf 'url=https://elsewhere.test/\\n\\n' | git credential fill"])
        XCTAssertTrue(other.stdout.contains("password=WRONG"), other.stdout)
    }

    func testAnIdentityThatGivesNothingIsRefusedBeforeTheCommandRuns() {
        assertRefusedBeforeTheCommandRuns("plain", saying: "identity \"plain\" (kind static) gives a wrapped command nothing")
    }

    func testAnUnknownIdentityFailsWithOneLineAndTheCommandNeverRuns() {
        assertRefusedBeforeTheCommandRuns("nope", saying: "identity \"nope\" is not defined")
    }

    func assertRefusedBeforeTheCommandRuns(_ identity: String, saying text: String, file: StaticString = #filePath, line: UInt = #line) {
        let sandbox = tokenSandbox()
        let marker = sandbox.root + "/ran"
        let result = sandbox.run(wrap, ["--identity", identity, "--", "touch", marker])
        XCTAssertEqual(result.status, 1, file: file, line: line)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr, file: file, line: line)
        XCTAssertTrue(result.stderr.hasPrefix("broker-env-wrap: ") && result.stderr.contains(text), result.stderr, file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "the command never ran", file: file, line: line)
    }

    func testAWrapInsideAWrapIsRefusedUnlessNested() {
        let sandbox = tokenSandbox()
        let inner = "\(wrap) --identity gh -- true; echo refused=$?; \(wrap) --nested --identity gh -- sh -c 'echo nested-ran'"
        let result = sandbox.run(wrap, ["--identity", "gh", "--", "sh", "-c", inner])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "refused=1\nnested-ran\n")
        XCTAssertTrue(result.stderr.hasPrefix("broker-env-wrap: already inside broker-env-wrap (pid "), result.stderr)
        XCTAssertTrue(result.stderr.contains("--nested"))
    }

    func testBrokerIdentityOffRunsTheCommandUntouchedWithoutAnAgent() {
        for off in ["false", "0", "no", "OFF"] {
            let sandbox = tokenSandbox()
            let result = sandbox.run(wrap, ["--identity", "does-not-exist", "--", "env"], extraEnvironment: ["BROKER_IDENTITY": off])
            XCTAssertEqual(result.status, 0, result.stderr)
            let env = Self.parseEnv(result.stdout)
            XCTAssertNil(env["GITHUB_TOKEN"])
            XCTAssertNil(env["BROKER_ENV_WRAP"])
            XCTAssertEqual(env["BROKER_IDENTITY"], off)
            XCTAssertNil(sandbox.agentPID, "the off switch never starts an agent")
        }
    }

    func testPrintedBashJSONAndDotenvGiveWhatAWrappedCommandSees() throws {
        let sandbox = tokenSandbox()
        let names = ["GITHUB_TOKEN", "GH_TOKEN", "GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_0", "GIT_CONFIG_VALUE_0", "GIT_CONFIG_KEY_1",
                     "GIT_CONFIG_VALUE_1", "GIT_CONFIG_KEY_2", "GIT_CONFIG_VALUE_2"]
        let wrapped = Self.parseEnv(sandbox.run(wrap, ["--identity", "gh", "--", "env"]).stdout).filter { names.contains($0.key) }
        XCTAssertEqual(wrapped.count, names.count, "\(wrapped.keys)")

        let bash = sandbox.run("/bin/bash", ["-c", "eval \"$(\(wrap) --identity gh --print)\" && env"])
        XCTAssertEqual(bash.status, 0, bash.stderr)
        XCTAssertEqual(Self.parseEnv(bash.stdout).filter { names.contains($0.key) }, wrapped)

        let json = sandbox.run(wrap, ["--identity", "gh", "--print", "--format", "json"])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["set"] as? [String: String], wrapped)

        let dotenv = sandbox.run(wrap, ["--identity", "gh", "--print", "--format", "dotenv"])
        XCTAssertEqual(EnvWrapFrontendDotenv.parse(dotenv.stdout), wrapped)

        let githubEnv = sandbox.root + "/github_env"
        let github = sandbox.run(wrap, ["--identity", "gh", "--print", "--format", "github"], extraEnvironment: ["GITHUB_ENV": githubEnv])
        XCTAssertEqual(github.status, 0, github.stderr)
        XCTAssertEqual(github.stdout, "::add-mask::ghp_e2e_CANARY\n::add-mask::ghp_e2e_CANARY\n")
        XCTAssertTrue(sandbox.read(githubEnv).contains("\nghp_e2e_CANARY\n"))
    }

    static func parseEnv(_ text: String) -> [String: String] {
        var env: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            env[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return env
    }
}

/// The dotenv our --print writes, read back: single quotes literal, double quotes with \\ and \".
enum EnvWrapFrontendDotenv {
    static func parse(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            var raw = line[line.index(after: eq)...]
            let quote = raw.first
            raw = raw.dropFirst().dropLast()
            var value = ""
            var escaped = false
            for c in raw {
                if escaped || quote == "'" { value.append(c); escaped = false } else if c == "\\" { escaped = true } else { value.append(c) }
            }
            out[String(line[..<eq])] = value
        }
        return out
    }
}

/// A process started in the background, for signals and for reading output as it comes.
final class StartedProcess {
    let process = Process()
    private let output = Pipe()
    private var buffer: [UInt8] = []

    init(_ executable: String, _ arguments: [String], environment: [String: String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    func readLine(timeout: TimeInterval) -> String? {
        let fd = output.fileHandleForReading.fileDescriptor
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let newline = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { return nil }
            buffer += chunk[0..<n]
        }
        return nil
    }

    func remainingOutput() -> String {
        String(decoding: buffer + output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    /// Exit status, or the signal number and true when a signal ended it. Kills it after 15 s.
    func wait() -> (Int32, Bool) {
        let deadline = Date().addingTimeInterval(15)
        while process.isRunning && Date() < deadline { usleep(5000) }
        if process.isRunning {
            kill(pid, SIGKILL)
            XCTFail("process \(pid) did not exit")
        }
        process.waitUntilExit()
        return (process.terminationStatus, process.terminationReason == .uncaughtSignal)
    }

    deinit { if process.isRunning { kill(pid, SIGKILL) } }
}

/// AWS delivery against moto with signature checks on: terraform's s3 backend and boto3.
final class EnvWrapAWSTests: XCTestCase {
    static var moto: MotoServer!
    let wrap = Sandbox.executable("broker-env-wrap")
    var moto: MotoServer { Self.moto }

    /// moto's verifier re-encodes the query string it was handed, so terraform's correctly signed
    /// `ListObjectsV2 prefix=env%3A%2F` fails (TESTING.md). Fixtures/moto-raw-query hands it the
    /// query as it arrived on the wire; it is on PYTHONPATH only while this class's moto starts.
    override class func setUp() {
        super.setUp()
        let patch = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/moto-raw-query").path
        let previous = getenv("PYTHONPATH").map { String(cString: $0) }
        setenv("PYTHONPATH", patch + (previous.map { ":" + $0 } ?? ""), 1)
        defer { if let previous { setenv("PYTHONPATH", previous, 1) } else { unsetenv("PYTHONPATH") } }
        do { moto = try MotoServer() } catch { XCTFail("moto fixture: \(error)"); return }
        // With checks off for a moment: the role may use S3, and terraform's bucket exists.
        moto.setAuthentication(false)
        defer { moto.setAuthentication(true) }
        let script = """
            import boto3, json, sys
            admin = dict(endpoint_url=sys.argv[1], region_name="us-east-1",
                         aws_access_key_id="AKIAFIXTUREADMIN0000", aws_secret_access_key="fixture-admin-secret")
            s3 = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
            boto3.client("iam", **admin).put_role_policy(RoleName="first", PolicyName="s3", PolicyDocument=s3)
            boto3.client("s3", **admin).create_bucket(Bucket="tfstate")
            """
        let provision = Process()
        provision.executableURL = URL(fileURLWithPath: MotoServer.python)
        provision.arguments = ["-c", script, moto.motoEndpoint]
        provision.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
        try? provision.run()
        provision.waitUntilExit()
        if provision.terminationStatus != 0 { XCTFail("could not provision S3 in moto") }
    }

    override class func tearDown() {
        moto?.stop()
        moto = nil
        super.tearDown()
    }

    /// dev (user keys) → role (first, which may use S3), and nothing of AWS's in the environment
    /// except where moto is. S3 goes to moto directly: the counting proxy speaks GET and POST only.
    func roleSandbox(extra: String = "") -> Sandbox {
        let sandbox = Sandbox()
        let secretFile = sandbox.write("secrets/dev", moto.secretAccessKey + "\n")
        sandbox.writeConfig("""
            [identity "dev"]
                kind = aws/user
                access-key-id = \(moto.accessKeyID)
                secret-access-key = file:\(secretFile)
                sts-endpoint = \(moto.endpoint)
            [identity "role"]
                kind = aws/assume-role
                via = identity:dev
                role-arn = \(moto.firstRoleARN)
                sts-endpoint = \(moto.endpoint)
                region = us-east-1
            \(extra)
            """)
        sandbox.environment.merge(["AWS_ENDPOINT_URL_S3": moto.motoEndpoint, "AWS_ENDPOINT_URL_STS": moto.endpoint,
                                   "AWS_EC2_METADATA_DISABLED": "true", "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"]) { $1 }
        return sandbox
    }

    func events(_ sandbox: Sandbox, adapter: String, event: String = "issued") -> [[String: Any]] {
        sandbox.auditLines.filter { ($0["adapter"] as? String) == adapter && ($0["event"] as? String) == event }
    }

    // MARK: terraform

    func terraform(delivery: String?, identity: String = "role", in given: Sandbox? = nil,
                   file: StaticString = #filePath, line: UInt = #line) throws -> Sandbox {
        guard let terraform = onPath("terraform") else { throw XCTSkip("terraform is not installed") }
        let sandbox = given ?? roleSandbox()
        let key = "wrap-\(delivery ?? "default")-\(UInt32.random(in: 0...UInt32.max))"
        sandbox.write("tf/main.tf", """
            terraform {
              backend "s3" {
                bucket         = "tfstate"
                key            = "\(key)/terraform.tfstate"
                region         = "us-east-1"
                use_path_style = true
              }
            }
            resource "terraform_data" "x" { input = "hello-\(key)" }
            output "x" { value = terraform_data.x.output }

            """)
        let flags = delivery.map { ["--delivery", $0] } ?? []
        let chdir = "-chdir=\(sandbox.root)/tf"
        let initialized = sandbox.run(wrap, ["--identity", identity] + flags + ["--", terraform, chdir, "init", "-input=false", "-no-color"], timeout: 120)
        XCTAssertEqual(initialized.status, 0, initialized.stdout + initialized.stderr, file: file, line: line)
        let applied = sandbox.run(wrap, ["--identity", identity] + flags + ["--", terraform, chdir, "apply", "-auto-approve", "-input=false", "-no-color"],
                                  timeout: 120)
        XCTAssertEqual(applied.status, 0, applied.stdout + applied.stderr, file: file, line: line)
        XCTAssertTrue(applied.stdout.contains("x = \"hello-\(key)\""), applied.stdout, file: file, line: line)
        // The state went to S3: a fresh working directory reads it back.
        let listed = sandbox.run(wrap, ["--identity", identity] + flags + ["--", terraform, chdir, "state", "list"], timeout: 120)
        XCTAssertEqual(listed.stdout, "terraform_data.x\n", listed.stderr, file: file, line: line)
        return sandbox
    }

    func testTerraformInitAndApplyWithCredentialsOnlyFromTheEndpoint() throws {
        moto.resetCounts()
        let sandbox = try terraform(delivery: nil)
        let fetches = events(sandbox, adapter: "endpoint")
        XCTAssertGreaterThanOrEqual(fetches.count, 3, "terraform fetched from the endpoint in each of its three runs")
        XCTAssertTrue(events(sandbox, adapter: "aws").isEmpty, "no credential_process involved")
        XCTAssertGreaterThan(moto.counts()["GetCallerIdentity"] ?? 0, 0, "the s3 backend checked the credentials with STS")
    }

    func testTerraformWithEnvDelivery() throws {
        let sandbox = try terraform(delivery: "env")
        XCTAssertTrue(events(sandbox, adapter: "endpoint").isEmpty)
        XCTAssertTrue(events(sandbox, adapter: "env-wrap").contains { ($0["reason"] as? String) == "delivery=env" })
    }

    func testTerraformWithProfileDeliveryAndTheProfileIsRemovedAfterwards() throws {
        let sandbox = try terraform(delivery: "profile")
        XCTAssertFalse(events(sandbox, adapter: "aws").isEmpty, "terraform ran aws-credential-process from the generated profile")
        var leftovers: [String] = []
        for _ in 0..<40 {
            leftovers = ((try? FileManager.default.contentsOfDirectory(atPath: sandbox.paths.runtimeDirectory)) ?? []).filter { $0.hasSuffix(".aws-config") }
            if leftovers.isEmpty { break }
            usleep(50_000)
        }
        XCTAssertEqual(leftovers, [], "the generated profile dies with the command")
    }

    func testTheGeneratedProfileIsPrivateAndRunsTheAdapterByAbsolutePath() {
        let sandbox = roleSandbox()
        let result = sandbox.run(wrap, ["--identity", "role", "--delivery", "profile", "--", "sh", "-c",
                                        "stat -c %a \"$AWS_CONFIG_FILE\"; cat \"$AWS_CONFIG_FILE\"; echo profile=${AWS_PROFILE-unset}"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.hasPrefix("600\n"), result.stdout)
        XCTAssertTrue(result.stdout.contains("credential_process = \(Sandbox.executable("aws-credential-process")) --identity role"), result.stdout)
        XCTAssertTrue(result.stdout.contains("region = us-east-1"))
        XCTAssertTrue(result.stdout.hasSuffix("profile=unset\n"))
    }

    // MARK: the endpoint

    func testBoto3ThroughTheEndpointSeesTheRoleAndNoStaticKeys() {
        let sandbox = roleSandbox()
        let script = """
            import os, boto3
            print(sorted(k for k in os.environ if k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")))
            session = boto3.Session()
            print(session.get_credentials().method)
            print(session.client("sts").get_caller_identity()["Arn"])
            """
        let result = sandbox.run(wrap, ["--identity", "role", "--", MotoServer.python, "-c", script],
                                 extraEnvironment: ["AWS_ACCESS_KEY_ID": "AKIASTALE", "AWS_SECRET_ACCESS_KEY": "stale", "AWS_PROFILE": "stale"],
                                 timeout: 60)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout.split(separator: "\n").map(String.init),
                       ["[]", "container-role", "arn:aws:sts::\(moto.account):assumed-role/first/broker-user"].map { $0 })
    }

    /// Asks the endpoint from inside the wrapped command (right, wrong and no token), then from
    /// outside once the command has exited.
    func testTheEndpointRefusesWrongMissingAndDeadTokensWith403JSON() throws {
        let sandbox = roleSandbox()
        let script = """
            import json, os, urllib.request, urllib.error
            url, token = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"], os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
            def ask(headers):
                try:
                    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
                        return [r.status, json.loads(r.read())]
                except urllib.error.HTTPError as e:
                    return [e.code, json.loads(e.read())]
            print(json.dumps({"url": url, "token": token, "right": ask({"Authorization": token}),
                              "wrong": ask({"Authorization": "0" * len(token)}), "missing": ask({})}))
            """
        let result = sandbox.run(wrap, ["--identity", "role", "--", MotoServer.python, "-c", script], timeout: 60)
        XCTAssertEqual(result.status, 0, result.stderr)
        let answers = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let right = try XCTUnwrap(answers["right"] as? [Any])
        XCTAssertEqual(right[0] as? Int, 200)
        XCTAssertEqual(Set((right[1] as? [String: Any])?.keys ?? [:].keys), ["AccessKeyId", "SecretAccessKey", "Token", "Expiration"])
        for name in ["wrong", "missing"] {
            let answer = try XCTUnwrap(answers[name] as? [Any])
            XCTAssertEqual(answer[0] as? Int, 403, name)
            XCTAssertEqual((answer[1] as? [String: Any])?["code"] as? String, "AccessDenied", name)
        }
        let url = try XCTUnwrap(URL(string: answers["url"] as? String ?? ""))
        XCTAssertEqual(url.host, "127.0.0.1")
        let token = answers["token"] as? String ?? ""
        // The command has exited: the agent notices (pidfd) and the token dies.
        var status = 0
        var body: [String: Any] = [:]
        for _ in 0..<40 {
            (status, body) = Self.get(url, token: token)
            if status == 403 { break }
            usleep(50_000)
        }
        XCTAssertEqual(status, 403)
        XCTAssertEqual(body["code"] as? String, "AccessDenied")
        XCTAssertFalse(sandbox.read(sandbox.paths.agentLogPath).contains(token), "the token is a secret: never logged")
        XCTAssertFalse(sandbox.read(sandbox.paths.auditLogPath).contains(token))
    }

    func testTheEndpointIsStrictAboutWhatItReads() throws {
        let sandbox = roleSandbox()
        let script = """
            import os, socket, sys
            url, token = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"], os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
            port = int(url.split(":")[2].split("/")[0])
            def raw(data):
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(data)
                reply = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk: break
                    reply += chunk
                return reply.split(b" ")[1].decode()
            t = token.encode()
            print(raw(b"GET /credentials HTTP/1.1\\r\\nHost: 127.0.0.1:%d\\r\\nAuthorization: " % port + t + b"\\r\\n\\r\\n"))
            print(raw(b"POST /credentials HTTP/1.1\\r\\nAuthorization: " + t + b"\\r\\n\\r\\n"))
            print(raw(b"GET /other HTTP/1.1\\r\\nAuthorization: " + t + b"\\r\\n\\r\\n"))
            print(raw(b"GET /credentials HTTP/1.1\\nAuthorization: " + t + b"\\n\\n"))
            print(raw(b"GET /credentials HTTP/1.1\\r\\nAuthorization: " + t + b"\\r\\nAuthorization: x\\r\\n\\r\\n"))
            print(raw(b"GET /credentials HTTP/1.1\\r\\nContent-Length: 5\\r\\nAuthorization: " + t + b"\\r\\n\\r\\nhello"))
            print(raw(b"GET /credentials HTTP/1.1\\r\\nX: " + b"a" * 10000 + b"\\r\\n\\r\\n"))
            """
        let result = sandbox.run(wrap, ["--identity", "role", "--", MotoServer.python, "-c", script], timeout: 60)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "200\n405\n404\n400\n400\n400\n431\n")
    }

    /// A long run: boto3 keeps calling STS while the agent replaces the credentials under it.
    /// `[agent] refresh-ahead = 2h` makes the agent treat its one-hour role session as near expiry,
    /// so every endpoint request starts a background AssumeRole. botocore would come back to the
    /// endpoint only 15 minutes before expiry; the child widens that advisory window to the whole
    /// hour, so its own RefreshableCredentials fetch on every call through the same code path.
    func testBoto3CallsSTSAcrossCredentialRefreshesWithoutAnError() throws {
        let sandbox = roleSandbox(extra: "[agent]\n    refresh-ahead = 2h\n")
        let script = """
            import json, logging, time, boto3, botocore.credentials
            warnings = []
            class Catch(logging.Handler):
                def emit(self, record):
                    if record.levelno >= logging.WARNING: warnings.append(record.getMessage())
            logging.getLogger("botocore").addHandler(Catch())
            botocore.credentials.RefreshableCredentials._advisory_refresh_timeout = 3600
            sts = boto3.Session().client("sts")
            keys, errors, calls = [], [], 0
            deadline = time.time() + 6
            while time.time() < deadline:
                try:
                    sts.get_caller_identity()
                    calls += 1
                    keys.append(sts._request_signer._credentials.get_frozen_credentials().access_key)
                except Exception as e:
                    errors.append(repr(e))
                time.sleep(0.2)
            print(json.dumps({"calls": calls, "errors": errors, "keys": len(set(keys)), "warnings": warnings}))
            """
        let result = sandbox.run(wrap, ["--identity", "role", "--", MotoServer.python, "-c", script], timeout: 90)
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], result.stdout)
        XCTAssertEqual(report["errors"] as? [String], [])
        XCTAssertEqual(report["warnings"] as? [String], [], "botocore never failed a refresh")
        XCTAssertGreaterThan(report["calls"] as? Int ?? 0, 10)
        XCTAssertGreaterThanOrEqual(report["keys"] as? Int ?? 0, 2, "the child switched to fresh credentials mid-run")
        let refreshed = sandbox.auditLines.filter { ($0["event"] as? String) == "refreshed" && ($0["identity"] as? String) == "role" }
        XCTAssertGreaterThanOrEqual(refreshed.count, 1, "the agent refreshed the role mid-run")
        XCTAssertTrue(refreshed.allSatisfy { ($0["outcome"] as? String) == "ok" })
        XCTAssertGreaterThan(events(sandbox, adapter: "endpoint").count, 10, "each call fetched from the endpoint")
    }

    static func get(_ url: URL, token: String) -> (Int, [String: Any]) {
        var request = URLRequest(url: url, timeoutInterval: 5)
        request.setValue(token, forHTTPHeaderField: "Authorization")
        let done = DispatchSemaphore(value: 0)
        let box = Box()
        URLSession.shared.dataTask(with: request) { data, response, _ in
            box.value = ((response as? HTTPURLResponse)?.statusCode ?? 0,
                         (data.flatMap { try? JSONSerialization.jsonObject(with: $0) } as? [String: Any]) ?? [:])
            done.signal()
        }.resume()
        _ = done.wait(timeout: .now() + 10)
        return box.value
    }

    private final class Box: @unchecked Sendable { var value: (Int, [String: Any]) = (0, [:]) }
}
