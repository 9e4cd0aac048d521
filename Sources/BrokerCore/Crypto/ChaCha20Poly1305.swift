// ChaCha20-Poly1305 AEAD (RFC 8439): age's stanza and payload cipher.

/// Failure to open a sealed box: the key, nonce, data or tag do not match. Deliberately says nothing more.
public struct AEADAuthenticationFailure: Error, Equatable {}

public enum ChaCha20Poly1305 {
    public static let keyByteCount = 32
    public static let nonceByteCount = 12
    public static let tagByteCount = 16

    /// Returns ciphertext || 16-byte tag.
    public static func seal(_ plaintext: [UInt8], key: [UInt8], nonce: [UInt8], authenticating aad: [UInt8] = []) -> [UInt8] {
        precondition(key.count == keyByteCount && nonce.count == nonceByteCount, "ChaCha20-Poly1305 key or nonce size")
        var output = plaintext
        ChaCha20.xor(&output, key: key, nonce: nonce, counter: 1)
        output.append(contentsOf: tag(ciphertext: output[...], key: key, nonce: nonce, aad: aad))
        return output
    }

    /// Checks the tag before decrypting anything; a mismatch returns no plaintext at all.
    public static func open(_ sealed: [UInt8], key: [UInt8], nonce: [UInt8], authenticating aad: [UInt8] = []) throws -> [UInt8] {
        precondition(key.count == keyByteCount && nonce.count == nonceByteCount, "ChaCha20-Poly1305 key or nonce size")
        guard sealed.count >= tagByteCount else { throw AEADAuthenticationFailure() }
        let ciphertext = sealed[..<(sealed.count - tagByteCount)]
        let expected = tag(ciphertext: ciphertext, key: key, nonce: nonce, aad: aad)
        guard constantTimeEquals(expected, Array(sealed[(sealed.count - tagByteCount)...])) else {
            throw AEADAuthenticationFailure()
        }
        var plaintext = Array(ciphertext)
        ChaCha20.xor(&plaintext, key: key, nonce: nonce, counter: 1)
        return plaintext
    }

    private static func tag(ciphertext: ArraySlice<UInt8>, key: [UInt8], nonce: [UInt8], aad: [UInt8]) -> [UInt8] {
        var oneTimeKey = [UInt8](repeating: 0, count: 32)
        ChaCha20.xor(&oneTimeKey, key: key, nonce: nonce, counter: 0)
        var mac = Poly1305(key: oneTimeKey)
        mac.update(aad[...]); mac.padToBlock()
        mac.update(ciphertext); mac.padToBlock()
        var lengths = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 {
            lengths[i] = UInt8(truncatingIfNeeded: UInt64(aad.count) >> (8 * UInt64(i)))
            lengths[8 + i] = UInt8(truncatingIfNeeded: UInt64(ciphertext.count) >> (8 * UInt64(i)))
        }
        mac.update(lengths[...])
        return mac.finalize()
    }
}

public enum ChaCha20 {
    /// XORs the keystream starting at block `counter` into `data` (encrypts and decrypts alike).
    public static func xor(_ data: inout [UInt8], key: [UInt8], nonce: [UInt8], counter: UInt32) {
        precondition(key.count == 32 && nonce.count == 12, "ChaCha20 key or nonce size")
        var input = [UInt32](repeating: 0, count: 16)
        input[0] = 0x6170_7865; input[1] = 0x3320_646e; input[2] = 0x7962_2d32; input[3] = 0x6b20_6574
        for i in 0..<8 { input[4 + i] = littleEndianWord(key, 4 * i) }
        input[12] = counter
        for i in 0..<3 { input[13 + i] = littleEndianWord(nonce, 4 * i) }
        var block = [UInt32](repeating: 0, count: 16)
        var offset = 0
        data.withUnsafeMutableBufferPointer { bytes in
            while offset < bytes.count {
                Self.block(input, into: &block)
                let take = min(64, bytes.count - offset)
                for i in 0..<take {
                    bytes[offset + i] ^= UInt8(truncatingIfNeeded: block[i >> 2] >> (8 * UInt32(i & 3)))
                }
                offset += take
                input[12] &+= 1
            }
        }
    }

