// HMAC-SHA256 (RFC 2104, vectors in RFC 4231) and a constant-time comparison for checking tokens and MACs.

public enum HMACSHA256 {
    public static func authenticate(message: [UInt8], key: [UInt8]) -> [UInt8] {
        mac(key: key) { $0.update(message) }
    }

    /// MACs the string's UTF-8 encoding.
    public static func authenticate(message: String, key: [UInt8]) -> [UInt8] {
        mac(key: key) { $0.update(message) }
    }

    /// H((K ^ opad) || H((K ^ ipad) || message)); `feedMessage` lets both public overloads share it without copying.
    private static func mac(key: [UInt8], feedMessage: (inout SHA256) -> Void) -> [UInt8] {
        // RFC 2104 §2: a key longer than a block is replaced by its hash; any key is then zero-padded to a block.
        var blockKey = key.count > SHA256.blockByteCount ? SHA256.hash(key) : key
        blockKey.append(contentsOf: repeatElement(0, count: SHA256.blockByteCount - blockKey.count))

        var inner = SHA256()
        inner.update(blockKey.map { $0 ^ 0x36 })
        feedMessage(&inner)

        var outer = SHA256()
        outer.update(blockKey.map { $0 ^ 0x5c })
        outer.update(inner.finalize())
        return outer.finalize()
    }
}

/// Compares in time independent of where the inputs differ (for tokens and MACs).
///
/// Lengths are not treated as secret: tokens and MACs have public, fixed sizes, so unequal
/// lengths return `false` at once.
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    // Accumulate every difference instead of returning at the first, so timing does not reveal
    // how long a prefix of a guessed MAC was right.
    var difference: UInt8 = 0
    for i in 0..<a.count {
        difference |= a[i] ^ b[i]
    }
    return difference == 0
}
