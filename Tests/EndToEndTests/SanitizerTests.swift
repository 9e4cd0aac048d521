// The unit and agent tests under ThreadSanitizer and AddressSanitizer, as part of every test run.

import Foundation
import XCTest

final class SanitizerTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// scripts/sanitizers builds its own instrumented copies of the library modules and their unit
    /// tests (.build-thread-sanitizer, .build-address-sanitizer) and fails on any report; a few
    /// minutes on two cores, nearly all of it the two builds.
    ///
    /// Every run has ThreadSanitizer, for the agent's loop, single-flight and cache; the parsers
    /// get AddressSanitizer from FuzzSmokeTests (the fuzz build is an ASan build), so the second
    /// instrumented build of the unit tests under ASan waits for BROKER_LONG_TESTS=1.
    func testUnitAndAgentTestsAreCleanUnderSanitizers() {
        let long = ProcessInfo.processInfo.environment["BROKER_LONG_TESTS"] == "1"
        let sanitizers = long ? ["thread", "address"] : ["thread"]
        let result = Sandbox().run("/bin/bash", [Self.repository + "/scripts/sanitizers"] + sanitizers, timeout: 1800)
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        for sanitizer in sanitizers {
            XCTAssertTrue(result.stdout.contains("\(sanitizer): passed"), result.stdout)
        }
    }
}
