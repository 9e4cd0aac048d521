// The loopback endpoint's request head parser, as a table: what it accepts (and how it reads the
// headers), and the one sentence each malformed head is refused with.

@testable import BrokerAgent
import BrokerWire
import XCTest

final class HTTPRequestHeadTests: XCTestCase {
    /// "ok METHOD TARGET name=value|..." or the refusal's message.
    func outcome(_ text: [UInt8]) -> String {
        switch HTTPRequestHead.parse(text) {
        case .success(let head):
            return "ok \(head.method) \(head.target) " + head.headers.map { "\($0.0)=\($0.1)" }.joined(separator: "|")
        case .failure(let reply):
            XCTAssertEqual(reply.status, 400)
            guard case .object(let members) = reply.body, case .string(let message)? = members.first(where: { $0.0 == "message" })?.1 else {
                return "no message"
            }
            return message
        }
    }

    func outcome(_ text: String) -> String { outcome(Array(text.utf8)) }

    func testWellFormedHeadsAreReadAsSent() {
        let rows: [(String, String)] = [
            ("GET /credentials HTTP/1.1\r\nHost: 127.0.0.1:1\r\nAuthorization: abc\r\n\r\n", "ok GET /credentials Host=127.0.0.1:1|Authorization=abc"),
            ("GET / HTTP/1.0\r\n\r\n", "ok GET / "),
            ("GET /x?y=1 HTTP/1.1\r\nX:   a b \t\r\nEmpty:\r\n\r\n", "ok GET /x?y=1 X=a b|Empty="),
            ("GET / HTTP/1.1\r\nX: a\tb\r\nY: é\r\nContent-Length: 0\r\n\r\n", "ok GET / X=a\tb|Y=é|Content-Length=0"),
            ("GET / HTTP/1.1\r\nX-Odd!#$%&'*+-.^_`|~9: v\r\n\r\n", "ok GET / X-Odd!#$%&'*+-.^_`|~9=v"),
        ]
        for (text, expected) in rows { XCTAssertEqual(outcome(text), expected, text.debugDescription) }
    }

