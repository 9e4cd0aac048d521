// SHA-256 (FIPS 180-4), written by hand so the broker can hash and MAC without any crypto package.

/// SHA-256 (FIPS 180-4). Pure Swift, no Foundation needed in the hashing code itself.
///
/// Feed bytes with `update` as often as needed, in pieces of any size, then call `finalize` once.
public struct SHA256 {
    public static let digestByteCount = 32
    public static let blockByteCount = 64

    /// The eight working hash words H0...H7.
    private struct State {
        // FIPS 180-4 §5.3.3: first 32 bits of the fractional parts of the square roots of the first 8 primes.
        var h0: UInt32 = 0x6a09_e667
        var h1: UInt32 = 0xbb67_ae85
        var h2: UInt32 = 0x3c6e_f372
        var h3: UInt32 = 0xa54f_f53a
        var h4: UInt32 = 0x510e_527f
        var h5: UInt32 = 0x9b05_688c
        var h6: UInt32 = 0x1f83_d9ab
        var h7: UInt32 = 0x5be0_cd19
    }

    private var state = State()
    /// Holds the tail of the input that does not yet fill a block; allocated once, never grown.
    private var pending = [UInt8](repeating: 0, count: SHA256.blockByteCount)
    private var pendingCount = 0
    /// Total message length; the padding needs it, and FIPS 180-4 defines the length modulo 2^64 bits.
    private var messageByteCount: UInt64 = 0

    public init() {}

    /// Fast path: whole blocks are compressed straight from the caller's memory without copying.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        messageByteCount &+= UInt64(bytes.count)
        var offset = 0

        if pendingCount > 0 {
            let taken = min(Self.blockByteCount - pendingCount, bytes.count)
            let start = pendingCount
            pending.withUnsafeMutableBytes { buffer in
                (buffer.baseAddress! + start).copyMemory(from: base, byteCount: taken)
            }
            pendingCount += taken
            offset = taken
            guard pendingCount == Self.blockByteCount else { return }
            var state = self.state
            pending.withUnsafeBytes { Self.compress(&state, blocks: $0) }
            self.state = state
            pendingCount = 0
        }

        let wholeBlockBytes = (bytes.count - offset) & ~(Self.blockByteCount - 1)
        if wholeBlockBytes > 0 {
            Self.compress(&state, blocks: UnsafeRawBufferPointer(start: base + offset, count: wholeBlockBytes))
            offset += wholeBlockBytes
        }

