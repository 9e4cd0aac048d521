// The unit and agent tests under ThreadSanitizer and AddressSanitizer, as part of every test run.

import Foundation
import XCTest

final class SanitizerTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// scripts/sanitizers builds its own instrumented copies of the library modules and their unit
    /// tests (.build-thread-sanitizer, .build-address-sanitizer) and fails on any report; a few
    /// minutes on two cores, nearly all of it the two builds.
    func testUnitAndAgentTestsAreCleanUnderThreadAndAddressSanitizers() {
        let result = Sandbox().run("/bin/bash", [Self.repository + "/scripts/sanitizers"], timeout: 1800)
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertTrue(result.stdout.contains("thread: passed"), result.stdout)
        XCTAssertTrue(result.stdout.contains("address: passed"), result.stdout)
    }
}