    /// The ChaCha20 block function (RFC 8439 §2.3).
    static func block(_ input: [UInt32], into output: inout [UInt32]) {
        var x0 = input[0], x1 = input[1], x2 = input[2], x3 = input[3], x4 = input[4], x5 = input[5], x6 = input[6], x7 = input[7]
        var x8 = input[8], x9 = input[9], x10 = input[10], x11 = input[11], x12 = input[12], x13 = input[13], x14 = input[14], x15 = input[15]
        for _ in 0..<10 {
            x0 = x0 &+ x4; x12 ^= x0; x12 = (x12 &<< 16) | (x12 &>> 16)
            x8 = x8 &+ x12; x4 ^= x8; x4 = (x4 &<< 12) | (x4 &>> 20)
            x0 = x0 &+ x4; x12 ^= x0; x12 = (x12 &<< 8) | (x12 &>> 24)
            x8 = x8 &+ x12; x4 ^= x8; x4 = (x4 &<< 7) | (x4 &>> 25)
            x1 = x1 &+ x5; x13 ^= x1; x13 = (x13 &<< 16) | (x13 &>> 16)
            x9 = x9 &+ x13; x5 ^= x9; x5 = (x5 &<< 12) | (x5 &>> 20)
            x1 = x1 &+ x5; x13 ^= x1; x13 = (x13 &<< 8) | (x13 &>> 24)
            x9 = x9 &+ x13; x5 ^= x9; x5 = (x5 &<< 7) | (x5 &>> 25)
            x2 = x2 &+ x6; x14 ^= x2; x14 = (x14 &<< 16) | (x14 &>> 16)
            x10 = x10 &+ x14; x6 ^= x10; x6 = (x6 &<< 12) | (x6 &>> 20)
            x2 = x2 &+ x6; x14 ^= x2; x14 = (x14 &<< 8) | (x14 &>> 24)
            x10 = x10 &+ x14; x6 ^= x10; x6 = (x6 &<< 7) | (x6 &>> 25)
            x3 = x3 &+ x7; x15 ^= x3; x15 = (x15 &<< 16) | (x15 &>> 16)
            x11 = x11 &+ x15; x7 ^= x11; x7 = (x7 &<< 12) | (x7 &>> 20)
            x3 = x3 &+ x7; x15 ^= x3; x15 = (x15 &<< 8) | (x15 &>> 24)
            x11 = x11 &+ x15; x7 ^= x11; x7 = (x7 &<< 7) | (x7 &>> 25)
            x0 = x0 &+ x5; x15 ^= x0; x15 = (x15 &<< 16) | (x15 &>> 16)
            x10 = x10 &+ x15; x5 ^= x10; x5 = (x5 &<< 12) | (x5 &>> 20)
            x0 = x0 &+ x5; x15 ^= x0; x15 = (x15 &<< 8) | (x15 &>> 24)
            x10 = x10 &+ x15; x5 ^= x10; x5 = (x5 &<< 7) | (x5 &>> 25)
            x1 = x1 &+ x6; x12 ^= x1; x12 = (x12 &<< 16) | (x12 &>> 16)
            x11 = x11 &+ x12; x6 ^= x11; x6 = (x6 &<< 12) | (x6 &>> 20)
            x1 = x1 &+ x6; x12 ^= x1; x12 = (x12 &<< 8) | (x12 &>> 24)
            x11 = x11 &+ x12; x6 ^= x11; x6 = (x6 &<< 7) | (x6 &>> 25)
            x2 = x2 &+ x7; x13 ^= x2; x13 = (x13 &<< 16) | (x13 &>> 16)
            x8 = x8 &+ x13; x7 ^= x8; x7 = (x7 &<< 12) | (x7 &>> 20)
            x2 = x2 &+ x7; x13 ^= x2; x13 = (x13 &<< 8) | (x13 &>> 24)
            x8 = x8 &+ x13; x7 ^= x8; x7 = (x7 &<< 7) | (x7 &>> 25)
            x3 = x3 &+ x4; x14 ^= x3; x14 = (x14 &<< 16) | (x14 &>> 16)
            x9 = x9 &+ x14; x4 ^= x9; x4 = (x4 &<< 12) | (x4 &>> 20)
            x3 = x3 &+ x4; x14 ^= x3; x14 = (x14 &<< 8) | (x14 &>> 24)
            x9 = x9 &+ x14; x4 ^= x9; x4 = (x4 &<< 7) | (x4 &>> 25)
        }
        output[0] = x0 &+ input[0]; output[1] = x1 &+ input[1]; output[2] = x2 &+ input[2]; output[3] = x3 &+ input[3]
        output[4] = x4 &+ input[4]; output[5] = x5 &+ input[5]; output[6] = x6 &+ input[6]; output[7] = x7 &+ input[7]
        output[8] = x8 &+ input[8]; output[9] = x9 &+ input[9]; output[10] = x10 &+ input[10]; output[11] = x11 &+ input[11]
        output[12] = x12 &+ input[12]; output[13] = x13 &+ input[13]; output[14] = x14 &+ input[14]; output[15] = x15 &+ input[15]
    }
}

