// DESIGN D13: Linux-only API in shared code must sit behind `#if os(Linux)` / `#if canImport(Glibc)`.

import Foundation
import XCTest

/// Scans Sources/**/*.swift for names that exist only on Linux. Each must appear inside a branch
/// that compiles only there; `/proc/` paths may appear only in the system layer's allow-listed
/// files (one /proc reader), and inside such a branch there too.
final class PortabilityTests: XCTestCase {
    /// Identifiers (matched as whole words, outside string literals and comments).
    static let linuxOnlyNames = ["st_mtim", "st_atim", "st_ctim", "SO_PEERCRED", "CLOCK_BOOTTIME", "PR_SET_PDEATHSIG",
                                 "PR_SET_NAME", "prctl", "accept4", "pidfd_open", "pidfd_send_signal", "epoll_create1",
                                 "epoll_wait", "epoll_ctl", "inotify_init1", "inotify_add_watch", "MSG_NOSIGNAL",
                                 "SOCK_CLOEXEC", "SOCK_NONBLOCK", "O_PATH", "memfd_create", "getrandom", "signalfd",
                                 "timerfd_create", "eventfd", "close_range", "malloc_trim", "mallopt"]
    /// The files that implement the platform split.
    static let systemLayer = ["BrokerWire/System.swift", "BrokerWire/ProcFS.swift"]

    struct Finding: CustomStringConvertible {
        var file: String, line: Int, text: String, why: String
        var description: String { "\(file):\(line): \(why): \(text)" }
    }

    static var sourcesDirectory: String {
        var path = "\(#filePath)"
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path + "/Sources"
    }

    func testLinuxOnlyNamesStayBehindALinuxOnlyBranch() throws {
        let root = Self.sourcesDirectory
        guard let walker = FileManager.default.enumerator(atPath: root) else { return XCTFail("no \(root)") }
        var findings: [Finding] = []
        var scanned = 0
        for case let relative as String in walker where relative.hasSuffix(".swift") {
            let text = try String(contentsOfFile: root + "/" + relative, encoding: .utf8)
            findings += Self.scan(text, file: relative, allowProc: Self.systemLayer.contains(relative))
            scanned += 1
        }
        XCTAssertGreaterThan(scanned, 20, "Sources not found at \(root)")
        XCTAssertTrue(findings.isEmpty, "Linux-only API outside a Linux-only branch (DESIGN D13):\n"
                      + findings.map(\.description).joined(separator: "\n"))
    }

    func testTheScannerSeesThroughBranchesAndStrings() {
        let guarded = "#if os(Linux)\nlet a = st_mtim\n#else\nlet a = st_mtimespec\n#endif\n"
        XCTAssertTrue(Self.scan(guarded, file: "x", allowProc: false).isEmpty)
        XCTAssertEqual(Self.scan("#if os(Linux)\n#else\nlet a = st_mtim\n#endif\n", file: "x", allowProc: false).count, 1)
        XCTAssertEqual(Self.scan("#if canImport(Darwin)\nimport Darwin\n#else\nlet x = SO_PEERCRED\n#endif\n", file: "x", allowProc: false).count, 0)
        XCTAssertEqual(Self.scan("let s = \"(SO_PEERCRED on Linux)\" // st_mtim\n", file: "x", allowProc: false).count, 0)
        XCTAssertEqual(Self.scan("import Glibc\n", file: "x", allowProc: false).count, 1)
        XCTAssertEqual(Self.scan("#if canImport(Glibc)\nimport Glibc\n#endif\n", file: "x", allowProc: false).count, 0)
        XCTAssertEqual(Self.scan("#if os(Linux)\nopen(\"/proc/1/stat\")\n#endif\n", file: "x", allowProc: false).count, 1)
        XCTAssertEqual(Self.scan("#if os(Linux)\nopen(\"/proc/1/stat\")\n#endif\n", file: "x", allowProc: true).count, 0)
        XCTAssertEqual(Self.scan("open(\"/proc/1/stat\")\n", file: "x", allowProc: true).count, 1)
    }

    /// One frame per open `#if`: whether the current branch is Linux-only, and whether an earlier
    /// branch was the non-Linux one (so `#else` is Linux-only).
    struct Frame { var linuxOnly: Bool; var earlierWasDarwin: Bool }

    static func scan(_ text: String, file: String, allowProc: Bool) -> [Finding] {
        var stack: [Frame] = []
        var findings: [Finding] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            func isLinux(_ condition: Substring) -> Bool {
                !condition.contains("!") && (condition.contains("os(Linux)") || condition.contains("canImport(Glibc)"))
            }
            func isDarwin(_ condition: Substring) -> Bool {
                !condition.contains("!") && (condition.contains("canImport(Darwin)") || condition.contains("os(macOS)"))
            }
            if line.hasPrefix("#if ") {
                let condition = line.dropFirst(4)
                stack.append(Frame(linuxOnly: isLinux(condition), earlierWasDarwin: isDarwin(condition)))
                continue
            }
            if line.hasPrefix("#elseif "), !stack.isEmpty {
                let condition = line.dropFirst(8)
                stack[stack.count - 1].earlierWasDarwin = stack[stack.count - 1].earlierWasDarwin || isDarwin(condition)
                stack[stack.count - 1].linuxOnly = isLinux(condition)
                continue
            }
            if line.hasPrefix("#else"), !stack.isEmpty {
                stack[stack.count - 1].linuxOnly = stack[stack.count - 1].earlierWasDarwin
                continue
            }
            if line.hasPrefix("#endif") { _ = stack.popLast(); continue }
            let guarded = stack.contains { $0.linuxOnly }
            let (code, strings) = split(line)
            var why: [String] = []
            if code.contains("Glibc") && code.range(of: #"\bimport\s+Glibc\b"#, options: .regularExpression) != nil && !guarded {
                why.append("import Glibc")
            }
            for name in linuxOnlyNames where !guarded && code.contains(name) && code.range(of: "\\b\(name)\\b", options: .regularExpression) != nil {
                why.append(name)
            }
            if strings.contains(where: { $0.hasPrefix("/proc/") }) {
                if !allowProc { why.append("/proc/ outside the system layer (\(systemLayer.joined(separator: ", ")))") }
                else if !guarded { why.append("/proc/") }
            }
            if !why.isEmpty {
                findings.append(Finding(file: file, line: index + 1, text: line, why: why.joined(separator: ", ")))
            }
        }
        return findings
    }

    /// The line's code (string contents blanked, `//` comment dropped) and its string literals.
    static func split(_ line: String) -> (code: String, strings: [String]) {
        var code = "", strings: [String] = [], current = ""
        var inString = false, escaped = false
        var previous: Character = " "
        for c in line {
            if inString {
                if escaped { escaped = false; current.append(c) }
                else if c == "\\" { escaped = true; current.append(c) }
                else if c == "\"" { inString = false; strings.append(current); current = ""; code.append("\"") }
                else { current.append(c) }
            } else if c == "\"" {
                inString = true
                code.append("\"")
            } else if c == "/" && previous == "/" {
                code.removeLast()
                break
            } else {
                code.append(c)
            }
            previous = c
        }
        if inString { strings.append(current) }
        return (code, strings)
    }
}
