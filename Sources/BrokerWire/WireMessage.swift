// The key=value codec shared by git's stdin/stdout, the agent socket and the cache files (DESIGN D2).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One message in git's credential grammar: `key=value` lines in order, keys may repeat
/// (`capability[]=authtype`), a blank line or end of input ends it.
public struct WireMessage: Equatable, Sendable {
    public struct Field: Equatable, Sendable {
        public var key: String
        public var value: String
        public init(_ key: String, _ value: String) {
            self.key = key
            self.value = value
        }
    }

    public var fields: [Field]

    public init(_ fields: [Field] = []) { self.fields = fields }

    public init(_ pairs: KeyValuePairs<String, String>) {
        self.fields = pairs.map { Field($0.key, $0.value) }
    }

    /// The first value for `key`.
    public subscript(key: String) -> String? {
        fields.first { $0.key == key }?.value
    }

    public func values(_ key: String) -> [String] {
        fields.filter { $0.key == key }.map(\.value)
    }

    public func contains(_ key: String) -> Bool { fields.contains { $0.key == key } }

    public mutating func append(_ key: String, _ value: String) {
        fields.append(Field(key, value))
    }

    /// Appends only when there is a value: keeps call sites free of `if let`.
    public mutating func append(_ key: String, ifPresent value: String?) {
        if let value { fields.append(Field(key, value)) }
    }

    public mutating func removeAll(_ key: String) {
        fields.removeAll { $0.key == key }
    }

    /// The bytes on the wire, each field on its own line, with no terminating blank line.
    /// Refuses what git would die on rather than emit half a message (D12).
    public func encoded() throws -> [UInt8] { try encoded(blankLine: false) }

    /// `blankLine`: followed by the empty line that ends a message on the agent socket.
    public func encoded(blankLine: Bool) throws -> [UInt8] {
        try [UInt8](capacity: encodedCount(blankLine: blankLine)) { try encode(blankLine: blankLine, into: &$0) }
    }

    /// How many bytes `encode` writes.
    public func encodedCount(blankLine: Bool) -> Int {
        var count = blankLine ? 1 : 0
        for field in fields { count += field.key.utf8.count + field.value.utf8.count + 2 }
        return count
    }

    /// Writes the message (`encodedCount` bytes), each key and value checked as it is copied.
    public func encode(blankLine: Bool, into out: inout ByteWriter) throws {
        for field in fields {
            var key = field.key, value = field.value  // withUTF8: the bytes where they are
            try key.withUTF8 { bytes in
                try WireCodec.checkKey(bytes, field.key)
                out.bytes(bytes.baseAddress!, bytes.count)
            }
            out.byte(UInt8(ascii: "="))
            try value.withUTF8 { bytes in
                try WireCodec.checkValue(bytes, key: field.key)
                if let start = bytes.baseAddress { out.bytes(start, bytes.count) }
            }
            out.byte(UInt8(ascii: "\n"))
        }
        if blankLine { out.byte(UInt8(ascii: "\n")) }
    }
}

/// Limits that keep a hostile peer from making us buffer without bound.
public struct WireLimits: Sendable {
    /// git refuses longer lines too (its strbuf limit for credential lines is 64 KiB).
    public var maxLineBytes: Int
    public var maxMessageBytes: Int
    public var maxFields: Int

    public init(maxLineBytes: Int = 65535, maxMessageBytes: Int = 1 << 20, maxFields: Int = 4096) {
        self.maxLineBytes = maxLineBytes
        self.maxMessageBytes = maxMessageBytes
        self.maxFields = maxFields
    }

    public static let standard = WireLimits()
}

public struct WireError: BrokerError, Equatable {
    public var message: String
    public var hint: String?
    public init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }
}

public enum WireCodec {
    static func checkKey(_ key: UnsafeBufferPointer<UInt8>, _ text: String) throws {
        if key.isEmpty { throw WireError("empty key") }
        for byte in key where byte <= UInt8(ascii: "=") && (byte == 0 || byte == 10 || byte == 13 || byte == UInt8(ascii: "=")) {
            throw WireError("key \(printable(text)) contains a forbidden character")
        }
    }

    static func checkValue(_ value: UnsafeBufferPointer<UInt8>, key: String) throws {
        for byte in value where byte <= 13 && (byte == 0 || byte == 10 || byte == 13) {
            // Name the key only: the value may be a secret.
            throw WireError("value for \"\(key)\" contains a newline, carriage return or NUL byte")
        }
    }

