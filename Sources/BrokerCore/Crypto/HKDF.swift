// HKDF-SHA256 (RFC 5869) and PBKDF2-HMAC-SHA256 (RFC 8018): the key derivations age and scrypt need.

public enum HKDFSHA256 {
    /// Extract then expand. An empty salt means 32 zero bytes (RFC 5869 §2.2). At most 255 × 32 bytes.
    public static func deriveKey(inputKeyMaterial: [UInt8], salt: [UInt8], info: [UInt8], outputByteCount: Int) -> [UInt8] {
        precondition(outputByteCount >= 0 && outputByteCount <= 255 * SHA256.digestByteCount, "HKDF output too long")
        let pseudoRandomKey = HMACSHA256.authenticate(message: inputKeyMaterial,
                                                      key: salt.isEmpty ? [UInt8](repeating: 0, count: SHA256.digestByteCount) : salt)
        var output: [UInt8] = []
        output.reserveCapacity(outputByteCount)
        var previous: [UInt8] = []
        var counter: UInt8 = 1
        while output.count < outputByteCount {
            previous = HMACSHA256.authenticate(message: previous + info + [counter], key: pseudoRandomKey)
            output.append(contentsOf: previous.prefix(outputByteCount - output.count))
            counter &+= 1
        }
        return output
    }

    public static func deriveKey(inputKeyMaterial: [UInt8], salt: [UInt8], info: String, outputByteCount: Int = 32) -> [UInt8] {
        deriveKey(inputKeyMaterial: inputKeyMaterial, salt: salt, info: Array(info.utf8), outputByteCount: outputByteCount)
    }
}

public enum PBKDF2SHA256 {
    /// PBKDF2 with HMAC-SHA256 as the PRF. The keyed inner and outer hash states are computed
    /// once and copied per block, so an iteration costs two compressions.
    public static func deriveKey(password: [UInt8], salt: [UInt8], iterations: Int, outputByteCount: Int) -> [UInt8] {
        precondition(iterations >= 1, "PBKDF2 needs at least one iteration")
        var blockKey = password.count > SHA256.blockByteCount ? SHA256.hash(password) : password
        blockKey.append(contentsOf: repeatElement(0, count: SHA256.blockByteCount - blockKey.count))
        var keyedInner = SHA256(), keyedOuter = SHA256()
        keyedInner.update(blockKey.map { $0 ^ 0x36 })
        keyedOuter.update(blockKey.map { $0 ^ 0x5c })
        func prf(_ message: [UInt8]) -> [UInt8] {
            var inner = keyedInner
            inner.update(message)
            var outer = keyedOuter
            outer.update(inner.finalize())
            return outer.finalize()
        }

        var output: [UInt8] = []
        output.reserveCapacity(outputByteCount)
        var blockIndex: UInt32 = 1
        while output.count < outputByteCount {
            var u = prf(salt + [UInt8(blockIndex >> 24), UInt8(truncatingIfNeeded: blockIndex >> 16),
                                UInt8(truncatingIfNeeded: blockIndex >> 8), UInt8(truncatingIfNeeded: blockIndex)])
            var t = u
            for _ in 1..<iterations {
                u = prf(u)
                for i in 0..<t.count { t[i] ^= u[i] }
            }
            output.append(contentsOf: t.prefix(outputByteCount - output.count))
            blockIndex &+= 1
        }
        return output
    }
}