    func testMalformedHeadsAreRefusedWithTheirReason() {
        let rows: [(String, String)] = [
            ("GET / HTTP/1.1\r\nHost: a\nb\r\n\r\n", "line ends must be CRLF"),
            ("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", "line ends must be CRLF"),
            ("\nGET / HTTP/1.1\r\n\r\n", "line ends must be CRLF"),
            // A line-end error anywhere wins over an earlier line's other fault.
            ("get / HTTP/1.1\r\nX: a\nb\r\n\r\n", "line ends must be CRLF"),
            ("GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", "folded header lines are not accepted"),
            ("GET / HTTP/1.1\r\nHost: a\r\n\tb\r\n\r\n", "folded header lines are not accepted"),
            ("GET / HTTP/1.1\r\nHost a\r\n\r\n", "malformed header line"),
            ("GET / HTTP/1.1\r\n: a\r\n\r\n", "malformed header line"),
            ("GET / HTTP/1.1\r\nHo st: a\r\n\r\n", "malformed header name"),
            ("GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", "malformed header name"),
            ("GET / HTTP/1.1\r\nHöst: a\r\n\r\n", "malformed header name"),
            ("GET / HTTP/1.1\r\nX: a\u{1}b\r\n\r\n", "control character in a header"),
            ("GET / HTTP/1.1\r\nX: a\u{7f}\r\n\r\n", "control character in a header"),
            ("GET / HTTP/1.1\r\nX: \u{0}\r\n\r\n", "control character in a header"),
            ("get / HTTP/1.1\r\n\r\n", "malformed request line"),
            ("GET credentials HTTP/1.1\r\n\r\n", "malformed request line"),
            ("GET / HTTP/2\r\n\r\n", "malformed request line"),
            ("GET /\r\n\r\n", "malformed request line"),
            ("GET / HTTP/1.1 x\r\n\r\n", "malformed request line"),
            ("GET / HTTP/1.1\r\nAuthorization: a\r\nauthorization: b\r\n\r\n", "more than one Authorization header"),
            ("GET / HTTP/1.1\r\nHost: a\r\nHOST: a\r\n\r\n", "more than one Host header"),
            ("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "a request body is not accepted"),
            ("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", "a request body is not accepted"),
            ("GET / HTTP/1.1\r\nX: a", "incomplete request"),
            ("GET / HTTP/1.1\r\n" + String(repeating: "X: a\r\n", count: 65) + "\r\n", "too many headers"),
        ]
        for (text, expected) in rows { XCTAssertEqual(outcome(text), expected, text.debugDescription) }
    }

    func testBytesThatAreNotUTF8AreRefused() {
        let head = Array("GET / HTTP/1.1\r\nX: ".utf8) + [0xff, 0xfe] + Array("\r\n\r\n".utf8)
        XCTAssertEqual(outcome(head), "control character in a header")
        let line = Array("GET /".utf8) + [0xc3] + Array(" HTTP/1.1\r\n\r\n".utf8)
        XCTAssertEqual(outcome(line), "no request line")
    }

    func testTheHostMustNameThisEndpointOnLoopback() {
        func host(_ value: String?) -> Bool {
            let line = value.map { "Host: \($0)\r\n" } ?? ""
            guard case .success(let head) = HTTPRequestHead.parse(Array("GET / HTTP/1.1\r\nX: y\r\n\(line)\r\n".utf8)) else {
                XCTFail("unparsed: \(value ?? "no host")")
                return false
            }
            return head.hostIsLoopback(port: Array("8080".utf8))
        }
        let rows: [(String?, Bool)] = [
            ("127.0.0.1:8080", true), ("localhost:8080", true), ("LocalHost:8080", true), ("  127.0.0.1:8080 ", true),
            ("127.0.0.1:808", false), ("127.0.0.1:80800", false), ("127.0.0.1:08080", false), ("127.0.0.1", false),
            ("127.0.0.2:8080", false), ("127.0.0.10:8080", false), ("xlocalhost:8080", false), ("localhost.:8080", false),
            (":8080", false), ("8080", false), ("", false), ("evil.example:8080", false), ("127.0.0.1;8080", false), (nil, false),
        ]
        for (value, expected) in rows { XCTAssertEqual(host(value), expected, value ?? "no Host header") }
    }

    func testAHeaderValueComparedInPlaceIsExact() throws {
        guard case .success(let head) = HTTPRequestHead.parse(Array("GET / HTTP/1.1\r\nmetadata-flavor: Google\r\nB: google\r\nB: x\r\nC: Googles\r\n\r\n".utf8)) else {
            return XCTFail("unparsed")
        }
        XCTAssertTrue(head.value(of: "metadata-flavor", is: "Google"), "names fold case")
        XCTAssertFalse(head.value(of: "b", is: "Google"), "values do not")
        XCTAssertFalse(head.value(of: "b", is: "x"), "the first of repeated headers is read, as value(of:) reads it")
        XCTAssertFalse(head.value(of: "c", is: "Google"))
        XCTAssertFalse(head.value(of: "d", is: ""), "an absent header is no value")
    }

    func testTheHeadEndsAtTheFirstBlankLine() {
        XCTAssertEqual(Array("GET / HTTP/1.1\r\n\r\nX: b\r\n\r\n".utf8).headEnd, 14)
        XCTAssertEqual(Array("\r\n\r\n".utf8).headEnd, 0)
        XCTAssertNil(Array("GET / HTTP/1.1\r\n\r".utf8).headEnd)
        XCTAssertNil(Array("\n\r\n\r\n".utf8.dropLast()).headEnd)
        XCTAssertTrue(Array("GET / HTTP/1.1\n\n".utf8).hasBareBlankLine)
        XCTAssertFalse(Array("GET / HTTP/1.1\r\n\r\n".utf8).hasBareBlankLine)
        XCTAssertFalse(Array("\n".utf8).hasBareBlankLine)
    }
}
