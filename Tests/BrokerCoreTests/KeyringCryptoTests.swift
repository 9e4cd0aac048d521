// Specifies HKDF, PBKDF2, scrypt and ChaCha20-Poly1305 by their RFC vectors and by agreement with Python's cryptography.
@testable import BrokerCore
import Foundation
import XCTest

func hexBytes(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace && $0 != ":" }.utf8)
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
}

final class HKDFTests: XCTestCase {
    func testRFC5869Case1() {
        let okm = HKDFSHA256.deriveKey(inputKeyMaterial: [UInt8](repeating: 0x0b, count: 22), salt: Array(0...12),
                                       info: Array(0xf0...0xf9), outputByteCount: 42)
        XCTAssertEqual(okm.hexString, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    }

    func testRFC5869Case2LongInputsAndOutputOverTwoBlocks() {
        let okm = HKDFSHA256.deriveKey(inputKeyMaterial: Array(0...0x4f), salt: Array(0x60...0xaf),
                                       info: Array(0xb0...0xff), outputByteCount: 82)
        XCTAssertEqual(okm.hexString, "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87")
    }

    func testRFC5869Case3EmptySaltMeansZeroKey() {
        let okm = HKDFSHA256.deriveKey(inputKeyMaterial: [UInt8](repeating: 0x0b, count: 22), salt: [], info: [], outputByteCount: 42)
        XCTAssertEqual(okm.hexString, "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
    }
}

final class ScryptTests: XCTestCase {
    // RFC 7914 §11: PBKDF2-HMAC-SHA256.
    func testPBKDF2OneIteration() {
        XCTAssertEqual(PBKDF2SHA256.deriveKey(password: Array("passwd".utf8), salt: Array("salt".utf8), iterations: 1, outputByteCount: 64).hexString,
                       "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783")
    }

    // RFC 7914 §8: the Salsa20/8 core on one 64-byte block.
    func testSalsa20_8Core() {
        let input = hexBytes("7e879a214f3ec9867ca940e641718f26baee555b8c61c1b50df846116dcd3b1dee24f319df9b3d8514121e4b5ac5aa3276021d2909c74829edebc68db8b8c25e")
        var state = (0..<16).map { littleEndianWord(input, 4 * $0) }
        var zero = [UInt32](repeating: 0, count: 16)
        state.withUnsafeMutableBufferPointer { s in zero.withUnsafeMutableBufferPointer { Scrypt.salsa20_8(s.baseAddress!, xoring: $0.baseAddress!) } }
        let output = state.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (8 * UInt32($0))) } }
        XCTAssertEqual(output.hexString, "a41f859c6608cc993b81cacb020cef05044b2181a2fd337dfd7b1c6396682f29b4393168e3c9e6bcfe6bc5b7a06d96bae424cc102c91745c24ad673dc7618f81")
    }

    // RFC 7914 §12.
    func testRFC7914EmptyPasswordN16() {
        XCTAssertEqual(Scrypt.deriveKey(password: [], salt: [], logN: 4, r: 1, p: 1, outputByteCount: 64).hexString,
                       "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906")
    }

    func testRFC7914PasswordNaClN1024Parallel16() {
        XCTAssertEqual(Scrypt.deriveKey(password: Array("password".utf8), salt: Array("NaCl".utf8), logN: 10, r: 8, p: 16, outputByteCount: 64).hexString,
                       "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640")
    }

    func testRFC7914PleaseLetMeInN16384() {
        let start = Date()
        XCTAssertEqual(Scrypt.deriveKey(password: Array("pleaseletmein".utf8), salt: Array("SodiumChloride".utf8), logN: 14, r: 8, p: 1, outputByteCount: 64).hexString,
                       "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887")
        print("scrypt N=2^14 r=8: \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
    }
}

final class ChaCha20Poly1305Tests: XCTestCase {
    // RFC 8439 §2.5.2.
    func testPoly1305Vector() {
        var mac = Poly1305(key: hexBytes("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b"))
        mac.update(Array("Cryptographic Forum Research Group".utf8)[...])
        XCTAssertEqual(mac.finalize().hexString, "a8061dc1305136c6c22b8baf0c0127a9")
    }

