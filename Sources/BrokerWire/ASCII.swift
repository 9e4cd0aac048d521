// Case in protocol text (header names, config keys, GUIDs, resource URIs) is ASCII's only:
// folded byte by byte, without Unicode case rules and without a lower-cased copy.

extension UInt8 {
    /// A–Z as a–z; every other byte as it is.
    @inlinable public var asciiLowercased: UInt8 { self >= 0x41 && self <= 0x5A ? self | 0x20 : self }
}

/// Whether two texts are equal once A–Z are folded to a–z. Contiguous bytes (a native String's
/// UTF-8, an array) are compared through pointers: the iterators of a `String.UTF8View` cost the
/// managed-identity route some 2 000 instructions for one resource URI.
@inlinable public func equalIgnoringASCIICase<A: Sequence<UInt8>, B: Sequence<UInt8>>(_ a: A, _ b: B) -> Bool {
    let fast = a.withContiguousStorageIfAvailable { x in
        b.withContiguousStorageIfAvailable { y -> Bool in
            guard x.count == y.count else { return false }
            for i in 0..<x.count where x[i].asciiLowercased != y[i].asciiLowercased { return false }
            return true
        }
    }
    if let fast, let result = fast { return result }
    return a.elementsEqual(b) { $0.asciiLowercased == $1.asciiLowercased }
}
