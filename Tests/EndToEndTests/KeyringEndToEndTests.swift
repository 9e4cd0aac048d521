// Specifies the keyrings end to end: `brokerctl secret`, `keyring:` references through git, the file keyring's lock, and a real GNOME Keyring.
import BrokerCore
import BrokerWire
import Foundation
import XCTest

/// A private D-Bus session with an unlocked GNOME Keyring in it, as a desktop login gives one:
/// `dbus-daemon --session` on a socket in the sandbox, then `gnome-keyring-daemon --unlock
/// --components=secrets` fed the login password on stdin. The keyring daemon exits with the bus.
final class SecretServiceSession {
    let address: String
    private let bus: Process

    init(sandbox: Sandbox) throws {
        for tool in ["dbus-daemon", "gnome-keyring-daemon", "secret-tool"] where findExecutable(tool) == nil {
            throw XCTSkip("\(tool) not installed (Debian: dbus-daemon, gnome-keyring, libsecret-tools; .ci/run installs them)")
        }
        bus = Process()
        bus.executableURL = URL(fileURLWithPath: findExecutable("dbus-daemon")!)
        bus.arguments = ["--session", "--nofork", "--print-address=1", "--address=unix:path=\(sandbox.root)/bus"]
        bus.environment = sandbox.environment
        let out = Pipe()
        bus.standardOutput = out
        bus.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try bus.run()
        var line = Data()
        while let byte = try out.fileHandleForReading.read(upToCount: 1), let b = byte.first, b != 10 { line.append(b) }
        address = String(decoding: line, as: UTF8.self)
        guard address.hasPrefix("unix:") else { bus.terminate(); throw XCTSkip("dbus-daemon printed no address") }
        // The daemon forks and would keep every descriptor it inherits (including the one
        // Foundation's Process watches for exit); Python's subprocess closes them for it.
        let unlock = sandbox.run("/usr/bin/env", ["python3", "-c", """
            import subprocess, sys
            sys.exit(subprocess.run(["gnome-keyring-daemon", "--unlock", "--components=secrets"], input=b"login-password",
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True).returncode)
            """], extraEnvironment: ["DBUS_SESSION_BUS_ADDRESS": address], timeout: 20)
        guard unlock.status == 0 else { bus.terminate(); throw XCTSkip("gnome-keyring-daemon --unlock failed (status \(unlock.status))") }
    }

    /// `secret-tool ARGS` in this session, with `stdin`.
    func secretTool(_ sandbox: Sandbox, _ arguments: [String], stdin: String = "") -> ProcessResult {
        sandbox.run(findExecutable("secret-tool")!, arguments, stdin: stdin, extraEnvironment: ["DBUS_SESSION_BUS_ADDRESS": address])
    }

    /// Locks the login collection the way a screen locker does, over the Secret Service API.
    func lockLoginCollection(_ sandbox: Sandbox) -> ProcessResult {
        sandbox.run(findExecutable("dbus-send")!, ["--session", "--print-reply", "--dest=org.freedesktop.secrets", "/org/freedesktop/secrets",
                                                   "org.freedesktop.Secret.Service.Lock", "array:objpath:/org/freedesktop/secrets/collection/login"],
                    extraEnvironment: ["DBUS_SESSION_BUS_ADDRESS": address])
    }

    deinit { bus.terminate(); bus.waitUntilExit() }
}

