// The age v1 file format (age-encryption.org/v1) with the scrypt (passphrase) recipient: what the file keyring writes, and what `age -p` writes.

import BrokerWire

/// Why an age file could not be opened. Each case is one sentence for a person; none carries
/// any decrypted byte, so a failure never yields part of a secret.
public enum AgeFileError: BrokerError, Equatable {
    case notAgeFile
    case unsupportedVersion(String)
    case malformedHeader(String)
    case notPassphraseEncrypted
    case workFactorTooHigh(Int, maximum: Int)
    case wrongPassphrase
    case headerTampered
    case truncated
    case payloadTampered
    case malformedArmor(String)

    public var message: String {
        switch self {
        case .notAgeFile: return "not an age file (it does not start with age-encryption.org/v1)"
        case .unsupportedVersion(let version): return "age file version \(version.onOneLine) is not supported (only v1)"
        case .malformedHeader(let what): return "malformed age header: \(what)"
        case .notPassphraseEncrypted: return "the age file is encrypted to a recipient key, not a passphrase"
        case .workFactorTooHigh(let logN, let maximum): return "the age file's scrypt work factor 2^\(logN) is above the limit 2^\(maximum)"
        case .wrongPassphrase: return "wrong passphrase for the age file"
        case .headerTampered: return "the age file's header MAC does not match: the header was modified"
        case .truncated: return "the age file is truncated"
        case .payloadTampered: return "the age file's payload failed authentication: it was cut short, modified or corrupted"
        case .malformedArmor(let what): return "malformed armored age file: \(what)"
        }
    }

    public var hint: String? {
        switch self {
        case .wrongPassphrase: return "check the keyring passphrase (BROKER_KEYRING_PASSWORD, the cmd: reference, or `brokerctl unlock`)"
        case .notPassphraseEncrypted: return "re-encrypt it with `age -p`"
        case .truncated, .payloadTampered, .headerTampered: return "restore the file from a backup, or set the secret again"
        default: return nil
        }
    }
}

public enum AgeFile {
    public static let defaultLogN = 18
    /// 2^20 × 1 KiB = 1 GiB of scrypt memory; age's own tool defaults to 18 (256 MiB).
    public static let maximumLogN = 20
    static let chunkByteCount = 64 * 1024
    static let versionLine = Array("age-encryption.org/v1\n".utf8)
    static let scryptLabel = Array("age-encryption.org/v1/scrypt".utf8)
    static let armorBegin = "-----BEGIN AGE ENCRYPTED FILE-----"
    static let armorEnd = "-----END AGE ENCRYPTED FILE-----"