    /// Parses complete input (everything up to a blank line or EOF). CRLF line ends and a final
    /// line without LF are accepted, as git accepts them.
    public static func decode(_ bytes: [UInt8], limits: WireLimits = .standard) throws -> WireMessage {
        var reader = LineSplitter(limits: limits)
        var message = WireMessage()
        var done = false
        try reader.feed(bytes[...]) { line in
            if done { return false }
            if line.isEmpty { done = true; return false }
            try message.fields.append(parseLine(line, limits: limits, count: message.fields.count))
            return true
        }
        if !done, let last = try reader.finish() {
            if !last.isEmpty {
                try message.fields.append(parseLine(last, limits: limits, count: message.fields.count))
            }
        }
        return message
    }

    /// One `key=value` line, in one pass over its bytes: where the `=` is, whether the key holds
    /// a control character, the value a NUL or CR, and whether all of it is ASCII.
    static func parseLine(_ line: ArraySlice<UInt8>, limits: WireLimits, count: Int) throws -> WireMessage.Field {
        if count >= limits.maxFields { throw WireError("too many lines (more than \(limits.maxFields))") }
        return try line.withUnsafeBufferPointer { bytes in
            var equals = -1
            var keyControl = false
            var high: UInt8 = 0
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "=") { equals = index; break }
                high |= byte
                if byte < 0x20 || byte == 0x7f { keyControl = true }
                index += 1
            }
            guard equals >= 0 else {
                // Do not echo the line: it may be the tail of a secret split by a stray newline.
                throw WireError("malformed line \(count + 1) (\(bytes.count) bytes) has no '='")
            }
            let keyBytes = UnsafeBufferPointer(rebasing: bytes[0..<equals])
            let valueBytes = UnsafeBufferPointer(rebasing: bytes[(equals + 1)...])
            guard let key = text(keyBytes, ascii: high < 0x80), !key.isEmpty else {
                throw WireError("malformed line: empty or invalid key")
            }
            // Whatever is read must be writable again: a key with a control byte is refused here too.
            if keyControl { throw WireError("key \"\(printable(key))\" contains a control character") }
            var valueHigh: UInt8 = 0
            var nul = false, carriageReturn = false
            for byte in valueBytes {
                valueHigh |= byte
                if byte <= 13 {
                    nul = nul || byte == 0
                    carriageReturn = carriageReturn || byte == 13
                }
            }
            if nul { throw WireError("value for \"\(printable(key))\" contains a NUL byte") }
            if carriageReturn { throw WireError("value for \"\(printable(key))\" contains a carriage return") }
            guard let value = text(valueBytes, ascii: valueHigh < 0x80) else {
                throw WireError("value for \"\(printable(key))\" is not valid UTF-8")
            }
            return WireMessage.Field(key, value)
        }
    }

    /// The bytes as a String when they are valid UTF-8: ASCII (nearly every line) is taken as
    /// it is; anything else is validated.
    static func text(_ buffer: UnsafeBufferPointer<UInt8>, ascii: Bool) -> String? {
        if ascii { return String(decoding: buffer, as: UTF8.self) }
        return String(validating: buffer, as: UTF8.self)
    }

    /// Untrusted text made safe for a terminal: C0 controls, DEL and C1 controls (which start
    /// escape sequences) are shown as `\x1b`; at most `limit` characters are kept (nil: all).
    /// `keepingLineBreaks` lets "\n" and "\t" through, for output that is made of lines.
    /// A text cut at `limit` ends in "…", so a reader knows it was cut.
    public static func printable(_ text: String, limit: Int? = 64, keepingLineBreaks: Bool = false) -> String {
        var out = String.UnicodeScalarView()
        let cut = limit.map { text.unicodeScalars.count > $0 } ?? false
        for scalar in limit.map({ Array(text.unicodeScalars.prefix($0)) }) ?? Array(text.unicodeScalars) {
            let value = scalar.value
            if keepingLineBreaks && (scalar == "\n" || scalar == "\t") {
                out.append(scalar)
            } else if value < 0x20 || (0x7f...0x9f).contains(value) {
                let hex = String(value, radix: 16)
                out.append(contentsOf: ("\\x" + (hex.count < 2 ? "0" : "") + hex).unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        if cut { out.append("…") }
        return String(out)
    }

    /// The first non-blank line of a command's or upstream's error text, for a one-line message:
    /// whole up to `limit` characters; longer, cut at the last word boundary before it and ended
    /// with "…" — never mid-word without saying so. Control characters are escaped. nil when blank.
    public static func excerpt(_ text: String, limit: Int = 300) -> String? {
        guard let line = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" })
            .first(where: { !$0.allSatisfy { $0 == " " || $0 == "\t" } }) else { return nil }
        var scalars = Array(line.unicodeScalars)
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        guard scalars.count > limit else { return printable(String(String.UnicodeScalarView(scalars)), limit: nil) }
        var kept = Array(scalars.prefix(limit))
        // Back up to a word boundary unless that would throw away most of the line.
        if scalars[limit] != " ", let space = kept.lastIndex(of: " "), space > limit / 2 {
            kept = Array(kept[..<space])
        }
        while let last = kept.last, last == " " || last == "," || last == ";" || last == ":" { kept.removeLast() }
        return printable(String(String.UnicodeScalarView(kept)), limit: nil) + "…"
    }
}

/// A wire message read in pieces as its bytes arrive, with the limits enforced while reading
/// (so an endless line is cut off early): `readWireMessage` reads with it from a blocking
/// descriptor, the agent's poll loop from non-blocking ones.
public struct WireMessageReader {
    private var splitter: LineSplitter
    private let limits: WireLimits
    /// The fields read so far; the whole message once `feed` returned true.
    public private(set) var message = WireMessage()
    /// True once the blank line that ends the message has arrived.
    public private(set) var complete = false
    /// Bytes fed so far.
    public private(set) var bytesRead = 0

    public init(limits: WireLimits = .standard) {
        self.limits = limits
        splitter = LineSplitter(limits: limits)
        message.fields.reserveCapacity(8)  // a request is a handful of lines
    }

    /// Feeds the next bytes; returns true once the blank line has arrived (bytes after it are
    /// ignored). Throws on a malformed line or past the limits.
    public mutating func feed(_ bytes: ArraySlice<UInt8>) throws -> Bool {
        guard !complete else { return true }
        bytesRead += bytes.count
        // Locals, not self's properties, inside the closure: `splitter` is being mutated.
        var fields = message.fields
        message.fields = []  // keeps `fields` uniquely referenced, so appends do not copy
        var ended = false
        let limits = limits
        defer {
            message.fields = fields
            complete = ended
        }
        try splitter.feed(bytes) { line in
            if line.isEmpty { ended = true; return false }
            try fields.append(WireCodec.parseLine(line, limits: limits, count: fields.count))
            return true
        }
        return ended
    }

    /// The message when the input ended. `requireBlankLine`: on the agent socket a message must
    /// end with its blank line (D2), so a client that died mid-write never has half a
    /// `git.store` carried out; git's stdin may end at EOF, as git itself allows.
    public mutating func finishAtEndOfInput(requireBlankLine: Bool) throws -> WireMessage {
        if complete { return message }
        if requireBlankLine {
            throw WireError("request ended before its blank line (the client closed the connection mid-request)")
        }
        if let last = try splitter.finish(), !last.isEmpty {
            try message.fields.append(WireCodec.parseLine(last, limits: limits, count: message.fields.count))
        }
        return message
    }
}

/// Splits a byte stream into lines, enforcing the line and message limits while buffering so a
/// 10 MB line is refused after 64 KiB, not after it has all arrived.
struct LineSplitter {
    let limits: WireLimits
    private var pending: [UInt8] = []
    private var total = 0

    init(limits: WireLimits) { self.limits = limits }

    /// Calls `body` with each complete line (CR before LF stripped). `body` returns false to stop.
    /// Returns false once stopped.
    @discardableResult
    mutating func feed(_ chunk: ArraySlice<UInt8>, _ body: (ArraySlice<UInt8>) throws -> Bool) throws -> Bool {
        total += chunk.count
        var start = chunk.startIndex
        while start < chunk.endIndex, let i = Self.newline(in: chunk, from: start) {
            var line: ArraySlice<UInt8>
            if pending.isEmpty {
                line = chunk[start..<i]
            } else {
                pending.append(contentsOf: chunk[start..<i])
                line = pending[...]
            }
            if line.count > limits.maxLineBytes { throw WireError("line longer than \(limits.maxLineBytes) bytes") }
            if line.last == 13 { line = line.dropLast() }
            let keepGoing = try body(line)
            pending.removeAll(keepingCapacity: true)
            start = i + 1
            if !keepGoing { return false }
        }
        if start < chunk.endIndex { pending.append(contentsOf: chunk[start..<chunk.endIndex]) }
        if pending.count > limits.maxLineBytes { throw WireError("line longer than \(limits.maxLineBytes) bytes") }
        if total > limits.maxMessageBytes { throw WireError("message larger than \(limits.maxMessageBytes) bytes") }
        return true
    }

    /// The index of the first LF at or after `start` (memchr: a request is read in one piece).
    static func newline(in chunk: ArraySlice<UInt8>, from start: Int) -> Int? {
        chunk.withUnsafeBufferPointer { buffer in
            let offset = start - chunk.startIndex
            guard let base = buffer.baseAddress, let found = memchr(base + offset, 10, buffer.count - offset) else { return nil }
            return start + (UnsafeRawPointer(found) - UnsafeRawPointer(base + offset))
        }
    }

    /// The final line that had no LF, if any.
    mutating func finish() throws -> ArraySlice<UInt8>? {
        if pending.isEmpty { return nil }
        var line = pending[...]
        if line.last == 13 { line = line.dropLast() }
        return line
    }
}
