// RSA private keys (PKCS#1 or PKCS#8, PEM or DER) and RSASSA-PKCS1-v1_5 SHA-256 signatures, for GitHub App JWTs (RS256).
import BrokerWire

/// A private key that could not be read, or a signature that could not be made. The message never
/// contains key material.
public struct RSAKeyError: BrokerError, Equatable {
    public var message: String
    public var hint: String?

    init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }

    static let damagedHint =
        "the key file is damaged or is not an RSA private key; download a new private key from the GitHub App's settings"
    static let notRSAHint = "GitHub App keys are RSA; download a new private key from the GitHub App's settings"
}

/// An RSA private key ready to sign (RFC 8017). Parsing checks the key is self-consistent
/// (p·q = n, the CRT exponents and coefficient match), so signing cannot quietly produce garbage.
/// Printing it shows only its size.
public struct RSAPrivateKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// GitHub requires 2048 bits; less is breakable.
    static let minimumModulusBitCount = 2048
    /// Bounds the work a hostile key file can cause.
    static let maximumModulusBitCount = 16384

    private let modulus: MontgomeryModulus
    private let publicExponent: BigUInt
    private let privateExponent: BigUInt
    private let primeP: MontgomeryModulus
    private let primeQ: MontgomeryModulus
    private let exponentP: BigUInt
    private let exponentQ: BigUInt
    private let coefficient: BigUInt

    public var modulusBitCount: Int { modulus.modulus.bitWidth }

    /// Reads the first private key block: `RSA PRIVATE KEY` (PKCS#1) or `PRIVATE KEY` (PKCS#8).
    public init(pem: String) throws {
        let blocks: [PEMBlock]
        do {
            blocks = try PEMBlock.blocks(in: pem)
        } catch let error as PEMError {
            throw RSAKeyError("malformed PEM: \(error.reason)", hint: error.hint)
        }
        guard let block = blocks.first(where: { $0.label.hasSuffix("PRIVATE KEY") }) else {
            let found = blocks.map(\.label)
            let foundLabels = found.isEmpty ? "" : " (found \(found.joined(separator: ", ")))"
            throw RSAKeyError("not a PEM private key\(foundLabels)",
                              hint: "expected -----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY----- and base64 lines")
        }
        let encryptedHint = "openssl pkey -in KEY.pem -out KEY-decrypted.pem (then keep the result private)"
        let hasEncryptedHeader = block.headers.contains { $0.hasPrefix("Proc-Type:") && $0.hasSuffix("ENCRYPTED") }
        if block.label == "ENCRYPTED PRIVATE KEY" || hasEncryptedHeader {
            throw RSAKeyError("encrypted PEM keys are not supported: decrypt it with openssl first", hint: encryptedHint)
        }
        let der: [UInt8]
        do {
            der = try block.decoded()
        } catch let error as PEMError {
            throw RSAKeyError("malformed PEM: \(error.reason)", hint: error.hint)
        }
        switch block.label {
        case "RSA PRIVATE KEY": try self.init(pkcs1DER: der)
        case "PRIVATE KEY": try self.init(pkcs8DER: der)
        case "OPENSSH PRIVATE KEY":
            throw RSAKeyError("unsupported key type: OPENSSH PRIVATE KEY",
                              hint: "convert an RSA key with ssh-keygen -p -m PEM -f KEY (rewrites the file in place)")
        default:
            throw RSAKeyError("unsupported key type: \(block.label)", hint: RSAKeyError.notRSAHint)
        }
    }

    /// Reads PKCS#1 RSAPrivateKey DER (RFC 8017 §A.1.2), two-prime (version 0) only.
    public init(pkcs1DER: [UInt8]) throws {
        var reader = DERReader(pkcs1DER)
        try self.init(pkcs1: &reader)
        try Self.derErrors { try reader.expectEnd(after: "RSAPrivateKey") }
    }

    /// Reads PKCS#8 PrivateKeyInfo / OneAsymmetricKey DER (RFC 5208, RFC 5958) holding an rsaEncryption key.
    public init(pkcs8DER: [UInt8]) throws {
        var outer = DERReader(pkcs8DER)
        var inner = try Self.derErrors { () throws -> DERReader in
            var info = try outer.readSequence()
            try outer.expectEnd(after: "PrivateKeyInfo")
            let versionOffset = info.offset
            let version = try info.readSmallUnsignedInteger()
            guard version == 0 || version == 1 else {
                let shown = version.map(String.init) ?? "(huge)"
                throw RSAKeyError("unsupported PKCS#8 version \(shown) at offset \(versionOffset)",
                                  hint: RSAKeyError.damagedHint)
            }
            var algorithm = try info.readSequence()
            let oid = try algorithm.readObjectIdentifier()
            guard oid == "1.2.840.113549.1.1.1" else {
                let name = Self.algorithmNames[oid].map { "\($0) (OID \(oid))" } ?? "OID \(oid)"
                throw RSAKeyError("unsupported key type: \(name)", hint: RSAKeyError.notRSAHint)
            }
            // RFC 8017 §A.1: rsaEncryption parameters SHALL be NULL.
            try algorithm.readNull()
            try algorithm.expectEnd(after: "rsaEncryption parameters")
            let key = try info.readOctetStringContents()
            // [0] attributes and (version 1 only) the [1] IMPLICIT BIT STRING public key carry nothing a signer needs.
            _ = try info.skipElement(ifTag: 0xa0)
            if version == 1 { _ = try info.skipElement(ifTag: 0x81) }
            try info.expectEnd(after: "PrivateKeyInfo fields")
            return key
        }
        try self.init(pkcs1: &inner)
        try Self.derErrors { try inner.expectEnd(after: "RSAPrivateKey") }
    }

    private init(pkcs1 reader: inout DERReader) throws {
        let integers = try Self.derErrors { () throws -> [BigUInt] in
            var key = try reader.readSequence()
            let versionOffset = key.offset
            let version = try key.readSmallUnsignedInteger()
            guard version == 0 else {
                let detail = version == 1 ? " (multi-prime keys are not supported)" : ""
                let shown = version.map(String.init) ?? "(huge)"
                throw RSAKeyError("unsupported PKCS#1 version \(shown) at offset \(versionOffset)\(detail)",
                                  hint: RSAKeyError.damagedHint)
            }
            var integers: [BigUInt] = []
            for _ in 0..<8 {
                integers.append(BigUInt(bigEndian: try key.readUnsignedInteger()))
            }
            try key.expectEnd(after: "RSAPrivateKey fields")
            return integers
        }
        try self.init(n: integers[0], e: integers[1], d: integers[2], p: integers[3], q: integers[4],
                      dP: integers[5], dQ: integers[6], qInv: integers[7])
    }

    /// Checks the numbers before anything divides by them or exponentiates with them.
    private init(n: BigUInt, e: BigUInt, d: BigUInt, p: BigUInt, q: BigUInt,
                 dP: BigUInt, dQ: BigUInt, qInv: BigUInt) throws {
        func invalid(_ what: String) -> RSAKeyError {
            RSAKeyError("invalid RSA key: \(what)", hint: RSAKeyError.damagedHint)
        }
        guard !n.isZero else { throw invalid("the modulus is zero") }
        guard n.bitWidth >= Self.minimumModulusBitCount else {
            throw RSAKeyError("key too small: \(n.bitWidth)-bit modulus (< \(Self.minimumModulusBitCount) bits)",
                              hint: "GitHub App keys are 2048 bits; download a new one from the GitHub App's settings")
        }
        guard n.bitWidth <= Self.maximumModulusBitCount else {
            throw RSAKeyError("key too large: \(n.bitWidth)-bit modulus (> \(Self.maximumModulusBitCount) bits)")
        }
        guard let modulus = MontgomeryModulus(n) else { throw invalid("the modulus is even") }
        guard e.isOdd, e > BigUInt(1), e < n else { throw invalid("the public exponent is out of range") }
        guard !d.isZero, d < n else { throw invalid("the private exponent is out of range") }
        let three = BigUInt(3)
        guard p >= three, q >= three, p * q == n else { throw invalid("its primes do not multiply to the modulus") }
        // p·q = n is odd, so both primes are odd and have Montgomery forms.
        guard let primeP = MontgomeryModulus(p), let primeQ = MontgomeryModulus(q) else {
            throw invalid("its primes do not multiply to the modulus")
        }
        let pMinusOne = p - .one, qMinusOne = q - .one
        guard dP < pMinusOne, dQ < qMinusOne, (e * dP) % pMinusOne == .one, (e * dQ) % qMinusOne == .one else {
            throw invalid("its CRT exponents do not match the public exponent")
        }
        guard (e * d) % pMinusOne == .one, (e * d) % qMinusOne == .one else {
            throw invalid("its private exponent does not match the public exponent")
        }
        guard qInv < p, (qInv * q) % p == .one else { throw invalid("its CRT coefficient is wrong") }

        self.modulus = modulus
        publicExponent = e
        privateExponent = d
        self.primeP = primeP
        self.primeQ = primeQ
        exponentP = dP
        exponentQ = dQ
        coefficient = qInv
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2.1), the JWS `RS256` algorithm. The signature
    /// is as long as the modulus in bytes. The CRT result is checked against the public key before
    /// it leaves (one faulty CRT signature is enough to factor n); a failed check retries once
    /// without CRT and then throws.
    public func signPKCS1v15SHA256(_ message: [UInt8]) throws -> [UInt8] {
        let length = (modulusBitCount + 7) / 8
        let encoded = Self.encodePKCS1v15SHA256(digest: SHA256.hash(message), length: length)
        let signature = try checkedSignature(of: BigUInt(bigEndian: encoded), crt: signWithCRT)
        guard let bytes = signature.bigEndianBytes(count: length) else {
            throw RSAKeyError("RSA signature is longer than the modulus (internal error)")
        }
        return bytes
    }

    /// The CRT signature of `representative` if it checks out against the public exponent, else
    /// the plain m^d mod n if that does, else an error. `crt` is a parameter so tests can inject a fault.
    func checkedSignature(of representative: BigUInt, crt: (BigUInt) -> BigUInt) throws -> BigUInt {
        let signature = crt(representative)
        if signature < modulus.modulus, modulus.power(signature, publicExponent) == representative { return signature }
        let fallback = modulus.power(representative, privateExponent)
        guard modulus.power(fallback, publicExponent) == representative else {
            throw RSAKeyError("RSA signature failed its self-check",
                              hint: "the key's primes are not prime, or the machine has a hardware fault")
        }
        return fallback
    }

    /// m^d mod n through the two half-size exponentiations and Garner's recombination (RFC 8017 §5.1.2).
    func signWithCRT(_ representative: BigUInt) -> BigUInt {
        let p = primeP.modulus, q = primeQ.modulus
        let m1 = primeP.power(representative, exponentP)
        let m2 = primeQ.power(representative, exponentQ)
        let m2ModP = m2 % p
        let difference = m1 >= m2ModP ? m1 - m2ModP : (m1 + p) - m2ModP
        let h = (coefficient * difference) % p
        return m2 + h * q
    }

    /// EMSA-PKCS1-v1_5: 00 01 FF…FF 00 || DigestInfo(SHA-256) || digest, `length` bytes in all.
    static func encodePKCS1v15SHA256(digest: [UInt8], length: Int) -> [UInt8] {
        let digestInfoPrefix: [UInt8] = [
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
        ]
        let tail = digestInfoPrefix + digest
        // The key-size floor guarantees at least the 8 bytes of FF padding RFC 8017 demands.
        return [0x00, 0x01] + [UInt8](repeating: 0xff, count: length - tail.count - 3) + [0x00] + tail
    }

    /// Runs DER parsing, turning a DERError into the user-facing error.
    private static func derErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DERError {
            throw RSAKeyError("malformed DER at offset \(error.offset): \(error.reason)", hint: RSAKeyError.damagedHint)
        }
    }

    /// Names for the key algorithms people most often hand us by mistake.
    private static let algorithmNames = [
        "1.2.840.10045.2.1": "EC",
        "1.3.101.112": "Ed25519",
        "1.3.101.113": "Ed448",
        "1.3.101.110": "X25519",
        "1.2.840.10040.4.1": "DSA",
        "1.2.840.113549.1.1.10": "RSASSA-PSS",
    ]

    public var description: String { "RSAPrivateKey(\(modulusBitCount) bits, <redacted>)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["modulusBitCount": modulusBitCount], displayStyle: .struct) }
}

/// Base64url without padding (RFC 4648 §5), as JWS compact serialization wants.
public func base64URLEncoded(_ bytes: [UInt8]) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    var output: [UInt8] = []
    output.reserveCapacity((bytes.count * 4 + 2) / 3)
    var index = 0
    while index < bytes.count {
        let remaining = bytes.count - index
        let b0 = UInt32(bytes[index])
        let b1 = remaining > 1 ? UInt32(bytes[index + 1]) : 0
        let b2 = remaining > 2 ? UInt32(bytes[index + 2]) : 0
        let group = b0 << 16 | b1 << 8 | b2
        output.append(alphabet[Int(group >> 18 & 0x3f)])
        output.append(alphabet[Int(group >> 12 & 0x3f)])
        if remaining > 1 { output.append(alphabet[Int(group >> 6 & 0x3f)]) }
        if remaining > 2 { output.append(alphabet[Int(group & 0x3f)]) }
        index += 3
    }
    return String(decoding: output, as: UTF8.self)
}
