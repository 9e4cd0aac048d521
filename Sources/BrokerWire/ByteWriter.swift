// Writes bytes through a pointer into storage sized up front: the agent's answers and audit lines.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A cursor over memory the caller sized for everything it will write (`[UInt8](capacity:)`
/// below). Each piece is a `memcpy` or a store, where `Array.append(contentsOf:)` costs a
/// capacity check, a uniqueness check and a generic copy per piece: an audit line is some
/// thirty pieces, and the agent writes one per credential it hands out.
public struct ByteWriter {
    @usableFromInline let base: UnsafeMutablePointer<UInt8>
    @usableFromInline let limit: Int
    /// Bytes written so far.
    @usableFromInline var written = 0
    @inlinable public var count: Int { written }

    @inlinable public init(_ base: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.base = base
        limit = capacity
    }

    /// A write past the capacity would overwrite someone else's memory: stop instead.
    @inlinable @inline(__always)
    func reserve(_ length: Int) {
        precondition(length <= limit &- written, "ByteWriter: more bytes than the capacity it was given")
    }

    @inlinable @inline(__always)
    public mutating func byte(_ value: UInt8) {
        reserve(1)
        base[written] = value
        written &+= 1
    }

    @inlinable @inline(__always)
    public mutating func bytes(_ pointer: UnsafeRawPointer, _ length: Int) {
        guard length > 0 else { return }
        reserve(length)
        memcpy(base + written, pointer, length)
        written &+= length
    }

    @inlinable @inline(__always)
    public mutating func literal(_ text: StaticString) {
        bytes(text.utf8Start, text.utf8CodeUnitCount)
    }

    /// The string's UTF-8 bytes as they are.
    @inlinable @inline(__always)
    public mutating func utf8(_ text: String) {
        var text = text  // withUTF8 needs a var; a native string is not copied
        text.withUTF8 { if let start = $0.baseAddress { bytes(start, $0.count) } }
    }

    /// A decimal integer: at most `decimalLimit` bytes.
    @inlinable
    public mutating func decimal(_ value: Int64) {
        if value < 0 { byte(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var length = 1
        var scan = magnitude
        while scan >= 10 { scan /= 10; length &+= 1 }
        reserve(length)
        var index = written &+ length
        repeat {
            index &-= 1
            base[index] = UInt8(truncatingIfNeeded: 48 &+ magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
        written &+= length
    }

    /// Bytes a `decimal` may take at most.
    public static let decimalLimit = 20
}

extension Array where Element == UInt8 {
    /// An array of at most `capacity` bytes, filled by `body` through a `ByteWriter`: one
    /// allocation, no growth; writing more than `capacity` bytes traps rather than overruns.
    @inlinable
    public init(capacity: Int, writing body: (inout ByteWriter) throws -> Void) rethrows {
        try self.init(unsafeUninitializedCapacity: Swift.max(capacity, 1)) { buffer, initialized in
            var writer = ByteWriter(buffer.baseAddress!, capacity: buffer.count)
            defer { initialized = writer.count }
            try body(&writer)
        }
    }
}

/// Memory one owner reuses from message to message — a serving loop for its answers, the audit
/// log for its lines (under its lock) — so writing one costs no allocation. Not for sharing.
public final class ByteScratch {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// A rarer, longer message gets memory of its own for the moment, so one huge status answer
    /// does not keep the scratch large for the agent's lifetime.
    static let keptLimit = 64 * 1024

    public init(capacity: Int = 4096) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    /// Writes at most `capacity` bytes with `body` (more traps), then hands them to `use`;
    /// they are valid only inside `use`.
    public func write<R>(capacity needed: Int, _ body: (inout ByteWriter) throws -> Void,
                         then use: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if needed > capacity {
            if needed > Self.keptLimit {
                let own = UnsafeMutablePointer<UInt8>.allocate(capacity: needed)
                defer { own.deallocate() }
                return try Self.write(into: own, capacity: needed, body, then: use)
            }
            base.deallocate()
            capacity = Swift.max(needed, capacity * 2)
            base = .allocate(capacity: capacity)
        }
        return try Self.write(into: base, capacity: capacity, body, then: use)
    }

    private static func write<R>(into base: UnsafeMutablePointer<UInt8>, capacity: Int, _ body: (inout ByteWriter) throws -> Void,
                                 then use: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var writer = ByteWriter(base, capacity: capacity)
        try body(&writer)
        return try use(UnsafeRawBufferPointer(start: base, count: writer.count))
    }
}
