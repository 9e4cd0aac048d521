// git's `check` (t/lib-credential.sh) for XCTest: a transcript of input, expected stdout and
// expected stderr, run through `git credential <command>` or fed straight to the helper.

import Foundation
#if canImport(Glibc)
import Glibc
#endif
import XCTest

/// A finished process whose stdin and stdout were bytes rather than text.
struct RawResult {
    var status: Int32
    var stdout: [UInt8]
    var stderr: String
    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    var stderrLines: [Substring] { stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast() }
}

/// What a reader thread collected; read only after the DispatchGroup says it is done.
private final class Collected: @unchecked Sendable { var data = Data() }

extension Sandbox {
    /// Runs `executable` in this sandbox with `stdin` as raw bytes. Unlike `run`, a child that
    /// exits before reading all of its input (an unknown operation, a refused 70 KB line) is
    /// fine: the rest of the input is dropped (EPIPE), as git drops it.
    func runRaw(_ executable: String, _ arguments: [String], stdin: [UInt8], extraEnvironment: [String: String] = [:],
                timeout: TimeInterval = 30, file: StaticString = #filePath, line: UInt = #line) -> RawResult {
        signal(SIGPIPE, SIG_IGN)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment.merging(extraEnvironment) { $1 }
        process.currentDirectoryURL = URL(fileURLWithPath: root)
        let inPipe = Pipe(), outPipe = Pipe(), errPipe = Pipe()
        process.standardInput = inPipe
        process.standardOutput = outPipe
        process.standardError = errPipe
        do {
            try process.run()
        } catch {
            // A missing program is a test failure, not a crash of the whole test process.
            XCTFail("cannot run \(executable): \(error)", file: file, line: line)
            return RawResult(status: 127, stdout: [], stderr: "cannot run \(executable)\n")
        }
        let out = Collected(), err = Collected()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { out.data = outPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { err.data = errPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let fd = inPipe.fileHandleForWriting.fileDescriptor
        stdin.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    break  // EPIPE: the child stopped reading
                }
                offset += n
            }
        }
        try? inPipe.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(2000) }
        if process.isRunning {
            process.terminate()
            XCTFail("\(executable) \(arguments) did not finish within \(timeout) s", file: file, line: line)
        }
        process.waitUntilExit()
        group.wait()
        return RawResult(status: process.terminationStatus, stdout: Array(out.data), stderr: String(decoding: err.data, as: UTF8.self))
    }

    /// `git-credential-broker <arguments>` with raw bytes on stdin.
    func helper(_ arguments: [String], stdin: [UInt8], extraEnvironment: [String: String] = [:],
                file: StaticString = #filePath, line: UInt = #line) -> RawResult {
        runRaw(Self.executable("git-credential-broker"), arguments, stdin: stdin, extraEnvironment: extraEnvironment,
               file: file, line: line)
    }

    func helper(_ arguments: [String], stdin: String, extraEnvironment: [String: String] = [:],
                file: StaticString = #filePath, line: UInt = #line) -> RawResult {
        helper(arguments, stdin: Array(stdin.utf8), extraEnvironment: extraEnvironment, file: file, line: line)
    }
}

/// One conversation with the helper against one sandbox, in the order git's test groups run
/// it: each `test` names the next git test case; each `check` is one `check` call of that case.
final class CredentialConversation {
    enum Command: String {
        // `git credential <command>`
        case fill, approve, reject
        // what git then runs: `git-credential-broker <operation>`
        case get, store, erase
    }

    let sandbox: Sandbox
    /// Extra words after the helper's path in `credential.helper` (`--timeout=1`).
    let helperArguments: String
    private(set) var currentTest = "(setup)"

    init(_ sandbox: Sandbox, helperArguments: String = "") {
        self.sandbox = sandbox
        self.helperArguments = helperArguments
    }

    /// Starts the next git test case; failures below name it.
    func test(_ name: String) { currentTest = name }

    /// git's `check`: `fill`/`approve`/`reject` run `git credential <command>` with our helper as
    /// the only one; `get`/`store`/`erase` feed the input straight to `git-credential-broker`.
    /// Either must exit 0 and print exactly the expected stdout and stderr.
    func check(_ command: Command, _ text: String, config: [String] = [],
               file: StaticString = #filePath, line: UInt = #line) {
        let expected = transcript(text)
        // A store that outlives its agent must answer every step from what it kept.
        if sandbox.restartsAgentBetweenSteps { sandbox.stopAgent() }
        let status: Int32, stdout: String, stderr: String
        switch command {
        case .fill, .approve, .reject:
            let result = sandbox.git(["credential", command.rawValue], stdin: expected.input,
                                     helperArguments: helperArguments, config: config)
            (status, stdout, stderr) = (result.status, result.stdout, result.stderr)
        case .get, .store, .erase:
            precondition(config.isEmpty, "git configuration only applies through git")
            let arguments = (helperArguments.isEmpty ? [] : helperArguments.split(separator: " ").map(String.init)) + [command.rawValue]
            let result = sandbox.helper(arguments, stdin: expected.input, file: file, line: line)
            (status, stdout, stderr) = (result.status, result.stdoutText, result.stderr)
        }
        let step = "helper (broker) \(currentTest) [\(command.rawValue)]"
        XCTAssertEqual(status, 0, "\(step): exit status; stderr: \(stderr)", file: file, line: line)
        XCTAssertEqual(stdout, expected.stdout, "\(step): stdout", file: file, line: line)
        XCTAssertEqual(stderr, expected.stderr, "\(step): stderr", file: file, line: line)
    }
}