@inline(__always)
func littleEndianWord<Bytes: RandomAccessCollection>(_ bytes: Bytes, _ offset: Int) -> UInt32 where Bytes.Element == UInt8, Bytes.Index == Int {
    let base = bytes.startIndex + offset
    return UInt32(bytes[base]) | UInt32(bytes[base + 1]) << 8 | UInt32(bytes[base + 2]) << 16 | UInt32(bytes[base + 3]) << 24
}

/// Poly1305 (RFC 8439 §2.5) in 26-bit limbs, so every product fits in 64 bits.
public struct Poly1305 {
    private let r0, r1, r2, r3, r4: UInt32
    private let s1, s2, s3, s4: UInt32
    private let pad: [UInt32]
    private var h0: UInt32 = 0, h1: UInt32 = 0, h2: UInt32 = 0, h3: UInt32 = 0, h4: UInt32 = 0
    private var pending: [UInt8] = []

    public init(key: [UInt8]) {
        precondition(key.count == 32, "Poly1305 key size")
        // Clamp r as the RFC requires, split into 26-bit limbs.
        r0 = littleEndianWord(key, 0) & 0x3ff_ffff
        r1 = (littleEndianWord(key, 3) >> 2) & 0x3ff_ff03
        r2 = (littleEndianWord(key, 6) >> 4) & 0x3ff_c0ff
        r3 = (littleEndianWord(key, 9) >> 6) & 0x3f0_3fff
        r4 = (littleEndianWord(key, 12) >> 8) & 0x00f_ffff
        s1 = r1 &* 5; s2 = r2 &* 5; s3 = r3 &* 5; s4 = r4 &* 5
        pad = (0..<4).map { littleEndianWord(key, 16 + 4 * $0) }
    }

    public mutating func update(_ bytes: ArraySlice<UInt8>) {
        var rest = bytes
        if !pending.isEmpty {
            let take = min(16 - pending.count, rest.count)
            pending.append(contentsOf: rest.prefix(take))
            rest = rest.dropFirst(take)
            guard pending.count == 16 else { return }
            absorb(pending[...], highBit: 1 << 24)
            pending.removeAll(keepingCapacity: true)
        }
        while rest.count >= 16 {
            absorb(rest.prefix(16), highBit: 1 << 24)
            rest = rest.dropFirst(16)
        }
        pending.append(contentsOf: rest)
    }

    /// Zero-pads a partial block (the AEAD construction's pad16).
    mutating func padToBlock() {
        guard !pending.isEmpty else { return }
        update([UInt8](repeating: 0, count: 16 - pending.count)[...])
    }

