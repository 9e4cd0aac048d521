// scrypt (RFC 7914): the memory-hard passphrase KDF behind age's passphrase recipient.

/// scrypt with its Salsa20/8 core and BlockMix. The memory is `128 × r × N` bytes (256 MiB for
/// age's default N = 2^18, r = 8), allocated once per call and zeroed before it is freed.
public enum Scrypt {
    public static func deriveKey(password: [UInt8], salt: [UInt8], logN: Int, r: Int, p: Int, outputByteCount: Int) -> [UInt8] {
        precondition(logN >= 1 && logN < 32 && r >= 1 && p >= 1 && r * p < 1 << 30, "scrypt parameters out of range")
        let n = 1 << logN
        let blockWords = 32 * r
        var b = PBKDF2SHA256.deriveKey(password: password, salt: salt, iterations: 1, outputByteCount: p * 128 * r)
        let x = UnsafeMutablePointer<UInt32>.allocate(capacity: blockWords)
        let y = UnsafeMutablePointer<UInt32>.allocate(capacity: blockWords)
        let v = UnsafeMutablePointer<UInt32>.allocate(capacity: blockWords * n)
        defer {
            v.update(repeating: 0, count: blockWords * n)
            x.update(repeating: 0, count: blockWords)
            y.update(repeating: 0, count: blockWords)
            v.deallocate(); x.deallocate(); y.deallocate()
        }
        for block in 0..<p {
            let base = block * 128 * r
            for i in 0..<blockWords {
                let o = base + 4 * i
                x[i] = UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
            }
            roMix(x, y, v, n: n, r: r)
            for i in 0..<blockWords {
                let o = base + 4 * i, word = x[i]
                b[o] = UInt8(truncatingIfNeeded: word); b[o + 1] = UInt8(truncatingIfNeeded: word >> 8)
                b[o + 2] = UInt8(truncatingIfNeeded: word >> 16); b[o + 3] = UInt8(truncatingIfNeeded: word >> 24)
            }
        }
        defer { for i in 0..<b.count { b[i] = 0 } }
        return PBKDF2SHA256.deriveKey(password: password, salt: b, iterations: 1, outputByteCount: outputByteCount)
    }

    /// scryptROMix: the result is left in `x`; `y` is scratch.
    private static func roMix(_ x: UnsafeMutablePointer<UInt32>, _ y: UnsafeMutablePointer<UInt32>,
                              _ v: UnsafeMutablePointer<UInt32>, n: Int, r: Int) {
        let blockWords = 32 * r
        let mask = UInt32(truncatingIfNeeded: n - 1)
        // Swap roles instead of copying; 2N mixes is an even count, so the result ends in `x`.
        var current = x, next = y
        for i in 0..<n {
            (v + i * blockWords).update(from: current, count: blockWords)
            blockMix(current, into: next, r: r)
            swap(&current, &next)
        }
        for _ in 0..<n {
            // Integerify: the first word of the last 64-byte block; N is at most 2^31, so it suffices.
            let j = Int(current[(2 * r - 1) * 16] & mask)
            blockMix(current, xoring: v + j * blockWords, into: next, r: r)
            swap(&current, &next)
        }
    }

    private static let zeroBlock: UnsafeMutablePointer<UInt32> = {
        let block = UnsafeMutablePointer<UInt32>.allocate(capacity: 16)
        block.initialize(repeating: 0, count: 16)
        return block
    }()

    /// scryptBlockMix of `input ^ extra`: `output` receives the even-indexed Salsa outputs first,
    /// then the odd ones. Each Salsa output is computed in place in `output` and chained from there.
    static func blockMix(_ input: UnsafeMutablePointer<UInt32>, xoring extra: UnsafeMutablePointer<UInt32>? = nil,
                         into output: UnsafeMutablePointer<UInt32>, r: Int) {
        var previous = output + (2 * r - 1 - r) * 16   // where input block 2r-1 will land: reuse as the seed
        previous.update(from: input + (2 * r - 1) * 16, count: 16)
        if let extra {
            let tail = extra + (2 * r - 1) * 16
            for k in 0..<16 { previous[k] ^= tail[k] }
        }
        for i in 0..<(2 * r) {
            let destination = output + ((i & 1) * r + (i >> 1)) * 16
            if destination != previous { destination.update(from: previous, count: 16) }
            salsa20_8(destination, xoring: input + i * 16, and: extra.map { $0 + i * 16 })
            previous = destination
        }
    }

