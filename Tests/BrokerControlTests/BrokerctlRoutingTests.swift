// brokerctl's router without a process: which words reach which subcommand.

import BrokerControl
import BrokerWire
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

    func testAnOptionTheSubcommandDoesNotDeclareIsAUsageError() {
        let result = run(["stop", "--format", "json"])
        XCTAssertEqual(result.status, ExitStatus.usage)
        XCTAssertTrue(result.err.hasPrefix("brokerctl: unknown option --format\n"), result.err)
    }

    func testAnUnknownWordBeforeTheSubcommandIsStillAnUnknownCommand() {
        XCTAssertTrue(run(["--bogus", "status"]).err.hasPrefix("brokerctl: unknown command \"--bogus\"\n"))
    }
}
