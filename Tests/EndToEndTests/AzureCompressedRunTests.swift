// Expiry and refresh over a long job, compressed: 20 minutes of faked time (libfaketime, ten
// times faster) with 2-minute tokens, azure-identity in a wrap listing subscriptions every 30 s.

import Foundation
import XCTest

final class AzureCompressedRunTests: XCTestCase {
    static let libfaketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

    /// Every process of the run (the fake, the wrap, the agent, the client) shares one faked clock
    /// through libfaketime's shared memory; the fake's tokens die after 2 faked minutes and ARM
    /// refuses them then, so 40 rounds without a failure mean the agent refreshed each in time.
    func testTwentyFakedMinutesWithTwoMinuteTokensNeverFail() throws {
        guard FileManager.default.fileExists(atPath: Self.libfaketime) else { throw XCTSkip("libfaketime is not installed (apt-get install libfaketime)") }
        let sandbox = Sandbox()
        defer { AgentProcessKit.stopAgents(sandbox) }
        let driver = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/azure_compressed_run.py").path
        let result = sandbox.run(MotoServer.python, [driver, Sandbox.binDirectory, sandbox.configPath, sandbox.root + "/work", "20", "30", "120"],
                                 extraEnvironment: ["LD_PRELOAD": Self.libfaketime, "FAKETIME": "+0 x10"], timeout: 400)
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], result.stdout)
        XCTAssertEqual(summary["failures"] as? [String], [])
        XCTAssertGreaterThanOrEqual(summary["rounds"] as? Int ?? 0, 38)
        XCTAssertGreaterThanOrEqual(summary["faked_seconds"] as? Int ?? 0, 1200)
        XCTAssertEqual(summary["arm_ok"] as? Int, summary["rounds"] as? Int)
        // 20 minutes of 2-minute tokens: at least ten were issued, so refreshes happened mid-run.
        XCTAssertGreaterThanOrEqual(summary["issued"] as? Int ?? 0, 10)
    }
}