    /// state = Salsa20/8(state ^ input ^ extra); `extra` folds in ROMix's V[j] without a separate pass.
    static func salsa20_8(_ state: UnsafeMutablePointer<UInt32>, xoring input: UnsafeMutablePointer<UInt32>,
                          and extra: UnsafeMutablePointer<UInt32>? = nil) {
        let e = extra ?? zeroBlock
        let b0 = state[0] ^ input[0] ^ e[0], b1 = state[1] ^ input[1] ^ e[1], b2 = state[2] ^ input[2] ^ e[2], b3 = state[3] ^ input[3] ^ e[3]
        let b4 = state[4] ^ input[4] ^ e[4], b5 = state[5] ^ input[5] ^ e[5], b6 = state[6] ^ input[6] ^ e[6], b7 = state[7] ^ input[7] ^ e[7]
        let b8 = state[8] ^ input[8] ^ e[8], b9 = state[9] ^ input[9] ^ e[9], b10 = state[10] ^ input[10] ^ e[10], b11 = state[11] ^ input[11] ^ e[11]
        let b12 = state[12] ^ input[12] ^ e[12], b13 = state[13] ^ input[13] ^ e[13], b14 = state[14] ^ input[14] ^ e[14], b15 = state[15] ^ input[15] ^ e[15]
        var x0 = b0, x1 = b1, x2 = b2, x3 = b3, x4 = b4, x5 = b5, x6 = b6, x7 = b7
        var x8 = b8, x9 = b9, x10 = b10, x11 = b11, x12 = b12, x13 = b13, x14 = b14, x15 = b15
        var t: UInt32 = 0
        for _ in 0..<4 {
            t = x0 &+ x12; x4 ^= (t &<< 7) | (t &>> 25)
            t = x4 &+ x0; x8 ^= (t &<< 9) | (t &>> 23)
            t = x8 &+ x4; x12 ^= (t &<< 13) | (t &>> 19)
            t = x12 &+ x8; x0 ^= (t &<< 18) | (t &>> 14)
            t = x5 &+ x1; x9 ^= (t &<< 7) | (t &>> 25)
            t = x9 &+ x5; x13 ^= (t &<< 9) | (t &>> 23)
            t = x13 &+ x9; x1 ^= (t &<< 13) | (t &>> 19)
            t = x1 &+ x13; x5 ^= (t &<< 18) | (t &>> 14)
            t = x10 &+ x6; x14 ^= (t &<< 7) | (t &>> 25)
            t = x14 &+ x10; x2 ^= (t &<< 9) | (t &>> 23)
            t = x2 &+ x14; x6 ^= (t &<< 13) | (t &>> 19)
            t = x6 &+ x2; x10 ^= (t &<< 18) | (t &>> 14)
            t = x15 &+ x11; x3 ^= (t &<< 7) | (t &>> 25)
            t = x3 &+ x15; x7 ^= (t &<< 9) | (t &>> 23)
            t = x7 &+ x3; x11 ^= (t &<< 13) | (t &>> 19)
            t = x11 &+ x7; x15 ^= (t &<< 18) | (t &>> 14)
            t = x0 &+ x3; x1 ^= (t &<< 7) | (t &>> 25)
            t = x1 &+ x0; x2 ^= (t &<< 9) | (t &>> 23)
            t = x2 &+ x1; x3 ^= (t &<< 13) | (t &>> 19)
            t = x3 &+ x2; x0 ^= (t &<< 18) | (t &>> 14)
            t = x5 &+ x4; x6 ^= (t &<< 7) | (t &>> 25)
            t = x6 &+ x5; x7 ^= (t &<< 9) | (t &>> 23)
            t = x7 &+ x6; x4 ^= (t &<< 13) | (t &>> 19)
            t = x4 &+ x7; x5 ^= (t &<< 18) | (t &>> 14)
            t = x10 &+ x9; x11 ^= (t &<< 7) | (t &>> 25)
            t = x11 &+ x10; x8 ^= (t &<< 9) | (t &>> 23)
            t = x8 &+ x11; x9 ^= (t &<< 13) | (t &>> 19)
            t = x9 &+ x8; x10 ^= (t &<< 18) | (t &>> 14)
            t = x15 &+ x14; x12 ^= (t &<< 7) | (t &>> 25)
            t = x12 &+ x15; x13 ^= (t &<< 9) | (t &>> 23)
            t = x13 &+ x12; x14 ^= (t &<< 13) | (t &>> 19)
            t = x14 &+ x13; x15 ^= (t &<< 18) | (t &>> 14)
        }
        state[0] = x0 &+ b0; state[1] = x1 &+ b1; state[2] = x2 &+ b2; state[3] = x3 &+ b3
        state[4] = x4 &+ b4; state[5] = x5 &+ b5; state[6] = x6 &+ b6; state[7] = x7 &+ b7
        state[8] = x8 &+ b8; state[9] = x9 &+ b9; state[10] = x10 &+ b10; state[11] = x11 &+ b11
        state[12] = x12 &+ b12; state[13] = x13 &+ b13; state[14] = x14 &+ b14; state[15] = x15 &+ b15
    }
}
