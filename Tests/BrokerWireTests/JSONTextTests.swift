// The Foundation-free JSON writer: whatever it writes, a real JSON parser reads back the same.

@testable import BrokerWire
import Foundation
import XCTest

final class JSONTextTests: XCTestCase {
    func testEscapesWhatJSONRequiresAndParsesBack() throws {
        let tricky = "quote\" backslash\\ newline\n tab\t nul\u{0} bell\u{7} del\u{7f} é 🔑 \u{2028}"
        let text = JSONValue.object([("k", .string(tricky)), ("n", .int(-5)), ("b", .bool(true)), ("z", .null),
                                     ("a", .array([.int(1), .string("x")]))]).encoded()
        let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        XCTAssertEqual(parsed["k"] as? String, tricky)
        XCTAssertEqual(parsed["n"] as? Int, -5)
        XCTAssertEqual(parsed["b"] as? Bool, true)
        XCTAssertTrue(parsed["z"] is NSNull)
        XCTAssertFalse(text.contains("\n"), "one record must stay on one line")
    }

    func testTheLongestEscapesFitTheSpaceReservedForThem() throws {
        // Six bytes out per byte in: a control byte (\u0001) and U+2028 (three bytes, \u2028).
        for text in [String(repeating: "\u{1}", count: 300), String(repeating: "\u{2028}", count: 300), String(repeating: "\"\\", count: 300)] {
            let encoded = JSONValue.array([.string(text), .object([(text, .string(text))])]).encoded()
            let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(encoded.utf8)) as? [Any])
            XCTAssertEqual(parsed.first as? String, text)
            XCTAssertEqual((parsed.last as? [String: String])?[text], text)
        }
        XCTAssertEqual(JSONValue.array([.int(Int64.min), .int(Int64.max), .bool(false), .null]).encoded(),
                       "[-9223372036854775808,9223372036854775807,false,null]")
    }

    func testEveryByteIsJudgedWhereverItSitsInAWord() {
        // The word-at-a-time check must agree with the byte-wise rule for each byte value at each
        // of the eight positions, and in the tail.
        for value in 0...255 {
            let byte = UInt8(value)
            let plain = byte >= 0x20 && byte < 0x7f && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\")
            for position in 0..<11 {
                var bytes = Array(repeating: UInt8(ascii: "a"), count: 11)
                bytes[position] = byte
                guard let text = String(validating: bytes, as: UTF8.self) else { continue }  // a lone byte ≥ 0x80
                XCTAssertEqual(JSONValue.isPlain(text), plain, "byte \(value) at \(position)")
            }
            XCTAssertEqual(JSONValue.plainWord(UInt64(byte) << 24 | 0x6161_6161_0061_6161), plain, "byte \(value) in a word")
        }
        // Neighbours matter to the arithmetic (borrows): random words against the byte-wise rule.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let word = UInt64.random(in: 0...UInt64.max, using: &generator) & (Bool.random() ? 0x7f7f_7f7f_7f7f_7f7f : UInt64.max)
            let bytes = (0..<8).map { UInt8(truncatingIfNeeded: word >> ($0 * 8)) }
            let plain = bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7f && $0 != 0x22 && $0 != 0x5c }
            XCTAssertEqual(JSONValue.plainWord(word), plain, String(word, radix: 16))
        }
        XCTAssertFalse(JSONValue.isPlain("abcdefghé"))
        XCTAssertTrue(JSONValue.isPlain(String(repeating: "eyJhbGciOiJSUzI1NiJ9.~", count: 100)))
    }

    func testObjectsKeepTheirKeyOrder() {
        XCTAssertEqual(JSONValue.object([("b", .int(1)), ("a", .int(2))]).encoded(), "{\"b\":1,\"a\":2}")
    }

    func testRFC3339UTC() {
        XCTAssertEqual(rfc3339UTC(0), "1970-01-01T00:00:00Z")
        XCTAssertEqual(rfc3339UTC(1_440_938_160), "2015-08-30T12:36:00Z")
    }
}

final class RFC3339Tests: XCTestCase {
    func testParsesWhatAWSAndCredentialProcessesPrint() {
        XCTAssertEqual(parseRFC3339("2015-08-30T12:36:00Z"), 1_440_938_160)
        XCTAssertEqual(parseRFC3339("2015-08-30T12:36:00.123Z"), 1_440_938_160)
        XCTAssertEqual(parseRFC3339("2015-08-30T14:36:00+02:00"), 1_440_938_160)
        XCTAssertEqual(parseRFC3339("2015-08-30T12:36:00-00:30"), 1_440_938_160 + 1800)
    }

    func testRoundTripsWithTheFormatter() {
        for t: Int64 in [0, 951_782_400, 1_700_000_000, 4_102_444_799] {
            XCTAssertEqual(parseRFC3339(rfc3339UTC(t)), t)
        }
    }

    func testRefusesAnythingElse() {
        for text in ["", "2015-08-30", "2015-08-30T12:36:00", "2015-13-30T12:36:00Z", "2015-08-30T12:36:00ZZ",
                     "yesterday", "2015-08-30T12:36:00.Z", "2015-08-30T25:00:00Z", "1440938160"] {
            XCTAssertNil(parseRFC3339(text), text)
        }
    }
}
