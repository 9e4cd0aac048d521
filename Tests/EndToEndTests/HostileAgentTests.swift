// Adapters facing something that is not our agent: a stranger's directory or listener, a hostile
// plan, an agent that hangs up early. Nothing of ours is sent to a stranger, nothing dies silently.

import BrokerWire
import Foundation
import XCTest

/// A listener on a Unix socket, written in python so it can run as another uid (setpriv). It
/// records every byte it receives in `recordPath`; with `reply`, it answers as soon as it accepts
/// and hangs up without reading (`readFirst`: after the request's blank line).
final class FakeAgent {
    static let nobody: uid_t = 65534
    let process = Process()
    let recordPath: String

    static let script = """
        import os, socket, sys
        path, record, reply, read_first = sys.argv[1], sys.argv[2], sys.argv[3].encode(), sys.argv[4] == "1"
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        s.listen(16)
        while True:
            c, _ = s.accept()
            c.settimeout(3)
            data = b""
            try:
                while reply == b"" or read_first:
                    d = c.recv(65536)
                    if not d: break
                    data += d
                    with open(record, "ab") as f: f.write(d)
                    if read_first and b"\\n\\n" in data: break
                if reply: c.sendall(reply)
            except Exception:
                pass
            c.close()
        """

    /// Starts listening at `socketPath` as `uid` (nil: as us); returns once the socket exists.
    init(socketPath: String, recordPath: String, reply: String = "", readFirst: Bool = false, uid: uid_t? = nil, scriptDirectory: String) {
        self.recordPath = recordPath
        let scriptPath = scriptDirectory + "/fake_agent.py"
        FileManager.default.createFile(atPath: scriptPath, contents: Data(Self.script.utf8))
        chmod(scriptPath, 0o644)
        let python = ["/usr/bin/python3", scriptPath, socketPath, recordPath, reply, readFirst ? "1" : "0"]
        if let uid {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups"] + python
        } else {
            process.executableURL = URL(fileURLWithPath: python[0])
            process.arguments = Array(python.dropFirst())
        }
        process.standardInput = FileHandle.nullDevice
        try! process.run()
        for _ in 0..<500 where access(socketPath, F_OK) != 0 { usleep(10_000) }
    }

    var received: String { (try? String(contentsOfFile: recordPath, encoding: .utf8)) ?? "" }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}

