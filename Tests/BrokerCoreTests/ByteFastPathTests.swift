// The byte-by-byte readings of git patterns and role ARNs agree with the general parsers they skip.

@testable import BrokerCore
import XCTest

final class ByteFastPathTests: XCTestCase {
    let here = SourceLocation(file: "cfg", line: 1)

    /// Patterns the byte reader must take itself (what configurations are made of).
    let plainPatterns = [
        "https://github.com", "https://github.com/", "https://github.com/acme", "https://github.com/acme/app.git",
        "HTTPS://GitHub.COM/Acme/App", "https://git.corp.example:8443/team//repo/", "ssh://host-1.example",
        "https://*.corp.example/a/b", "git+ssh://h.example/x", "https://10.0.0.1:65535/...", "https://h.example/a.b/~c_d=e,f@g",
    ]

    /// Patterns it must leave to the general parser, valid or not.
    let otherPatterns = [
        "https://[::1]/x", "https://[::1]:8443", "https://h.example/a%2fb", "https://h.example/caf\u{e9}",
        "https://user@h.example", "https://h.example:99999", "https://h.example:", "https://h.example:12a",
        "https://a.*.example", "https://x*.example", "https://*", "https://h.example/./x", "https://h.example/a/..",
        "https://-h.example", "https://h-.example", "https://h..example", "https://", "://h.example", "1https://h",
        "https://h.example/a b", "https://h.example/a\"b", "https://h.example/a;b", "https://h_x.example",
        "https://" + String(repeating: "a", count: 64) + ".example", "h.example", "",
    ]

    func testPlainPatternsAreReadByBytesExactlyAsTheGeneralParserReadsThem() throws {
        for text in plainPatterns {
            let plain = try XCTUnwrap(GitURLPattern.plain(text), text)
            XCTAssertEqual(plain, try GitURLPattern(general: text, at: here), text)
        }
    }

    func testEverythingElseGoesToTheGeneralParser() {
        for text in otherPatterns {
            XCTAssertNil(GitURLPattern.plain(text), text)
            // And the general parser is what answers: the same value or the same error.
            XCTAssertEqual(try? GitURLPattern(text, at: here), try? GitURLPattern(general: text, at: here), text)
        }
    }

    func testRoleARNsAreJudgedByBytesAsByCharacters() {
        let arns = [
            "arn:aws:iam::123456789012:role/deploy", "arn:aws-cn:iam::123456789012:role/a/b/c+=,.@_-",
            "arn:aws-us-gov:iam::123456789012:role/" + String(repeating: "r", count: 64),
            "arn:aws:iam::123456789012:role/" + String(repeating: "r", count: 65), "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role//x", "arn:aws:iam::123456789012:user/x", "arn:aws:iam::12345678901:role/x",
            "arn:aws:iam::12345678901a:role/x", "arn:aws:s3::123456789012:role/x", "arn:aws:iam:us-east-1:123456789012:role/x",
            "arn:aws-iso:iam::123456789012:role/x", "arn:aws:iam::123456789012:role/a:b", "arn:aws:iam::123456789012:role/a*b",
            "arn:aws:iam::123456789012", "arn:aws:iam::123456789012:role/d\u{e9}ploy", "",
        ]
        for arn in arns {
            let general = (try? AWSNames.checkRoleARNInDetail(arn, at: here)) != nil
            XCTAssertEqual(AWSNames.isPlainRoleARN(arn), general && arn.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f }, arn)
        }
        XCTAssertTrue(AWSNames.isPlainRoleARN("arn:aws:iam::123456789012:role/deploy"))
    }
}
