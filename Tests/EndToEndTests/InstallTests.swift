// install.sh for real: a release build, installed under a prefix, that passes its own selftest.

import Foundation
import XCTest

final class InstallTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func testInstallBuildsReleaseAndTheInstalledToolsWork() throws {
        let sandbox = Sandbox()
        let prefix = sandbox.root + "/prefix"
        let install = sandbox.run("/bin/sh", [Self.repository + "/install.sh", "--prefix", prefix],
                                  extraEnvironment: ["BROKER_BUILD_DIR": Self.repository + "/.build-install"], timeout: 900)
        XCTAssertEqual(install.status, 0, install.stderr)
        XCTAssertTrue(install.stdout.contains("git config --global credential.helper broker"), install.stdout)
        for path in ["bin/git-credential-broker", "bin/broker-agent", "bin/brokerctl", "share/man/man1/brokerctl.1",
                     "share/man/man5/credential-broker.5", "share/bash-completion/completions/brokerctl",
                     "share/zsh/site-functions/_brokerctl", "share/fish/vendor_completions.d/brokerctl.fish"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: prefix + "/" + path), "missing \(path)")
        }
        // The adapter loads no shared library at all; the others carry the Swift runtime inside.
        let adapter = sandbox.run("/usr/bin/ldd", [prefix + "/bin/git-credential-broker"])
        XCTAssertTrue((adapter.stdout + adapter.stderr).contains("not a dynamic executable"), adapter.stdout)
        let agent = sandbox.run("/usr/bin/ldd", [prefix + "/bin/broker-agent"])
        XCTAssertFalse(agent.stdout.contains("libswiftCore"), agent.stdout)
        XCTAssertFalse(agent.stdout.contains("libFoundation"), agent.stdout)
        let selftest = sandbox.run(prefix + "/bin/brokerctl", ["selftest"])
        XCTAssertEqual(selftest.status, 0, selftest.stderr)
    }
}
