// JSON output without Foundation: audit lines, and later the credential_process document.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A JSON value whose objects keep their key order, so output is deterministic.
public indirect enum JSONValue: Equatable, Sendable {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool { a.encoded() == b.encoded() }

    /// Compact JSON text (RFC 8259). Control characters, quotes and backslashes are escaped;
    /// everything else is written as UTF-8.
    public func encoded() -> String { String(decoding: encodedBytes(), as: UTF8.self) }

    /// The same text as bytes: one allocation sized up front, each piece a copy (appending to a
    /// String cost the loopback endpoint ~10 µs for a four-field answer, more than its parse,
    /// check and audit record together).
    public func encodedBytes() -> [UInt8] {
        [UInt8](capacity: encodedCapacity) { encode(into: &$0) }
    }

    /// Bytes `encode(into:)` writes at most.
    public var encodedCapacity: Int {
        switch self {
        case .string(let text): return JSONValue.stringCapacity(text)
        case .int: return ByteWriter.decimalLimit
        case .bool, .null: return 5
        case .array(let items): return items.reduce(2) { $0 + 1 + $1.encodedCapacity }
        case .object(let members): return members.reduce(2) { $0 + 2 + JSONValue.stringCapacity($1.0) + $1.1.encodedCapacity }
        }
    }

    public func encode(into out: inout ByteWriter) {
        switch self {
        case .string(let text): JSONValue.encodeString(text, into: &out)
        case .int(let n): out.decimal(n)
        case .bool(let b): if b { out.literal("true") } else { out.literal("false") }
        case .null: out.literal("null")
        case .array(let items):
            out.byte(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.byte(UInt8(ascii: ",")) }
                item.encode(into: &out)
            }
            out.byte(UInt8(ascii: "]"))
        case .object(let members):
            out.byte(UInt8(ascii: "{"))
            for (i, member) in members.enumerated() {
                if i > 0 { out.byte(UInt8(ascii: ",")) }
                JSONValue.encodeString(member.0, into: &out)
                out.byte(UInt8(ascii: ":"))
                member.1.encode(into: &out)
            }
            out.byte(UInt8(ascii: "}"))
        }
    }

    /// Printable ASCII without `"` or `\\`: written as it is. Reads the string's own storage
    /// (a native string's UTF-8 is contiguous); the UTF8View's iterator cost a 2 KB Entra token
    /// more than the rest of the managed-identity route's answer.
    static func isPlain(_ text: String) -> Bool {
        func plain(_ byte: UInt8) -> Bool { byte >= 0x20 && byte < 0x7f && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") }
        return text.utf8.withContiguousStorageIfAvailable { bytes in
            // Eight bytes at a time (an Entra or Google token is 1–2 KB), the tail byte by byte.
            var i = 0
            if let base = bytes.baseAddress {
                let raw = UnsafeRawPointer(base)
                while i + 8 <= bytes.count {
                    if !plainWord(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) { return false }
                    i += 8
                }
            }
            while i < bytes.count {
                if !plain(bytes[i]) { return false }
                i += 1
            }
            return true
        } ?? text.utf8.allSatisfy(plain)
    }

    /// Whether eight bytes are all printable ASCII other than `"` and `\\` (the usual
    /// has-zero-byte bit tricks: a byte of `x` is zero where `(x - 0x01…) & ~x & 0x80…` is set).
    @inline(__always)
    static func plainWord(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        func hasZero(_ x: UInt64) -> Bool { (x &- ones) & ~x & highs != 0 }
        let below20 = (word &- ones &* 0x20) & ~word & highs  // a byte < 0x20 (bytes ≥ 0x80 are caught next)
        return word & highs == 0 && below20 == 0 && !hasZero(word ^ (ones &* 0x7f))
            && !hasZero(word ^ (ones &* 0x22)) && !hasZero(word ^ (ones &* 0x5c))
    }

    /// Quotes and at most six bytes per byte (`\u001f` for one control byte; U+2028's three
    /// bytes become six).
    static func stringCapacity(_ text: String) -> Int { 2 + 6 * text.utf8.count }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func encodeString(_ text: String, into out: inout ByteWriter) {
        out.byte(UInt8(ascii: "\""))
        // Tokens, keys and URLs are printable ASCII with nothing to escape: copied whole.
        if isPlain(text) {
            out.utf8(text)
            out.byte(UInt8(ascii: "\""))
            return
        }
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out.literal("\\\"")
            case "\\": out.literal("\\\\")
            case "\n": out.literal("\\n")
            case "\r": out.literal("\\r")
            case "\t": out.literal("\\t")
            case _ where scalar.value < 0x20 || scalar.value == 0x7f || scalar.value == 0x2028 || scalar.value == 0x2029:
                out.literal("\\u")
                for shift in stride(from: 12, through: 0, by: -4) {
                    out.byte(hexDigits[(Int(scalar.value) >> shift) & 0xf])
                }
            default:
                UTF8.encode(scalar) { out.byte($0) }
            }
        }
        out.byte(UInt8(ascii: "\""))
    }
}

/// `2026-11-21T23:55:46Z` for a unix time, without Foundation's formatters (which load ICU).
public func rfc3339UTC(_ seconds: Int64) -> String {
    var t = time_t(seconds)
    var parts = tm()
    gmtime_r(&t, &parts)
    func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : String(n) }
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
}

public func currentUnixTime() -> Int64 { Int64(time(nil)) }

/// Unix seconds for an RFC 3339 / ISO 8601 timestamp such as `2026-11-22T01:00:00Z`,
/// `…00.123Z` or `…00+02:00`; nil for anything else. Fractions are dropped. The one RFC 3339
/// parser: `allowingSpaceSeparator` accepts the space RFC 3339 permits between date and time
/// (STS's ISO 8601 answers never have one, and its parser refuses it).
public func parseRFC3339(_ text: String, allowingSpaceSeparator: Bool = true) -> Int64? {
    let b = Array(text.utf8)
    func number(_ from: Int, _ count: Int) -> Int32? {
        guard from + count <= b.count else { return nil }
        var n: Int32 = 0
        for i in from..<(from + count) {
            guard b[i] >= 48 && b[i] <= 57 else { return nil }
            n = n * 10 + Int32(b[i] - 48)
        }
        return n
    }
    guard b.count >= 20, b[4] == 45, b[7] == 45, b[10] == 84 || b[10] == 116 || (allowingSpaceSeparator && b[10] == 32), b[13] == 58, b[16] == 58,
          let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
          let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
          (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
    var i = 19
    if i < b.count, b[i] == 46 {  // fraction
        i += 1
        let start = i
        while i < b.count, b[i] >= 48 && b[i] <= 57 { i += 1 }
        if i == start { return nil }
    }
    guard i < b.count else { return nil }
    var offset: Int64 = 0
    if b[i] == 90 || b[i] == 122 {
        i += 1
    } else if b[i] == 43 || b[i] == 45, let oh = number(i + 1, 2), i + 3 < b.count, b[i + 3] == 58, let om = number(i + 4, 2),
              oh <= 23, om <= 59 {
        offset = Int64(oh) * 3600 + Int64(om) * 60
        if b[i] == 43 { offset = -offset }
        i += 6
    } else {
        return nil
    }
    guard i == b.count else { return nil }
    var parts = tm()
    parts.tm_year = year - 1900
    parts.tm_mon = month - 1
    parts.tm_mday = day
    parts.tm_hour = hour
    parts.tm_min = minute
    parts.tm_sec = second
    return Int64(timegm(&parts)) + offset
}