        let remaining = bytes.count - offset
        if remaining > 0 {
            pending.withUnsafeMutableBytes { buffer in
                buffer.baseAddress!.copyMemory(from: base + offset, byteCount: remaining)
            }
            pendingCount = remaining
        }
    }

    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        let handled: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if handled != nil { return }

        // Lazy or non-contiguous sequences: gather into the pending block so memory use stays constant.
        for byte in bytes {
            pending[pendingCount] = byte
            pendingCount += 1
            messageByteCount &+= 1
            if pendingCount == Self.blockByteCount {
                var state = self.state
                pending.withUnsafeBytes { Self.compress(&state, blocks: $0) }
                self.state = state
                pendingCount = 0
            }
        }
    }

    /// Hashes the string's UTF-8 encoding.
    public mutating func update(_ string: String) {
        var string = string
        string.withUTF8 { update(UnsafeRawBufferPointer($0)) }
    }

    /// Pads, processes the final block(s) and returns the 32-byte digest.
    public consuming func finalize() -> [UInt8] {
        // Padding is 0x80, zeros, then the 64-bit big-endian bit length; a tail of 56 or more bytes
        // leaves no room for the length, so the padding spills into a second block.
        let paddedCount = pendingCount < Self.blockByteCount - 8 ? Self.blockByteCount : 2 * Self.blockByteCount
        var lastBlocks = [UInt8](repeating: 0, count: paddedCount)
        lastBlocks.replaceSubrange(0..<pendingCount, with: pending[0..<pendingCount])
        lastBlocks[pendingCount] = 0x80
        let bitLength = messageByteCount &* 8
        for i in 0..<8 {
            lastBlocks[paddedCount - 1 - i] = UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(i)))
        }
        var state = self.state
        lastBlocks.withUnsafeBytes { Self.compress(&state, blocks: $0) }

        var digest = [UInt8]()
        digest.reserveCapacity(Self.digestByteCount)
        for word in [state.h0, state.h1, state.h2, state.h3, state.h4, state.h5, state.h6, state.h7] {
            digest.append(UInt8(truncatingIfNeeded: word >> 24))
            digest.append(UInt8(truncatingIfNeeded: word >> 16))
            digest.append(UInt8(truncatingIfNeeded: word >> 8))
            digest.append(UInt8(truncatingIfNeeded: word))
        }
        return digest
    }

    public static func hash<Bytes: Sequence>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    public static func hash(_ string: String) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(string)
        return hasher.finalize()
    }

    // FIPS 180-4 §4.2.2: first 32 bits of the fractional parts of the cube roots of the first 64 primes.
    private static let roundConstants: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    /// Runs the compression function over `blocks`, whose length must be a multiple of 64.
    private static func compress(_ state: inout State, blocks: UnsafeRawBufferPointer) {
        precondition(blocks.count % blockByteCount == 0, "SHA256.compress needs whole blocks")
        // Unsafe pointers keep bounds checks out of the round loop; one schedule buffer serves every block.
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            roundConstants.withUnsafeBufferPointer { k in
                var blockStart = 0
                while blockStart < blocks.count {
                    for t in 0..<16 {
                        let raw = blocks.loadUnaligned(fromByteOffset: blockStart + 4 * t, as: UInt32.self)
                        w[t] = UInt32(bigEndian: raw)
                    }
                    for t in 16..<64 {
                        let s0 = rotateRight(w[t - 15], 7) ^ rotateRight(w[t - 15], 18) ^ (w[t - 15] &>> 3)
                        let s1 = rotateRight(w[t - 2], 17) ^ rotateRight(w[t - 2], 19) ^ (w[t - 2] &>> 10)
                        w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
                    }

                    var a = state.h0, b = state.h1, c = state.h2, d = state.h3
                    var e = state.h4, f = state.h5, g = state.h6, h = state.h7
                    for t in 0..<64 {
                        let bigSigma1 = rotateRight(e, 6) ^ rotateRight(e, 11) ^ rotateRight(e, 25)
                        let choose = (e & f) ^ (~e & g)
                        let temp1 = h &+ bigSigma1 &+ choose &+ k[t] &+ w[t]
                        let bigSigma0 = rotateRight(a, 2) ^ rotateRight(a, 13) ^ rotateRight(a, 22)
                        let majority = (a & b) ^ (a & c) ^ (b & c)
                        let temp2 = bigSigma0 &+ majority
                        h = g
                        g = f
                        f = e
                        e = d &+ temp1
                        d = c
                        c = b
                        b = a
                        a = temp1 &+ temp2
                    }
                    state.h0 &+= a
                    state.h1 &+= b
                    state.h2 &+= c
                    state.h3 &+= d
                    state.h4 &+= e
                    state.h5 &+= f
                    state.h6 &+= g
                    state.h7 &+= h
                    blockStart += blockByteCount
                }
            }
        }
    }

    @inline(__always)
    private static func rotateRight(_ x: UInt32, _ n: UInt32) -> UInt32 {
        (x &>> n) | (x &<< (32 &- n))
    }
}

public extension Array where Element == UInt8 {
    /// Lower-case hex, two characters per byte, as digests are conventionally printed.
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var characters = [UInt8]()
        characters.reserveCapacity(count * 2)
        for byte in self {
            characters.append(digits[Int(byte >> 4)])
            characters.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: characters, as: UTF8.self)
    }
}
