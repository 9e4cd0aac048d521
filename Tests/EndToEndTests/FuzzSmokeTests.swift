// The fuzz targets in CI on a short budget: every parser that reads outside input survives its
// seed corpus and a few seconds of libFuzzer (fuzz/run; the long mode is README's "Hardening").

import Foundation
import XCTest

final class FuzzSmokeTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func testEveryFuzzTargetRunsThreeSecondsWithoutACrash() throws {
        #if !os(Linux)
        throw XCTSkip("libFuzzer ships with the swift.org Linux toolchain, not with Xcode's")
        #endif
        let targets = try FileManager.default.contentsOfDirectory(atPath: Self.repository + "/fuzz/targets")
            .filter { $0.hasSuffix(".swift") }.map { String($0.dropLast(".swift".count)) }.sorted()
        XCTAssertGreaterThanOrEqual(targets.count, 8)
        let started = Date()

        let output = NSTemporaryDirectory() + "fuzz-smoke-\(getpid()).log"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: output) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        // Unoptimised: the build is most of the cost, and three seconds are for the seeds, not the search.
        process.arguments = [Self.repository + "/fuzz/run", "--debug", "--seconds", "3"]
        process.currentDirectoryURL = URL(fileURLWithPath: Self.repository)
        process.standardOutput = log
        process.standardError = log
        try process.run()
        process.waitUntilExit()
        try log.close()
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""

        XCTAssertEqual(process.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("\(targets.count) passed, 0 failed"), text)
        let lines = text.split(separator: "\n").map(String.init)
        for target in targets {
            // `TARGET: N execs, 0 crashes`, with N > 0.
            let line = lines.first { $0.hasPrefix("\(target): ") && $0.hasSuffix(" crashes") }
            let execs = line.flatMap { Int($0.dropFirst(target.count + 2).prefix { $0 != " " }) } ?? 0
            XCTAssertTrue(line?.hasSuffix(" execs, 0 crashes") == true && execs > 0, "\(target): \(line ?? "no summary line")\n\(text)")
            let out = Self.repository + "/fuzz/out/" + target
            // Only this run's finds: older ones may be someone's local long run under investigation.
            let artifacts = ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).filter { name in
                let modified = (try? FileManager.default.attributesOfItem(atPath: out + "/" + name))?[.modificationDate] as? Date
                return ["crash-", "leak-", "timeout-", "oom-"].contains { name.hasPrefix($0) } && (modified ?? started) >= started
            }
            XCTAssertEqual(artifacts, [], "\(target) left crash inputs in \(out)")
        }
    }
}
