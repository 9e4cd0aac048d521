// Scans of protocol bytes through libc's `memchr` and `memcmp`, which read a buffer a word at a
// time: a generic `firstIndex(of:)`, `starts(with:)` or `elementsEqual` over a buffer pointer
// costs about ten instructions a byte, and the loopback endpoint's cloud request targets (90–120
// bytes, against the AWS route's 12) were scanned that way four or five times per request.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension UnsafeBufferPointer where Element == UInt8 {
    /// The first index of `byte` within `range` (this buffer's indices), or nil.
    @inlinable public func firstIndex(of byte: UInt8, in range: Range<Int>) -> Int? {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range outside the buffer")
        guard !range.isEmpty, let base = baseAddress, let hit = memchr(base + range.lowerBound, Int32(byte), range.count) else {
            return nil
        }
        return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
    }

    /// Whether the bytes from `offset` on begin with `literal`.
    @inlinable public func has(_ literal: StaticString, at offset: Int) -> Bool {
        let length = literal.utf8CodeUnitCount
        guard offset >= 0, count - offset >= length else { return false }
        return length == 0 || memcmp(baseAddress! + offset, literal.utf8Start, length) == 0
    }

    /// Whether the bytes in `range` are exactly `literal`.
    @inlinable public func holds(_ literal: StaticString, in range: Range<Int>) -> Bool {
        range.count == literal.utf8CodeUnitCount && has(literal, at: range.lowerBound)
    }

    /// Whether the whole buffer is exactly `literal`.
    @inlinable public func isExactly(_ literal: StaticString) -> Bool { holds(literal, in: 0..<count) }

    /// Whether the bytes in `range` are exactly `other`'s.
    @inlinable public func holds(_ other: UnsafeBufferPointer<UInt8>, in range: Range<Int>) -> Bool {
        guard range.count == other.count, range.lowerBound >= 0, range.upperBound <= count else { return false }
        return other.isEmpty || memcmp(baseAddress! + range.lowerBound, other.baseAddress!, other.count) == 0
    }

    /// Whether every byte is below 0x80, read eight bytes at a time.
    @inlinable public var isASCII: Bool {
        guard let base = baseAddress else { return true }
        let raw = UnsafeRawPointer(base)
        var i = 0
        var seen: UInt64 = 0
        while i + 8 <= count {
            seen |= raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < count {
            seen |= UInt64(base[i])
            i += 1
        }
        return seen & 0x8080_8080_8080_8080 == 0
    }
}
