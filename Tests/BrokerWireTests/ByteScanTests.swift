// The memchr/memcmp scans give the answers of the plain Swift scans they replace, on every
// offset and length (random bytes; the byte sought placed at every position).

import BrokerWire
import XCTest

final class ByteScanTests: XCTestCase {
    func testFirstIndexMatchesTheSwiftScanOnEveryRange() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<40 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...4, using: &generator) }
            bytes.withUnsafeBufferPointer { buffer in
                for start in 0...length {
                    for end in start...length {
                        for byte: UInt8 in 0...4 {
                            XCTAssertEqual(buffer.firstIndex(of: byte, in: start..<end), buffer[start..<end].firstIndex(of: byte),
                                           "\(bytes) \(start)..<\(end) \(byte)")
                        }
                    }
                }
            }
        }
    }

    func testLiteralsAreComparedAtAnOffsetAndWhole() {
        let bytes = Array("/abc/computeMetadata/v1/x".utf8)
        bytes.withUnsafeBufferPointer { buffer in
            XCTAssertTrue(buffer.has("/computeMetadata/v1/", at: 4))
            XCTAssertFalse(buffer.has("/computeMetadata/v1/", at: 3))
            XCTAssertTrue(buffer.has("", at: 25), "the empty literal is at the end too")
            XCTAssertFalse(buffer.has("x", at: 25), "nothing is read past the end")
            XCTAssertFalse(buffer.has("x/", at: 24))
            XCTAssertFalse(buffer.has("/", at: -1))
            XCTAssertTrue(buffer.isExactly("/abc/computeMetadata/v1/x"))
            XCTAssertFalse(buffer.isExactly("/abc/computeMetadata/v1/"), "a prefix is not the whole")
            XCTAssertTrue(buffer.holds("abc", in: 1..<4))
            XCTAssertFalse(buffer.holds("abc", in: 1..<5), "a longer range is not the literal")
            XCTAssertFalse(buffer.holds("ab", in: 1..<4))
            Array("abc".utf8).withUnsafeBufferPointer { abc in
                XCTAssertTrue(buffer.holds(abc, in: 1..<4))
                XCTAssertFalse(buffer.holds(abc, in: 0..<3))
                XCTAssertFalse(buffer.holds(abc, in: 23..<26), "a range past the end is no match")
            }
        }
    }

    func testASCIIIsEveryByteBelow0x80AtEveryPosition() {
        for length in 0..<24 {
            var bytes = [UInt8](repeating: 0x7f, count: length)
            bytes.withUnsafeBufferPointer { XCTAssertTrue($0.isASCII, "\(length)") }
            for i in 0..<length {
                bytes[i] = 0x80
                bytes.withUnsafeBufferPointer { XCTAssertFalse($0.isASCII, "\(length) \(i)") }
                bytes[i] = 0x7f
            }
        }
        XCTAssertTrue(UnsafeBufferPointer<UInt8>(start: nil, count: 0).isASCII)
    }
}
