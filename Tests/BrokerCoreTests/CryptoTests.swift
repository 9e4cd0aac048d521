// Specifies SHA-256 and HMAC-SHA256 by published vectors (FIPS 180-4, RFC 4231) and by agreement with Python.
import BrokerCore
import Foundation
import XCTest

final class SHA256Tests: XCTestCase {
    // FIPS 180-4 / CAVP example vectors.

    func testEmptyMessage() {
        XCTAssertEqual(SHA256.hash([UInt8]()).hexString,
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    func testAbcFitsInOneBlock() {
        XCTAssertEqual(SHA256.hash("abc").hexString,
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    func test448BitMessagePushesLengthIntoASecondBlock() {
        XCTAssertEqual(SHA256.hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").hexString,
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    func test896BitMessageSpansTwoBlocks() {
        let message = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
        XCTAssertEqual(SHA256.hash(message).hexString,
                       "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
    }

    func testOneMillionLetterAStreamedInPieces() {
        var hasher = SHA256()
        let thousandAs = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { hasher.update(thousandAs) }
        XCTAssertEqual(hasher.finalize().hexString,
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Lengths around the 56-byte padding limit and the 64-byte block edge (digests from Python's hashlib).
    func testPaddingBoundaryLengths() {
        let expected: [Int: String] = [
            55: "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318",
            56: "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a",
            63: "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34",
            64: "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb",
            65: "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0",
            119: "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb",
            120: "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c",
            128: "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e",
        ]
        for (length, digest) in expected.sorted(by: { $0.key < $1.key }) {
            let message = [UInt8](repeating: UInt8(ascii: "a"), count: length)
            XCTAssertEqual(SHA256.hash(message).hexString, digest, "\(length) bytes of 'a'")
        }
    }

    func testDigestIs32Bytes() {
        XCTAssertEqual(SHA256.hash("x").count, SHA256.digestByteCount)
        XCTAssertEqual(SHA256.digestByteCount, 32)
        XCTAssertEqual(SHA256.blockByteCount, 64)
    }

    func testStreamingAtRandomSplitPointsEqualsOneShot() {
        var random = SplitMix64(seed: 0x5eed_0001)
        for _ in 0..<300 {
            let message = random.bytes(count: Int.random(in: 0...400, using: &random))
            var hasher = SHA256()
            var rest = message[...]
            while !rest.isEmpty {
                let piece = rest.prefix(Int.random(in: 0...100, using: &random))
                hasher.update(Array(piece))
                rest = rest.dropFirst(piece.count)
            }
            XCTAssertEqual(hasher.finalize(), SHA256.hash(message), "\(message.count)-byte message")
        }
    }

    func testByteAtATimeStreamingEqualsOneShot() {
        var random = SplitMix64(seed: 0x5eed_0002)
        let message = random.bytes(count: 200)
        var hasher = SHA256()
        for byte in message { hasher.update(CollectionOfOne(byte)) }
        XCTAssertEqual(hasher.finalize(), SHA256.hash(message))
    }

    func testNonContiguousSequenceHashesLikeTheEquivalentArray() {
        let lazyBytes = (0..<300).lazy.map { UInt8(truncatingIfNeeded: $0 &* 7) }
        XCTAssertEqual(SHA256.hash(lazyBytes), SHA256.hash(Array(lazyBytes)))
    }

    func testRawBufferUpdateEqualsArrayUpdate() {
        var random = SplitMix64(seed: 0x5eed_0003)
        let message = random.bytes(count: 1000)
        var hasher = SHA256()
        message.withUnsafeBytes { hasher.update($0) }
        XCTAssertEqual(hasher.finalize(), SHA256.hash(message))
    }

    func testStringIsHashedAsItsUTF8Bytes() {
        let text = "pässwörd ✓ 🔑"
        XCTAssertEqual(SHA256.hash(text), SHA256.hash(Array(text.utf8)))
    }

    func testHexStringIsLowerCaseTwoDigitsPerByte() {
        XCTAssertEqual([0x00, 0x0f, 0xab, 0xff].hexString, "000fabff")
        XCTAssertEqual([UInt8]().hexString, "")
    }
}

final class HMACSHA256Tests: XCTestCase {
    // RFC 4231 §4 test cases.

    func testRFC4231Case1ShortKey() {
        let mac = HMACSHA256.authenticate(message: "Hi There", key: [UInt8](repeating: 0x0b, count: 20))
        XCTAssertEqual(mac.hexString, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    }

    func testRFC4231Case2KeyShorterThanOutput() {
        let mac = HMACSHA256.authenticate(message: "what do ya want for nothing?", key: Array("Jefe".utf8))
        XCTAssertEqual(mac.hexString, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    func testRFC4231Case3CombinedKeyAndDataLongerThanBlock() {
        let mac = HMACSHA256.authenticate(message: [UInt8](repeating: 0xdd, count: 50),
                                          key: [UInt8](repeating: 0xaa, count: 20))
        XCTAssertEqual(mac.hexString, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe")
    }

    func testRFC4231Case4IncrementingKey() {
        let mac = HMACSHA256.authenticate(message: [UInt8](repeating: 0xcd, count: 50), key: Array(1...25))
        XCTAssertEqual(mac.hexString, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b")
    }

    func testRFC4231Case5TruncatedTo128Bits() {
        let mac = HMACSHA256.authenticate(message: "Test With Truncation", key: [UInt8](repeating: 0x0c, count: 20))
        XCTAssertEqual(Array(mac.prefix(16)).hexString, "a3b6167473100ee06e0c796c2955552b")
    }

    func testRFC4231Case6KeyLongerThanBlockIsHashedFirst() {
        let mac = HMACSHA256.authenticate(message: "Test Using Larger Than Block-Size Key - Hash Key First",
                                          key: [UInt8](repeating: 0xaa, count: 131))
        XCTAssertEqual(mac.hexString, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    func testRFC4231Case7LongKeyAndLongData() {
        let message = "This is a test using a larger than block-size key and a larger than block-size data."
            + " The key needs to be hashed before being used by the HMAC algorithm."
        let mac = HMACSHA256.authenticate(message: message, key: [UInt8](repeating: 0xaa, count: 131))
        XCTAssertEqual(mac.hexString, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2")
    }

    func testStringMessageIsAuthenticatedAsItsUTF8Bytes() {
        let key = Array("k".utf8)
        XCTAssertEqual(HMACSHA256.authenticate(message: "héllo", key: key),
                       HMACSHA256.authenticate(message: Array("héllo".utf8), key: key))
    }
}

final class ConstantTimeEqualsTests: XCTestCase {
    func testEqualInputsAreEqual() {
        XCTAssertTrue(constantTimeEquals([1, 2, 3, 4], [1, 2, 3, 4]))
        XCTAssertTrue(constantTimeEquals([], []))
    }

    func testInputsDifferingInAnyByteAreNotEqual() {
        XCTAssertFalse(constantTimeEquals([1, 2, 3, 4], [0, 2, 3, 4]))
        XCTAssertFalse(constantTimeEquals([1, 2, 3, 4], [1, 2, 3, 5]))
        XCTAssertFalse(constantTimeEquals([0x80], [0x00]))
    }

    func testInputsOfDifferentLengthsAreNotEqual() {
        XCTAssertFalse(constantTimeEquals([1, 2, 3], [1, 2, 3, 4]))
        XCTAssertFalse(constantTimeEquals([1, 2, 3, 4], [1, 2, 3]))
        XCTAssertFalse(constantTimeEquals([], [0]))
    }
}

/// Differential check: the same random inputs through Python's hashlib and hmac must give the same digests.
final class CryptoPythonDifferentialTests: XCTestCase {
    func testSHA256AndHMACAgreeWithPythonOn200RandomPairs() throws {
        guard let python = findExecutable(named: "python3") else {
            XCTFail("python3 not found on PATH; this differential test needs it (CI installs python3)")
            return
        }

        var random = SplitMix64(seed: 0xd1ff_0001)
        // Keys right at and just past the block size exercise both HMAC key paths.
        let edgeKeyLengths = [0, 1, 32, 63, 64, 65, 131, 300]
        let edgeMessageLengths = [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 300]
        var pairs: [(key: [UInt8], message: [UInt8])] = []
        for i in 0..<200 {
            let keyLength = i % 4 == 0 ? edgeKeyLengths[(i / 4) % edgeKeyLengths.count]
                                       : Int.random(in: 0...300, using: &random)
            let messageLength = i < edgeMessageLengths.count ? edgeMessageLengths[i]
                                                             : Int.random(in: 0...300, using: &random)
            pairs.append((random.bytes(count: keyLength), random.bytes(count: messageLength)))
        }

        let inputFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("crypto-differential-\(UUID().uuidString).txt")
        defer { try? FileManager.default.removeItem(at: inputFile) }
        let lines = pairs.map { "\($0.key.hexString),\($0.message.hexString)\n" }.joined()
        try Data(lines.utf8).write(to: inputFile)

        let script = """
        import hashlib, hmac, sys
        for line in open(sys.argv[1]):
            key_hex, message_hex = line.rstrip("\\n").split(",")
            key, message = bytes.fromhex(key_hex), bytes.fromhex(message_hex)
            print(hashlib.sha256(message).hexdigest(), hmac.new(key, message, "sha256").hexdigest())
        """
        let output = try runPeer(python, arguments: ["-c", script, inputFile.path])
        guard output.status == 0 else {
            XCTFail("python3 exited with status \(output.status): \(output.stderr)")
            return
        }

        let results = output.stdout.split(separator: "\n")
        XCTAssertEqual(results.count, pairs.count, "one line of digests per input pair")
        for (i, (pair, result)) in zip(pairs, results).enumerated() {
            let fields = result.split(separator: " ").map(String.init)
            guard fields.count == 2 else {
                XCTFail("unexpected python output line \(i): \(result)")
                continue
            }
            let context = "pair \(i): key \(pair.key.count) bytes, message \(pair.message.count) bytes"
            XCTAssertEqual(SHA256.hash(pair.message).hexString, fields[0], "SHA-256, \(context)")
            XCTAssertEqual(HMACSHA256.authenticate(message: pair.message, key: pair.key).hexString, fields[1],
                           "HMAC-SHA256, \(context)")
        }
    }
}