    // RFC 8439 §2.4.2.
    func testChaCha20EncryptionVector() {
        var data = Array("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".utf8)
        ChaCha20.xor(&data, key: Array(0...31), nonce: hexBytes("000000000000004a00000000"), counter: 1)
        XCTAssertEqual(data.hexString, "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d807ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab77937365af90bbf74a35be6b40b8eedf2785e42874d")
    }

    // RFC 8439 §2.8.2.
    func testAEADVectorSealsAndOpens() throws {
        let key = Array(UInt8(0x80)...UInt8(0x9f)), nonce = hexBytes("070000004041424344454647"), aad = hexBytes("50515253c0c1c2c3c4c5c6c7")
        let plaintext = Array("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".utf8)
        let sealed = ChaCha20Poly1305.seal(plaintext, key: key, nonce: nonce, authenticating: aad)
        XCTAssertEqual(sealed.hexString, "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116" + "1ae10b594f09e26a7e902ecbd0600691")
        XCTAssertEqual(try ChaCha20Poly1305.open(sealed, key: key, nonce: nonce, authenticating: aad), plaintext)
    }

    func testOpenRefusesAnyFlippedBitAndAShortInput() {
        let key = [UInt8](repeating: 7, count: 32), nonce = [UInt8](repeating: 0, count: 12)
        let sealed = ChaCha20Poly1305.seal(Array("secret".utf8), key: key, nonce: nonce)
        for index in 0..<sealed.count {
            var tampered = sealed
            tampered[index] ^= 0x01
            XCTAssertThrowsError(try ChaCha20Poly1305.open(tampered, key: key, nonce: nonce), "byte \(index)")
        }
        XCTAssertThrowsError(try ChaCha20Poly1305.open(Array(sealed.prefix(15)), key: key, nonce: nonce))
        XCTAssertThrowsError(try ChaCha20Poly1305.open(sealed, key: key, nonce: nonce, authenticating: [1]))
    }
}

/// Random inputs, same answers as Python's `cryptography` / hashlib, all checked in one Python process.
final class KeyringCryptoPythonDifferentialTests: XCTestCase {
    private static let script = """
    import sys, hashlib
    try:
        from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF
        from cryptography.hazmat.primitives import hashes
    except ImportError as error:
        sys.stderr.write("python3 cannot import cryptography (%s); install it with: python3 -m pip install cryptography\\n" % error)
        sys.exit(3)
    def b(field): return bytes.fromhex(field.strip("-"))
    for line in sys.stdin:
        kind, *fields = line.split()
        if kind == "aead":
            key, nonce, aad, plaintext, sealed = map(b, fields)
            ok = ChaCha20Poly1305(key).encrypt(nonce, plaintext, aad) == sealed
        elif kind == "hkdf":
            ikm, salt, info, length, okm = b(fields[0]), b(fields[1]), b(fields[2]), int(fields[3]), b(fields[4])
            ok = HKDF(hashes.SHA256(), length, salt or None, info).derive(ikm) == okm
        elif kind == "pbkdf2":
            password, salt, iterations, out = b(fields[0]), b(fields[1]), int(fields[2]), b(fields[3])
            ok = hashlib.pbkdf2_hmac("sha256", password, salt, iterations, len(out)) == out
        elif kind == "scrypt":
            password, salt, logn, r, p, out = b(fields[0]), b(fields[1]), int(fields[2]), int(fields[3]), int(fields[4]), b(fields[5])
            ok = hashlib.scrypt(password, salt=salt, n=1 << logn, r=r, p=p, dklen=len(out), maxmem=1 << 30) == out
        else:
            ok = False
        print("ok" if ok else "differs")
    """

