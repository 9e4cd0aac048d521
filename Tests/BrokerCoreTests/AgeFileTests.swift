// Specifies the age v1 passphrase format: round trips, refusals that never yield a partial secret, and interop with the real `age` tool.
@testable import BrokerCore
import Foundation
import XCTest

final class AgeFileTests: XCTestCase {
    /// Low work factor for files the tests write themselves (the format is the same at any factor).
    let logN = 10
    let passphrase = Array("correct horse battery staple".utf8)

    func testRoundTripsAcrossChunkBoundaries() throws {
        var random = SplitMix64(seed: 0x6167_6532)
        for size in [0, 1, 15, 16, 65535, 65536, 65537, 131_072, 131_073] {
            let secret = random.bytes(count: size)
            let file = AgeFile.encrypt(secret, passphrase: passphrase, logN: logN)
            XCTAssertEqual(try AgeFile.decrypt(file, passphrase: passphrase), secret, "\(size) bytes")
            let armored = AgeFile.encrypt(secret, passphrase: passphrase, logN: logN, armored: true)
            XCTAssertEqual(try AgeFile.decrypt(armored, passphrase: passphrase), secret, "\(size) bytes, armored")
        }
    }

    func testHeaderHasTheScryptStanzaAndTheWorkFactor() throws {
        let file = AgeFile.encrypt([1, 2, 3], passphrase: passphrase, logN: 12)
        let lines = String(decoding: file.prefix(200), as: UTF8.self).split(separator: "\n")
        XCTAssertEqual(lines[0], "age-encryption.org/v1")
        let stanza = lines[1].split(separator: " ")
        XCTAssertEqual(stanza.count, 4)
        XCTAssertEqual(stanza[0], "->"); XCTAssertEqual(stanza[1], "scrypt"); XCTAssertEqual(stanza[3], "12")
        XCTAssertEqual(Base64.decode(Array(stanza[2].utf8), padded: false)?.count, 16)
        XCTAssertTrue(lines[3].hasPrefix("--- "))
    }

    func testWrongPassphraseIsOneClearError() {
        let file = AgeFile.encrypt(Array("s3cr3t".utf8), passphrase: passphrase, logN: logN)
        XCTAssertThrowsError(try AgeFile.decrypt(file, passphrase: Array("wrong".utf8))) { error in
            XCTAssertEqual(error as? AgeFileError, .wrongPassphrase)
            XCTAssertEqual("\(error)", "wrong passphrase for the age file (hint: check the keyring passphrase (BROKER_KEYRING_PASSWORD, the cmd: reference, or `brokerctl unlock`))")
        }
    }

    func testEveryTruncationFailsWithoutPlaintext() {
        var random = SplitMix64(seed: 0x6167_6533)
        let secret = random.bytes(count: 65536 + 100)
        let file = AgeFile.encrypt(secret, passphrase: passphrase, logN: logN)
        let headerLength = file.count - 16 - (65536 + 16) - (100 + 16)
        // Every cut point in the header and nonce, and a spread through both chunks.
        let cuts = Array(0..<(headerLength + 16)) + Array(stride(from: headerLength + 16, to: file.count, by: 997)) + [file.count - 1, headerLength + 16 + 65536 + 16]
        for cut in cuts {
            XCTAssertThrowsError(try AgeFile.decrypt(Array(file.prefix(cut)), passphrase: passphrase), "cut at \(cut)") { error in
                XCTAssertNotNil(error as? AgeFileError, "cut at \(cut): \(error)")
            }
        }
        // Cut exactly at the chunk boundary: the remaining full chunk is not marked final.
        XCTAssertThrowsError(try AgeFile.decrypt(Array(file.prefix(headerLength + 16 + 65536 + 16)), passphrase: passphrase)) {
            XCTAssertEqual($0 as? AgeFileError, .truncated)
        }
    }

