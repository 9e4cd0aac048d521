// brokerctl git-setup builds argv for git, never a shell line, whatever a binding's host holds.

@testable import BrokerControl
import BrokerCore
import BrokerWire
import XCTest

final class GitSetupTests: XCTestCase {
    func testHostileHostStaysOneArgumentOfGitConfig() throws {
        var config = try BrokerConfig.parse(ConfigSyntax.parse(text: """
            [identity "bot"]
                kind = static
                username = u
                secret = env:T
            [git "https://x.example.com/acme"]
                identity = bot
            """, file: "t"))
        // Validation refuses such a host; this is a config that somehow holds one anyway.
        config.gitBindings[0].pattern.hostLabels = ["x';id>pwned;'", "example", "com"]
        let settings = Brokerctl.gitSettings(config)
        XCTAssertEqual(settings.map { Brokerctl.gitConfigArguments($0.key, $0.value) }, [
            ["git", "config", "--global", "credential.helper", "broker"],
            ["git", "config", "--global", "credential.https://x';id>pwned;'.example.com.useHttpPath", "true"],
        ])
    }

    func testCommandRunnerRunsArgvWithoutAShell() throws {
        let result = try CommandRunner().run(arguments: ["/bin/echo", "a';id;'", "$(id)"], timeout: 5,
                                             environment: Environment(["PATH": "/usr/bin:/bin"]))
        XCTAssertEqual(result.stdout, "a';id;' $(id)\n")
    }
}
