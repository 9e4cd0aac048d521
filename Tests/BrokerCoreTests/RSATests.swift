// Specifies RSA signing (RS256), its BigUInt arithmetic and its DER/PEM key parsing: known answers, Python agreement, refusals.
@testable import BrokerCore
import Foundation
import XCTest

/// A 2048-bit test key made once with Python's `cryptography` (test material, not a secret), and
/// its RS256 signature of `message`, also from `cryptography` (PKCS#1 v1.5 is deterministic).
private enum KnownAnswer {
    static let pkcs1PEM = """
    -----BEGIN RSA PRIVATE KEY-----
    MIIEowIBAAKCAQEA4aHgau4Wl0qkSguhSaz6k11MnalMIHrTDEaL8/LbBPinSuoz
    tCsNw5xD6xifbvyxnZI0h6Gp27i/o4c4fz5R9jEQlgDkFCnZkHCiEIVu+LAwOZHM
    xqnt1HtK8iD3Fzg1/jj9N1nRWdam8GNV12xZupgyXEqCwRiK6VsryNsHK7Q4763q
    WfoijpHCc444Yt5pKYwm+meM5UdsxiyU3027Voet/za16lo/p84cJugy+LfMuBN6
    Gm8A47T5/oFFUcjgcL9HTCFUo2FKJHDA20Sw9A8y3CATHT4KHBY45Dpy+O4W0op8
    uZIKYVH2SHWJs9ypRw/uqMLIIRJqnyew/WCHuwIDAQABAoIBAAxDU4kMQQirYyvh
    EomIdlZdcXh2+i7tVGlSfKQsFIpIuplTcRVZBHz93u65BMVJkTYd4aJmsqHBNBOY
    gFIUgLjim5YQUCHmamKaAVaB7teWUwpCw3OF5DayfFuV8Uf/FpqNqpMZ2+ThltFY
    dl+bp6U0Ec/UfuNgYmbJCgndgATFQyE6oz8TP2HDEZ3qBHi/DXYOd8diFj/5MWC2
    ZX3vVnAPa55j4k+mVHjaSvMSdkq6e1RMlvvkouP/YYOrMaDBtz4aTYKqbeepKHdM
    xAg+/vG2oGrGlZX/dsiG7PzzddkQoW9J35ReA4MsWwOjLVxJtz3mATim4EQy+eBP
    PxmznYECgYEA/DJ/pmM53O8MkqhEeLLAqIFnVgn4Omyq2wv9IrFUnXRUbDBDn5Wp
    0byBA47XJUYdC587/sYfFqYx2pawzPvRqez34a3rWNfrEGfhGuhnISFlqFKa5A7b
    3iAlQmM/Psb2kKRmuVpwT6Y5OBEudKmMZAc63xjFJGyiTbXABi7KqIECgYEA5QjV
    1D0Bkg7cPxjI8PVpyQAetFv8d/21NAVAAxtR/PWUcY1SwXDPRJnwCyY6ZY/DUl2X
    xp3BpzmA+Q0aumsSPnSLx0Pmsl8NmZLJd31szYuyvRHux9Ik6ODNRTKovQIoytD+
    SqGe7J4zBwXEDY3C8mqHJn/2rH1F+BfGZLqCsjsCgYBzHyod7dWQAJ8goyb+YbqI
    MOnW4J4rLUegzgwzNfeGGIAhErcLtenbD81krmOPZD4F/B4K4q12TU8clQUHzTub
    8cwFfLqdx5JJ3uFmwwewm+ont+10hUPgVZQshdls8q3CwQkTOzFhamNcMJugLXUk
    hBhflpMHWX+NMZYCPIHOAQKBgQCPblMK0RG0uF2xngHo9KfE2rBf3uNi+Z2K8GbA
    C1HzCpBl9E0JG26R1Z2APfaAN+HoKPitx4nJAbgFP/GnIPqR5kbLCXjl56UKseQ9
    Umza5EuRIDPbK3014eJrHWiSxVFqgitd7Y0rPX9TPIckvcyCJ7hvod+G8gTpc2op
    FqxWlQKBgDiIzOOIyNvWcGFhGX4o/ijoDqT9xjmf/chH+s1C1ntu1adQP/rm1Cti
    cRcveN21DSuqKMUUZZED8CwyJtnv714q5XewiA076UTjZ3nTHm6uni1+/q/pkYvc
    uRSHJLVkCaL3L5teS9f0fdA7UtcF61j6BtHlDt9FLCBUrK1yMR7o
    -----END RSA PRIVATE KEY-----
    """

    static let message = Array("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMDYwMCwiaXNzIjoiMTIzNDU2In0".utf8)

    static let signatureHex = """
    8d14e3616156e0b2771a026269f7930816f05d8c9548694cdc3304a64c8ee492fab936bb2cc3901ce91efe909e6cd730
    4fb66ce65f9760fbe148c9b52884b727b46d0deea3d67fd2efe91cb181f74c047a0e7c7f625ce52fc9473c554423e340
    51222cf4ef99a97f2e8505e841a0cd5af22d1a7adf44aa3962d889ec8c65cd25a5b2fd74733e979d33a8358d797149e6
    ef4d5857ac2a063eb848b3749d73679cb2f68f6adceba0bc59bf2a9695ea570c46d5a01738ee518b25e7e004125609e0
    475874cb6a048847cf43f7c7d263bf458f1c957334aff0da5970a6960d640df2106a46dce514db3bb0dfa28d7e28df2f
    57c9a33d082c48b1d36b6cb2cdfa07ec
    """.replacingOccurrences(of: "\n", with: "")

    /// The PKCS#1 DER inside the PEM, decoded independently of the code under test.
    static var pkcs1DER: [UInt8] {
        let body = pkcs1PEM.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        return [UInt8](Data(base64Encoded: body)!)
    }

    static func key() throws -> RSAPrivateKey { try RSAPrivateKey(pem: pkcs1PEM) }
}

final class RSAKnownAnswerTests: XCTestCase {
    func testPKCS1PEMKeySignsLikePythonCryptography() throws {
        let key = try KnownAnswer.key()
        XCTAssertEqual(key.modulusBitCount, 2048)
        XCTAssertEqual(try key.signPKCS1v15SHA256(KnownAnswer.message).hexString, KnownAnswer.signatureHex)
    }

    func testPKCS8WrappingOfTheSameKeySignsTheSame() throws {
        let pkcs8 = DERBuilder.pkcs8(wrapping: KnownAnswer.pkcs1DER)
        XCTAssertEqual(try RSAPrivateKey(pkcs8DER: pkcs8).signPKCS1v15SHA256(KnownAnswer.message).hexString,
                       KnownAnswer.signatureHex)
        let pem = "-----BEGIN PRIVATE KEY-----\n" + Data(pkcs8).base64EncodedString(options: .lineLength64Characters)
            + "\n-----END PRIVATE KEY-----\n"
        XCTAssertEqual(try RSAPrivateKey(pem: pem).signPKCS1v15SHA256(KnownAnswer.message).hexString,
                       KnownAnswer.signatureHex)
    }

