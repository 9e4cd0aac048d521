// Keeps the Darwin-only sources (KeychainKeyring and its tests) honest on Linux, where they are never compiled: `swiftc -parse` reads inactive `#if os(macOS)` blocks too.
import Foundation
import XCTest

final class DarwinSourcesParseTests: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The swiftc beside the running toolchain's, else on PATH.
    static var swiftc: String? {
        for directory in ["/opt/swift/usr/bin"] + (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        where FileManager.default.isExecutableFile(atPath: directory + "/swiftc") {
            return directory + "/swiftc"
        }
        return nil
    }

    func parse(_ path: String) throws -> (status: Int32, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try XCTUnwrap(Self.swiftc))
        process.arguments = ["-parse", path]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    func testEveryDarwinOnlyFileParses() throws {
        guard Self.swiftc != nil else { throw XCTSkip("no swiftc") }
        var darwinOnly: [String] = []
        for top in ["Sources", "Tests"] {
            let root = Self.packageRoot.appendingPathComponent(top).path
            let items = (FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? []
            for item in items where item.hasSuffix(".swift") {
                let path = root + "/" + item
                if let text = try? String(contentsOfFile: path, encoding: .utf8), text.contains("#if os(macOS)") { darwinOnly.append(path) }
            }
        }
        XCTAssertTrue(darwinOnly.contains { $0.hasSuffix("Keyring/KeychainKeyring.swift") }, "\(darwinOnly)")
        XCTAssertTrue(darwinOnly.contains { $0.hasSuffix("KeychainKeyringTests.swift") }, "\(darwinOnly)")
        for path in darwinOnly {
            let result = try parse(path)
            XCTAssertEqual(result.status, 0, "\(path): \(result.errors)")
        }
    }

    /// The check can fail: a syntax error inside an inactive macOS block is reported.
    func testASyntaxErrorInAnInactiveMacOSBlockIsCaught() throws {
        guard Self.swiftc != nil else { throw XCTSkip("no swiftc") }
        let path = NSTemporaryDirectory() + "darwin-parse-\(getpid()).swift"
        defer { unlink(path) }
        try "#if os(macOS)\nfunc broken( {\n#endif\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertNotEqual(try parse(path).status, 0)
    }
}