    func testRandomInputsAgreeWithPython() throws {
        var random = SplitMix64(seed: 0x6167_6531)
        var requests = "", labels: [String] = []
        func hex(_ bytes: [UInt8]) -> String { bytes.isEmpty ? "-" : bytes.hexString }
        for index in 0..<200 {
            let key = random.bytes(count: 32), nonce = random.bytes(count: 12)
            let aad = random.bytes(count: Int.random(in: 0...40, using: &random))
            let plaintext = random.bytes(count: index < 100 ? Int.random(in: 0...300, using: &random) : Int.random(in: 0...70_000, using: &random))
            requests += "aead \(hex(key)) \(hex(nonce)) \(hex(aad)) \(hex(plaintext)) \(hex(ChaCha20Poly1305.seal(plaintext, key: key, nonce: nonce, authenticating: aad)))\n"
            labels.append("aead #\(index): \(plaintext.count)-byte plaintext, \(aad.count)-byte aad")
        }
        for index in 0..<100 {
            let ikm = random.bytes(count: Int.random(in: 1...80, using: &random)), salt = random.bytes(count: Int.random(in: 0...80, using: &random))
            let info = random.bytes(count: Int.random(in: 0...40, using: &random)), length = Int.random(in: 1...200, using: &random)
            requests += "hkdf \(hex(ikm)) \(hex(salt)) \(hex(info)) \(length) \(hex(HKDFSHA256.deriveKey(inputKeyMaterial: ikm, salt: salt, info: info, outputByteCount: length)))\n"
            labels.append("hkdf #\(index)")
        }
        for index in 0..<20 {
            let password = random.bytes(count: Int.random(in: 0...100, using: &random)), salt = random.bytes(count: Int.random(in: 0...40, using: &random))
            let iterations = Int.random(in: 1...500, using: &random), length = Int.random(in: 1...100, using: &random)
            requests += "pbkdf2 \(hex(password)) \(hex(salt)) \(iterations) \(hex(PBKDF2SHA256.deriveKey(password: password, salt: salt, iterations: iterations, outputByteCount: length)))\n"
            labels.append("pbkdf2 #\(index): \(iterations) iterations")
        }
        for index in 0..<12 {
            let password = random.bytes(count: Int.random(in: 0...70, using: &random)), salt = random.bytes(count: Int.random(in: 0...40, using: &random))
            let logN = Int.random(in: 1...10, using: &random), r = Int.random(in: 1...8, using: &random), p = Int.random(in: 1...3, using: &random)
            let out = Scrypt.deriveKey(password: password, salt: salt, logN: logN, r: r, p: p, outputByteCount: Int.random(in: 1...80, using: &random))
            requests += "scrypt \(hex(password)) \(hex(salt)) \(logN) \(r) \(p) \(hex(out))\n"
            labels.append("scrypt #\(index): logN \(logN) r \(r) p \(p)")
        }
        let verdicts = try runPython(Self.script, input: requests)
        XCTAssertEqual(verdicts.count, labels.count, "one verdict per case")
        for (label, verdict) in zip(labels, verdicts) where verdict != "ok" { XCTFail("\(label): Python says \(verdict)") }
    }
}

/// Runs a Python script with `input` on stdin (written from another thread) and returns its stdout lines.
func runPython(_ script: String, arguments: [String] = [], input: String) throws -> [String] {
    let python = try XCTUnwrap(findExecutable(named: "python3"), "python3 not found on PATH; CI installs it with cryptography")
    let process = Process()
    process.executableURL = python
    process.arguments = ["-c", script] + arguments
    let stdin = Pipe(), stdout = Pipe()
    let stderrFile = FileManager.default.temporaryDirectory.appendingPathComponent("python-\(UUID().uuidString).err")
    _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: stderrFile) }
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = try FileHandle(forWritingTo: stderrFile)
    try process.run()
    signal(SIGPIPE, SIG_IGN)
    let writer = Thread {
        try? stdin.fileHandleForWriting.write(contentsOf: Data(input.utf8))
        try? stdin.fileHandleForWriting.close()
    }
    writer.start()
    let output = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        let stderr = (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? ""
        XCTFail("python3 exited with status \(process.terminationStatus): \(stderr)")
        return []
    }
    return String(decoding: output, as: UTF8.self).split(separator: "\n").map(String.init)
}
