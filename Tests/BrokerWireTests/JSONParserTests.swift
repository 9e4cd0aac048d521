// The Foundation-free JSON reader: what docker's store and client-go's exec info send, and what it refuses.

import BrokerWire
import XCTest

final class JSONParserTests: XCTestCase {
    func testReadsObjectsArraysAndScalars() throws {
        let value = try JSONValue.parse(#" {"a": [1, -2, true, false, null], "b": {"c": "d"}, "e": 1.5e3} "#)
        XCTAssertEqual(value[member: "a"], .array([.int(1), .int(-2), .bool(true), .bool(false), .null]))
        XCTAssertEqual(value[member: "b"]?[member: "c"]?.stringValue, "d")
        XCTAssertEqual(value[member: "e"], .string("1.5e3"), "a non-integer keeps its literal text")
    }

    func testDecodesEveryEscapeAndSurrogatePairs() throws {
        XCTAssertEqual(try JSONValue.parse(#""a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00""#).stringValue, "a\"b\\c/d\u{8}\u{c}\n\r\té😀")
    }

    func testRoundTripsWhatTheEncoderWrites() throws {
        let value = JSONValue.object([("k", .string("line\nbreak \"quoted\" \u{1}")), ("n", .int(-42)), ("l", .array([.null]))])
        XCTAssertEqual(try JSONValue.parse(value.encoded()), value)
    }

    func testRefusesWhatIsNotJSON() {
        for text in ["", "{", "{\"a\"}", "[1,]", "{\"a\":1,}", "01", "\"\\x\"", "\"\\ud83d\"", "\"a\u{1}\"", "tru", "1 2", "{'a':1}"] {
            XCTAssertThrowsError(try JSONValue.parse(text), text)
        }
        XCTAssertThrowsError(try JSONValue.parse(String(repeating: "[", count: 100) + String(repeating: "]", count: 100)), "nesting is bounded")
    }
}
