// Specifies `brokerctl add` and `brokerctl login` for aws/user keeping the access key pair in the keyring (aws-vault add), and the configuration reading it as keyring:NAME.

import Foundation
import XCTest

final class AddLoginKeyringTests: MotoTestCase {
    /// A file keyring opened by BROKER_KEYRING_PASSWORD, so what is stored outlives the agent.
    func sandbox(config: String = "") -> Sandbox {
        let sandbox = Sandbox()
        sandbox.environment["BROKER_KEYRING_PASSWORD"] = "add pass phrase"
        sandbox.writeConfig("[keyring]\n\tbackend = file\n\tdirectory = \(sandbox.root)/keyring\n\twork-factor = 10\n" + config)
        return sandbox
    }

    func keyringFiles(_ sandbox: Sandbox) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: sandbox.root + "/keyring")) ?? []).sorted()
    }

    func testAddAWSUserKeepsTheKeyPairInTheKeyringAndTheKeysWorkAgainstSTS() throws {
        let sandbox = sandbox()
        let added = sandbox.broker("brokerctl", ["add", "dev", "--kind", "aws/user", "--set", "sts-endpoint=\(moto.endpoint)"],
                                   stdin: "\(moto.accessKeyID)\n\(moto.secretAccessKey)\n")
        XCTAssertEqual(added.status, 0, added.stderr)
        XCTAssertEqual(added.stdout, """
            added identity "dev" (kind aws/user) to \(sandbox.configPath); secrets stored as keyring:dev.access-key-id, keyring:dev.secret-access-key
            \(sandbox.configPath): ok (1 identities, 0 git bindings)

            """)
        XCTAssertTrue(sandbox.read(sandbox.configPath).hasSuffix("""
            [identity "dev"]
            \tkind = aws/user
            \tsts-endpoint = \(moto.endpoint)
            \taccess-key-id = keyring:dev.access-key-id
            \tsecret-access-key = keyring:dev.secret-access-key

            """), sandbox.read(sandbox.configPath))
        XCTAssertEqual(keyringFiles(sandbox), ["dev.access-key-id.age", "dev.secret-access-key.age"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.root + "/config/credential-broker/secrets"), "no 0600 files")
        XCTAssertFalse((added.stdout + added.stderr + sandbox.read(sandbox.configPath)).contains(moto.secretAccessKey))
        XCTAssertFalse(sandbox.read(sandbox.configPath).contains(moto.accessKeyID))

        // A new agent reads the pair from the keyring; moto verifies the signature made with it.
        sandbox.stopAgent()
        let whoami = sandbox.broker("brokerctl", ["whoami", "dev"])
        XCTAssertEqual(whoami.status, 0, whoami.stderr)
        XCTAssertTrue(whoami.stdout.contains(moto.userARN), whoami.stdout)
    }

    func testAddOnATerminalEchoesTheKeyIdButNotTheSecret() {
        let sandbox = sandbox()
        let run = sandbox.onTerminal(Sandbox.executable("brokerctl"), ["add", "me", "--kind", "aws/user", "--set", "long-lived-keys=true"],
                                     ttyStdin: true, replies: [("access-key-id for identity \"me\": ", "AKIDTYPEDEXAMPLE\n"),
                                                               ("(not shown): ", "CANARY-typed-secret\n")])
        XCTAssertEqual(run.status, 0, run.tty + run.stdout)
        XCTAssertTrue(run.tty.contains("secret-access-key for identity \"me\" (not shown): "), run.tty)
        XCTAssertTrue(run.tty.contains("AKIDTYPEDEXAMPLE"), "the key id is echoed as aws-vault add does: \(run.tty)")
        XCTAssertFalse(run.tty.contains("CANARY"), "the typed secret was echoed: \(run.tty)")
        let keys = sandbox.broker("aws-credential-process", ["--identity", "me"])
        XCTAssertEqual(keys.status, 0, keys.stderr)
        XCTAssertTrue(keys.stdout.contains("\"AccessKeyId\":\"AKIDTYPEDEXAMPLE\""), keys.stdout)
        XCTAssertTrue(keys.stdout.contains("\"SecretAccessKey\":\"CANARY-typed-secret\""))
    }

    func testAddRefusesToOverwriteAKeyringSecretAndLeavesNothingBehind() {
        let sandbox = sandbox()
        let original = sandbox.read(sandbox.configPath)
        XCTAssertEqual(sandbox.broker("brokerctl", ["secret", "set", "dev.secret-access-key"], stdin: "older-secret\n").status, 0)
        let added = sandbox.broker("brokerctl", ["add", "dev", "--kind", "aws/user"], stdin: "AKIDEXAMPLE\nCANARY-new\n")
        XCTAssertEqual(added.status, 1)
        XCTAssertTrue(added.stderr.contains("the keyring already holds \"dev.secret-access-key\"; not overwriting a stored secret (hint: remove it with `brokerctl secret rm dev.secret-access-key`, or --set secret-access-key=keyring:dev.secret-access-key to use it)"), added.stderr)
        XCTAssertEqual(sandbox.read(sandbox.configPath), original)
        XCTAssertEqual(keyringFiles(sandbox), ["dev.secret-access-key.age"], "the key id stored first is removed again")
    }

    func testAddWithALockedKeyringNamesTheFixAndChangesNothing() {
        let sandbox = sandbox()
        sandbox.environment["BROKER_KEYRING_PASSWORD"] = nil
        let original = sandbox.read(sandbox.configPath)
        let added = sandbox.broker("brokerctl", ["add", "dev", "--kind", "aws/user"], stdin: "AKIDEXAMPLE\nCANARY-locked\n")
        XCTAssertEqual(added.status, 1)
        XCTAssertTrue(added.stderr.contains("the file keyring is locked (hint: run `brokerctl unlock`"), added.stderr)
        XCTAssertEqual(sandbox.read(sandbox.configPath), original)
        XCTAssertEqual(keyringFiles(sandbox), [])
        let files = sandbox.broker("brokerctl", ["add", "dev", "--kind", "aws/user", "--store", "file", "--set", "access-key-id=AKIDEXAMPLE",
                                                 "--secret", "secret-access-key"], stdin: "CANARY-file\n")
        XCTAssertEqual(files.status, 0, files.stderr)
        XCTAssertTrue(sandbox.read(sandbox.configPath).contains("\tsecret-access-key = file:secrets/dev.secret-access-key\n"))
        let bad = sandbox.broker("brokerctl", ["add", "x", "--kind", "aws/user", "--store", "vault"], stdin: "a\nb\n")
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderr.hasPrefix("brokerctl: --store takes keyring or file"), bad.stderr)
    }

    func testLoginAsksForKeysTheKeyringLacksAndKeysReplacesThem() {
        let sandbox = sandbox(config: """
            [identity "me"]
            \tkind = aws/user
            \taccess-key-id = keyring:me.access-key-id
            \tsecret-access-key = keyring:me.secret-access-key
            \tlong-lived-keys = true

            """)
        let missing = sandbox.broker("aws-credential-process", ["--identity", "me"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("no secret \"me.access-key-id\" in the file keyring"), missing.stderr)

        let login = sandbox.broker("brokerctl", ["login", "me"], stdin: "AKIDFIRSTEXAMPLE\nfirst-secret\n")
        XCTAssertEqual(login.status, 0, login.stderr)
        XCTAssertEqual(login.stdout, "stored access-key-id and secret-access-key of identity \"me\" in the file keyring as keyring:me.access-key-id, keyring:me.secret-access-key\n")
        XCTAssertTrue(sandbox.broker("aws-credential-process", ["--identity", "me"]).stdout.contains("\"SecretAccessKey\":\"first-secret\""))

        let again = sandbox.broker("brokerctl", ["login", "me"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(again.stdout, "identity \"me\" has its keys in the keyring; nothing else to log in to (--keys replaces them)\n")

        let rotated = sandbox.broker("brokerctl", ["login", "me", "--keys"], stdin: "AKIDSECONDEXAMPLE\nsecond-secret\n")
        XCTAssertEqual(rotated.status, 0, rotated.stderr)
        let keys = sandbox.broker("aws-credential-process", ["--identity", "me"])
        XCTAssertTrue(keys.stdout.contains("\"AccessKeyId\":\"AKIDSECONDEXAMPLE\""), "the agent drops what it derived from the old pair: \(keys.stdout)")
        XCTAssertTrue(keys.stdout.contains("\"SecretAccessKey\":\"second-secret\""))
    }

    func testLoginKeysOnAnIdentityThatDoesNotUseTheKeyringSaysWhatToWrite() {
        let sandbox = sandbox(config: """
            [identity "env"]
            \tkind = aws/user
            \taccess-key-id = AKIDEXAMPLE
            \tsecret-access-key = env:SECRET

            """)
        let login = sandbox.broker("brokerctl", ["login", "env", "--keys"])
        XCTAssertEqual(login.status, 1)
        XCTAssertTrue(login.stderr.contains("identity \"env\" does not read its access-key-id or secret-access-key from the keyring, so --keys has nothing to replace (hint: write access-key-id = keyring:env.access-key-id and secret-access-key = keyring:env.secret-access-key in its section)"), login.stderr)
        let plain = sandbox.broker("brokerctl", ["login", "env"])
        XCTAssertEqual(plain.status, 1)
        XCTAssertTrue(plain.stderr.contains("has no login step"), plain.stderr)
    }
}