    /// Encrypts to a passphrase. A fresh file key, salt and payload nonce come from the system's CSPRNG.
    public static func encrypt(_ plaintext: [UInt8], passphrase: [UInt8], logN: Int = defaultLogN, armored: Bool = false) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        func random(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) } }
        var fileKey = random(16)
        defer { for i in 0..<fileKey.count { fileKey[i] = 0 } }
        let salt = random(16)
        var wrapKey = Scrypt.deriveKey(password: passphrase, salt: scryptLabel + salt, logN: logN, r: 8, p: 1, outputByteCount: 32)
        defer { for i in 0..<wrapKey.count { wrapKey[i] = 0 } }
        let body = ChaCha20Poly1305.seal(fileKey, key: wrapKey, nonce: [UInt8](repeating: 0, count: 12))

        var header = versionLine
        header += Array("-> scrypt \(Base64.encode(salt, padded: false)) \(logN)\n".utf8)
        header += Array("\(Base64.encode(body, padded: false))\n".utf8)   // 43 characters: a final line
        header += Array("---".utf8)
        let mac = HMACSHA256.authenticate(message: header, key: HKDFSHA256.deriveKey(inputKeyMaterial: fileKey, salt: [], info: "header"))
        var output = header + Array(" \(Base64.encode(mac, padded: false))\n".utf8)

        let nonce = random(16)
        let payloadKey = HKDFSHA256.deriveKey(inputKeyMaterial: fileKey, salt: nonce, info: "payload")
        output += nonce
        var offset = 0, counter: UInt64 = 0
        repeat {
            let end = min(offset + chunkByteCount, plaintext.count)
            let last = end == plaintext.count
            output += ChaCha20Poly1305.seal(Array(plaintext[offset..<end]), key: payloadKey, nonce: chunkNonce(counter, last: last))
            offset = end
            counter += 1
        } while offset < plaintext.count
        return armored ? armor(output) : output
    }

    /// Decrypts a binary or armored file. Throws before returning anything unless every chunk
    /// authenticated and the last one carried the final flag.
    public static func decrypt(_ file: [UInt8], passphrase: [UInt8], maximumLogN: Int = maximumLogN) throws -> [UInt8] {
        let bytes = try looksArmored(file) ? dearmor(file) : file
        var reader = LineReader(bytes: bytes)
        guard let version = reader.line() else {
            throw bytes.starts(with: Array("age-encryption.org/".utf8)) || versionLine.starts(with: bytes) ? AgeFileError.truncated : AgeFileError.notAgeFile
        }
        guard version == versionLine.dropLast() else {
            if version.starts(with: Array("age-encryption.org/".utf8)) {
                throw AgeFileError.unsupportedVersion(String(decoding: version.dropFirst(19).prefix(40), as: UTF8.self))
            }
            throw AgeFileError.notAgeFile
        }

        var stanzas: [(arguments: [String], body: [UInt8])] = []
        var macLine: ArraySlice<UInt8>
        while true {
            guard let line = reader.line() else { throw AgeFileError.truncated }
            if line.starts(with: Array("-> ".utf8)) {
                let arguments = line.dropFirst(3).split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
                guard !arguments.isEmpty, arguments.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0 >= 0x21 && $0 <= 0x7e } }) else {
                    throw AgeFileError.malformedHeader("a stanza line has an empty or non-printable argument")
                }
                var bodyText: [UInt8] = []
                while true {
                    guard let bodyLine = reader.line() else { throw AgeFileError.truncated }
                    guard bodyLine.count <= 64 else { throw AgeFileError.malformedHeader("a stanza body line is longer than 64 columns") }
                    bodyText += bodyLine
                    if bodyLine.count < 64 { break }
                }
                guard let body = Base64.decode(bodyText, padded: false) else {
                    throw AgeFileError.malformedHeader("a stanza body is not canonical base64")
                }
                stanzas.append((arguments.map { String(decoding: $0, as: UTF8.self) }, body))
            } else if line.starts(with: Array("---".utf8)) {
                macLine = line
                break
            } else {
                throw AgeFileError.malformedHeader("unexpected line in the header")
            }
        }
        let headerEnd = reader.offset - macLine.count - 1 + 3   // up to and including "---"
        guard macLine.count == 4 + 43, macLine[macLine.startIndex + 3] == UInt8(ascii: " "),
              let mac = Base64.decode(Array(macLine.dropFirst(4)), padded: false), mac.count == 32 else {
            throw AgeFileError.malformedHeader("the MAC line is not `--- ` and 43 base64 characters")
        }
        guard !stanzas.isEmpty else { throw AgeFileError.malformedHeader("no recipient stanza") }
        guard let scrypt = stanzas.first(where: { $0.arguments[0] == "scrypt" }) else { throw AgeFileError.notPassphraseEncrypted }
        guard stanzas.count == 1 else { throw AgeFileError.malformedHeader("an scrypt stanza must be the only stanza") }
        guard scrypt.arguments.count == 3 else { throw AgeFileError.malformedHeader("an scrypt stanza has three arguments") }
        guard let salt = Base64.decode(Array(scrypt.arguments[1].utf8), padded: false), salt.count == 16 else {
            throw AgeFileError.malformedHeader("the scrypt salt is not 16 bytes of canonical base64")
        }
        let logNText = scrypt.arguments[2]
        guard let first = logNText.first, first != "0", logNText.allSatisfy({ $0.isASCII && $0.isNumber }), logNText.count <= 2,
              let logN = Int(logNText) else {
            throw AgeFileError.malformedHeader("the scrypt work factor is not a decimal number without leading zeros")
        }
        guard logN <= maximumLogN else { throw AgeFileError.workFactorTooHigh(logN, maximum: maximumLogN) }
        guard scrypt.body.count == 32 else { throw AgeFileError.malformedHeader("the scrypt stanza body is not 32 bytes") }

        var wrapKey = Scrypt.deriveKey(password: passphrase, salt: scryptLabel + salt, logN: logN, r: 8, p: 1, outputByteCount: 32)
        defer { for i in 0..<wrapKey.count { wrapKey[i] = 0 } }
        var fileKey: [UInt8]
        do { fileKey = try ChaCha20Poly1305.open(scrypt.body, key: wrapKey, nonce: [UInt8](repeating: 0, count: 12)) } catch {
            throw AgeFileError.wrongPassphrase
        }
        defer { for i in 0..<fileKey.count { fileKey[i] = 0 } }
        let expectedMAC = HMACSHA256.authenticate(message: Array(bytes[..<headerEnd]),
                                                  key: HKDFSHA256.deriveKey(inputKeyMaterial: fileKey, salt: [], info: "header"))
        guard constantTimeEquals(expectedMAC, mac) else { throw AgeFileError.headerTampered }

        var payload = bytes[reader.offset...]
        guard payload.count >= 16 else { throw AgeFileError.truncated }
        let payloadKey = HKDFSHA256.deriveKey(inputKeyMaterial: fileKey, salt: Array(payload.prefix(16)), info: "payload")
        payload = payload.dropFirst(16)
        var plaintext: [UInt8] = []
        var counter: UInt64 = 0
        let sealedChunk = chunkByteCount + ChaCha20Poly1305.tagByteCount
        do {
            while true {
                guard payload.count >= ChaCha20Poly1305.tagByteCount else { throw AgeFileError.truncated }
                let chunk = Array(payload.prefix(sealedChunk))
                payload = payload.dropFirst(chunk.count)
                let last = payload.isEmpty
                do {
                    let opened = try ChaCha20Poly1305.open(chunk, key: payloadKey, nonce: chunkNonce(counter, last: last))
                    if last && opened.isEmpty && counter > 0 { throw AgeFileError.payloadTampered }
                    plaintext += opened
                } catch is AEADAuthenticationFailure {
                    // A full chunk that opens as a non-final one means the file stops early.
                    if last, chunk.count == sealedChunk,
                       (try? ChaCha20Poly1305.open(chunk, key: payloadKey, nonce: chunkNonce(counter, last: false))) != nil {
                        throw AgeFileError.truncated
                    }
                    throw AgeFileError.payloadTampered
                }
                if last { return plaintext }
                counter += 1
            }
        } catch {
            for i in 0..<plaintext.count { plaintext[i] = 0 }
            throw error
        }
    }

    static func chunkNonce(_ counter: UInt64, last: Bool) -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 { nonce[10 - i] = UInt8(truncatingIfNeeded: counter >> (8 * UInt64(i))) }
        nonce[11] = last ? 1 : 0
        return nonce
    }

    // MARK: ASCII armor (strict PEM, RFC 7468 §3, base64 with padding, 64 columns)

    static func armor(_ bytes: [UInt8]) -> [UInt8] {
        let encoded = Array(Base64.encode(bytes, padded: true).utf8)
        var text = Array((armorBegin + "\n").utf8)
        var offset = 0
        while offset < encoded.count {
            let end = min(offset + 64, encoded.count)
            text += encoded[offset..<end] + [0x0a]
            offset = end
        }
        return text + Array((armorEnd + "\n").utf8)
    }

    static func looksArmored(_ file: [UInt8]) -> Bool {
        let trimmed = file.drop(while: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0a || $0 == 0x0d })
        return trimmed.starts(with: Array(armorBegin.utf8))
    }

    static func dearmor(_ file: [UInt8]) throws -> [UInt8] {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0a || $0 == 0x0d }
        var text = ArraySlice(file).drop(while: isSpace)
        while let last = text.last, isSpace(last) { text = text.dropLast() }
        let lines = String(decoding: text, as: UTF8.self).replacingLineEndings().split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 2, lines.first == Substring(armorBegin) else { throw AgeFileError.malformedArmor("no BEGIN line") }
        guard lines.last == Substring(armorEnd) else { throw AgeFileError.truncated }
        let body = lines.dropFirst().dropLast()
        guard let lastLine = body.last, !lastLine.isEmpty else { throw AgeFileError.malformedArmor("no data between BEGIN and END") }
        for (index, line) in body.enumerated() where index < body.count - 1 && line.count != 64 || line.count > 64 {
            throw AgeFileError.malformedArmor("a line is not 64 columns")
        }
        guard let decoded = Base64.decode(Array(body.joined().utf8), padded: true) else {
            throw AgeFileError.malformedArmor("the body is not canonical base64")
        }
        return decoded
    }
}