    private mutating func absorb(_ block: ArraySlice<UInt8>, highBit: UInt32) {
        h0 &+= littleEndianWord(block, 0) & 0x3ff_ffff
        h1 &+= (littleEndianWord(block, 3) >> 2) & 0x3ff_ffff
        h2 &+= (littleEndianWord(block, 6) >> 4) & 0x3ff_ffff
        h3 &+= (littleEndianWord(block, 9) >> 6) & 0x3ff_ffff
        h4 &+= (littleEndianWord(block, 12) >> 8) | highBit
        let (a0, a1, a2, a3, a4) = (UInt64(h0), UInt64(h1), UInt64(h2), UInt64(h3), UInt64(h4))
        let d0 = a0 * UInt64(r0) + a1 * UInt64(s4) + a2 * UInt64(s3) + a3 * UInt64(s2) + a4 * UInt64(s1)
        var d1 = a0 * UInt64(r1) + a1 * UInt64(r0) + a2 * UInt64(s4) + a3 * UInt64(s3) + a4 * UInt64(s2)
        var d2 = a0 * UInt64(r2) + a1 * UInt64(r1) + a2 * UInt64(r0) + a3 * UInt64(s4) + a4 * UInt64(s3)
        var d3 = a0 * UInt64(r3) + a1 * UInt64(r2) + a2 * UInt64(r1) + a3 * UInt64(r0) + a4 * UInt64(s4)
        var d4 = a0 * UInt64(r4) + a1 * UInt64(r3) + a2 * UInt64(r2) + a3 * UInt64(r1) + a4 * UInt64(r0)
        var c = d0 >> 26; h0 = UInt32(d0 & 0x3ff_ffff)
        d1 += c; c = d1 >> 26; h1 = UInt32(d1 & 0x3ff_ffff)
        d2 += c; c = d2 >> 26; h2 = UInt32(d2 & 0x3ff_ffff)
        d3 += c; c = d3 >> 26; h3 = UInt32(d3 & 0x3ff_ffff)
        d4 += c; c = d4 >> 26; h4 = UInt32(d4 & 0x3ff_ffff)
        h0 &+= UInt32(c) &* 5; let carry = h0 >> 26; h0 &= 0x3ff_ffff; h1 &+= carry
    }

    public mutating func finalize() -> [UInt8] {
        if !pending.isEmpty {
            // The last partial block gets a 1 byte after the data instead of the 2^128 bit.
            var last = pending
            last.append(1)
            last.append(contentsOf: repeatElement(0, count: 16 - last.count))
            absorb(last[...], highBit: 0)
            pending.removeAll()
        }
        var c: UInt32
        c = h1 >> 26; h1 &= 0x3ff_ffff; h2 &+= c
        c = h2 >> 26; h2 &= 0x3ff_ffff; h3 &+= c
        c = h3 >> 26; h3 &= 0x3ff_ffff; h4 &+= c
        c = h4 >> 26; h4 &= 0x3ff_ffff; h0 &+= c &* 5
        c = h0 >> 26; h0 &= 0x3ff_ffff; h1 &+= c
        // h - p = h + 5 - 2^130; keep it when it does not go negative (constant time select).
        var g0 = h0 &+ 5; c = g0 >> 26; g0 &= 0x3ff_ffff
        var g1 = h1 &+ c; c = g1 >> 26; g1 &= 0x3ff_ffff
        var g2 = h2 &+ c; c = g2 >> 26; g2 &= 0x3ff_ffff
        var g3 = h3 &+ c; c = g3 >> 26; g3 &= 0x3ff_ffff
        var g4 = h4 &+ c &- (1 << 26)
        var mask = (g4 >> 31) &- 1
        g0 &= mask; g1 &= mask; g2 &= mask; g3 &= mask; g4 &= mask
        mask = ~mask
        h0 = (h0 & mask) | g0; h1 = (h1 & mask) | g1; h2 = (h2 & mask) | g2; h3 = (h3 & mask) | g3; h4 = (h4 & mask) | g4
        let w0 = h0 | (h1 << 26), w1 = (h1 >> 6) | (h2 << 20), w2 = (h2 >> 12) | (h3 << 14), w3 = (h3 >> 18) | (h4 << 8)
        var out = [UInt8](repeating: 0, count: 16)
        var f: UInt64 = 0
        for (i, word) in [w0, w1, w2, w3].enumerated() {
            f = UInt64(word) + UInt64(pad[i]) + (f >> 32)
            for k in 0..<4 { out[4 * i + k] = UInt8(truncatingIfNeeded: f >> (8 * UInt64(k))) }
        }
        return out
    }
}
