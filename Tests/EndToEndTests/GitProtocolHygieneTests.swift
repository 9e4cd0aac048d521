// What git-credential-broker promises git beyond t/lib-credential.sh: stdout is only ever a
// complete answer of key=value lines; refused input gives exactly one stderr line, a non-zero
// exit and nothing on stdout; the helper never prompts. Each case feeds the helper's stdin
// directly, as git does.

import Foundation
import XCTest

final class GitProtocolHygieneTests: XCTestCase {
    static let prefix = "git-credential-broker: "

    /// The keys a helper may answer with (git ≥ 2.46).
    static let answerKeys: Set<String> = [
        "capability[]", "username", "password", "authtype", "credential", "ephemeral",
        "password_expiry_utc", "oauth_refresh_token", "state[]", "continue", "quit",
    ]

    /// Exit non-zero, nothing on stdout, exactly one stderr line starting with the program name,
    /// and none of `secrets` anywhere in it.
    func assertRefused(_ result: RawResult, secrets: [String] = [], _ message: String = "",
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(result.status, 0, "exit status \(message)", file: file, line: line)
        XCTAssertEqual(result.stdout, [], "stdout must stay empty \(message)", file: file, line: line)
        XCTAssertEqual(result.stderrLines.count, 1, "exactly one stderr line \(message): \(result.stderr)", file: file, line: line)
        XCTAssertTrue(result.stderr.hasPrefix(Self.prefix), "stderr starts with the program \(message): \(result.stderr)", file: file, line: line)
        XCTAssertTrue(result.stderr.hasSuffix("\n"), "stderr line ends with LF \(message)", file: file, line: line)
        for secret in secrets {
            XCTAssertFalse(result.stderr.contains(secret), "stderr must not show a value \(message)", file: file, line: line)
        }
    }

