// brokerctl's router without a process: which words reach which subcommand.

@testable import BrokerControl
import BrokerWire
import Foundation
import XCTest

final class BrokerctlRoutingTests: XCTestCase {
    let root = NSTemporaryDirectory() + "brokerctl-routing-\(getpid())"

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: root)
    }

    func run(_ arguments: [String]) -> (status: Int32, out: String, err: String) {
        var out = "", err = ""
        let environment = Environment(["BROKER_SOCKET_DIR": root + "/run", "XDG_CACHE_HOME": root + "/cache",
                                       "XDG_CONFIG_HOME": root + "/config", "XDG_STATE_HOME": root + "/state", "HOME": root])
        let status = Brokerctl(environment: environment, out: { out += $0 + "\n" }, err: { err += $0 + "\n" }).run(arguments)
        return (status, out, err)
    }

    func testASubcommandsOptionMayComeBeforeIt() {
        let before = run(["--format", "json", "status"])
        XCTAssertEqual(before.status, ExitStatus.success, before.err)
        XCTAssertEqual(before.out, run(["status", "--format", "json"]).out)
        XCTAssertTrue(before.out.contains("\"running\" : false"), before.out)
    }

    func testFormatOnASubcommandWithoutJSONIsRefusedByNameNotIgnored() {
        for subcommand in ["selftest", "login"] {
            let result = run([subcommand, "--format", "json"])
            XCTAssertEqual(result.status, ExitStatus.usage, subcommand)
            XCTAssertTrue(result.err.hasPrefix("brokerctl: brokerctl \(subcommand) does not take --format; its output is for people. These print JSON: status, list, validate, stop, logout, whoami, audit"), result.err)
            let listed = result.err.split(separator: "\n")[0].components(separatedBy: "These print JSON: ").last ?? ""
            XCTAssertFalse(listed.split(separator: ",").contains { ["selftest", "login"].contains($0.trimmingCharacters(in: .whitespaces)) }, listed)
            XCTAssertTrue(result.err.contains("usage: brokerctl [--config FILE] [--profile NAME] \(subcommand)"), "the subcommand's own usage: \(result.err)")
        }
    }

    func testStopAndLogoutAnswerInJSONWhenAsked() throws {
        let stop = run(["--format", "json", "stop"])
        XCTAssertEqual(stop.status, ExitStatus.success, stop.err)
        XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(stop.out.utf8)) as? [String: Bool], ["running": false])
        let logout = run(["logout", "--all", "--format=json"])
        XCTAssertEqual(logout.status, ExitStatus.success, logout.err)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(logout.out.utf8)) as? [String: Any])
        XCTAssertEqual(object["removed"] as? Int, 0)
        XCTAssertEqual(object["agent_running"] as? Bool, false)
    }

    func testAMisspeltSubcommandGetsADidYouMean() {
        let result = run(["statsu"])
        XCTAssertEqual(result.status, ExitStatus.usage)
        XCTAssertTrue(result.err.hasPrefix("brokerctl: unknown command \"statsu\" (did you mean \"status\"?)\n"), result.err)
    }

    func testAnUnknownOptionPrintsTheSubcommandsUsage() {
        let result = run(["audit", "--tial", "5"])
        XCTAssertEqual(result.status, ExitStatus.usage)
        XCTAssertEqual(result.err, "brokerctl: unknown option --tial\nusage: brokerctl [--config FILE] [--profile NAME] audit [--tail N] [--since WHEN] [--until WHEN] [--identity NAME] [--outcome ok|error] [--event EVENT] [--format table|json|jsonl]\n")
    }

    func testCountsAreSingularForOne() {
        XCTAssertEqual(plural(1, "identity", "identities"), "1 identity")
        XCTAssertEqual(plural(2, "identity", "identities"), "2 identities")
        XCTAssertEqual(plural(1, "cached credential"), "1 cached credential")
        XCTAssertEqual(plural(0, "git binding"), "0 git bindings")
        XCTAssertEqual(plural(1, "entry", "entries"), "1 entry")
    }

    func testMissingConfigFromTheOptionNamesTheOptionNotTheVariable() {
        let result = run(["--config", root + "/nope", "list"])
        XCTAssertEqual(result.status, ExitStatus.failure)
        XCTAssertTrue(result.err.contains("config file \(root)/nope (from --config) does not exist (hint: create it or fix the --config path)"), result.err)
        XCTAssertFalse(result.err.contains("BROKER_CONFIG"), result.err)
        let validate = run(["validate", "--config", root + "/nope"])
        XCTAssertFalse(validate.err.contains("BROKER_CONFIG"), validate.err)
        XCTAssertTrue(validate.err.contains("(from --config)"), validate.err)
    }

    func testAnUnknownWordBeforeTheSubcommandIsStillAnUnknownCommand() {
        XCTAssertTrue(run(["--bogus", "status"]).err.hasPrefix("brokerctl: unknown command \"--bogus\"\n"))
    }
}