/// A directory under /tmp that another uid owns, with the given mode.
func foreignDirectory(mode: mode_t, owner: uid_t = FakeAgent.nobody) -> String {
    var template = Array("/tmp/cb-foreign-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    precondition(made != nil)
    let path = String(cString: template)
    chown(path, owner, owner)
    chmod(path, mode)
    return path
}

final class HostileAgentTests: XCTestCase {
    static let store = "protocol=https\nhost=example.com\nusername=u\npassword=s3cret-for-a-stranger\n\n"
    static let get = "protocol=https\nhost=example.com\n\n"

    func testASocketDirectoryOwnedByAnotherUserGetsNoByte() throws {
        let sandbox = Sandbox()
        let dir = foreignDirectory(mode: 0o700)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stranger = FakeAgent(socketPath: dir + "/agent.sock", recordPath: dir + "/received", uid: FakeAgent.nobody, scriptDirectory: dir)
        defer { stranger.stop() }
        XCTAssertEqual(access(dir + "/agent.sock", F_OK), 0, "the stranger listens")
        let env = ["BROKER_SOCKET_DIR": dir]
        let store = sandbox.broker("git-credential-broker", ["store"], stdin: Self.store, extraEnvironment: env)
        let get = sandbox.broker("git-credential-broker", ["get"], stdin: Self.get, extraEnvironment: env)
        usleep(200_000)
        XCTAssertEqual(stranger.received, "", "not one byte reached the stranger")
        XCTAssertEqual(get.status, 1)
        XCTAssertEqual(get.stdout, "")
        let expected = "git-credential-broker: socket directory \(dir) is owned by uid 65534, not you (uid 0) "
            + "(hint: use a private directory: unset BROKER_SOCKET_DIR, or rm -rf \(dir))\n"
        XCTAssertEqual(get.stderr, expected)
        XCTAssertEqual(store.stderr, expected)
    }

    func testAListenerRunningAsAnotherUserGetsNoByte() throws {
        let sandbox = Sandbox()
        let dir = foreignDirectory(mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The stranger binds in its own directory; the socket is then moved into our private
        // one (as if it had been there before we made the directory ours).
        let stranger = FakeAgent(socketPath: dir + "/l.sock", recordPath: dir + "/received", uid: FakeAgent.nobody, scriptDirectory: dir)
        defer { stranger.stop() }
        let run = sandbox.paths.runtimeDirectory
        mkdir(run, 0o700)
        XCTAssertEqual(rename(dir + "/l.sock", sandbox.paths.socketPath), 0)
        let store = sandbox.broker("git-credential-broker", ["store"], stdin: Self.store)
        let get = sandbox.broker("git-credential-broker", ["get"], stdin: Self.get)
        usleep(200_000)
        XCTAssertEqual(stranger.received, "", "not one byte reached the stranger")
        XCTAssertEqual(get.status, 1)
        let expected = "git-credential-broker: the process listening on \(sandbox.paths.socketPath) runs as uid 65534, not as you (uid 0); refusing to talk to it "
            + "(hint: stop that process, then rm \(sandbox.paths.socketPath))\n"
        XCTAssertEqual(get.stderr, expected)
        XCTAssertEqual(store.stderr, expected)
    }

    func testASocketDirectoryOpenToOthersIsRefusedWithTheChmodHint() throws {
        let sandbox = Sandbox()
        let run = sandbox.paths.runtimeDirectory
        mkdir(run, 0o755)
        chmod(run, 0o755)
        let listener = FakeAgent(socketPath: sandbox.paths.socketPath, recordPath: sandbox.root + "/received", scriptDirectory: sandbox.root)
        defer { listener.stop() }
        let get = sandbox.broker("git-credential-broker", ["get"], stdin: Self.get)
        XCTAssertEqual(listener.received, "")
        XCTAssertEqual(get.status, 1)
        XCTAssertEqual(get.stderr, "git-credential-broker: socket directory \(run) is accessible by group or others (mode 0755) (hint: chmod 0700 \(run))\n")
    }

    /// A hostile agent (or one that lost its mind) cannot make the wrap export a variable that
    /// changes how shells, the loader or git run programs.
    func testTheWrapRefusesAPlanThatSetsAVariableThatRunsCode() throws {
        let hostile: [(String, String)] = [
            ("set=BASH_ENV=/tmp/evil.sh\n", "BASH_ENV"),
            ("secret=LD_PRELOAD=/tmp/evil.so\n", "LD_PRELOAD"),
            ("set=DYLD_INSERT_LIBRARIES=/tmp/evil.dylib\n", "DYLD_INSERT_LIBRARIES"),
            ("set=PATH=/tmp/evil\n", "PATH"),
            ("set=GIT_SSH_COMMAND=touch /tmp/pwned\n", "GIT_SSH_COMMAND"),
            ("set=BASH_FUNC_ls%%=() { evil; }\n", "BASH_FUNC_ls%%"),
        ]
        for (line, name) in hostile {
            let sandbox = Sandbox()
            mkdir(sandbox.paths.runtimeDirectory, 0o700)
            let agent = FakeAgent(socketPath: sandbox.paths.socketPath, recordPath: sandbox.root + "/received",
                                  reply: "status=ok\n" + line + "\n", readFirst: true, scriptDirectory: sandbox.root)
            let result = sandbox.broker("broker-env-wrap", ["--identity", "x", "--", "/usr/bin/env"])
            agent.stop()
            XCTAssertEqual(result.status, 1, name)
            XCTAssertEqual(result.stdout, "", name)
            XCTAssertTrue(result.stderr.hasPrefix("broker-env-wrap: broker-agent"), "\(name): \(result.stderr)")
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, name)
        }
        let sandbox = Sandbox()
        mkdir(sandbox.paths.runtimeDirectory, 0o700)
        let agent = FakeAgent(socketPath: sandbox.paths.socketPath, recordPath: sandbox.root + "/received",
                              reply: "status=ok\nset=BASH_ENV=/tmp/evil.sh\n\n", readFirst: true, scriptDirectory: sandbox.root)
        defer { agent.stop() }
        let result = sandbox.broker("broker-env-wrap", ["--identity", "x", "--", "/usr/bin/env"])
        XCTAssertEqual(result.stderr, "broker-env-wrap: broker-agent asked to set BASH_ENV, which changes how shells, the dynamic loader or git run programs; refused\n")
    }

    func testTheWrapRefusesGitConfigThatIsNotTheBrokersOwnHelper() throws {
        for plan in ["git_key=core.sshCommand\ngit_value=touch /tmp/pwned\n",
                     "git_key=credential.https://example.com.helper\ngit_value=!touch /tmp/pwned\n"] {
            let sandbox = Sandbox()
            mkdir(sandbox.paths.runtimeDirectory, 0o700)
            let agent = FakeAgent(socketPath: sandbox.paths.socketPath, recordPath: sandbox.root + "/received",
                                  reply: "status=ok\n" + plan + "\n", readFirst: true, scriptDirectory: sandbox.root)
            let result = sandbox.broker("broker-env-wrap", ["--identity", "x", "--", "/usr/bin/env"])
            agent.stop()
            XCTAssertEqual(result.status, 1, plan)
            XCTAssertEqual(result.stdout, "", plan)
            XCTAssertTrue(result.stderr.hasPrefix("broker-env-wrap: broker-agent"), result.stderr)
        }
    }

    /// The agent answers "no" and hangs up before reading a large request: the adapter must not
    /// die of SIGPIPE (exit 141, no word); it reports the agent's reason.
    func testAnAgentThatRefusesAndHangsUpEarlyIsHeardNotFatal() throws {
        let sandbox = Sandbox()
        mkdir(sandbox.paths.runtimeDirectory, 0o700)
        let agent = FakeAgent(socketPath: sandbox.paths.socketPath, recordPath: sandbox.root + "/received",
                              reply: "status=error\nkind=denied\nerror=request refused by policy\n\n", scriptDirectory: sandbox.root)
        defer { agent.stop() }
        let big = "protocol=https\nhost=example.com\n" + String(repeating: "wwwauth[]=Basic \(String(repeating: "r", count: 1000))\n", count: 900) + "\n"
        // The test runner ignores SIGPIPE and children inherit that: restore the default first.
        let restore = "import os, signal, sys; signal.signal(signal.SIGPIPE, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
        for _ in 0..<3 {
            let result = sandbox.run("/usr/bin/python3", ["-c", restore, Sandbox.executable("git-credential-broker"), "get"], stdin: big)
            XCTAssertEqual(result.status, 1, "exit \(result.status), stderr \(result.stderr)")
            XCTAssertEqual(result.stderr, "git-credential-broker: request refused by policy\n")
        }
    }
}
