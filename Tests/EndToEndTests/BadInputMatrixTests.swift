// Hostile input against every entry point — the three adapters, brokerctl and the raw agent socket —
// as one table: each row's exact answer, exit status, and proof that nothing on disk changed.

import BrokerWire
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class BadInputMatrixTests: XCTestCase {
    /// What a row may change on disk, relative to the sandbox root. Logs grow; nothing else moves.
    static let logs: Set<String> = ["state/credential-broker/agent.log", "state/credential-broker/audit.log"]

    struct Row {
        var name: String
        /// Runs the hostile input; may prepare its own sandbox state first.
        var run: (Sandbox) -> RawResult
        /// Breaks the sandbox before the snapshot is taken (isolated rows).
        var setup: (Sandbox) -> Void = { _ in }
        /// Paths besides the logs this row may change, relative to the sandbox root.
        var mayChange: Set<String> = []
        /// Gets a fresh sandbox (rows that break directories).
        var isolated = false
        var config: String? = nil
        /// The agent must still answer after the row (hostile upstreams must not take it down).
        var agentStaysUp = false
    }

    static let baseConfig = """
        [identity "bot"]
            kind = static
            username = u
            secret = env:BOT_TOKEN
        [identity "keys"]
            kind = aws/user
            access-key-id = AKIAEXAMPLE
            secret-access-key = env:BOT_TOKEN
            long-lived-keys = true
        [identity "rawkeys"]
            kind = aws/user
            access-key-id = AKIAEXAMPLE
            secret-access-key = env:BOT_TOKEN
        [git "https://example.com"]
            identity = bot

        """

    // MARK: drivers

    static func adapter(_ name: String, _ args: [String], _ stdin: [UInt8] = []) -> (Sandbox) -> RawResult {
        { $0.runRaw(Sandbox.executable(name), args, stdin: stdin, extraEnvironment: ["BOT_TOKEN": "hunter2"], timeout: 20) }
    }
    static func helper(_ args: [String], _ stdin: [UInt8]) -> (Sandbox) -> RawResult { adapter("git-credential-broker", args, stdin) }
    static func helper(_ args: [String], _ stdin: String) -> (Sandbox) -> RawResult { helper(args, Array(stdin.utf8)) }
    static func aws(_ args: [String]) -> (Sandbox) -> RawResult { adapter("aws-credential-process", args) }
    static func wrap(_ args: [String]) -> (Sandbox) -> RawResult { adapter("broker-env-wrap", args) }
    static func ctl(_ args: [String]) -> (Sandbox) -> RawResult { adapter("brokerctl", args) }
    static func docker(_ args: [String], _ stdin: String = "") -> (Sandbox) -> RawResult { adapter("docker-credential-broker", args, Array(stdin.utf8)) }
    static func kube(_ args: [String], execInfo: String) -> (Sandbox) -> RawResult {
        { $0.runRaw(Sandbox.executable("kube-credential-broker"), args, stdin: [],
                    extraEnvironment: ["BOT_TOKEN": "hunter2", "KUBERNETES_EXEC_INFO": execInfo], timeout: 20) }
    }

    /// Sends raw bytes to the agent socket (starting the agent first) and returns its answer as
    /// stdout; status 0 when it answered, 1 when it hung up without a word.
    static func socket(_ bytes: [UInt8]) -> (Sandbox) -> RawResult {
        { sandbox in
            _ = sandbox.agentPIDOrStart
            guard let fd = try? UnixSocket.connect(path: sandbox.paths.socketPath) else { return RawResult(status: 2, stdout: [], stderr: "no agent\n") }
            defer { fd.close() }
            UnixSocket.setTimeouts(fd, seconds: 5)
            _ = try? fd.writeAll(bytes)
            Glibc.shutdown(fd.rawValue, Int32(SHUT_WR))
            let answer = (try? fd.readAll(limit: 1 << 16)) ?? []
            return RawResult(status: answer.isEmpty ? 1 : 0, stdout: answer, stderr: "")
        }
    }
    static func socket(_ text: String) -> (Sandbox) -> RawResult { socket(Array(text.utf8)) }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
    static let get = "protocol=https\nhost=example.com\n\n"

    // MARK: the table

    static var rows: [Row] {
        let huge = String(repeating: "a", count: 70_000)
        var rows: [Row] = [
            // git-credential-broker: what git writes on its stdin
            Row(name: "git: line longer than 64 KiB", run: helper(["get"], "protocol=https\nhost=\(huge)\n\n")),
            Row(name: "git: message over 1 MiB", run: helper(["get"], "protocol=https\n" + String(repeating: "wwwauth[]=\(String(repeating: "b", count: 1000))\n", count: 1100) + "\n")),
            Row(name: "git: more than 4096 lines", run: helper(["get"], "protocol=https\nhost=example.com\n" + String(repeating: "wwwauth[]=x\n", count: 5000) + "\n")),
            Row(name: "git: truncated mid-line", run: helper(["get"], "protocol=https\nhost=exam")),
            Row(name: "git: empty stdin", run: helper(["get"], "")),
            Row(name: "git: NUL in a value", run: helper(["get"], [UInt8]("protocol=https\nhost=exa".utf8) + [0] + bytes("mple.com\n\n"))),
            Row(name: "git: NUL in a key", run: helper(["get"], [UInt8]("protocol=https\nho".utf8) + [0] + bytes("st=example.com\n\n"))),
            Row(name: "git: CR in a value", run: helper(["get"], "protocol=https\nhost=example.com\rinjected=1\n\n")),
            Row(name: "git: invalid UTF-8 in a value", run: helper(["get"], bytes("protocol=https\nhost=ex") + [0xff, 0xfe] + bytes(".com\n\n"))),
            Row(name: "git: line without =", run: helper(["get"], "protocol=https\ngarbage\n\n")),
            Row(name: "git: empty key", run: helper(["get"], "protocol=https\n=example.com\n\n")),
            Row(name: "git: duplicate host", run: helper(["get"], "protocol=https\nhost=example.com\nhost=evil.example\n\n")),
            Row(name: "git: no protocol", run: helper(["get"], "host=example.com\n\n")),
            Row(name: "git: traversal in path", run: helper(["get"], "protocol=https\nhost=example.com\npath=../../etc/passwd\n\n")),
            Row(name: "git: unknown operation", run: helper(["frobnicate"], get)),
            Row(name: "git: negative --timeout", run: helper(["--timeout", "-5", "store"], "protocol=https\nhost=h.example\nusername=u\npassword=p\n\n")),
            Row(name: "git: absurd --timeout", run: helper(["--timeout", "99999999999999999999999", "store"], "protocol=https\nhost=h.example\nusername=u\npassword=p\n\n")),
            Row(name: "git: LF smuggled in url=", run: helper(["get"], "url=https://example.com%0ahost=evil.example\n\n")),

            // aws-credential-process: argv from ~/.aws/config
            Row(name: "aws: identity ../x", run: aws(["--identity", "../x"])),
            Row(name: "aws: identity a/../../b", run: aws(["--identity", "a/../../b"])),
            Row(name: "aws: empty identity", run: aws(["--identity", ""])),
            Row(name: "aws: no identity", run: aws([])),
            Row(name: "aws: LF in identity", run: aws(["--identity", "keys\nx=1"])),
            Row(name: "aws: 70 KB identity", run: aws(["--identity", huge])),
            Row(name: "aws: unknown option", run: aws(["--identity", "keys", "--frob"])),
            Row(name: "aws: identity not defined", run: aws(["--identity", "nope"])),
            Row(name: "aws: identity of the wrong kind", run: aws(["--identity", "bot"])),
            Row(name: "aws: long-lived user keys without the opt-in", run: aws(["--identity", "rawkeys"])),

            // broker-env-wrap
            Row(name: "env-wrap: no command", run: wrap(["--identity", "bot"])),
            Row(name: "env-wrap: identity ../x", run: wrap(["--identity", "../x", "--", "true"])),
            Row(name: "env-wrap: unknown delivery", run: wrap(["--identity", "keys", "--delivery", "carrier-pigeon", "--", "true"])),
            Row(name: "env-wrap: unknown option", run: wrap(["--frob", "--", "true"])),

            // docker-credential-broker: what docker, podman and skopeo write
            Row(name: "docker: no action", run: docker([])),
            Row(name: "docker: unknown action", run: docker(["fetch"])),
            Row(name: "docker: empty server URL", run: docker(["get"], " \n")),
            Row(name: "docker: LF inside the server URL", run: docker(["get"], "r.example\nhost=evil")),
            Row(name: "docker: 70 KB server URL", run: docker(["get"], huge)),
            Row(name: "docker: store that is not JSON", run: docker(["store"], "{\"ServerURL\": ")),
            Row(name: "docker: store without a username", run: docker(["store"], #"{"ServerURL":"r.example","Secret":"hunter2"}"#)),
            Row(name: "docker: store with a non-string secret", run: docker(["store"], #"{"ServerURL":"r.example","Username":"u","Secret":42}"#)),

            // kube-credential-broker: KUBERNETES_EXEC_INFO from client-go
            Row(name: "kube: exec info that is not JSON", run: kube(["--identity", "bot"], execInfo: "{")),
            Row(name: "kube: exec info of an old version", run: kube(["--identity", "bot"], execInfo: #"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1alpha1"}"#)),
            Row(name: "kube: identity of the wrong kind", run: kube(["--identity", "bot"], execInfo: #"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":true}}"#)),

            // brokerctl
            Row(name: "brokerctl: unknown command", run: ctl(["frobnicate"])),
            Row(name: "brokerctl: logout a/../../b", run: ctl(["logout", "a/../../b"])),
            Row(name: "brokerctl: whoami ../x", run: ctl(["whoami", "../x"])),

            // the raw agent socket
            Row(name: "socket: no v=1", run: socket("op=ping\n\n")),
            Row(name: "socket: v=2", run: socket("v=2\nop=ping\n\n")),
            Row(name: "socket: unknown op", run: socket("v=1\nop=frobnicate\n\n")),
            Row(name: "socket: no op", run: socket("v=1\n\n")),
            Row(name: "socket: duplicate op (the first wins)", run: socket("v=1\nop=frobnicate\nop=ping\n\n")),
            Row(name: "socket: git.store with Int.max timeout", run: socket("v=1\nop=git.store\nprotocol=https\nhost=m.example\nusername=u\npassword=p\ntimeout=9223372036854775807\n\n")),
            Row(name: "socket: git.get after the Int.max store", run: socket("v=1\nop=git.get\nprotocol=https\nhost=m.example\n\n")),
            Row(name: "socket: line longer than 64 KiB", run: socket("v=1\nop=ping\nx=\(huge)\n\n")),
            Row(name: "socket: more than 4096 fields", run: socket("v=1\nop=ping\n" + String(repeating: "x=1\n", count: 5000) + "\n")),
            Row(name: "socket: truncated", run: socket("v=1\nop=pi")),
            Row(name: "socket: NUL in a value", run: socket(bytes("v=1\nop=git.get\nprotocol=https\nhost=a") + [0] + bytes("b\n\n"))),
            Row(name: "socket: invalid UTF-8", run: socket(bytes("v=1\nop=aws.credentials\nidentity=") + [0xc3, 0x28] + bytes("\n\n"))),
            Row(name: "socket: identity ../x", run: socket("v=1\nop=aws.credentials\nidentity=../x\n\n")),
            Row(name: "socket: logout a/../../b", run: socket("v=1\nop=identity.logout\nidentity=a/../../b\n\n")),
            Row(name: "socket: env.plan with a negative pid", run: socket("v=1\nop=env.plan\nidentity[]=bot\npid=-1\n\n")),
            Row(name: "socket: env.plan for pid 1", run: socket("v=1\nop=env.plan\nidentity[]=bot\npid=1\n\n")),
            Row(name: "socket: git.store with a negative timeout", run: socket("v=1\nop=git.store\nprotocol=https\nhost=n.example\nusername=u\npassword=p\ntimeout=-5\n\n")),
            Row(name: "socket: git.store with an absurd timeout", run: socket("v=1\nop=git.store\nprotocol=https\nhost=n.example\nusername=u\npassword=p\ntimeout=99999999999999999999\n\n")),
            Row(name: "socket: relative bin_dir", run: socket("v=1\nop=env.plan\nidentity[]=bot\npid=\(getpid())\nbin_dir=../../tmp\n\n")),
        ]
        rows += environmentRows
        rows += hostileUpstreamRows
        return rows
    }

    /// Fixtures/hostile_upstream.py, shared by every row that talks to it: its request token, the
    /// exchange's token and the remote secret all contain "hunter2", so the leak check covers them.
    static let hostile: PythonFixture? = try? PythonFixture("hostile_upstream.py", [
        "--request-token", "hunter2-request", "--sts-token", "ghs_hunter2sts", "--secret-value", "hunter2-remote", "--lifetime", "900",
    ])
    static var hostileBase: String { "http://127.0.0.1:\(hostile?.port ?? 9)" }

    /// An adapter run with the hostile upstream's address in its (and so the agent's) environment.
    static func upstream(_ name: String, _ args: [String], stdin: String = "", _ environment: [String: String] = [:]) -> (Sandbox) -> RawResult {
        { sandbox in
            var env = ["BOT_TOKEN": "hunter2", "ACTIONS_ID_TOKEN_REQUEST_URL": hostileBase + "/oidc/ok",
                       "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "hunter2-request",
                       "AWS_ENDPOINT_URL_SECRETS_MANAGER": hostileBase + "/aws", "AWS_ENDPOINT_URL_SSM": hostileBase + "/aws"]
            for (key, value) in environment { env[key] = value.replacingOccurrences(of: "HOSTILE", with: hostileBase) }
            return sandbox.runRaw(Sandbox.executable(name), args, stdin: Array(stdin.utf8), extraEnvironment: env, timeout: 30)
        }
    }

    /// #18's sources answering badly: the Actions OIDC endpoint, a github/sts exchange, Secrets
    /// Manager and SSM, and ambient variables that do not fit. Each gets a sentence and a hint,
    /// leaks nothing, and leaves the agent up.
    static var hostileUpstreamRows: [Row] {
        // swift-corelibs-foundation makes its URL cache's (empty) directories under XDG_CACHE_HOME
        // on a process's first HTTP request, though the agent's session has no URL cache.
        let spawned: Set<String> = ["run/agent.sock", "run/spawn.lock", "cache/org.swift.foundation.URLCache", "cache/org.swift.foundation.URLCache/broker-agent"]
        let execInfo = #"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#
        func oidc(_ mode: String) -> Row {
            Row(name: "oidc: \(mode)", run: { sandbox in
                upstream("kube-credential-broker", ["--identity", "job"],
                         ["ACTIONS_ID_TOKEN_REQUEST_URL": "HOSTILE/oidc/\(mode)", "KUBERNETES_EXEC_INFO": execInfo])(sandbox)
            }, mayChange: spawned, isolated: true, config: "[identity \"job\"]\n    kind = github/oidc\n    audience = octo-sts.test\n",
                agentStaysUp: true)
        }
        func sts(_ mode: String) -> Row {
            Row(name: "sts: \(mode)", run: upstream("git-credential-broker", ["get"], stdin: "protocol=https\nhost=sts.example\n\n"),
                mayChange: spawned, isolated: true, config: """
                    [identity "job"]
                        kind = github/oidc
                        audience = octo-sts.test
                    [identity "repo"]
                        kind = github/sts
                        via = identity:job
                        url = HOSTILE/sts/\(mode)
                        scope = acme/app
                        policy = ci
                    [git "https://sts.example"]
                        identity = repo

                    """, agentStaysUp: true)
        }
        func remote(_ reference: String) -> Row {
            Row(name: "remote secret: \(reference)", run: upstream("git-credential-broker", ["get"], stdin: "protocol=https\nhost=sm.example\n\n"),
                mayChange: spawned, isolated: true, config: """
                    [secrets]
                        aws-identity = keys
                        region = us-east-1
                    [identity "keys"]
                        kind = aws/user
                        access-key-id = AKIAEXAMPLE
                        secret-access-key = env:BOT_TOKEN
                        session-token = env:BOT_TOKEN
                    [identity "shared"]
                        kind = static
                        username = u
                        secret = \(reference)
                    [git "https://sm.example"]
                        identity = shared

                    """, agentStaysUp: true)
        }
        // The client secret contains "hunter2", and the hostile token endpoint quotes it back.
        func azure(_ mode: String) -> Row {
            Row(name: "azure token endpoint: \(mode)", run: { sandbox in
                upstream("kube-credential-broker", ["--identity", "arm"], ["KUBERNETES_EXEC_INFO": execInfo])(sandbox)
            }, mayChange: spawned, isolated: true, config: """
                    [identity "arm"]
                        kind = azure/client-secret
                        tenant-id = contoso.onmicrosoft.com
                        client-id = 0b5e3f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b
                        client-secret = env:BOT_TOKEN
                        authority = HOSTILE/azure/\(mode)

                    """, agentStaysUp: true)
        }
        // The ADC file's refresh token and client secret contain "hunter2"; the hostile endpoint quotes them back.
        func google(_ mode: String) -> Row {
            Row(name: "google token endpoint: \(mode)", run: upstream("git-credential-broker", ["get"], stdin: "protocol=https\nhost=source.example\n\n"),
                setup: { sandbox in
                    sandbox.write("secret", #"{"type":"authorized_user","client_id":"c.apps.googleusercontent.com","client_secret":"hunter2-client","refresh_token":"1//hunter2-refresh"}"#,
                                  mode: 0o600)
                }, mayChange: spawned, isolated: true, config: """
                    [identity "gcp"]
                        kind = gcp/adc
                        file = SECRET
                        token-uri = HOSTILE/google/\(mode)/token
                    [git "https://source.example"]
                        identity = gcp

                    """, agentStaysUp: true)
        }
        func ambient(_ name: String, _ identity: String, _ environment: [String: String]) -> Row {
            let job = ["CI": "true", "GITHUB_ACTIONS": "true"].merging(environment) { $1 }
            return Row(name: "ambient: \(name)", run: upstream("aws-credential-process", ["--identity", identity], job),
                       mayChange: spawned, isolated: true, config: "", agentStaysUp: true)
        }
        return ["status500", "badjson", "noexp", "expired", "crlf"].map(oidc)
            + ["missing", "crlf", "control", "huge", "echo"].map(sts)
            + ["aws-secretsmanager:malformed", "aws-secretsmanager:denied", "aws-secretsmanager:binary",
               "aws-ssm:/malformed", "aws-ssm:/denied", "aws-ssm:/missing"].map(remote)
            + ["badjson", "missing", "nan", "huge", "echo"].map(azure)
            + ["badjson", "missing", "nan", "huge", "invalid_grant", "html502"].map(google)
            + [
                ambient("request URL over plain http to another host", "gha-aws",
                        ["ACTIONS_ID_TOKEN_REQUEST_URL": "http://actions.example/token", "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/ci"]),
                ambient("request URL that is not a URL", "gha-aws",
                        ["ACTIONS_ID_TOKEN_REQUEST_URL": "::not a url::", "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/ci"]),
                ambient("role ARN with a newline", "gha-aws", ["AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/ci\nrole-arn = x"]),
                ambient("server URL with a newline", "gha-token",
                        ["GITHUB_TOKEN": "hunter2-job", "GITHUB_SERVER_URL": "https://git.example\n[identity \"x\"]"]),
                ambient("access key id with a CR", "ci-aws", ["AWS_ACCESS_KEY_ID": "AKIAEXAMPLE\r\nX", "AWS_SECRET_ACCESS_KEY": "hunter2-keys"]),
            ]
    }

    /// Rows that break the sandbox's directories or configuration: each gets its own sandbox.
    static var environmentRows: [Row] {
        let spawned: Set<String> = ["run/agent.sock", "run/spawn.lock"]
        func link(_ relative: String) -> (Sandbox) -> Void {
            { sandbox in
                mkdir(sandbox.root + "/elsewhere", 0o700)
                try? FileManager.default.removeItem(atPath: sandbox.root + "/" + relative)
                symlink(sandbox.root + "/elsewhere", sandbox.root + "/" + relative)
            }
        }
        return [
            Row(name: "dirs: socket dir is a symlink", run: helper(["get"], get), setup: link("run"), isolated: true),
            Row(name: "dirs: cache dir owned by uid 65534", run: aws(["--identity", "keys"]), setup: { sandbox in
                chown(sandbox.root + "/cache/credential-broker", 65534, 65534)
            }, mayChange: ["run/spawn.lock"], isolated: true),
            Row(name: "dirs: state dir is a symlink", run: aws(["--identity", "keys"]), setup: link("state/credential-broker"),
                mayChange: ["run/spawn.lock"], isolated: true),
            Row(name: "dirs: socket dir group-writable", run: helper(["get"], get), setup: { sandbox in
                chmod(sandbox.root + "/run", 0o770)
            }, isolated: true),
            Row(name: "dirs: socket dir owned by uid 65534", run: helper(["store"], "protocol=https\nhost=example.com\nusername=u\npassword=hunter2\n\n"),
                setup: { sandbox in chown(sandbox.root + "/run", 65534, 65534) }, isolated: true),
            Row(name: "config: env = LD_PRELOAD", run: ctl(["validate"]), isolated: true,
                config: "[identity \"bot\"]\n    kind = static\n    username = u\n    secret = env:BOT_TOKEN\n    env = GITHUB_TOKEN\n    env = LD_PRELOAD\n"),
            Row(name: "config: env = BASH_ENV", run: ctl(["validate"]), isolated: true,
                config: "[identity \"bot\"]\n    kind = static\n    username = u\n    secret = env:BOT_TOKEN\n    env = BASH_ENV\n"),
            Row(name: "config: include loop", run: ctl(["validate"]), setup: { sandbox in
                sandbox.write("config/credential-broker/a", "[include]\n    path = b\n")
                sandbox.write("config/credential-broker/b", "[include]\n    path = a\n")
            }, isolated: true, config: "[include]\n    path = a\n"),
            Row(name: "config: group-writable config file", run: ctl(["validate"]), setup: { sandbox in
                chmod(sandbox.configPath, 0o660)
            }, isolated: true),
            Row(name: "config: config file owned by uid 65534", run: helper(["get"], get), setup: { sandbox in
                chown(sandbox.configPath, 65534, 65534)
            }, mayChange: spawned, isolated: true),
            Row(name: "config: include owned by uid 65534", run: ctl(["validate"]), setup: { sandbox in
                chown(sandbox.write("config/credential-broker/other", "[agent]\n    idle-timeout = 1m\n"), 65534, 65534)
            }, isolated: true, config: "[agent]\n    idle-timeout = 2m\n[include]\n    path = other\n"),
            Row(name: "config: world-writable config directory", run: aws(["--identity", "keys"]), setup: { sandbox in
                chmod(sandbox.root + "/config/credential-broker", 0o777)
            }, mayChange: spawned, isolated: true),
            Row(name: "config: shell text in a git URL", run: ctl(["git-setup", "--global"]), isolated: true,
                config: "[identity \"bot\"]\n    kind = static\n    username = u\n    secret = env:T\n[git \"https://x';id>pwned;'.example.com/acme\"]\n    identity = bot\n"),
            Row(name: "git: dot segments climb out of a path-bound rule", run: helper(["get"], "protocol=https\nhost=example.com\npath=acme/%2e%2e/evil/repo.git\n\n"),
                mayChange: spawned, isolated: true,
                config: "[identity \"acme\"]\n    kind = static\n    username = acme\n    secret = env:BOT_TOKEN\n[git \"https://example.com/acme\"]\n    identity = acme\n"),
            Row(name: "brokerctl: audit target with escape sequences", run: ctl(["audit"]), setup: { sandbox in
                sandbox.write("state/credential-broker/audit.log", #"{"time":"2026-12-05T10:00:00Z","event":"issued","outcome":"ok","identity":"bot","adapter":"git","caller":{"pid":7,"exe":"/usr/bin/git"},"target":"https://example.com/\u001b]0;owned\u0007\u001b[2J\n\u009b.git"}"# + "\n")
            }, isolated: true),
            Row(name: "config: 10 000 identities", run: ctl(["validate"]), isolated: true,
                config: (0..<10_000).map { "[identity \"id\($0)\"]\n    kind = static\n    username = u\n    secret = env:T\n" }.joined()),
            Row(name: "config: identity name with ..", run: ctl(["validate"]), isolated: true,
                config: "[identity \"a/../../b\"]\n    kind = static\n    username = u\n    secret = env:T\n"),
            Row(name: "config: invalid UTF-8", run: ctl(["validate"]), setup: { sandbox in
                FileManager.default.createFile(atPath: sandbox.configPath, contents: Data(bytes("[identity \"") + [0xff] + bytes("\"]\n    kind = static\n")))
                chmod(sandbox.configPath, 0o600)
            }, isolated: true),
            Row(name: "config: 0644 secret file", run: helper(["get"], get), setup: { sandbox in
                sandbox.write("secret", "hunter2\n", mode: 0o644)
            }, mayChange: spawned, isolated: true,
                config: "[identity \"bot\"]\n    kind = static\n    username = u\n    secret = file:SECRET\n[git \"https://example.com\"]\n    identity = bot\n"),
            Row(name: "cache: entry under a wrong key", run: aws(["--identity", "keys"]), setup: { sandbox in
                sandbox.write(String(sandbox.paths.cacheEntriesDirectory.dropFirst(sandbox.root.count + 1)) + "/not-a-key.cred", "v=1\nkey=bogus\n\n")
            }, mayChange: spawned.union(["cache/credential-broker/entries/not-a-key.cred"]), isolated: true),
        ]
    }

    // MARK: the test

    func testHostileInputsGetExactErrorsAndChangeNothing() throws {
        let record = ProcessInfo.processInfo.environment["BAD_INPUT_RECORD"]
        var recorded: [[String: Any]] = []
        let shared = Sandbox()
        shared.writeConfig(Self.baseConfig)
        _ = shared.agentPIDOrStart
        let rows = Self.rows
        XCTAssertGreaterThanOrEqual(rows.count, 40)
        XCTAssertNotNil(Self.hostile, "Fixtures/hostile_upstream.py started")
        XCTAssertEqual(Set(rows.map(\.name)).count, rows.count, "row names are unique")
        for row in rows {
            let sandbox = row.isolated ? Sandbox() : shared
            if row.isolated {
                sandbox.writeConfig((row.config ?? Self.baseConfig).replacingOccurrences(of: "SECRET", with: sandbox.root + "/secret")
                    .replacingOccurrences(of: "HOSTILE", with: Self.hostileBase))
                // The private directories an agent would have made, so the row starts from a used world.
                for dir in ["run", "cache", "cache/credential-broker", "cache/credential-broker/entries", "state", "state/credential-broker"] {
                    mkdir(sandbox.root + "/" + dir, 0o700)
                }
                row.setup(sandbox)
            }
            let before = Self.snapshot(sandbox)
            let result = row.run(sandbox)
            let after = Self.snapshot(sandbox)
            let changed = Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }
            let unexpected = changed.subtracting(Self.logs).subtracting(row.mayChange)
            let stdout = Self.normalized(String(decoding: result.stdout, as: UTF8.self), sandbox)
            let stderr = Self.normalized(result.stderr, sandbox)
            if row.agentStaysUp && record != nil && sandbox.agentPID == nil { recorded.append(["name": row.name, "agent": "down"]) }
            if record != nil {
                recorded.append(["name": row.name, "status": Int(result.status), "stdout": stdout, "stderr": stderr,
                                 "changed": unexpected.sorted()])
                continue
            }
            guard let expected = Self.expected[row.name] else { XCTFail("\(row.name): no expectation"); continue }
            XCTAssertEqual(result.status, expected.status, "\(row.name): exit status")
            XCTAssertEqual(stdout, expected.stdout, "\(row.name): stdout")
            XCTAssertEqual(stderr, expected.stderr, "\(row.name): stderr")
            XCTAssertEqual(unexpected, [], "\(row.name): changed on disk")
            XCTAssertFalse(stderr.contains("hunter2") || Self.read(sandbox, Self.logs).contains("hunter2"), "\(row.name): a secret leaked")
            if row.agentStaysUp { XCTAssertNotNil(sandbox.agentPID, "\(row.name): the agent stays up") }
        }
        if let record {
            let data = try JSONSerialization.data(withJSONObject: recorded, options: [.prettyPrinted, .sortedKeys])
            FileManager.default.createFile(atPath: record, contents: data)
        }
    }

    // MARK: support

    struct FileState: Equatable { var size: Int64; var mode: mode_t; var uid: uid_t; var mtime: Int; var mtimeNanos: Int; var link: String? }

    /// Names, sizes, modes, owners and mtimes of everything under cache, state and run.
    static func snapshot(_ sandbox: Sandbox) -> [String: FileState] {
        var found: [String: FileState] = [:]
        func walk(_ relative: String) {
            let path = sandbox.root + "/" + relative
            var st = stat()
            guard lstat(path, &st) == 0 else { return }
            let link = (st.st_mode & S_IFMT) == S_IFLNK ? (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) : nil
            // A directory's mtime moves when the spawn lock or socket come and go; its entries say what changed.
            let isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
            found[relative] = FileState(size: isDirectory ? 0 : Int64(st.st_size), mode: st.st_mode, uid: st.st_uid,
                                        mtime: isDirectory ? 0 : st.st_mtim.tv_sec, mtimeNanos: isDirectory ? 0 : st.st_mtim.tv_nsec, link: link)
            guard isDirectory else { return }
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] { walk(relative + "/" + name) }
        }
        for top in ["cache", "state", "run"] { walk(top) }
        return found
    }

    static func read(_ sandbox: Sandbox, _ relatives: Set<String>) -> String {
        relatives.map { sandbox.read(sandbox.root + "/" + $0) }.joined()
    }

    /// The sandbox's temporary root reads as $ROOT; this process's pid as $PID.
    static func normalized(_ text: String, _ sandbox: Sandbox) -> String {
        text.replacingOccurrences(of: sandbox.root, with: "$ROOT").replacingOccurrences(of: "pid \(getpid())", with: "pid $PID")
            .replacingOccurrences(of: "127.0.0.1:\(hostile?.port ?? -1)", with: "127.0.0.1:$PORT")
    }
}

extension Sandbox {
    /// Starts the agent if needed, through an adapter so it inherits this sandbox's environment.
    var agentPIDOrStart: Int32? {
        if let pid = agentPID { return pid }
        runRaw(Self.executable("git-credential-broker"), ["get"], stdin: Array("protocol=https\nhost=start.invalid\n\n".utf8),
               extraEnvironment: ["BOT_TOKEN": "hunter2"])
        return agentPID
    }
}

extension BadInputMatrixTests {
    typealias Expectation = (status: Int32, stdout: String, stderr: String)
    /// Regenerate with BAD_INPUT_RECORD=/tmp/rows.json, then read every changed line before accepting it.
    static let expected: [String: Expectation] = [
        "git: line longer than 64 KiB": (1, "",
              "git-credential-broker: line longer than 65535 bytes\n"),
        "git: message over 1 MiB": (1, "",
              "git-credential-broker: message larger than 1048576 bytes\n"),
        "git: more than 4096 lines": (1, "",
              "git-credential-broker: too many lines (more than 4096)\n"),
        "git: truncated mid-line": (0, "",
              ""),
        "git: empty stdin": (1, "",
              "git-credential-broker: input has no protocol= line\n"),
        "git: NUL in a value": (1, "",
              "git-credential-broker: value for \"host\" contains a NUL byte\n"),
        "git: NUL in a key": (1, "",
              "git-credential-broker: key \"ho\\x00st\" contains a control character\n"),
        "git: CR in a value": (1, "",
              "git-credential-broker: value for \"host\" contains a carriage return\n"),
        "git: invalid UTF-8 in a value": (1, "",
              "git-credential-broker: value for \"host\" is not valid UTF-8\n"),
        "git: line without =": (1, "",
              "git-credential-broker: malformed line 2 (7 bytes) has no '='\n"),
        "git: empty key": (1, "",
              "git-credential-broker: malformed line: empty or invalid key\n"),
        "git: duplicate host": (0, "",
              ""),
        "git: no protocol": (1, "",
              "git-credential-broker: input has no protocol= line\n"),
        "git: traversal in path": (0, "username=u\npassword=hunter2\n",
              ""),
        "git: unknown operation": (0, "",
              ""),
        "git: negative --timeout": (64, "",
              "git-credential-broker: --timeout takes a whole number of seconds, not \"-5\"; usage: git-credential-broker [--timeout=SECONDS] [--socket-dir DIR] (get|store|erase|capability)\n"),
        "git: absurd --timeout": (64, "",
              "git-credential-broker: --timeout takes a whole number of seconds, not \"99999999999999999999999\"; usage: git-credential-broker [--timeout=SECONDS] [--socket-dir DIR] (get|store|erase|capability)\n"),
        "git: LF smuggled in url=": (1, "",
              "git-credential-broker: input has no protocol= line\n"),
        "aws: identity ../x": (1, "",
              "aws-credential-process: identity \"../x\" is not defined in $ROOT/config/credential-broker/config (hint: run `brokerctl list` to see the identities)\n"),
        "aws: identity a/../../b": (1, "",
              "aws-credential-process: identity \"a/../../b\" is not defined in $ROOT/config/credential-broker/config (hint: run `brokerctl list` to see the identities)\n"),
        "aws: empty identity": (64, "",
              "aws-credential-process: --identity needs a value; usage: aws-credential-process [--identity NAME] [--socket-dir DIR]\n"),
        "aws: no identity": (64, "",
              "aws-credential-process: no identity given (hint: pass --identity NAME or set BROKER_IDENTITY); usage: aws-credential-process [--identity NAME] [--socket-dir DIR]\n"),
        "aws: LF in identity": (1, "",
              "aws-credential-process: value for \"identity\" contains a newline, carriage return or NUL byte\n"),
        "aws: 70 KB identity": (1, "",
              "aws-credential-process: bad request: line longer than 65535 bytes\n"),
        "aws: unknown option": (64, "",
              "aws-credential-process: unexpected argument --frob; usage: aws-credential-process [--identity NAME] [--socket-dir DIR]\n"),
        "aws: identity not defined": (1, "",
              "aws-credential-process: identity \"nope\" is not defined in $ROOT/config/credential-broker/config (hint: run `brokerctl list` to see the identities)\n"),
        "aws: identity of the wrong kind": (1, "",
              "aws-credential-process: identity \"bot\" (kind static) does not give AWS credentials (hint: use an identity of kind aws/user, aws/credentials, aws/assume-role, aws/web-identity, aws/permission-set or aws/saml)\n"),
        "env-wrap: no command": (64, "",
              "broker-env-wrap: no command given; usage: broker-env-wrap [--identity NAME]... [--delivery endpoint|env|profile|file] [--nested] [--socket-dir DIR] [--] COMMAND [ARG...]\n       broker-env-wrap [--identity NAME]... [--delivery endpoint|env|profile|file] --print [--format bash|fish|dotenv|json|github]\n"),
        "env-wrap: identity ../x": (1, "",
              "broker-env-wrap: identity \"../x\" is not defined in $ROOT/config/credential-broker/config (hint: run `brokerctl list` to see the identities)\n"),
        "env-wrap: unknown delivery": (64, "",
              "broker-env-wrap: --delivery must be endpoint, env, profile or file, not carrier-pigeon; usage: broker-env-wrap [--identity NAME]... [--delivery endpoint|env|profile|file] [--nested] [--socket-dir DIR] [--] COMMAND [ARG...]\n       broker-env-wrap [--identity NAME]... [--delivery endpoint|env|profile|file] --print [--format bash|fish|dotenv|json|github]\n"),
        "env-wrap: unknown option": (64, "",
              "broker-env-wrap: unknown option --frob; usage: broker-env-wrap [--identity NAME]... [--delivery endpoint|env|profile|file] [--nested] [--socket-dir DIR] [--] COMMAND [ARG...]\n       broker-env-wrap [--identity NAME]... [--delivery endpoint|env|profile|file] --print [--format bash|fish|dotenv|json|github]\n"),
        "docker: no action": (64, "",
              "docker-credential-broker: no action given; usage: docker-credential-broker [--socket-dir DIR] (get|store|erase|list|version)\n"),
        "docker: unknown action": (64, "",
              "docker-credential-broker: unknown action: fetch; usage: docker-credential-broker [--socket-dir DIR] (get|store|erase|list|version)\n"),
        "docker: empty server URL": (1, "no credentials server URL\n",
              ""),
        "docker: LF inside the server URL": (1, "docker-credential-broker: the server URL holds control characters\n",
              ""),
        "docker: 70 KB server URL": (1, "docker-credential-broker: input larger than 65536 bytes\n",
              ""),
        "docker: store that is not JSON": (1, "docker-credential-broker: store input is not JSON: unexpected end at byte 14\n",
              ""),
        "docker: store without a username": (1, "no credentials username\n",
              ""),
        "docker: store with a non-string secret": (1, "docker-credential-broker: store input's Secret is not a string\n",
              ""),
        "kube: exec info that is not JSON": (1, "",
              "kube-credential-broker: KUBERNETES_EXEC_INFO is not JSON: expected a member name at byte 1\n"),
        "kube: exec info of an old version": (1, "",
              "kube-credential-broker: KUBERNETES_EXEC_INFO asks for apiVersion client.authentication.k8s.io/v1alpha1, which this plugin does not speak (hint: set the kubeconfig exec stanza's apiVersion to client.authentication.k8s.io/v1 or v1beta1)\n"),
        "kube: identity of the wrong kind": (1, "",
              "kube-credential-broker: identity \"bot\": its kind gives password credentials, not a bearer token a cluster accepts (hint: use an identity of kind aws/eks, github/oidc, azure/client-secret, azure/client-certificate, azure/oidc, azure/subscription or azure/cli)\n"),
        "brokerctl: unknown command": (64, "",
              "brokerctl: unknown command \"frobnicate\"\nusage: brokerctl [--config FILE] [--profile NAME] SUBCOMMAND [ARGUMENTS]\n"),
        "brokerctl: logout a/../../b": (1, "",
              "brokerctl: identity \"a/../../b\" is not defined in $ROOT/config/credential-broker/config (hint: run `brokerctl list` to see the identities)\n"),
        "brokerctl: whoami ../x": (1, "",
              "brokerctl: identity \"../x\" is not defined in $ROOT/config/credential-broker/config (hint: run `brokerctl list` to see the identities)\n"),
        "socket: no v=1": (0, "status=error\nkind=input\nerror=unsupported protocol version (none)\nhint=the adapter and broker-agent come from different releases; run `brokerctl stop`\n\n",
              ""),
        "socket: v=2": (0, "status=error\nkind=input\nerror=unsupported protocol version 2\nhint=the adapter and broker-agent come from different releases; run `brokerctl stop`\n\n",
              ""),
        "socket: unknown op": (0, "status=error\nkind=input\nerror=unknown operation \"frobnicate\"\n\n",
              ""),
        "socket: no op": (0, "status=error\nkind=input\nerror=unknown operation \"\"\n\n",
              ""),
        "socket: duplicate op (the first wins)": (0, "status=error\nkind=input\nerror=unknown operation \"frobnicate\"\n\n",
              ""),
        "socket: git.store with Int.max timeout": (0, "status=ok\n\n",
              ""),
        "socket: git.get after the Int.max store": (0, "status=ok\ncapability[]=authtype\nusername=u\npassword=p\n\n",
              ""),
        "socket: line longer than 64 KiB": (0, "status=error\nkind=input\nerror=bad request: line longer than 65535 bytes\n\n",
              ""),
        "socket: more than 4096 fields": (0, "status=error\nkind=input\nerror=bad request: too many lines (more than 4096)\n\n",
              ""),
        "socket: truncated": (0, "status=error\nkind=input\nerror=bad request: request ended before its blank line (the client closed the connection mid-request)\n\n",
              ""),
        "socket: NUL in a value": (0, "status=error\nkind=input\nerror=bad request: value for \"host\" contains a NUL byte\n\n",
              ""),
        "socket: invalid UTF-8": (0, "status=error\nkind=input\nerror=bad request: value for \"identity\" is not valid UTF-8\n\n",
              ""),
        "socket: identity ../x": (0, "status=error\nkind=denied\nerror=identity \"../x\" is not defined in $ROOT/config/credential-broker/config\nhint=run `brokerctl list` to see the identities\n\n",
              ""),
        "socket: logout a/../../b": (0, "status=error\nkind=denied\nerror=identity \"a/../../b\" is not defined in $ROOT/config/credential-broker/config\nhint=run `brokerctl list` to see the identities\n\n",
              ""),
        "socket: env.plan with a negative pid": (0, "status=error\nkind=input\nerror=request carries no pid\n\n",
              ""),
        "socket: env.plan for pid 1": (0, "status=error\nkind=input\nerror=request carries no pid\n\n",
              ""),
        "socket: git.store with a negative timeout": (0, "status=ok\n\n",
              ""),
        "socket: git.store with an absurd timeout": (0, "status=ok\n\n",
              ""),
        "socket: relative bin_dir": (0, "status=error\nkind=input\nerror=bin_dir must be an absolute path without quotes\n\n",
              ""),
        "dirs: socket dir is a symlink": (1, "",
              "git-credential-broker: socket directory $ROOT/run is a symbolic link; refusing to use it (hint: rm $ROOT/run and let credential-broker create the directory)\n"),
        "dirs: cache dir owned by uid 65534": (1, "",
              "aws-credential-process: broker-agent: $ROOT/cache/credential-broker is owned by uid 65534, not by you (uid 0) (hint: remove it or point XDG_RUNTIME_DIR/XDG_CACHE_HOME elsewhere) (hint: see $ROOT/state/credential-broker/agent.log)\n"),
        "dirs: state dir is a symlink": (1, "",
              "aws-credential-process: broker-agent: $ROOT/state/credential-broker is a symbolic link; refusing to keep credentials behind it (hint: remove the link and let credential-broker create the directory) (hint: see $ROOT/state/credential-broker/agent.log)\n"),
        "dirs: socket dir group-writable": (1, "",
              "git-credential-broker: socket directory $ROOT/run is accessible by group or others (mode 0770) (hint: chmod 0700 $ROOT/run)\n"),
        "dirs: socket dir owned by uid 65534": (1, "",
              "git-credential-broker: socket directory $ROOT/run is owned by uid 65534, not you (uid 0) (hint: use a private directory: unset BROKER_SOCKET_DIR, or rm -rf $ROOT/run)\n"),
        "config: env = LD_PRELOAD": (1, "",
              "brokerctl: $ROOT/config/credential-broker/config:6: env = LD_PRELOAD would change how shells, the dynamic loader or git run programs; the broker refuses to set it (hint: pick a name the tool reads its token from, e.g. GITHUB_TOKEN)\n"),
        "config: env = BASH_ENV": (1, "",
              "brokerctl: $ROOT/config/credential-broker/config:5: env = BASH_ENV would change how shells, the dynamic loader or git run programs; the broker refuses to set it (hint: pick a name the tool reads its token from, e.g. GITHUB_TOKEN)\n"),
        "config: include loop": (1, "",
              "brokerctl: $ROOT/config/credential-broker/b:2: include cycle: $ROOT/config/credential-broker/a -> $ROOT/config/credential-broker/b -> $ROOT/config/credential-broker/a (hint: remove one of these includes)\n"),
        "aws: long-lived user keys without the opt-in": (1, "",
              "aws-credential-process: identity \"rawkeys\" would hand out long-lived IAM user keys (hint: set get-session-token = true under [identity \"rawkeys\"] to hand out a session instead, or long-lived-keys = true to accept the risk)\n"),
        "config: group-writable config file": (1, "",
              "brokerctl: config file $ROOT/config/credential-broker/config is writable by group or others (hint: chmod go-w $ROOT/config/credential-broker/config)\n"),
        "config: config file owned by uid 65534": (1, "",
              "git-credential-broker: config file $ROOT/config/credential-broker/config is owned by uid 65534, not by you (uid 0) or root (hint: chown 0 $ROOT/config/credential-broker/config)\n"),
        "config: include owned by uid 65534": (1, "",
              "brokerctl: $ROOT/config/credential-broker/config:4: included file $ROOT/config/credential-broker/other is owned by uid 65534, not by you (uid 0) or root (hint: chown 0 $ROOT/config/credential-broker/other)\n"),
        "config: world-writable config directory": (1, "",
              "aws-credential-process: directory $ROOT/config/credential-broker above config file $ROOT/config/credential-broker/config is writable by group or others (hint: chmod go-w $ROOT/config/credential-broker)\n"),
        "config: shell text in a git URL": (1, "",
              "brokerctl: $ROOT/config/credential-broker/config:6: git binding \"https://x';id>pwned;'.example.com/acme\" has a bad host (hint: a host is a DNS name or an IP address, optionally after a single *. label)\n"),
        "git: dot segments climb out of a path-bound rule": (0, "",
              ""),
        "brokerctl: audit target with escape sequences": (0, "TIME                  EVENT   OUTCOME  IDENTITY  ADAPTER  CALLER  TARGET\n2026-12-05T10:00:00Z  issued  ok       bot       git      git[7]  https://example.com/\\x1b]0;owned\\x07\\x1b[2J\\x0a\\x9b.git\n",
              ""),
        "config: 10 000 identities": (0, "$ROOT/config/credential-broker/config: ok (10000 identities, 0 git bindings)\n",
              "brokerctl: warning: $ROOT/config/credential-broker/config:4: environment variable T (env:T) is not set in this environment, which broker-agent inherits when a request from here starts it (used by 10000 identities (\"id0\", …)) (hint: export T in the environment git and the AWS tools run in)\n"),
        "config: identity name with ..": (1, "",
              "brokerctl: $ROOT/config/credential-broker/config:1: name \"a/../../b\" may hold only letters, digits, '-', '_', '.', '/', and may neither start with '.' nor contain '..'\n"),
        "config: invalid UTF-8": (1, "",
              "brokerctl: config file $ROOT/config/credential-broker/config is not valid utf-8\n"),
        "config: 0644 secret file": (1, "",
              "git-credential-broker: identity \"bot\": secret file $ROOT/secret is readable by group or others (hint: chmod 600 $ROOT/secret)\n"),
        "cache: entry under a wrong key": (0, "{\"Version\":1,\"AccessKeyId\":\"AKIAEXAMPLE\",\"SecretAccessKey\":\"hunter2\"}\n",
              ""),
        "azure token endpoint: badjson": (1, "",
              "kube-credential-broker: identity \"arm\": the Microsoft identity platform's answer could not be used: it is not a JSON object\n"),
        "azure token endpoint: missing": (1, "",
              "kube-credential-broker: identity \"arm\": the Microsoft identity platform's answer could not be used: it has no access_token\n"),
        "azure token endpoint: nan": (1, "",
              "kube-credential-broker: identity \"arm\": the Microsoft identity platform's answer could not be used: its expires_in is not a number of seconds between 1 and 86400\n"),
        "azure token endpoint: huge": (1, "",
              "kube-credential-broker: identity \"arm\": the Microsoft identity platform's answer could not be used: its access_token is not printable ASCII of at most 16 KiB\n"),
        "azure token endpoint: echo": (1, "",
              "kube-credential-broker: identity \"arm\": the Microsoft identity platform answered HTTP 400: invalid_client: AADSTS7000215: Invalid client secret provided: <redacted> (hint: check client-id and the secret or certificate: is it current, and registered on that app?)\n"),
        "google token endpoint: badjson": (1, "",
              "git-credential-broker: identity \"gcp\": Google's token endpoint answered HTTP 200 with something that is not a JSON object (hint: this is not what Google's token endpoints answer; check the identity's endpoint setting (token-uri, sts-endpoint, the key's token_uri))\n"),
        "google token endpoint: missing": (1, "",
              "git-credential-broker: identity \"gcp\": Google's token endpoint answered without an access_token (hint: this is not what Google's token endpoints answer; check the identity's endpoint setting (token-uri, sts-endpoint, the key's token_uri))\n"),
        "google token endpoint: nan": (1, "",
              "git-credential-broker: identity \"gcp\": Google's token endpoint answered with an expires_in that is not a positive number of seconds (hint: this is not what Google's token endpoints answer; check the identity's endpoint setting (token-uri, sts-endpoint, the key's token_uri))\n"),
        "google token endpoint: huge": (1, "",
              "git-credential-broker: identity \"gcp\": Google's token endpoint answered with a token longer than 16 KiB (hint: this is not what Google's token endpoints answer; check the identity's endpoint setting (token-uri, sts-endpoint, the key's token_uri))\n"),
        "google token endpoint: invalid_grant": (1, "",
              "git-credential-broker: identity \"gcp\": Google's token endpoint refused: invalid_grant: Token has been expired or revoked: <redacted> (hint: the key or refresh token is revoked, expired or for another token endpoint; make a new one)\n"),
        "google token endpoint: html502": (1, "",
              "git-credential-broker: identity \"gcp\": Google's token endpoint answered HTTP 502 without an OAuth error (the body is not JSON) (hint: the service, or a proxy on the way to it, is failing; retry later)\n"),
        "oidc: status500": (1, "",
              "kube-credential-broker: identity \"job\": GitHub's OIDC endpoint answered HTTP 500 without a token (hint: GitHub's service may be failing; retry the job)\n"),
        "oidc: badjson": (1, "",
              "kube-credential-broker: identity \"job\": GitHub's OIDC endpoint answered HTTP 200 without a token (hint: the answer is not {\"value\": JWT}; check that ACTIONS_ID_TOKEN_REQUEST_URL is the runner's)\n"),
        "oidc: noexp": (1, "",
              "kube-credential-broker: identity \"job\": GitHub's OIDC endpoint answered with a token that has no exp claim; it was not used (hint: an ID token must say when it expires; check that ACTIONS_ID_TOKEN_REQUEST_URL is the runner's)\n"),
        "oidc: expired": (1, "",
              "kube-credential-broker: identity \"job\": GitHub's OIDC endpoint answered with a token that has already expired; it was not used (hint: check this machine's clock: the token's exp is before its now)\n"),
        "oidc: crlf": (1, "",
              "kube-credential-broker: identity \"job\": GitHub's OIDC endpoint answered with a token that is not a JWT (three base64url parts, at most 16 KiB); it was not used (hint: check that ACTIONS_ID_TOKEN_REQUEST_URL is the runner's)\n"),
        "sts: missing": (1, "",
              "git-credential-broker: identity \"repo\": the token exchange at http://127.0.0.1:$PORT/sts/missing answered HTTP 200 without a token (hint: check that url points at an octo-sts compatible service)\n"),
        "sts: crlf": (1, "",
              "git-credential-broker: identity \"repo\": the token exchange at http://127.0.0.1:$PORT/sts/crlf answered with a token that holds spaces, control characters or non-ASCII bytes, or is longer than 1024 bytes; it was not used (hint: report it to the service's operator: a GitHub token is printable ASCII)\n"),
        "sts: control": (1, "",
              "git-credential-broker: identity \"repo\": the token exchange at http://127.0.0.1:$PORT/sts/control answered with a token that holds spaces, control characters or non-ASCII bytes, or is longer than 1024 bytes; it was not used (hint: report it to the service's operator: a GitHub token is printable ASCII)\n"),
        "sts: huge": (1, "",
              "git-credential-broker: identity \"repo\": the token exchange at http://127.0.0.1:$PORT/sts/huge sent an answer of 2097165 bytes (HTTP 200); at most 65536 are read (hint: check that url points at the token exchange service, not at a proxy or portal page)\n"),
        "sts: echo": (1, "",
              "git-credential-broker: identity \"repo\": the token exchange at http://127.0.0.1:$PORT/sts/echo refused scope acme/app policy ci: HTTP 403: subject refused for token <redacted> (hint: check the trust policy's issuer, subject and audience against the OIDC token's claims)\n"),
        "remote secret: aws-secretsmanager:malformed": (1, "",
              "git-credential-broker: identity \"shared\": Secrets Manager GetSecretValue answered HTTP 200 with something that is not a JSON object (hint: check that AWS_ENDPOINT_URL_* points at Secrets Manager, not at a proxy or portal page)\n"),
        "remote secret: aws-secretsmanager:denied": (1, "",
              "git-credential-broker: identity \"shared\": Secrets Manager GetSecretValue failed: AccessDeniedException: User is not authorized to perform secretsmanager.GetSecretValue with session token <redacted> (hint: allow secretsmanager:GetSecretValue on this resource in the reading identity's IAM policy)\n"),
        "remote secret: aws-secretsmanager:binary": (1, "",
              "git-credential-broker: identity \"shared\": secret binary in Secrets Manager has no string value (a binary secret) (hint: store the value as a SecretString)\n"),
        "remote secret: aws-ssm:/malformed": (1, "",
              "git-credential-broker: identity \"shared\": Systems Manager GetParameter answered HTTP 200 with something that is not a JSON object (hint: check that AWS_ENDPOINT_URL_* points at Systems Manager, not at a proxy or portal page)\n"),
        "remote secret: aws-ssm:/denied": (1, "",
              "git-credential-broker: identity \"shared\": Systems Manager GetParameter failed: AccessDeniedException: User is not authorized to perform AmazonSSM.GetParameter with session token <redacted> (hint: allow ssm:GetParameter on this resource in the reading identity's IAM policy)\n"),
        "remote secret: aws-ssm:/missing": (1, "",
              "git-credential-broker: identity \"shared\": Systems Manager GetParameter answered without Parameter.Value for /missing (hint: check that AWS_ENDPOINT_URL_SSM (or AWS_ENDPOINT_URL) points at Systems Manager)\n"),
        "ambient: request URL over plain http to another host": (1, "",
              "aws-credential-process: identity \"gha-aws\": ACTIONS_ID_TOKEN_REQUEST_URL is not an https URL; refusing to send the request token over it (hint: the runner sets it; check that no step overwrote it)\n"),
        "ambient: request URL that is not a URL": (1, "",
              "aws-credential-process: identity \"gha-aws\": ACTIONS_ID_TOKEN_REQUEST_URL is not an https URL; refusing to send the request token over it (hint: the runner sets it; check that no step overwrote it)\n"),
        "ambient: role ARN with a newline": (1, "",
              "aws-credential-process: identity \"gha-aws\" is not defined in $ROOT/config/credential-broker/config, and ambient broker github-actions skipped: (ambient github-actions):1: role-arn \"arn:aws:iam::123456789012:role/ci\\x0arole-arn = x\" has an invalid role name or path (hint: write it as arn:aws:iam::123456789012:role/NAME) (hint: fix the variable the ambient broker names, then `brokerctl stop` so the next request starts an agent with it; `brokerctl status` lists the ambient identities)\n"),
        "ambient: server URL with a newline": (1, "",
              "aws-credential-process: identity \"gha-token\" is not defined in $ROOT/config/credential-broker/config, and ambient broker github-actions skipped: (ambient github-actions):1: git binding \"https://git.example\\x0a[identity \"x\"]\" has a bad host (hint: a host is a DNS name or an IP address, optionally after a single *. label) (hint: fix the variable the ambient broker names, then `brokerctl stop` so the next request starts an agent with it; `brokerctl status` lists the ambient identities)\n"),
        "ambient: access key id with a CR": (1, "",
              "aws-credential-process: identity \"ci-aws\": its access key id is not an AWS access key id (at most 128 letters and digits) (hint: check the variable, file or command access-key-id reads (a stray newline or carriage return?))\n"),
    ]
}
