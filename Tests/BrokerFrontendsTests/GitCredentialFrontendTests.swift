// The git helper's argument parsing and request building, without a process or an agent.

@testable import BrokerFrontends
import BrokerWire
import XCTest

final class GitCredentialFrontendTests: XCTestCase {
    func testOperationIsTheLastWordGitAppends() throws {
        let options = try GitCredentialFrontend.parse(["--timeout=300", "get"])
        XCTAssertEqual(options.operation, "get")
        XCTAssertEqual(options.timeoutSeconds, 300)
    }

    func testTimeoutAlsoTakesASeparateArgument() throws {
        XCTAssertEqual(try GitCredentialFrontend.parse(["--timeout", "5", "store"]).timeoutSeconds, 5)
    }

    func testBadTimeoutIsAUsageError() {
        XCTAssertThrowsError(try GitCredentialFrontend.parse(["--timeout=soon", "get"])) {
            XCTAssertEqual(($0 as? BrokerFailure)?.kind, .usage)
        }
    }

    func testMissingOperationIsAUsageError() {
        XCTAssertThrowsError(try GitCredentialFrontend.parse(["--timeout=5"]))
    }

    func testRequestRelaysOnlyProtocolKeys() throws {
        let input = WireMessage([.init("protocol", "https"), .init("host", "h"), .init("url", "https://h"), .init("username", "u"), .init("frob", "x")])
        let request = try GitCredentialFrontend.agentRequest(for: .init(operation: "get", timeoutSeconds: nil, socketDirectory: nil), input: input)
        XCTAssertEqual(request["op"], "git.get")
        XCTAssertEqual(request["username"], "u")
        XCTAssertNil(request["frob"])
        XCTAssertNil(request["url"])
    }

    func testRequestWithoutHostIsRefused() {
        XCTAssertThrowsError(try GitCredentialFrontend.agentRequest(for: .init(operation: "get", timeoutSeconds: nil, socketDirectory: nil),
                                                                    input: WireMessage([.init("protocol", "https")])))
    }
}
