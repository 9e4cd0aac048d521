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
        let settings = Brokerctl.gitSettings(config, helper: "broker")
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

    // MARK: keeping the helpers already configured

    let ours = "/opt/cb/bin/git-credential-broker"

    func testOursGoesFirstAndOtherHelpersAreKeptInOrder() {
        let plan = Brokerctl.helperPlan(existing: ["cache --timeout=3600", "store"], ours: ours)
        XCTAssertEqual(plan.after, [ours, "cache --timeout=3600", "store"])
        XCTAssertEqual(Brokerctl.describe(plan), ["+ \(ours)", "  cache --timeout=3600", "  store"])
        XCTAssertEqual(Brokerctl.helperPlan(existing: [], ours: ours).after, [ours])
    }

    func testAnEarlierEntryOfOursIsReplacedKeepingItsArguments() {
        let plan = Brokerctl.helperPlan(existing: ["cache", "broker --timeout=60", "/old/place/git-credential-broker"], ours: ours)
        XCTAssertEqual(plan.after, [ours + " --timeout=60", "cache"])
        XCTAssertEqual(Brokerctl.describe(plan), ["- broker --timeout=60", "- /old/place/git-credential-broker", "+ \(ours) --timeout=60", "  cache"])
        let again = Brokerctl.helperPlan(existing: plan.after, ours: ours)
        XCTAssertFalse(again.changed, "running it twice changes nothing")
    }

    func testAnEmptyValueThatResetsTheListStaysBeforeOurs() {
        XCTAssertEqual(Brokerctl.helperPlan(existing: ["", "cache"], ours: ours).after, ["", ours, "cache"])
    }

    func testAPathThatNeedsQuotingIsQuotedForTheShellGitUses() {
        XCTAssertEqual(Brokerctl.quotedForGit("/opt/cb/bin/git-credential-broker"), "/opt/cb/bin/git-credential-broker")
        XCTAssertEqual(Brokerctl.quotedForGit("/Users/me/My Tools/git-credential-broker"), "'/Users/me/My Tools/git-credential-broker'")
        XCTAssertTrue(Brokerctl.isOurs("'/Users/me/My Tools/git-credential-broker' --timeout=5"))
        XCTAssertFalse(Brokerctl.isOurs("cache --timeout=3600"))
        XCTAssertFalse(Brokerctl.isOurs("!f() { echo broker; }; f"))
    }
}