private extension String {
    func replacingLineEndings() -> String {
        var result = ""
        var previousCR = false
        for scalar in unicodeScalars {
            if previousCR && scalar != "\n" { result.unicodeScalars.append("\r") }
            previousCR = scalar == "\r"
            if !previousCR { result.unicodeScalars.append(scalar) }
        }
        if previousCR { result.unicodeScalars.append("\r") }
        return result
    }
}

/// Splits on LF, remembering where the next line starts (the payload begins right after the header).
struct LineReader {
    let bytes: [UInt8]
    var offset = 0

    /// The next line without its LF; nil when no LF is left.
    mutating func line() -> ArraySlice<UInt8>? {
        guard offset < bytes.count, let newline = bytes[offset...].firstIndex(of: 0x0a) else { return nil }
        defer { offset = newline + 1 }
        return bytes[offset..<newline]
    }
}

/// Standard base64 (RFC 4648 §4); decoding accepts only the canonical encoding.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8], padded: Bool) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(n >> 18)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out += [alphabet[Int(n >> 18)], alphabet[Int(n >> 12 & 63)]]
            if padded { out += Array("==".utf8) }
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(n >> 18)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)]]
            if padded { out += Array("=".utf8) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// nil for any character outside the alphabet, wrong padding, or non-zero trailing bits.
    public static func decode(_ text: [UInt8], padded: Bool) -> [UInt8]? {
        var symbols = text[...]
        if padded {
            guard text.count % 4 == 0 else { return nil }
            if symbols.last == UInt8(ascii: "=") { symbols = symbols.dropLast() }
            if symbols.last == UInt8(ascii: "=") { symbols = symbols.dropLast() }
        }
        guard symbols.count % 4 != 1 else { return nil }
        var values: [UInt32] = []
        values.reserveCapacity(symbols.count)
        for c in symbols {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): values.append(UInt32(c - 65))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): values.append(UInt32(c - 97 + 26))
            case UInt8(ascii: "0")...UInt8(ascii: "9"): values.append(UInt32(c - 48 + 52))
            case UInt8(ascii: "+"): values.append(62)
            case UInt8(ascii: "/"): values.append(63)
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(values.count * 3 / 4)
        var i = 0
        while i + 4 <= values.count {
            let n = values[i] << 18 | values[i + 1] << 12 | values[i + 2] << 6 | values[i + 3]
            out += [UInt8(n >> 16), UInt8(n >> 8 & 255), UInt8(n & 255)]
            i += 4
        }
        switch values.count - i {
        case 2:
            guard values[i + 1] & 0x0f == 0 else { return nil }
            out.append(UInt8(values[i] << 2 | values[i + 1] >> 4))
        case 3:
            guard values[i + 2] & 0x03 == 0 else { return nil }
            let n = values[i] << 10 | values[i + 1] << 4 | values[i + 2] >> 2
            out += [UInt8(n >> 8), UInt8(n & 255)]
        default: break
        }
        return out
    }
}