    /// RFC 5958 version 1 may carry [0] attributes and a [1] public key after the key; a signer skips both.
    func testPKCS8WithAttributesAndPublicKeyStillSigns() throws {
        let oneAsymmetricKey = DERBuilder.sequence([
            DERBuilder.integer(.one), DERBuilder.rsaEncryption, DERBuilder.element(0x04, KnownAnswer.pkcs1DER),
            DERBuilder.element(0xa0, DERBuilder.sequence([])), DERBuilder.element(0x81, [0x00, 0x30, 0x00]),
        ])
        XCTAssertEqual(try RSAPrivateKey(pkcs8DER: oneAsymmetricKey).signPKCS1v15SHA256(KnownAnswer.message).hexString,
                       KnownAnswer.signatureHex)
    }

    func testPKCS1DERSignsTheSame() throws {
        XCTAssertEqual(try RSAPrivateKey(pkcs1DER: KnownAnswer.pkcs1DER).signPKCS1v15SHA256(KnownAnswer.message).hexString,
                       KnownAnswer.signatureHex)
    }

    func testPEMWithCRLFIndentationAndSurroundingTextParses() throws {
        let crlf = KnownAnswer.pkcs1PEM.split(separator: "\n").map { "  \($0)\t" }.joined(separator: "\r\n")
        let pem = "Bag Attributes: made by a test\r\n" + crlf + "\r\n\r\ntrailing words\r\n"
        XCTAssertEqual(try RSAPrivateKey(pem: pem).signPKCS1v15SHA256(KnownAnswer.message).hexString, KnownAnswer.signatureHex)
    }

    func testPEMSqueezedOntoOneLineParses() throws {
        let oneLine = KnownAnswer.pkcs1PEM.replacingOccurrences(of: "\n", with: " ")
        XCTAssertEqual(try RSAPrivateKey(pem: oneLine).modulusBitCount, 2048)
    }

    func testPrivateKeyBlockIsFoundAfterOtherBlocks() throws {
        let certificate = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
        XCTAssertEqual(try RSAPrivateKey(pem: certificate + KnownAnswer.pkcs1PEM).modulusBitCount, 2048)
    }

    func testSignatureIsAsLongAsTheModulusAndBase64URLMatchesPython() throws {
        let signature = try KnownAnswer.key().signPKCS1v15SHA256(KnownAnswer.message)
        XCTAssertEqual(signature.count, 256)
        XCTAssertEqual(base64URLEncoded(signature),
                       "jRTjYWFW4LJ3GgJiafeTCBbwXYyVSGlM3DMEpkyO5JL6uTa7LMOQHOke_pCebNcwT7Zs5l-XYPvhSMm1KIS3J7RtDe6j1n_S7-kcsYH3TAR6Dnx_YlzlL8lHPFVEI-NAUSIs9O-ZqX8uhQXoQaDNWvItGnrfRKo5YtiJ7IxlzSWlsv10cz6XnTOoNY15cUnm701YV6wqBj64SLN0nXNnnLL2j2rc66C8Wb8qlpXqVwxG1aAXOO5RiyXn4AQSVgngR1h0y2oEiEfPQ_fH0mO_RY8clXM0r_DaWXCmlg1kDfIQakbc5RTbO7Dfoo1-KN8vV8mjPQgsSLHTa2yyzfoH7A")
    }

    func testEncodedMessageLayoutFollowsRFC8017() {
        let digest = SHA256.hash("abc")
        let encoded = RSAPrivateKey.encodePKCS1v15SHA256(digest: digest, length: 256)
        XCTAssertEqual(encoded.count, 256)
        XCTAssertEqual(Array(encoded.prefix(2)), [0x00, 0x01])
        XCTAssertEqual(Array(encoded[2..<(256 - 52)]), [UInt8](repeating: 0xff, count: 256 - 54))
        XCTAssertEqual(Array(encoded.suffix(52)).hexString,
                       "00" + "3031300d060960864801650304020105000420" + digest.hexString)
    }

    func testDescriptionAndMirrorShowNoKeyMaterial() throws {
        let key = try KnownAnswer.key()
        var dumped = ""
        dump(key, to: &dumped)
        for text in ["\(key)", String(reflecting: key), dumped] {
            XCTAssertTrue(text.contains("2048"), text)
            XCTAssertFalse(text.contains("0x"), text)
            XCTAssertLessThan(text.count, 120, text)
        }
    }

    func testAFaultyCRTResultIsReplacedByTheCheckedPlainSignature() throws {
        let key = try KnownAnswer.key()
        let encoded = RSAPrivateKey.encodePKCS1v15SHA256(digest: SHA256.hash(KnownAnswer.message), length: 256)
        let faulty = try key.checkedSignature(of: BigUInt(bigEndian: encoded)) { key.signWithCRT($0) + .one }
        XCTAssertEqual(faulty.bigEndianBytes(count: 256)?.hexString, KnownAnswer.signatureHex)
    }