func findExecutable(_ name: String) -> String? {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

final class KeyringEndToEndTests: XCTestCase {
    static let fill = "protocol=https\nhost=example.com\n\n"

    func configure(_ sandbox: Sandbox, keyring: String) {
        sandbox.writeConfig("""
            [keyring]
            \(keyring)
            [identity "bot"]
                kind = static
                username = bot-user
                secret = keyring:bot
            [git "https://example.com"]
                identity = bot

            """)
    }

    func testMemoryKeyringServesAReferenceAndIsGoneAfterTheAgentExits() {
        let sandbox = Sandbox()
        configure(sandbox, keyring: "backend = memory")
        let set = sandbox.broker("brokerctl", ["secret", "set", "bot"], stdin: "memory-token-1\n")
        XCTAssertEqual(set.status, 0, set.stderr)
        XCTAssertEqual(set.stdout, "stored \"bot\" in the memory keyring\n")
        let fill = sandbox.git(["credential", "fill"], stdin: Self.fill)
        XCTAssertEqual(fill.status, 0, fill.stderr)
        XCTAssertTrue(fill.stdout.contains("password=memory-token-1\n"), fill.stdout)

        let list = sandbox.broker("brokerctl", ["secret", "list", "--format", "json"])
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertTrue(list.stdout.contains("\"name\" : \"bot\""), list.stdout)
        XCTAssertFalse(list.stdout.contains("memory-token-1"), "list shows no values")

        sandbox.stopAgent()
        let after = sandbox.broker("brokerctl", ["secret", "list"])
        XCTAssertFalse(after.stdout.contains("bot "), "a memory secret does not outlive its agent: \(after.stdout)")
        let refill = sandbox.git(["credential", "fill"], stdin: Self.fill)
        XCTAssertFalse(refill.stdout.contains("memory-token-1"))
        XCTAssertTrue(refill.stderr.contains("no secret \"bot\" in the memory keyring"), refill.stderr)
    }

    func testGetNeedsRevealAndATerminalAndSetRefusesAnEmptySecret() {
        let sandbox = Sandbox()
        configure(sandbox, keyring: "backend = memory")
        XCTAssertEqual(sandbox.broker("brokerctl", ["secret", "set", "bot"], stdin: "v\n").status, 0)
        let get = sandbox.broker("brokerctl", ["secret", "get", "bot", "--reveal"])
        XCTAssertEqual(get.status, 64)
        XCTAssertEqual(get.stdout, "")
        XCTAssertTrue(get.stderr.contains("only with --reveal, to a terminal"), get.stderr)
        let empty = sandbox.broker("brokerctl", ["secret", "set", "other"], stdin: "\n")
        XCTAssertEqual(empty.status, 1)
        XCTAssertTrue(empty.stderr.contains("an empty secret cannot be stored"), empty.stderr)
        let badName = sandbox.broker("brokerctl", ["secret", "set", "../etc"], stdin: "v")
        XCTAssertEqual(badName.status, 1)
        XCTAssertTrue(badName.stderr.contains("is not allowed"), badName.stderr)
        let removed = sandbox.broker("brokerctl", ["secret", "rm", "bot"])
        XCTAssertEqual(removed.status, 0, removed.stderr)
        XCTAssertEqual(sandbox.broker("brokerctl", ["secret", "rm", "bot"]).status, 1)
    }

    func testFileKeyringIsLockedUntilUnlockedAndItsFilesOpenWithAge() throws {
        let sandbox = Sandbox()
        let directory = sandbox.root + "/keyring"
        configure(sandbox, keyring: "backend = file\n    directory = \(directory)\n    work-factor = 10")
        let locked = sandbox.broker("brokerctl", ["secret", "set", "bot"], stdin: "file-token-1")
        XCTAssertEqual(locked.status, 1)
        XCTAssertTrue(locked.stderr.contains("the file keyring is locked (hint: run `brokerctl unlock`"), locked.stderr)

        XCTAssertEqual(sandbox.broker("brokerctl", ["unlock"], stdin: "pass phrase 1\n").status, 0)
        let set = sandbox.broker("brokerctl", ["secret", "set", "bot"], stdin: "file-token-1")
        XCTAssertEqual(set.status, 0, set.stderr)
        let status = try FileStatus(path: directory + "/bot.age")
        XCTAssertEqual(status.mode & 0o777, 0o600)
        XCTAssertEqual(try FileStatus(path: directory).mode & 0o777, 0o700)
        XCTAssertFalse(sandbox.read(directory + "/bot.age").contains("file-token-1"))
        let fill = sandbox.git(["credential", "fill"], stdin: Self.fill)
        XCTAssertTrue(fill.stdout.contains("password=file-token-1\n"), fill.stdout + fill.stderr)

        // A restarted agent forgets the passphrase; the secret stays on disk.
        sandbox.stopAgent()
        let relocked = sandbox.git(["credential", "fill"], stdin: Self.fill)
        XCTAssertFalse(relocked.stdout.contains("file-token-1"))
        XCTAssertTrue(relocked.stderr.contains("the file keyring is locked"), relocked.stderr)
        let wrong = sandbox.broker("brokerctl", ["unlock"], stdin: "not the phrase\n")
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stderr.contains("wrong passphrase"), wrong.stderr)
        XCTAssertEqual(sandbox.broker("brokerctl", ["unlock"], stdin: "pass phrase 1\n").status, 0)
        XCTAssertTrue(sandbox.git(["credential", "fill"], stdin: Self.fill).stdout.contains("password=file-token-1\n"))
        XCTAssertEqual(sandbox.broker("brokerctl", ["lock"]).status, 0)
        XCTAssertTrue(sandbox.git(["credential", "fill"], stdin: Self.fill).stderr.contains("the file keyring is locked"))

        // BROKER_KEYRING_PASSWORD in the agent's environment opens it without an unlock.
        sandbox.stopAgent()
        sandbox.environment["BROKER_KEYRING_PASSWORD"] = "pass phrase 1"
        XCTAssertTrue(sandbox.git(["credential", "fill"], stdin: Self.fill).stdout.contains("password=file-token-1\n"))
        let list = sandbox.broker("brokerctl", ["secret", "list"])
        XCTAssertTrue(list.stdout.hasPrefix("keyring: file (unlocked)\n"), list.stdout)
        XCTAssertTrue(list.stdout.contains("bot "), list.stdout)

        // The standard tool recovers it.
        if findExecutable("age") != nil {
            let out = sandbox.root + "/recovered"
            let recovered = sandbox.run("/usr/bin/python3", ["-c", AgePTY.script, "pass phrase 1", "age", "-d", "-o", out, directory + "/bot.age"])
            XCTAssertEqual(recovered.status, 0, recovered.stderr)
            XCTAssertEqual(sandbox.read(out), "file-token-1")
        }
    }

    func testTamperedKeyringFileIsOneClearErrorAndNoSecret() throws {
        let sandbox = Sandbox()
        let directory = sandbox.root + "/keyring"
        configure(sandbox, keyring: "backend = file\n    directory = \(directory)\n    work-factor = 10")
        sandbox.environment["BROKER_KEYRING_PASSWORD"] = "pw"
        XCTAssertEqual(sandbox.broker("brokerctl", ["secret", "set", "bot"], stdin: "tamper-me-token").status, 0)
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/bot.age")))
        bytes[bytes.count - 3] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/bot.age"))
        sandbox.stopAgent()
        let fill = sandbox.git(["credential", "fill"], stdin: Self.fill)
        XCTAssertTrue(fill.stdout.contains("password=askpass-password"), "git fell back to its prompt: \(fill.stdout)")
        XCTAssertTrue(fill.stderr.contains("failed authentication"), fill.stderr)
        XCTAssertTrue(fill.stderr.contains("bot.age"), fill.stderr)
    }

    // MARK: the system keyring, a real GNOME Keyring

    func testSecretStoredWithSecretToolIsReadThroughAKeyringReference() throws {
        let sandbox = Sandbox()
        let session = try SecretServiceSession(sandbox: sandbox)
        sandbox.environment["DBUS_SESSION_BUS_ADDRESS"] = session.address
        configure(sandbox, keyring: "backend = system")
        let store = session.secretTool(sandbox, ["store", "--label=bot", "service", "credential-broker", "account", "bot"], stdin: "from-secret-tool")
        XCTAssertEqual(store.status, 0, store.stderr)
        let fill = sandbox.git(["credential", "fill"], stdin: Self.fill)
        XCTAssertEqual(fill.status, 0, fill.stderr)
        XCTAssertTrue(fill.stdout.contains("password=from-secret-tool\n"), fill.stdout)
    }

    func testBrokerctlSetIsVisibleToSecretToolLookupAndListedWithoutValues() throws {
        let sandbox = Sandbox()
        let session = try SecretServiceSession(sandbox: sandbox)
        sandbox.environment["DBUS_SESSION_BUS_ADDRESS"] = session.address
        configure(sandbox, keyring: "")   // no backend named: system, because one answers
        let set = sandbox.broker("brokerctl", ["secret", "set", "bot"], stdin: "from-brokerctl\n")
        XCTAssertEqual(set.status, 0, set.stderr)
        XCTAssertEqual(set.stdout, "stored \"bot\" in the system keyring\n")
        let lookup = session.secretTool(sandbox, ["lookup", "service", "credential-broker", "account", "bot"])
        XCTAssertEqual(lookup.stdout, "from-brokerctl")
        let list = sandbox.broker("brokerctl", ["secret", "list", "--format", "json"])
        XCTAssertTrue(list.stdout.contains("\"backend\" : \"system\""), list.stdout)
        XCTAssertTrue(list.stdout.contains("\"name\" : \"bot\""), list.stdout)
        XCTAssertFalse(list.stdout.contains("from-brokerctl"))
        XCTAssertEqual(sandbox.broker("brokerctl", ["secret", "rm", "bot"]).status, 0)
        XCTAssertEqual(session.secretTool(sandbox, ["lookup", "service", "credential-broker", "account", "bot"]).stdout, "")
    }

    func testLockedCollectionNamesTheFix() throws {
        let sandbox = Sandbox()
        let session = try SecretServiceSession(sandbox: sandbox)
        sandbox.environment["DBUS_SESSION_BUS_ADDRESS"] = session.address
        configure(sandbox, keyring: "backend = system")
        XCTAssertEqual(session.secretTool(sandbox, ["store", "--label=bot", "service", "credential-broker", "account", "bot"], stdin: "locked-away").status, 0)
        let lock = session.lockLoginCollection(sandbox)
        XCTAssertEqual(lock.status, 0, lock.stderr)
        let fill = sandbox.git(["credential", "fill"], stdin: Self.fill)
        XCTAssertFalse(fill.stdout.contains("locked-away"))
        XCTAssertTrue(fill.stderr.contains("the system keyring collection holding \"bot\" is locked (hint: unlock it"), fill.stderr)
        let set = sandbox.broker("brokerctl", ["secret", "set", "other"], stdin: "v")
        XCTAssertEqual(set.status, 1)
        XCTAssertTrue(set.stderr.contains("is locked (hint: unlock it"), set.stderr)
    }

    func testNoDBusSessionNamesTheFix() {
        let sandbox = Sandbox()
        sandbox.environment["DBUS_SESSION_BUS_ADDRESS"] = nil
        configure(sandbox, keyring: "backend = system")
        let fill = sandbox.git(["credential", "fill"], stdin: Self.fill)
        // git falls back to its askpass after the helper's error.
        XCTAssertTrue(fill.stdout.contains("password=askpass-password"), fill.stdout)
        XCTAssertTrue(fill.stderr.contains("no D-Bus session bus for the system keyring"), fill.stderr)
        XCTAssertTrue(fill.stderr.contains("dbus-run-session"), fill.stderr)
        XCTAssertTrue(fill.stderr.contains("[keyring] backend = file"), fill.stderr)
    }
}

/// Answers `age`'s terminal prompts with a passphrase through a pty (age reads passphrases from a terminal only).
enum AgePTY {
    static let script = """
    import os, pty, select, sys
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(sys.argv[2], sys.argv[2:])
    seen = b""
    while True:
        try:
            ready, _, _ = select.select([fd], [], [], 60)
            if not ready: break
            data = os.read(fd, 1024)
        except OSError:
            break
        if not data: break
        seen += data
        if seen.rstrip().endswith(b":"):
            os.write(fd, sys.argv[1].encode() + b"\\r")
            seen = b""
    _, status = os.waitpid(pid, 0)
    sys.stderr.write(seen.decode(errors="replace"))
    sys.exit(os.waitstatus_to_exitcode(status))
    """
}