    func testEveryTamperedByteFails() {
        var random = SplitMix64(seed: 0x6167_6534)
        let file = AgeFile.encrypt(random.bytes(count: 300), passphrase: passphrase, logN: 4)
        for index in 0..<file.count {
            var tampered = file
            tampered[index] ^= 0x04
            XCTAssertThrowsError(try AgeFile.decrypt(tampered, passphrase: passphrase), "byte \(index)")
        }
        var payloadFlip = file
        payloadFlip[file.count - 20] ^= 1
        XCTAssertThrowsError(try AgeFile.decrypt(payloadFlip, passphrase: passphrase)) { XCTAssertEqual($0 as? AgeFileError, .payloadTampered) }
        let macStart = String(decoding: file, as: UTF8.self).range(of: "--- ")!.upperBound.utf16Offset(in: String(decoding: file, as: UTF8.self))
        var macFlip = file
        macFlip[macStart + 5] = macFlip[macStart + 5] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        XCTAssertThrowsError(try AgeFile.decrypt(macFlip, passphrase: passphrase)) { XCTAssertEqual($0 as? AgeFileError, .headerTampered) }
        // Appending data after the final chunk is tampering too.
        XCTAssertThrowsError(try AgeFile.decrypt(file + [0], passphrase: passphrase))
    }

    func testRefusesNonAgeInputAndOtherRecipientsAndHighWorkFactors() {
        XCTAssertThrowsError(try AgeFile.decrypt(Array("hello\n".utf8), passphrase: passphrase)) { XCTAssertEqual($0 as? AgeFileError, .notAgeFile) }
        XCTAssertThrowsError(try AgeFile.decrypt(Array("age-encryption.org/v2\n".utf8), passphrase: passphrase)) { XCTAssertEqual($0 as? AgeFileError, .unsupportedVersion("v2")) }
        let x25519 = "age-encryption.org/v1\n-> X25519 O6DLx/wDIawpUC978NSPjYvrfDtJVnZApXKp4FMPHCY\n3aKjozt9agh7jGmvOKvR4iax41Wl4zj95MKK4X9JuWc\n--- HK2NmOBN9Dpq0Gw6xMCuhFcQlQLvZ/wQUi/2scLG75s\n"
        XCTAssertThrowsError(try AgeFile.decrypt(Array(x25519.utf8), passphrase: passphrase)) { XCTAssertEqual($0 as? AgeFileError, .notPassphraseEncrypted) }
        let heavy = String(decoding: AgeFile.encrypt([1], passphrase: passphrase, logN: logN), as: UTF8.self)
            .replacingOccurrences(of: " \(logN)\n", with: " 30\n")
        XCTAssertThrowsError(try AgeFile.decrypt(Array(heavy.utf8), passphrase: passphrase)) { XCTAssertEqual($0 as? AgeFileError, .workFactorTooHigh(30, maximum: 20)) }
        let leadingZero = heavy.replacingOccurrences(of: " 30\n", with: " 010\n")
        XCTAssertThrowsError(try AgeFile.decrypt(Array(leadingZero.utf8), passphrase: passphrase)) {
            guard case .malformedHeader = $0 as? AgeFileError else { return XCTFail("\($0)") }
        }
    }

    func testBase64IsCanonicalOnly() {
        XCTAssertEqual(Base64.decode(Array("AQ".utf8), padded: false), [1])
        XCTAssertNil(Base64.decode(Array("AR".utf8), padded: false), "non-zero trailing bits")
        XCTAssertNil(Base64.decode(Array("AQ==".utf8), padded: false), "padding where none is allowed")
        XCTAssertEqual(Base64.decode(Array("AQ==".utf8), padded: true), [1])
        XCTAssertNil(Base64.decode(Array("A".utf8), padded: false))
        var random = SplitMix64(seed: 9)
        for length in 0..<40 {
            let bytes = random.bytes(count: length)
            XCTAssertEqual(Base64.decode(Array(Base64.encode(bytes, padded: false).utf8), padded: false), bytes)
            XCTAssertEqual(Base64.encode(bytes, padded: true), Data(bytes).base64EncodedString())
        }
    }
}