    /// Made with Python: p is the product of two primes, so every congruence the parser checks
    /// holds (p·q = n, e·dP = 1 mod p-1, …) yet m^(e·d) ≠ m. Signing must refuse, not emit garbage.
    func testKeyWhosePrimeIsCompositeFailsTheSelfCheck() throws {
        let key = try RSAPrivateKey(pem: """
        -----BEGIN RSA PRIVATE KEY-----
        MIIEpAIBAAKCAQEAjRKd9rvP+NPi8WmqB6/GqdOZpi7Vmgl8Uvo41A9OYzz5tF/6
        poBHKYeDDC0foMF0yZ9bcFv/6MC30TV7/vpepC77Vn/9b+6ITWyQWsuFic8giiju
        IiyMSVLcqOgdYOVAA1h6+Amc1YP5ia8D8BtU2AaKNkyhJq1olOPG/SZo5Qx9JjHC
        8yZkG84XTQXh5lvaiD8GsAyXIfWs/BftcFfkVHmfBtvoarqyVMfFtTQhfjs8tLcr
        j6BA4nDvuNZN4wXKmhXU1xkWRHl+O9qzxnzBUB/I0C6BHPHBqErzHGYNJEv2fyuR
        7sFgR7OwkwJ6N/JlZiiRRSJe+2HcIuaw8wwtCQIDAQABAoIBAC2n6suheOtU18u9
        oLOgJbFss/teiO6zRzMrnBy1X28qmr3PmjUsqts76iOUrvm94mgmVNeGTsorJNJm
        dtzMdri4I8uY3JLPJfm4uvdHis5Q5H0SRg91T2mjkZpwlKF5UEBE8Hc51TIc5jOz
        Gpkon0rSwwRTxIvZ71DQbuQa/DO0XgJpYHWNJ+4V3wjsk6bbl6vDIr82Ed8LqN9x
        me2IMhYuTzJTCTNJGrSO2GGTaG5tIImsjQvLBeGtXnaFe6EhCokdscVSSj01uLxF
        UD6/mjyWIj9k+A6MUHN0rr1J5CDdKDaH9fsjPvaZjtN9mUGLXZDpLlYe15KDFmov
        WjgiRQkCgYEAvap6s/lBJNJutXcBDSRACm/jssINDOy2naOfVDyQuXQKYl+cNtUV
        kRHZe+hk/+XZbbJIaQw/59UzkWkgrXXILBOdkUcXMGBrArOL/tMb4o2igvDkSNuM
        v93Kuc/HkR9hES9gBBR89qCaNWPVLLwIaA93F6a6kzbvejCdbBd3JH8CgYEAvmlm
        iuW+XVl537bV0w0YYPC1uW6tI3TiRLqd5tJG3s7z5CyXyOAWdxsU8tH0EI4B4/oj
        v+C5IxdjK1R3MzAWTMluHVZchfEwYAmfWdK4K8lptbdru2lXTsyJ/3xDUP5P28fE
        Qf4sDf8ng2ELTh88GVZSeIp54VTwL9E98VEiyncCgYBVWEsShQxtN0ud2Eje0vsG
        N0bsfylEMZgS4zekvgQZjz/E+GTgv42O08tbWD1qcNEf7WNr8ZkoBuXHfti3dRJ3
        0vPKFYU3vYspkgViyzf2/+iqpx7yMejpxTGd3wNcKBSTmQ/Jhjac+7OoZp3cHVhj
        CuJ6AApgiA3Gm+2aYAy6nQKBgQCNNWlAdKS6YdLKH7NvMvTzX0/FVti7xMDQq3zS
        Yvr/3YZtnsxpwhWm+sSMVzui001/nk/IyoVCCuQWjCtiILVI+NDanOM8yeNQNZKh
        cG34uwPUKVSRxctjurhUafkaJZ9fpERdlHtjXegVvHA/3VYajDPZBQjiHLWLIKfJ
        QJyGfQKBgQCHIgCi7pYT7za8TGAs/VA0Y1qVsza/BBssGC4Fe8POa0TTNq48Srw9
        N2kCmRT9L4OU12ntZG4ooc8rngb9RrJlA8yoYi7+VinoinqQ8I1fMBNDqimlmTZ7
        dCpXoD0IWO98HzrRV7SrIC27G4oxUhd0w51YCTcCzNf51Ox3GliGvg==
        -----END RSA PRIVATE KEY-----
        """)
        XCTAssertThrowsError(try key.signPKCS1v15SHA256(KnownAnswer.message)) { error in
            XCTAssertEqual((error as? RSAKeyError)?.message, "RSA signature failed its self-check")
        }
    }

