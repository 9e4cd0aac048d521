// Case in protocol text (header names, config keys, GUIDs, resource URIs) is ASCII's only:
// folded byte by byte, without Unicode case rules and without a lower-cased copy.

extension UInt8 {
    /// A–Z as a–z; every other byte as it is.
    @inlinable public var asciiLowercased: UInt8 { self >= 0x41 && self <= 0x5A ? self | 0x20 : self }
}

/// Whether two texts are equal once A–Z are folded to a–z.
@inlinable public func equalIgnoringASCIICase<A: Sequence<UInt8>, B: Sequence<UInt8>>(_ a: A, _ b: B) -> Bool {
    a.elementsEqual(b) { $0.asciiLowercased == $1.asciiLowercased }
}
