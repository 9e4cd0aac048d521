// The catalog's option declarations parse command lines: what a table declares is what it accepts.

import BrokerFrontends
import BrokerWire
import XCTest

final class OptionParserTests: XCTestCase {
    let audit = Subcommand("audit", summary: "s", options: [
        CommandOption("--tail", value: "N", "t"),
        CommandOption("--format", value: "table|json", completion: .choices(["table", "json"]), "f"),
        CommandOption("--all", "a"),
    ], positionals: [CommandArgument("IDENTITY", "i")])

    func usageMessage(_ arguments: [String]) -> String? {
        do {
            _ = try audit.parse(arguments)
            return nil
        } catch let failure as BrokerFailure {
            XCTAssertEqual(failure.kind, .usage)
            return failure.message
        } catch {
            return "\(error)"
        }
    }

    func testValuesTakeTheNextWordOrFollowAnEqualsSign() throws {
        let parsed = try audit.parse(["--tail", "5", "--format=json", "--all", "bot"])
        XCTAssertEqual(parsed.values, ["--tail": "5", "--format": "json"])
        XCTAssertEqual(parsed.flags, ["--all"])
        XCTAssertEqual(parsed.positionals, ["bot"])
    }

    func testUndeclaredOptionsAndWordsAreUsageErrors() {
        XCTAssertEqual(usageMessage(["--names"]), "unknown option --names")
        XCTAssertEqual(usageMessage(["--all=yes"]), "unknown option --all=yes")
        XCTAssertEqual(usageMessage(["a", "b"]), "unexpected argument b")
        XCTAssertEqual(usageMessage(["--tail"]), "--tail needs a value")
    }

    func testAChoiceMustBeOneOfItsChoices() {
        XCTAssertEqual(usageMessage(["--format", "xml"]), "--format takes table or json")
        XCTAssertEqual(usageMessage(["--format"]), "--format takes table or json")
    }
}
