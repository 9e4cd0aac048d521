// Leak scan for the system keyring: a keyring: secret and a `[git] store = keyring` password never reach secret-tool's argv or environment, the cache, state or audit.

import Foundation
import XCTest

final class KeyringLeakScanTests: XCTestCase {
    func testSystemKeyringSecretsTravelOnlyOnPipes() throws {
        let sandbox = Sandbox()
        let session = try SecretServiceSession(sandbox: sandbox)
        sandbox.environment["DBUS_SESSION_BUS_ADDRESS"] = session.address
        let run = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let referenced = "CANARY-\(run)-KEYRING", approved = "CANARY-\(run)-GITSTORE"
        // secret-tool behind a shim that records every argv and environment it is started with.
        let real = try XCTUnwrap(findExecutable("secret-tool"))
        let record = sandbox.root + "/spawned"
        sandbox.write("shim/secret-tool", "#!/bin/sh\n{ echo \"argv: $0 $*\"; env; } >> \(record)\nexec \(real) \"$@\"\n", mode: 0o755)
        sandbox.environment["PATH"] = sandbox.root + "/shim:" + (sandbox.environment["PATH"] ?? "/usr/bin:/bin")
        sandbox.writeConfig("""
            [git]
                store = keyring
            [keyring]
                backend = system
            [identity "bot"]
                kind = static
                username = bot-user
                secret = keyring:bot
            [git "https://bound.example"]
                identity = bot

            """)
        XCTAssertEqual(sandbox.broker("brokerctl", ["secret", "set", "bot"], stdin: referenced + "\n").status, 0)
        let approve = sandbox.git(["credential", "approve"], stdin: "protocol=https\nhost=unbound.example\nusername=u\npassword=\(approved)\n\n")
        XCTAssertEqual(approve.stderr, "")
        sandbox.stopAgent()   // a new agent reads both back through secret-tool
        XCTAssertTrue(sandbox.git(["credential", "fill"], stdin: "protocol=https\nhost=bound.example\n\n").stdout.contains(referenced))
        XCTAssertTrue(sandbox.git(["credential", "fill"], stdin: "protocol=https\nhost=unbound.example\n\n").stdout.contains(approved))

        let spawned = sandbox.read(record)
        XCTAssertTrue(spawned.contains("argv: "), "the shim ran")
        for canary in [referenced, approved] {
            XCTAssertFalse(spawned.contains(canary), "a secret in secret-tool's argv or environment")
            for directory in ["/cache", "/state", "/run", "/config"] {
                for (path, text) in GitKeyringStoreTests.files(under: sandbox.root + directory) {
                    XCTAssertFalse(text.contains(canary), "\(path) holds a keyring secret")
                }
            }
        }
        XCTAssertFalse(sandbox.auditLines.isEmpty)
    }
}