    func testBase64URLEncodingMatchesRFC4648WithoutPadding() {
        let vectors: [(String, String)] = [
            ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"), ("foobar",
             "Zm9vYmFy"),
        ]
        for (input, expected) in vectors {
            XCTAssertEqual(base64URLEncoded(Array(input.utf8)), expected, input)
        }
        // 62 and 63 are - and _ in the URL alphabet.
        XCTAssertEqual(base64URLEncoded([0xfb, 0xff, 0xbf]), "-_-_")
        XCTAssertEqual(base64URLEncoded(Array(#"{"alg":"RS256","typ":"JWT"}"#.utf8)), "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9")
    }
}

/// Differential check: keys made by Python's `cryptography`, signatures made here, verified (and
/// compared byte for byte) by `cryptography` again, in one Python process.
final class RSAPythonDifferentialTests: XCTestCase {
    private let keySizes = [2048, 3072, 4096]
    private let messagesPerKey = 30

    private static let script = """
    import json, sys
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError as error:
        sys.stderr.write("python3 cannot import cryptography (%s); install it with: python3 -m pip install cryptography\\n" % error)
        sys.exit(3)
    keys = [rsa.generate_private_key(public_exponent=65537, key_size=int(size)) for size in sys.argv[1:]]
    def pem(key, form):
        return key.private_bytes(serialization.Encoding.PEM, form, serialization.NoEncryption()).decode()
    print(json.dumps([[pem(k, serialization.PrivateFormat.TraditionalOpenSSL), pem(k, serialization.PrivateFormat.PKCS8)] for k in keys]))
    sys.stdout.flush()
    for line in sys.stdin:
        index, message_hex, signature_hex = line.split()
        key, message, signature = keys[int(index)], bytes.fromhex(message_hex.strip("-")), bytes.fromhex(signature_hex)
        try:
            key.public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            verdict = "ok" if key.sign(message, padding.PKCS1v15(), hashes.SHA256()) == signature else "differs"
        except Exception as error:
            verdict = "invalid:" + type(error).__name__
        print(verdict)
    """

    func testSignaturesFromBothKeyEncodingsVerifyWithPythonCryptography() throws {
        let python = try XCTUnwrap(findExecutable(named: "python3"),
                                   "python3 not found on PATH; this differential test needs python3 with cryptography (CI installs them)")
        let process = Process()
        process.executableURL = python
        process.arguments = ["-c", Self.script] + keySizes.map(String.init)
        let stdin = Pipe(), stdout = Pipe()
        let stderrFile = FileManager.default.temporaryDirectory.appendingPathComponent("rsa-differential-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: stderrFile) }
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        try process.run()
        func pythonFailure() -> String {
            process.waitUntilExit()
            let stderr = (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? ""
            return "python3 exited with status \(process.terminationStatus): \(stderr)"
        }

        // First line: the keys as [[PKCS#1 PEM, PKCS#8 PEM], …].
        var buffered = Data()
        while !buffered.contains(0x0a) {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            buffered.append(chunk)
        }
        guard let newline = buffered.firstIndex(of: 0x0a),
              let pems = try JSONSerialization.jsonObject(with: buffered[..<newline]) as? [[String]],
              pems.count == keySizes.count else {
            try? stdin.fileHandleForWriting.close()
            return XCTFail(pythonFailure())
        }

        var random = SplitMix64(seed: 0x5253_4131)
        var requests = ""
        var labels: [String] = []
        for (index, pair) in pems.enumerated() {
            let pkcs1 = try RSAPrivateKey(pem: pair[0]), pkcs8 = try RSAPrivateKey(pem: pair[1])
            XCTAssertEqual(pkcs1.modulusBitCount, keySizes[index])
            var elapsed: Double = 0
            for messageIndex in 0..<messagesPerKey {
                let length = messageIndex == 0 ? 0 : Int.random(in: 1...300, using: &random)
                let message = random.bytes(count: length)
                let start = Date()
                let fromPKCS1 = try pkcs1.signPKCS1v15SHA256(message)
                elapsed += Date().timeIntervalSince(start)
                for (form, signature) in [("PKCS#1", fromPKCS1), ("PKCS#8", try pkcs8.signPKCS1v15SHA256(message))] {
                    // "-" stands for the empty message, so every line has three fields.
                    requests += "\(index) \(message.isEmpty ? "-" : message.hexString) \(signature.hexString)\n"
                    labels.append("\(keySizes[index])-bit key (\(form)), message \(messageIndex) of \(length) bytes")
                }
            }
            print("RSA sign, \(keySizes[index])-bit key: \(String(format: "%.1f", elapsed / Double(messagesPerKey) * 1000)) ms per signature")
        }

        // If python3 dies early, the write should fail with EPIPE rather than kill the test runner.
        signal(SIGPIPE, SIG_IGN)
        try stdin.fileHandleForWriting.write(contentsOf: Data(requests.utf8))
        try stdin.fileHandleForWriting.close()
        let rest = buffered[(newline + 1)...] + stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return XCTFail(pythonFailure()) }
        let verdicts = String(decoding: rest, as: UTF8.self).split(separator: "\n").map(String.init)
        XCTAssertEqual(verdicts.count, labels.count, "one verdict per signature")
        for (label, verdict) in zip(labels, verdicts) where verdict != "ok" {
            XCTFail("\(label): cryptography says \(verdict)")
        }
    }
}

final class BigUIntTests: XCTestCase {
    func testBytesRoundTripWithoutLeadingZeros() {
        XCTAssertEqual(BigUInt(bigEndian: [UInt8]()), .zero)
        XCTAssertEqual(BigUInt(bigEndian: [0, 0, 0]), .zero)
        XCTAssertEqual(BigUInt.zero.bigEndianBytes, [])
        XCTAssertEqual(BigUInt(bigEndian: [0, 0, 1, 2]).bigEndianBytes, [1, 2])
        let nineBytes: [UInt8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09]
        XCTAssertEqual(BigUInt(bigEndian: nineBytes).limbs, [0x0203_0405_0607_0809, 0x01])
        XCTAssertEqual(BigUInt(bigEndian: nineBytes).bigEndianBytes, nineBytes)
    }

    func testFixedLengthBytesPadOrRefuse() {
        XCTAssertEqual(BigUInt(0x0102).bigEndianBytes(count: 4), [0, 0, 1, 2])
        XCTAssertEqual(BigUInt.zero.bigEndianBytes(count: 2), [0, 0])
        XCTAssertNil(BigUInt(0x010203).bigEndianBytes(count: 2))
    }

    func testBitWidthCountsSignificantBits() {
        XCTAssertEqual(BigUInt.zero.bitWidth, 0)
        XCTAssertEqual(BigUInt.one.bitWidth, 1)
        XCTAssertEqual(BigUInt(UInt64.max).bitWidth, 64)
        XCTAssertEqual(BigUInt(limbs: [0, 1]).bitWidth, 65)
        XCTAssertEqual(BigUInt(limbs: [5, 0, 0]).limbs, [5], "high zero limbs are dropped")
    }

    func testComparisonLooksAtTheHighestDifferingLimb() {
        XCTAssertLessThan(BigUInt(UInt64.max), BigUInt(limbs: [0, 1]))
        XCTAssertLessThan(BigUInt(limbs: [9, 1]), BigUInt(limbs: [0, 2]))
        XCTAssertLessThan(BigUInt.zero, BigUInt.one)
        XCTAssertEqual(BigUInt(limbs: [3, 4]), BigUInt(limbs: [3, 4, 0]))
    }

    func testAdditionAndSubtractionCarryAcrossLimbs() {
        let twoTo128 = BigUInt(limbs: [0, 0, 1])
        let allOnes128 = BigUInt(limbs: [.max, .max])
        XCTAssertEqual(allOnes128 + .one, twoTo128)
        XCTAssertEqual(twoTo128 - .one, allOnes128)
        XCTAssertEqual(twoTo128 - twoTo128, .zero)
        XCTAssertEqual(BigUInt.zero + .zero, .zero)
        XCTAssertEqual(allOnes128 + allOnes128, BigUInt(limbs: [.max - 1, .max, 1]))
    }

    func testMultiplicationOfLimbBoundaryValues() {
        XCTAssertEqual(BigUInt(.max) * BigUInt(.max), BigUInt(limbs: [1, .max - 1]))
        XCTAssertEqual(BigUInt(limbs: [.max, .max]) * BigUInt(limbs: [.max, .max]), BigUInt(limbs: [1, 0, .max - 1, .max]))
        XCTAssertEqual(BigUInt(limbs: [0, 1]) * .zero, .zero)
        XCTAssertEqual(BigUInt.one * BigUInt(limbs: [7, 8]), BigUInt(limbs: [7, 8]))
    }

    /// Values from Python; the first three need Knuth's rare "add back" step with 64-bit limbs,
    /// the next two start with a quotient digit estimate of 2^64.
    func testDivisionAgreesWithPython() {
        let cases: [(String, String, String, String)] = [
            ("0xfffffffffffffffe0000000000000000ffffffffffffffff0000000000000002",
             "0x1000000000000000000000000000000018000000000000001",
             "0xfffffffffffffffd",
             "0xffffffffffffffff80000000000000028000000000000005"),
            ("0x8000000000000000000000000000000100000000000000007ffffffffffffffffffffffffffffffe0000000000000002",
             "0x800000000000000000000000000000017fffffffffffffff",
             "0xffffffffffffffffffffffffffffffff0000000000000003",
             "0x17ffffffffffffff88000000000000005"),
            ("0x800000000000000100000000000000028000000000000001800000000000000100000000000000008000000000000001",
             "0x80000000000000010000000000000002ffffffffffffffff",
             "0xffffffffffffffffffffffffffffffff0000000000000006",
             "0x7ffffffffffffffdffffffffffffffed8000000000000007"),
            ("0x200000000000000020000000000000000000000000000000280000000000000010000000000000000",
             "0x200000000000000027fffffffffffffff8000000000000001",
             "0xffffffffffffffffc000000000000000",
             "0x1200000000000000160000000000000014000000000000000"),
            ("0xffffffffffffffff0000000000000000000000000000000180000000000000018000000000000000",
             "0x10000000000000001",
             "0xfffffffffffffffe0000000000000001ffffffffffffffff8000000000000001",
             "0xffffffffffffffff"),
            ("0x8245728a6fcf303a07b28f2df760ae9ca08b2d7c50487ca07386cc099a1e77064c2c0f552c9402cdf2af19de2bc1b4ff00ae3f1347de2274ea181e34b3f1ec3fbf4dc20ef16468f918d8f6cdb2f803e0d681552454f14fab6f3e164f1513563e9bed45100358acc6d8f2c74c7ccf32d03fdda123f50190f5380e12b2a4146b77730f65bd9acbb57a6a1dfaf8cda9601e5b45785116080d650372e90794dfed52a24135b00a5436a80bdf0023b682af5570eed8e94b150452ef05f542441d111b8aaa62f28d1a4a789cb3d8b9b45c1b98fbe466809a111ba1192ec42b7170902a174f11fa2ac0079dd25a49fe85b0834c687a3acb6266c20ba2c2",
             "0xff769e34ddc74c897bdd982cdac6046f9903b72f88ece64dd44fd3645114889001edc8e367e5d6dfd7410696bb6a3de65151c401dd377bf623d8eb7a4ca83b26b52b08d21870f0bc4ff64debb5d6b48fc3b66fa30d0b194",
             "0x828b8110f3dbe6ecc54e59bdf1df86044147814bcb10e2206c59ddf7940d0151c4dda6ede69b8f7ddb98eb07a0bed64334f12ea1949e17b5f3635ec631e55897b8f12a06af3b8cc9e9789cfafd4b4006842eb1d30be5a02fe6c7ce78c8e1343878f853bb936214acd90ce8c58d732f16d156a48b0cc22c90a6bb2a2133dd436c6a3242dd95cf77846cd6f6ecc0df565d4d3aa52c491f76e7b08efc879894fb2b7a7d7",
             "0x3fc1aa9f6ecdca0e0f17318805f5f867d1eecbb20156af54660443f60c051d47066a59544ff368e3481e8476fc9b47a9eb883e535b7310d7dd858f96b26ca8296d342560f2de37bbb4c938500f9e3b2c38daf1bc622f376"),
        ]
        for (u, v, q, r) in cases {
            let (quotient, remainder) = BigUInt(hex: u).quotientAndRemainder(dividingBy: BigUInt(hex: v))
            XCTAssertEqual(quotient, BigUInt(hex: q), "\(u) / \(v)")
            XCTAssertEqual(remainder, BigUInt(hex: r), "\(u) % \(v)")
        }
    }

    func testDivisionEdgeCases() {
        XCTAssertEqual(BigUInt(7).quotientAndRemainder(dividingBy: BigUInt(limbs: [0, 1])).remainder, BigUInt(7))
        XCTAssertEqual(BigUInt.zero.quotientAndRemainder(dividingBy: .one).quotient, .zero)
        let big = BigUInt(limbs: [1, 2, 3])
        XCTAssertEqual(big / big, .one)
        XCTAssertEqual(big % big, .zero)
        XCTAssertEqual(big / .one, big)
        XCTAssertEqual(BigUInt(limbs: [0, 0, 1]) / BigUInt(limbs: [0, 1]), BigUInt(limbs: [0, 1]))
        XCTAssertEqual(BigUInt(limbs: [5, 0, 1]) % BigUInt(UInt64.max), BigUInt(6))
    }

    func testQuotientTimesDivisorPlusRemainderRebuildsTheDividend() {
        var random = SplitMix64(seed: 0xd1_0001)
        let interesting: [UInt64] = [0, 1, 2, .max, .max - 1, 1 << 63, (1 << 63) - 1, (1 << 63) + 1]
        for round in 0..<2000 {
            func randomValue(limbs: Int) -> BigUInt {
                BigUInt(limbs: (0..<limbs).map { _ in
                    round % 2 == 0 ? random.next() : interesting[Int(random.next() % UInt64(interesting.count))]
                })
            }
            let u = randomValue(limbs: Int(random.next() % 12))
            var v = randomValue(limbs: 1 + Int(random.next() % 8))
            if v.isZero { v = .one }
            let (q, r) = u.quotientAndRemainder(dividingBy: v)
            XCTAssertLessThan(r, v, "round \(round)")
            XCTAssertEqual(q * v + r, u, "round \(round): \(u) / \(v)")
        }
    }

    func testModularExponentiationWithSmallNumbers() {
        XCTAssertEqual(BigUInt(4).power(BigUInt(13), modulus: BigUInt(497)), BigUInt(445))
        XCTAssertEqual(BigUInt(2).power(BigUInt(10), modulus: BigUInt(1000)), BigUInt(24), "even modulus")
        let halfway = BigUInt(3).power(BigUInt(100), modulus: BigUInt(1024))
        XCTAssertEqual(BigUInt(3).power(BigUInt(200), modulus: BigUInt(1024)), halfway * halfway % BigUInt(1024), "3^200 = (3^100)²")
        XCTAssertEqual(BigUInt(12345).power(.zero, modulus: BigUInt(97)), .one, "x^0 = 1")
        XCTAssertEqual(BigUInt.zero.power(BigUInt(5), modulus: BigUInt(97)), .zero)
        XCTAssertEqual(BigUInt(5).power(BigUInt(3), modulus: .one), .zero, "everything is 0 mod 1")
        XCTAssertEqual(BigUInt(1000).power(BigUInt(1), modulus: BigUInt(97)), BigUInt(1000 % 97), "base above the modulus")
        XCTAssertEqual(BigUInt(limbs: [.max, .max]).power(BigUInt(2), modulus: BigUInt(.max)), .zero)
    }

    func testModularExponentiationAgreesWithPython() {
        let base = BigUInt(hex: "0x980ab8ab67a26b7f62b1852f27e3eff9c0cf44dd3f89e7d15f17362f25244caf9c4dabb4817253edc6181879932fa91425cb0088539d2c67eda13ffe7979cb9e86830c71c2cdcc69292f45e678309d6b79965eda32dae445508201e2bd73ab48767734d7c1c7fde805ec99108ddb5b5fab8f4d3e27dda1494c73cf256d")
        let exponent = BigUInt(hex: "0x9f828518867a66b0d389d95847ebd299753a767779673f778aaf6fa5db8656abd72fb710734")
        XCTAssertEqual(base.power(exponent, modulus: BigUInt(hex: "0x8d1fe1daff6665896822a6b24735af1ca7a114907513923715c1d2dfa9964aef012d0ea67ff122294b4d8474a3ea284d3bd0334684e55160320094ead7a94ded97491e2370c6a5b85387f61376c468aec7321cc007b37e14998092253deffa38e12b2b8f30b17d0b09208a650f3ebdd3102b938b8743feb6d4ea65d003d71685")),
                       BigUInt(hex: "0x684372f1c9a089941c8236dcfae550eb358e8b9568c503499df4c6ad029d20224318e050cf94f2ffcae85d3b68929ec759760365743f73eb0514ba8056d1e6916a53a3bf6fbb1c63d51bac0c807067d17da1cf8b442665150367e77c79eecf1422bf942c19b7ac1ef09b32858f334d2837327a8d6e86a81e9af420f73c69c5eb"))
        XCTAssertEqual(base.power(exponent, modulus: BigUInt(hex: "0x1a0820b994f6a6605f82a99a555ae30bbb5dd05d87ffdcb4b64")),
                       BigUInt(hex: "0x1722f703e7d041bda6db99f75bfbcde21ca81ef9cf2a403651"), "even modulus")
    }

    /// Fermat's little theorem on the Mersenne primes 2^127 - 1 and 2^521 - 1: a^(p-1) = 1 mod p.
    func testFermatHoldsForMersennePrimes() {
        var random = SplitMix64(seed: 0xfe_4a47)
        for bits in [127, 521] {
            let p = BigUInt(limbs: (0..<((bits + 63) / 64)).map { i in
                i == bits / 64 ? (UInt64(1) << UInt64(bits % 64)) - 1 : .max
            })
            XCTAssertEqual(p.bitWidth, bits)
            for _ in 0..<5 {
                let a = BigUInt(limbs: [random.next(), random.next()]) % p
                XCTAssertEqual(a.power(p - .one, modulus: p), .one, "\(a)^(p-1) mod 2^\(bits)-1")
            }
        }
    }

    /// Montgomery exponentiation against plain square-and-multiply for moduli of 1 to 40 limbs.
    func testMontgomeryAgreesWithSquareAndMultiply() {
        var random = SplitMix64(seed: 0x304e_7a01)
        for limbCount in 1...40 {
            var limbs = (0..<limbCount).map { _ in random.next() }
            limbs[0] |= 1
            if limbCount % 3 == 0 { limbs[limbCount - 1] = .max } // moduli close to R stress the final subtraction
            let modulus = BigUInt(limbs: limbs)
            let base = BigUInt(limbs: (0..<(limbCount + 1)).map { _ in random.next() })
            let exponent = BigUInt(limbs: [random.next(), random.next() >> 50])
            var expected = BigUInt.one % modulus
            var square = base % modulus
            for index in 0..<exponent.bitWidth {
                if exponent.bit(index) { expected = expected * square % modulus }
                square = square * square % modulus
            }
            XCTAssertEqual(base.power(exponent, modulus: modulus), expected, "\(limbCount)-limb modulus")
        }
    }
}

/// Every refusal names what is wrong; none crashes. "input → expected message" rows, as in git's helper tests.
final class RSAMalformedKeyTests: XCTestCase {
    private enum Input {
        case pem(String)
        case pkcs1([UInt8])
        case pkcs8([UInt8])

        func parse() throws -> RSAPrivateKey {
            switch self {
            case .pem(let text): return try RSAPrivateKey(pem: text)
            case .pkcs1(let der): return try RSAPrivateKey(pkcs1DER: der)
            case .pkcs8(let der): return try RSAPrivateKey(pkcs8DER: der)
            }
        }
    }

    private static func pem(_ label: String, _ body: String, headers: String = "") -> String {
        "-----BEGIN \(label)-----\n\(headers)\(body)\n-----END \(label)-----\n"
    }

    /// The known-answer key's nine INTEGERs (version, n, e, d, p, q, dP, dQ, qInv), for rebuilding altered keys.
    private static let fields: [BigUInt] = {
        var outer = DERReader(KnownAnswer.pkcs1DER)
        var sequence = try! outer.readSequence()
        return (0..<9).map { _ in BigUInt(bigEndian: try! sequence.readUnsignedInteger()) }
    }()

    private static func pkcs1(replacing index: Int, with value: BigUInt) -> [UInt8] {
        var values = fields
        values[index] = value
        return DERBuilder.sequence(values.map(DERBuilder.integer))
    }

    func testRefusalsNameTheProblem() {
        let der = KnownAnswer.pkcs1DER
        let body = Data(der).base64EncodedString(options: .lineLength64Characters)
        let rsaOID = DERBuilder.rsaEncryptionOID
        let ecOID = DERBuilder.element(0x06, [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01])
        let p256OID = DERBuilder.element(0x06, [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07])
        let ed25519OID = DERBuilder.element(0x06, [0x2b, 0x65, 0x70])
        let null = DERBuilder.element(0x05, [])
        let version0 = DERBuilder.integer(.zero)
        let keyOctets = DERBuilder.element(0x04, der)
        /// PrivateKeyInfo with the given AlgorithmIdentifier fields, around the known-answer key unless told otherwise.
        func pkcs8(_ algorithm: [[UInt8]], version: BigUInt = .zero, key: [UInt8] = keyOctets) -> Input {
            .pkcs8(DERBuilder.sequence([DERBuilder.integer(version), DERBuilder.sequence(algorithm), key]))
        }
        let fields = Self.fields
        let (n, e, p) = (fields[1], fields[2], fields[4])
        let tinyModulus = BigUInt(bigEndian: [0xc5] + [UInt8](repeating: 0x3b, count: 62) + [0x01])

        let table: [(String, Input, String)] = [
            ("empty text", .pem(""), "not a PEM private key"),
            ("not PEM", .pem("ghp_notakeyatall\n"), "not a PEM private key"),
            ("only a public key", .pem(Self.pem("PUBLIC KEY", "MIIB")), "not a PEM private key (found PUBLIC KEY)"),
            ("bad base64", .pem(Self.pem("RSA PRIVATE KEY", "MIIE*owIBAAKCAQEA")),
             "malformed PEM: RSA PRIVATE KEY body is not valid base64"),
            ("base64 padding in the middle", .pem(Self.pem("RSA PRIVATE KEY", "MI==owIB")),
             "malformed PEM: RSA PRIVATE KEY body is not valid base64"),
            ("base64 length not a multiple of 4", .pem(Self.pem("RSA PRIVATE KEY", "MIIEo")),
             "malformed PEM: RSA PRIVATE KEY body is not valid base64"),
            ("no END line", .pem("-----BEGIN RSA PRIVATE KEY-----\n" + body),
             "malformed PEM: no -----END RSA PRIVATE KEY----- line"),
            ("END label differs", .pem("-----BEGIN RSA PRIVATE KEY-----\n\(body)\n-----END PRIVATE KEY-----\n"),
             "malformed PEM: no -----END RSA PRIVATE KEY----- line"),
            ("unclosed BEGIN", .pem("-----BEGIN RSA PRIVATE KEY\nMIIE"), "malformed PEM: BEGIN line is not closed with -----"),
            ("encrypted PKCS#8", .pem(Self.pem("ENCRYPTED PRIVATE KEY", "MIIE")),
             "encrypted PEM keys are not supported: decrypt it with openssl first"),
            ("encrypted PKCS#1 headers",
             .pem(Self.pem("RSA PRIVATE KEY", body, headers: "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0011223344556677\n\n")),
             "encrypted PEM keys are not supported: decrypt it with openssl first"),
            ("EC PEM label", .pem(Self.pem("EC PRIVATE KEY", "MHcCAQEE")), "unsupported key type: EC PRIVATE KEY"),
            ("OpenSSH key", .pem(Self.pem("OPENSSH PRIVATE KEY", "b3BlbnNzaC1rZXktdjEAAAAA")),
             "unsupported key type: OPENSSH PRIVATE KEY"),
            ("empty DER", .pkcs1([]), "malformed DER at offset 0: data ends where SEQUENCE was expected"),
            ("truncated DER", .pkcs1(Array(der.prefix(100))),
             "malformed DER at offset 1: SEQUENCE length 1187 runs past the end of the data (96 bytes left)"),
            ("truncated inside the length", .pkcs1([0x30, 0x82, 0x04]),
             "malformed DER at offset 1: data ends inside the length of SEQUENCE"),
            ("only a tag", .pkcs1([0x30]), "malformed DER at offset 1: data ends before the length of SEQUENCE"),
            ("SET instead of SEQUENCE", .pkcs1([0x31] + der.dropFirst()),
             "malformed DER at offset 0: expected SEQUENCE (tag 0x30), found tag 0x31"),
            ("OCTET STRING where the version belongs", .pkcs1(DERBuilder.sequence([DERBuilder.element(0x04, [0])])),
             "malformed DER at offset 2: expected INTEGER (tag 0x02), found tag 0x04"),
            ("overlong length", .pkcs1([0x30, 0x81, 0x03, 0x02, 0x01, 0x00]),
             "malformed DER at offset 1: length of SEQUENCE is not minimally encoded"),
            ("length with a leading zero byte", .pkcs1([0x30, 0x82, 0x00, 0x80] + [UInt8](repeating: 0, count: 0x80)),
             "malformed DER at offset 1: length of SEQUENCE is not minimally encoded"),
            ("five length bytes", .pkcs1([0x30, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00]),
             "malformed DER at offset 1: length of SEQUENCE uses 5 bytes (at most 4 allowed)"),
            ("indefinite length", .pkcs1([0x30, 0x80, 0x02, 0x01, 0x00, 0x00, 0x00]),
             "malformed DER at offset 1: indefinite length is not allowed in DER"),
            ("length beyond the buffer", .pkcs1([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02]),
             "malformed DER at offset 1: SEQUENCE length 2147483647 runs past the end of the data (1 byte left)"),
            ("trailing byte after the key", .pkcs1(der + [0x00]),
             "malformed DER at offset 1191: 1 extra byte after the RSAPrivateKey"),
            ("extra field inside the key", .pkcs1(DERBuilder.sequence(fields.map(DERBuilder.integer) + [DERBuilder.integer(.one)])),
             "malformed DER at offset 1191: 3 extra bytes after the RSAPrivateKey fields"),
            ("PKCS#1 version 1", .pkcs1(Self.pkcs1(replacing: 0, with: .one)),
             "unsupported PKCS#1 version 1 at offset 4 (multi-prime keys are not supported)"),
            ("PKCS#1 version 7", .pkcs1(Self.pkcs1(replacing: 0, with: BigUInt(7))), "unsupported PKCS#1 version 7 at offset 4"),
            ("negative modulus", .pkcs1(DERBuilder.sequence([version0, DERBuilder.element(0x02, [0x80] + Array(repeating: 1, count: 255))])),
             "malformed DER at offset 7: negative INTEGER where only non-negative values are allowed"),
            ("non-minimal INTEGER", .pkcs1(DERBuilder.sequence([DERBuilder.element(0x02, [0x00, 0x00])])),
             "malformed DER at offset 2: INTEGER is not minimally encoded"),
            ("empty INTEGER", .pkcs1(DERBuilder.sequence([DERBuilder.element(0x02, [])])),
             "malformed DER at offset 2: INTEGER has no content"),
            ("zero modulus", .pkcs1(Self.pkcs1(replacing: 1, with: .zero)), "invalid RSA key: the modulus is zero"),
            ("512-bit key", .pkcs1(Self.pkcs1(replacing: 1, with: tinyModulus)), "key too small: 512-bit modulus (< 2048 bits)"),
            ("16385-bit key", .pkcs1(Self.pkcs1(replacing: 1, with: BigUInt(limbs: [UInt64](repeating: 1, count: 256) + [1]))),
             "key too large: 16385-bit modulus (> 16384 bits)"),
            ("even modulus", .pkcs1(Self.pkcs1(replacing: 1, with: n + .one)), "invalid RSA key: the modulus is even"),
            ("even public exponent", .pkcs1(Self.pkcs1(replacing: 2, with: BigUInt(65536))),
             "invalid RSA key: the public exponent is out of range"),
            ("public exponent 1", .pkcs1(Self.pkcs1(replacing: 2, with: .one)),
             "invalid RSA key: the public exponent is out of range"),
            ("zero private exponent", .pkcs1(Self.pkcs1(replacing: 3, with: .zero)),
             "invalid RSA key: the private exponent is out of range"),
            ("p·q ≠ n", .pkcs1(Self.pkcs1(replacing: 4, with: p + BigUInt(2))),
             "invalid RSA key: its primes do not multiply to the modulus"),
            ("p = 1", .pkcs1(Self.pkcs1(replacing: 4, with: .one)), "invalid RSA key: its primes do not multiply to the modulus"),
            ("wrong dP", .pkcs1(Self.pkcs1(replacing: 6, with: fields[6] + BigUInt(2))),
             "invalid RSA key: its CRT exponents do not match the public exponent"),
            ("wrong d", .pkcs1(Self.pkcs1(replacing: 3, with: fields[3] + BigUInt(2))),
             "invalid RSA key: its private exponent does not match the public exponent"),
            ("wrong qInv", .pkcs1(Self.pkcs1(replacing: 8, with: fields[8] + .one)),
             "invalid RSA key: its CRT coefficient is wrong"),
            ("e = n - 1 is even", .pkcs1(Self.pkcs1(replacing: 2, with: n - .one)),
             "invalid RSA key: the public exponent is out of range"),
            ("e unchanged but n swapped for e", .pkcs1(Self.pkcs1(replacing: 1, with: e)),
             "key too small: 17-bit modulus (< 2048 bits)"),
            ("EC key in PKCS#8", pkcs8([ecOID, p256OID]),
             "unsupported key type: EC (OID 1.2.840.10045.2.1)"),
            ("Ed25519 key in PKCS#8", pkcs8([ed25519OID], key: DERBuilder.element(0x04, DERBuilder.element(0x04, Array(repeating: 7, count: 32)))),
             "unsupported key type: Ed25519 (OID 1.3.101.112)"),
            ("unknown algorithm in PKCS#8", pkcs8([DERBuilder.element(0x06, [0x2a, 0x03]), null]),
             "unsupported key type: OID 1.2.3"),
            ("rsaEncryption without NULL", pkcs8([rsaOID]),
             "malformed DER at offset 20: data ends where NULL was expected"),
            ("NULL with content", pkcs8([rsaOID, DERBuilder.element(0x05, [0])]),
             "malformed DER at offset 20: NULL has content"),
            ("OID arc with a leading 0x80", pkcs8([DERBuilder.element(0x06, [0x2a, 0x80, 0x01]), null]),
             "malformed DER at offset 12: OBJECT IDENTIFIER arc is not minimally encoded"),
            ("unfinished OID", pkcs8([DERBuilder.element(0x06, [0x2a, 0x86]), null]),
             "malformed DER at offset 9: OBJECT IDENTIFIER is empty or its last arc is unfinished"),
            ("PKCS#8 version 2", pkcs8([rsaOID, null], version: BigUInt(2)),
             "unsupported PKCS#8 version 2 at offset 4"),
            ("PKCS#1 DER where PKCS#8 is expected", .pkcs8(der),
             "malformed DER at offset 7: expected SEQUENCE (tag 0x30), found tag 0x02"),
            ("PKCS#8 with trailing bytes in the key", .pkcs8(DERBuilder.pkcs8(wrapping: der + [0x05, 0x00])),
             "malformed DER at offset 1217: 2 extra bytes after the RSAPrivateKey"),
            ("PKCS#8 with trailing bytes after it", .pkcs8(DERBuilder.pkcs8(wrapping: der) + [0x00]),
             "malformed DER at offset 1217: 1 extra byte after the PrivateKeyInfo"),
            ("PKCS#8 in an RSA PRIVATE KEY block",
             .pem(Self.pem("RSA PRIVATE KEY", Data(DERBuilder.pkcs8(wrapping: der)).base64EncodedString())),
             "malformed DER at offset 7: expected INTEGER (tag 0x02), found tag 0x30"),
        ]
        XCTAssertGreaterThanOrEqual(table.count, 15)
        for (name, input, expected) in table {
            do {
                let key = try input.parse()
                XCTFail("\(name): parsed a \(key.modulusBitCount)-bit key, expected \"\(expected)\"")
            } catch let error as RSAKeyError {
                XCTAssertEqual(error.message, expected, name)
            } catch {
                XCTFail("\(name): threw \(type(of: error)) \(error), expected RSAKeyError \"\(expected)\"")
            }
        }
    }

    func testRefusalsCarryAFixHint() {
        let cases: [(String, String)] = [
            ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIE\n-----END ENCRYPTED PRIVATE KEY-----", "openssl pkey"),
            ("-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEA\\n-----END RSA PRIVATE KEY-----", "literal \\n"),
            ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----", "ssh-keygen -p -m PEM"),
            ("", "-----BEGIN RSA PRIVATE KEY-----"),
        ]
        for (pem, hintFragment) in cases {
            XCTAssertThrowsError(try RSAPrivateKey(pem: pem)) { error in
                let hint = (error as? RSAKeyError)?.hint ?? ""
                XCTAssertTrue(hint.contains(hintFragment), "hint \"\(hint)\" should mention \(hintFragment)")
            }
        }
    }

    func testRandomBytesNeverCrashTheParsers() {
        var random = SplitMix64(seed: 0xf022_0001)
        for round in 0..<1000 {
            var bytes = random.bytes(count: Int(random.next() % 300))
            // Half the rounds start like a SEQUENCE so the fuzz gets past the first byte.
            if round % 2 == 0, !bytes.isEmpty { bytes[0] = 0x30 }
            Self.assertParsesOrRefuses(.pkcs1(bytes), "random round \(round)")
            Self.assertParsesOrRefuses(.pkcs8(bytes), "random round \(round)")
            Self.assertParsesOrRefuses(.pem(Self.pem("RSA PRIVATE KEY", Data(bytes).base64EncodedString())), "random round \(round)")
        }
    }

    func testMutatedKeysNeverCrashTheParsers() {
        var random = SplitMix64(seed: 0xf022_0002)
        let pkcs1 = KnownAnswer.pkcs1DER
        let pkcs8 = DERBuilder.pkcs8(wrapping: pkcs1)
        for round in 0..<1000 {
            for (form, original) in [("PKCS#1", pkcs1), ("PKCS#8", pkcs8)] {
                var bytes = original
                for _ in 0..<(1 + Int(random.next() % 4)) {
                    let position = Int(random.next() % UInt64(bytes.count))
                    switch random.next() % 5 {
                    case 0: bytes[position] ^= UInt8(truncatingIfNeeded: 1 << (random.next() % 8))
                    case 1: bytes[position] = UInt8(truncatingIfNeeded: random.next())
                    case 2: bytes.removeSubrange(position...)
                    case 3: bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: position)
                    default: bytes.remove(at: position)
                    }
                    if bytes.isEmpty { bytes = [0x30] }
                }
                Self.assertParsesOrRefuses(form == "PKCS#1" ? .pkcs1(bytes) : .pkcs8(bytes), "\(form) mutation round \(round)")
            }
        }
    }

    func testMutatedPEMTextNeverCrashesTheParser() {
        var random = SplitMix64(seed: 0xf022_0003)
        let text = Array(KnownAnswer.pkcs1PEM.utf8)
        let alphabet = Array("-=+/ \r\nABCEGINKPRTVYabz019:".utf8)
        for round in 0..<500 {
            var bytes = text
            for _ in 0..<(1 + Int(random.next() % 3)) {
                let position = Int(random.next() % UInt64(bytes.count))
                bytes[position] = alphabet[Int(random.next() % UInt64(alphabet.count))]
            }
            Self.assertParsesOrRefuses(.pem(String(decoding: bytes, as: UTF8.self)), "PEM mutation round \(round)")
        }
    }

    /// A parse may succeed (then the key must sign) or throw RSAKeyError; anything else fails.
    private static func assertParsesOrRefuses(_ input: Input, _ context: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            let key = try input.parse()
            XCTAssertEqual(try key.signPKCS1v15SHA256([1, 2, 3]).count, (key.modulusBitCount + 7) / 8, context, file: file, line: line)
        } catch let error as RSAKeyError {
            XCTAssertFalse(error.message.isEmpty, context, file: file, line: line)
        } catch {
            XCTFail("\(context): threw \(type(of: error)) \(error)", file: file, line: line)
        }
    }
}

/// Builds DER by hand for the tests, independently of the reader under test.
private enum DERBuilder {
    static func element(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
        var length: [UInt8]
        if content.count < 0x80 {
            length = [UInt8(content.count)]
        } else {
            var count = content.count
            length = []
            while count > 0 {
                length.insert(UInt8(count & 0xff), at: 0)
                count >>= 8
            }
            length.insert(0x80 | UInt8(length.count), at: 0)
        }
        return [tag] + length + content
    }

