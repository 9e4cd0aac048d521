// The pieces of doctor, explain and add that need no process: URL shapes, finding lines, config quoting.

@testable import BrokerControl
import BrokerCore
import BrokerWire
import XCTest

final class NewcomerCommandTests: XCTestCase {
    func testURLIsSplitAsGitSendsIt() {
        let shape = GitRequestShape(url: "https://user@git.example.com:8443/acme/tools.git?x=1#frag")
        XCTAssertEqual(shape?.scheme, "https")
        XCTAssertEqual(shape?.host, "git.example.com:8443")
        XCTAssertEqual(shape?.path, "acme/tools.git")
        XCTAssertEqual(shape?.hostURL, "https://git.example.com:8443")
        XCTAssertNil(GitRequestShape(url: "https://github.com")?.path)
        XCTAssertNil(GitRequestShape(url: "https://github.com/")?.path)
        XCTAssertNil(GitRequestShape(url: "github.com/acme"))
        XCTAssertNil(GitRequestShape(url: "https:///acme"))
    }

    func testFindingLinesCarryTheirFix() {
        XCTAssertEqual(DoctorFinding.ok("cache", "fine").line, "ok    cache: fine")
        XCTAssertEqual(DoctorFinding.fail("secret", "loose", fix: "chmod 600 f").line, "fail  secret: loose (fix: chmod 600 f)")
        XCTAssertEqual(DoctorFinding.warn("agent", "idle").line, "warn  agent: idle")
    }

    func testConfigValuesAreQuotedOnlyWhenTheParserWouldMisreadThem() throws {
        XCTAssertEqual(Brokerctl.configQuoted("file:secrets/a"), "file:secrets/a")
        for value in ["cmd:pass show a # b", "a;b", "say \"hi\"", "back\\slash", " padded "] {
            let text = "[identity \"x\"]\n\tkind = exec\n\tcommand = \(Brokerctl.configQuoted(value))\n"
            let entries = try ConfigSyntax.parse(text: text, file: "t")
            XCTAssertEqual(entries.last?.value, value, "round trip of \(value)")
        }
    }

    func testShellWordsSplitsCredentialProcessLikeBotocore() {
        let doctor = Doctor(ctl: Brokerctl(), network: false)
        XCTAssertEqual(doctor.shellWords("/opt/bin/aws-credential-process --identity 'my id'"),
                       ["/opt/bin/aws-credential-process", "--identity", "my id"])
        XCTAssertEqual(doctor.shellWords("  \"a b\"  c "), ["a b", "c"])
    }

    func testHelperValuesAreResolvedAsGitResolvesThem() {
        let doctor = Doctor(ctl: Brokerctl(environment: Environment(["PATH": "/nonexistent", "HOME": "/h"])), network: false)
        XCTAssertEqual(doctor.helperProgram("broker --timeout=5").ours, true)
        XCTAssertNil(doctor.helperProgram("broker").program)
        XCTAssertEqual(doctor.helperProgram("/opt/bin/git-credential-broker").program, "/opt/bin/git-credential-broker")
        XCTAssertEqual(doctor.helperProgram("~/bin/git-credential-broker").program, "/h/bin/git-credential-broker")
        XCTAssertEqual(doctor.helperProgram("cache --timeout=3600").ours, false)
        XCTAssertEqual(doctor.helperProgram("!f() { git-credential-broker \"$@\"; }; f").ours, true)
    }
}