/// Interop with the reference `age` tool (Debian package `age`), which reads passphrases only
/// from a terminal: a Python pty answers its prompts.
final class AgeInteropTests: XCTestCase {
    /// Runs `age ARGS…` once per input line `passphrase<TAB>arg<TAB>arg…` under a pty, answering every
    /// prompt with the passphrase; prints the exit status per line.
    static let driver = """
    import os, pty, select, sys
    for line in sys.stdin:
        fields = line.rstrip("\\n").split("\\t")
        passphrase, args = fields[0].encode(), fields[1:]
        pid, fd = pty.fork()
        if pid == 0:
            os.execvp("age", ["age"] + args)
        seen = b""
        while True:
            try:
                ready, _, _ = select.select([fd], [], [], 60)
                if not ready: break
                data = os.read(fd, 1024)
            except OSError:
                break
            if not data: break
            seen += data
            if seen.rstrip().endswith(b":"):
                os.write(fd, passphrase + b"\\r")
                seen = b""
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), seen.decode(errors="replace").strip().replace("\\n", " ")[-200:])
        sys.stdout.flush()
    """

    private var directory: URL!

    override func setUpWithError() throws {
        guard findExecutable(named: "age") != nil else {
            throw XCTSkip("age not installed (Debian package `age`; .ci/run installs it)")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("age-interop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    private func runAge(_ jobs: [(passphrase: String, arguments: [String])]) throws -> [String] {
        try runPython(Self.driver, input: jobs.map { ([$0.passphrase] + $0.arguments).joined(separator: "\t") + "\n" }.joined())
    }

    /// 100 random secrets of 1 byte to 64 KiB (half of them armored) written here, read by `age -d`.
    func testAgeDecryptsOneHundredRandomSecretsWeWrote() throws {
        var random = SplitMix64(seed: 0x6167_6535)
        var secrets: [[UInt8]] = [], jobs: [(String, [String])] = []
        for index in 0..<100 {
            let size = index == 0 ? 1 : index == 1 ? 65536 : Int.random(in: 1...65536, using: &random)
            let secret = random.bytes(count: size)
            let passphrase = "pass-\(index)-" + random.bytes(count: 6).hexString
            let encrypted = AgeFile.encrypt(secret, passphrase: Array(passphrase.utf8), logN: 10 + index % 3, armored: index % 2 == 1)
            let input = directory.appendingPathComponent("\(index).age").path
            FileManager.default.createFile(atPath: input, contents: Data(encrypted))
            secrets.append(secret)
            jobs.append((passphrase, ["-d", "-o", directory.appendingPathComponent("\(index).out").path, input]))
        }
        let statuses = try runAge(jobs)
        XCTAssertEqual(statuses.count, 100)
        for (index, status) in statuses.enumerated() {
            XCTAssertTrue(status.hasPrefix("0"), "age -d on secret \(index) (\(secrets[index].count) bytes): \(status)")
            let output = FileManager.default.contents(atPath: directory.appendingPathComponent("\(index).out").path)
            XCTAssertEqual(output.map { Array($0) }, secrets[index], "secret \(index)")
        }
    }

    /// `age -p` always uses work factor 2^18; each such file costs a full scrypt here (seconds in a
    /// debug build), so this reads 100 random secrets of 1 byte to 64 KiB (odd ones armored) only
    /// with BROKER_LONG_TESTS=1, and three (1 byte, 64 KiB, one random) otherwise.
    func testWeDecryptWhatAgePassphraseWrites() throws {
        var random = SplitMix64(seed: 0x6167_6536)
        let count = ProcessInfo.processInfo.environment["BROKER_LONG_TESTS"] == "1" ? 100 : 3
        let sizes = (0..<count).map { $0 == 0 ? 1 : $0 == 1 ? 65536 : Int.random(in: 1...65536, using: &random) }
        var secrets: [[UInt8]] = [], jobs: [(String, [String])] = []
        for (index, size) in sizes.enumerated() {
            let secret = size == 1 ? [UInt8(ascii: "k")] : random.bytes(count: size)
            let input = directory.appendingPathComponent("\(index).txt").path
            FileManager.default.createFile(atPath: input, contents: Data(secret))
            secrets.append(secret)
            jobs.append(("age-pass-\(index)", ["-p"] + (index % 2 == 1 ? ["-a"] : []) + ["-o", directory.appendingPathComponent("\(index).age").path, input]))
        }
        let statuses = try runAge(jobs)
        for (index, status) in statuses.enumerated() { XCTAssertTrue(status.hasPrefix("0"), "age -p for secret \(index): \(status)") }
        for index in sizes.indices {
            let file = try XCTUnwrap(FileManager.default.contents(atPath: directory.appendingPathComponent("\(index).age").path))
            XCTAssertTrue(String(decoding: file.prefix(80), as: UTF8.self).contains(" 18\n") || index % 2 == 1, "age -p writes work factor 18")
            let start = Date()
            if index == 0 {
                // Dropped into a file keyring as NAME.age, it is read like one the broker wrote.
                try FileManager.default.copyItem(atPath: directory.appendingPathComponent("0.age").path, toPath: directory.appendingPathComponent("from-age.age").path)
                chmod(directory.appendingPathComponent("from-age.age").path, 0o600)
                chmod(directory.path, 0o700)
                let keyring = FileKeyring(directory: directory.path, workFactor: 10, passphrase: { Array("age-pass-0".utf8) }, isUnlocked: { true })
                XCTAssertEqual(try keyring.read("from-age")?.reveal(), String(decoding: secrets[0], as: UTF8.self))
            } else {
                XCTAssertEqual(try AgeFile.decrypt(Array(file), passphrase: Array("age-pass-\(index)".utf8)), secrets[index], "secret \(index)")
            }
            print("age -p file (\(sizes[index]) bytes, scrypt 2^18) decrypted in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
        }
    }

    /// A well-formed file whose plaintext is empty is not a secret: the keyring says so and gives none.
    func testAnEmptySecretIsAnError() throws {
        chmod(directory.path, 0o700)
        let path = directory.appendingPathComponent("empty.age").path
        FileManager.default.createFile(atPath: path, contents: Data(AgeFile.encrypt([], passphrase: Array("pw".utf8), logN: 10)))
        chmod(path, 0o600)
        let keyring = FileKeyring(directory: directory.path, workFactor: 10, passphrase: { Array("pw".utf8) }, isUnlocked: { true })
        XCTAssertThrowsError(try keyring.read("empty")) { XCTAssertTrue("\($0)".contains("holds an empty secret"), "\($0)") }
    }

    /// `age -d` refuses what we refuse: a wrong passphrase and a truncated file.
    func testAgeAgreesOnWrongPassphraseAndTruncation() throws {
        let file = AgeFile.encrypt(Array(repeating: 7, count: 70000), passphrase: Array("right".utf8), logN: 10)
        let whole = directory.appendingPathComponent("whole.age").path, cut = directory.appendingPathComponent("cut.age").path
        FileManager.default.createFile(atPath: whole, contents: Data(file))
        FileManager.default.createFile(atPath: cut, contents: Data(file.prefix(file.count - 100)))
        let statuses = try runAge([("wrong", ["-d", "-o", directory.appendingPathComponent("a").path, whole]),
                                   ("right", ["-d", "-o", directory.appendingPathComponent("b").path, cut])])
        XCTAssertEqual(statuses.count, 2)
        XCTAssertFalse(statuses[0].hasPrefix("0"), "age accepted a wrong passphrase: \(statuses[0])")
        XCTAssertFalse(statuses[1].hasPrefix("0"), "age accepted a truncated file: \(statuses[1])")
        XCTAssertThrowsError(try AgeFile.decrypt(Array(file.prefix(file.count - 100)), passphrase: Array("right".utf8)))
    }
}