    static func sequence(_ elements: [[UInt8]]) -> [UInt8] { element(0x30, elements.flatMap { $0 }) }

    static func integer(_ value: BigUInt) -> [UInt8] {
        let magnitude = value.bigEndianBytes
        guard let first = magnitude.first else { return element(0x02, [0]) }
        return element(0x02, first & 0x80 != 0 ? [0] + magnitude : magnitude)
    }

    static let rsaEncryptionOID = element(0x06, [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01])

    /// AlgorithmIdentifier { rsaEncryption, NULL }.
    static let rsaEncryption = sequence([rsaEncryptionOID, element(0x05, [])])

    /// PrivateKeyInfo { version 0, rsaEncryption, OCTET STRING pkcs1 }.
    static func pkcs8(wrapping pkcs1: [UInt8]) -> [UInt8] {
        sequence([integer(.zero), rsaEncryption, element(0x04, pkcs1)])
    }
}

private extension BigUInt {
    init(hex: String) {
        let digits = Array((hex.hasPrefix("0x") ? String(hex.dropFirst(2)) : hex).utf8)
        let padded = digits.count % 2 == 1 ? [UInt8(ascii: "0")] + digits : digits
        self.init(bigEndian: stride(from: 0, to: padded.count, by: 2).map {
            UInt8(String(decoding: padded[$0..<($0 + 2)], as: UTF8.self), radix: 16)!
        })
    }
}