    /// Exit 0 with exactly `stdout` and no stderr.
    func assertAnswer(_ result: RawResult, _ stdout: String, _ message: String = "",
                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result.status, 0, "exit status \(message); stderr: \(result.stderr)", file: file, line: line)
        XCTAssertEqual(result.stdoutText, stdout, "stdout \(message)", file: file, line: line)
        XCTAssertEqual(result.stderr, "", "stderr \(message)", file: file, line: line)
    }

    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    // MARK: stdout

    func testStdoutCarriesOnlyKeyValueLines() {
        let sandbox = Sandbox()
        let store = sandbox.helper(["store"], stdin: """
            capability[]=authtype
            authtype=Bearer
            credential=tok
            protocol=https
            host=example.com
            username=u
            password=p
            password_expiry_utc=9999999999
            oauth_refresh_token=r
            wwwauth[]=Basic realm="x"
            frob=nicate

            """)
        assertAnswer(store, "", "store prints nothing")
        for input in ["capability[]=authtype\nprotocol=https\nhost=example.com\n", "protocol=https\nhost=example.com\n",
                      "protocol=https\nhost=example.com\nusername=u\n"] {
            let get = sandbox.helper(["get"], stdin: input)
            XCTAssertEqual(get.status, 0, get.stderr)
            XCTAssertEqual(get.stderr, "")
            XCTAssertFalse(get.stdout.isEmpty)
            XCTAssertEqual(get.stdout.last, UInt8(ascii: "\n"), "the answer ends with a complete line")
            XCTAssertFalse(get.stdout.contains(0) || get.stdout.contains(13), "no NUL or CR on stdout")
            for line in get.stdoutText.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                guard let eq = line.firstIndex(of: "=") else { XCTFail("not key=value: \(line)"); continue }
                XCTAssertTrue(Self.answerKeys.contains(String(line[..<eq])), "not a key of git's answer: \(line)")
            }
        }
        assertAnswer(sandbox.helper(["get"], stdin: "protocol=https\nhost=unknown.tld\n"), "", "no match prints nothing")
        assertAnswer(sandbox.helper(["erase"], stdin: "protocol=https\nhost=example.com\n"), "", "erase prints nothing")
    }

    // MARK: refused input

    func testValueWithCarriageReturnIsRefused() {
        let sandbox = Sandbox()
        for operation in ["get", "store", "erase"] {
            let result = sandbox.helper([operation], stdin: "protocol=https\nhost=example.com\nusername=u\npassword=s3cr3tA\rs3cr3tB\n")
            assertRefused(result, secrets: ["s3cr3t"], operation)
        }
        assertAnswer(sandbox.helper(["get"], stdin: "protocol=https\nhost=example.com\n"), "", "nothing was stored")
    }

    func testValueWithNULIsRefused() {
        let sandbox = Sandbox()
        for operation in ["get", "store", "erase"] {
            let result = sandbox.helper([operation], stdin: bytes("protocol=https\nhost=example.com\nusername=u\npassword=s3cr3tA") + [0] + bytes("s3cr3tB\n"))
            assertRefused(result, secrets: ["s3cr3t"], operation)
        }
        assertAnswer(sandbox.helper(["get"], stdin: "protocol=https\nhost=example.com\n"), "", "nothing was stored")
    }

    func testValueWithInvalidUTF8IsRefused() {
        let sandbox = Sandbox()
        for operation in ["get", "store", "erase"] {
            let result = sandbox.helper([operation], stdin: bytes("protocol=https\nhost=example.com\nusername=u\npassword=s3cr3tA") + [0xFF, 0xFE] + bytes("s3cr3tB\n"))
            assertRefused(result, secrets: ["s3cr3t"], operation)
            XCTAssertEqual(String(validating: Array(result.stderr.utf8), as: UTF8.self), result.stderr)
        }
        assertAnswer(sandbox.helper(["get"], stdin: "protocol=https\nhost=example.com\n"), "", "nothing was stored")
    }

    func testLineOver65535BytesIsRefused() {
        let sandbox = Sandbox()
        let key = "wwwauth[]="
        let longest = String(repeating: "a", count: 65535 - key.utf8.count)
        assertAnswer(sandbox.helper(["get"], stdin: "protocol=https\nhost=example.com\n\(key)\(longest)\n"), "",
                     "a line of 65535 bytes is fine")
        for operation in ["get", "store", "erase"] {
            let result = sandbox.helper([operation], stdin: "protocol=https\nhost=example.com\n\(key)\(longest)a\nusername=u\npassword=p\n")
            assertRefused(result, operation)
        }
        // A 10 MB line is refused as soon as it passes the limit, not after it has all arrived.
        let huge = sandbox.helper(["store"], stdin: bytes("protocol=https\nhost=example.com\npassword=") + [UInt8](repeating: 0x61, count: 10 << 20))
        assertRefused(huge)
        assertAnswer(sandbox.helper(["get"], stdin: "protocol=https\nhost=example.com\n"), "", "nothing was stored")
    }

    func testMissingProtocolIsRefused() {
        let sandbox = Sandbox()
        for operation in ["get", "store", "erase"] {
            assertRefused(sandbox.helper([operation], stdin: "host=example.com\nusername=u\npassword=p\n"), secrets: ["=p"], operation)
        }
    }

    func testMissingHostIsRefused() {
        let sandbox = Sandbox()
        for operation in ["get", "store", "erase"] {
            assertRefused(sandbox.helper([operation], stdin: "protocol=https\nusername=u\npassword=p\n"), secrets: ["=p"], operation)
        }
    }

    // MARK: accepted input

    func testCRLFTerminatedInputIsAccepted() {
        let sandbox = Sandbox()
        assertAnswer(sandbox.helper(["store"], stdin: "protocol=https\r\nhost=example.com\r\nusername=u\r\npassword=p\r\n\r\n"), "")
        assertAnswer(sandbox.helper(["get"], stdin: "protocol=https\r\nhost=example.com\r\n"),
                     "capability[]=authtype\nusername=u\npassword=p\n", "CR is not part of a stored value")
        assertAnswer(sandbox.helper(["get"], stdin: "protocol=https\nhost=example.com\nusername=u\n"),
                     "capability[]=authtype\nusername=u\npassword=p\n", "the CRLF entry matches LF input")
    }

    func testInputWithoutFinalNewlineIsAccepted() {
        let sandbox = Sandbox()
        assertAnswer(sandbox.helper(["store"], stdin: "protocol=https\nhost=example.com\nusername=u\npassword=p"), "")
        assertAnswer(sandbox.helper(["get"], stdin: "protocol=https\nhost=example.com"),
                     "capability[]=authtype\nusername=u\npassword=p\n")
        assertAnswer(sandbox.helper(["erase"], stdin: "protocol=https\nhost=example.com\nusername=u"), "")
        assertAnswer(sandbox.helper(["get"], stdin: "protocol=https\nhost=example.com\n"), "", "the erase took effect")
    }

    func testUnknownKeysAreIgnoredNotEchoed() {
        let sandbox = Sandbox()
        // Keys of the broker's own socket protocol must not steer the agent either.
        assertAnswer(sandbox.helper(["store"], stdin: """
            protocol=https
            host=example.com
            username=u
            password=p
            frob=nicate
            url=https://other.tld/
            op=git.erase
            v=2
            timeout=0
            status=error

            """), "")
        assertAnswer(sandbox.helper(["get"], stdin: """
            protocol=https
            host=example.com
            frob=nicate
            quit=1
            url=https://other.tld/

            """), "capability[]=authtype\nusername=u\npassword=p\n")
    }

    func testInputAfterTheBlankLineIsNotRead() {
        let sandbox = Sandbox()
        assertAnswer(sandbox.helper(["store"], stdin: "protocol=https\nhost=example.com\nusername=u\npassword=p\n\nusername=other\n"), "")
        assertAnswer(sandbox.helper(["get"], stdin: "protocol=https\nhost=example.com\n\nhost=other.tld\n"),
                     "capability[]=authtype\nusername=u\npassword=p\n")
    }

    // MARK: operations and arguments

    func testUnknownOperationExitsZeroWithNoOutput() {
        let sandbox = Sandbox()
        assertAnswer(sandbox.helper(["frobnicate"], stdin: "protocol=https\nhost=example.com\n"), "")
        assertAnswer(sandbox.helper(["--timeout=5", "frobnicate"], stdin: ""), "")
        XCTAssertNil(sandbox.agentPID, "an unknown operation does not start the agent")
    }

    func testCapabilityAnnouncesAuthtype() {
        let sandbox = Sandbox()
        assertAnswer(sandbox.helper(["capability"], stdin: ""), "version 0\ncapability authtype\n")
        XCTAssertNil(sandbox.agentPID, "announcing capabilities does not start the agent")
    }

    func testBadTimeoutIsAUsageError() {
        let sandbox = Sandbox()
        for arguments in [["--timeout=x", "get"], ["--timeout=-1", "store"], ["--timeout", "get"], ["--timeout="]] {
            let result = sandbox.helper(arguments, stdin: "protocol=https\nhost=example.com\n")
            XCTAssertEqual(result.status, 64, "\(arguments)")
            assertRefused(result, "\(arguments)")
        }
        XCTAssertNil(sandbox.agentPID)
    }

    // MARK: no prompting

    func testHelperNeverPrompts() {
        let sandbox = Sandbox()
        let marker = sandbox.root + "/prompted"
        let prompter = sandbox.write("prompter", "#!/bin/sh\necho \"$*\" >> \(marker)\necho answer\n", mode: 0o755)
        let environment = ["GIT_ASKPASS": prompter, "SSH_ASKPASS": prompter, "SSH_ASKPASS_REQUIRE": "force",
                           "DISPLAY": ":0", "GIT_TERMINAL_PROMPT": "1"]
        for input in ["protocol=https\nhost=example.com\n", "protocol=https\nhost=example.com\nusername=u\n",
                      "capability[]=authtype\nprotocol=https\nhost=example.com\n"] {
            assertAnswer(sandbox.helper(["get"], stdin: input, extraEnvironment: environment), "", "nothing stored: no answer")
        }
        assertAnswer(sandbox.helper(["store"], stdin: "protocol=https\nhost=example.com\nusername=u\n", extraEnvironment: environment), "")
        assertAnswer(sandbox.helper(["erase"], stdin: "protocol=https\nhost=example.com\n", extraEnvironment: environment), "")
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "the helper ran an askpass program")
    }

    /// Under strace: the helper opens no terminal and runs no program when the agent is up.
    func testHelperDoesNotOpenTheTerminal() throws {
        guard let strace = ["/usr/bin/strace", "/bin/strace"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("strace is not installed")
        }
        let sandbox = Sandbox()
        assertAnswer(sandbox.helper(["store"], stdin: "protocol=https\nhost=example.com\nusername=u\npassword=p\n"), "")
        XCTAssertNotNil(sandbox.agentPID)
        let helper = Sandbox.executable("git-credential-broker")
        for (operation, input, stdout) in [("get", "protocol=https\nhost=example.com\n", "capability[]=authtype\nusername=u\npassword=p\n"),
                                           ("get", "protocol=https\nhost=unknown.tld\n", ""),
                                           ("store", "protocol=https\nhost=example.com\nusername=u\npassword=p\n", ""),
                                           ("erase", "protocol=https\nhost=other.tld\n", "")] {
            let trace = sandbox.root + "/trace-\(operation)"
            let result = sandbox.runRaw(strace, ["-qq", "-o", trace, "-e", "trace=open,openat,execve,ioctl", helper, operation],
                                        stdin: bytes(input))
            let log = sandbox.read(trace)
            if result.status != 0 && log.isEmpty {
                throw XCTSkip("strace cannot trace here: \(result.stderr)")
            }
            assertAnswer(result, stdout, operation)
            XCTAssertFalse(log.contains("/dev/tty"), "\(operation) opened the terminal:\n\(log)")
            // The Swift runtime asks whether stdout is a terminal (ioctl(1, TCGETS)); prompting
            // would probe stdin or a terminal's process group, or switch echo off (TCSETS*).
            XCTAssertFalse(log.contains("ioctl(0,") || log.contains("TCSETS") || log.contains("TIOCGPGRP"),
                           "\(operation) used a terminal:\n\(log)")
            XCTAssertEqual(log.split(separator: "\n").filter { $0.contains("execve(") }.count, 1, "\(operation) ran another program:\n\(log)")
        }
    }

    // MARK: what is kept

    func testEphemeralCredentialIsNotKept() {
        let sandbox = Sandbox()
        for (index, value) in ["1", "true", "yes", "on", "TRUE", "2"].enumerated() {
            assertAnswer(sandbox.helper(["store"], stdin: "protocol=https\nhost=h\(index).tld\nusername=u\npassword=p\nephemeral=\(value)\n"), "")
            assertAnswer(sandbox.helper(["get"], stdin: "protocol=https\nhost=h\(index).tld\n"), "", "ephemeral=\(value)")
        }
        assertAnswer(sandbox.helper(["store"], stdin: "capability[]=authtype\nprotocol=https\nhost=bearer.tld\nauthtype=Bearer\ncredential=t\nephemeral=1\n"), "")
        assertAnswer(sandbox.helper(["get"], stdin: "capability[]=authtype\nprotocol=https\nhost=bearer.tld\n"), "", "ephemeral bearer")
        for value in ["0", "false", "no", "off", ""] {
            assertAnswer(sandbox.helper(["store"], stdin: "protocol=https\nhost=kept.tld\nusername=u\npassword=p-\(value)\nephemeral=\(value)\n"), "")
            assertAnswer(sandbox.helper(["get"], stdin: "protocol=https\nhost=kept.tld\n"),
                         "capability[]=authtype\nusername=u\npassword=p-\(value)\n", "ephemeral=\(value) is kept")
        }
    }

    // MARK: failures of the broker itself

    func testAgentThatCannotStartGivesOneLineAndNoOutput() {
        let sandbox = Sandbox()
        let result = sandbox.helper(["get"], stdin: "protocol=https\nhost=example.com\n",
                                    extraEnvironment: ["BROKER_AGENT": sandbox.root + "/no-such-agent"])
        assertRefused(result)
    }
}
