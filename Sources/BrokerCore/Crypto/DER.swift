// A strict, bounds-checked DER reader and a PEM unwrapper: exactly what reading PKCS#1 and PKCS#8 keys needs.

/// Why DER input was refused: the byte offset (from the start of the outermost DER) and a reason.
struct DERError: Error, Equatable, Sendable {
    let offset: Int
    let reason: String
}

/// Reads DER elements front to back from one slice of a buffer. Every read checks the tag, the
/// length form (definite, minimal, at most four length bytes) and that the content fits, so no
/// input can make it index out of bounds. Offsets in errors are absolute, so nested readers (a
/// SEQUENCE's contents, PKCS#1 inside a PKCS#8 OCTET STRING) still point at the right byte.
struct DERReader {
    enum Tag: UInt8 {
        case integer = 0x02
        case octetString = 0x04
        case null = 0x05
        case objectIdentifier = 0x06
        case sequence = 0x30

        var name: String {
            switch self {
            case .integer: return "INTEGER"
            case .octetString: return "OCTET STRING"
            case .null: return "NULL"
            case .objectIdentifier: return "OBJECT IDENTIFIER"
            case .sequence: return "SEQUENCE"
            }
        }
    }

    private let bytes: [UInt8]
    private(set) var offset: Int
    private let end: Int

    init(_ bytes: [UInt8]) {
        self.init(bytes, range: 0..<bytes.count)
    }

    private init(_ bytes: [UInt8], range: Range<Int>) {
        self.bytes = bytes
        offset = range.lowerBound
        end = range.upperBound
    }

    var isAtEnd: Bool { offset >= end }

    /// The next element's tag byte, if there is one.
    var nextTag: UInt8? { isAtEnd ? nil : bytes[offset] }

    /// Reads a SEQUENCE and returns a reader over its contents.
    mutating func readSequence() throws -> DERReader {
        DERReader(bytes, range: try readElement(.sequence))
    }

    /// Reads an OCTET STRING and returns a reader over its contents, for DER nested inside it.
    mutating func readOctetStringContents() throws -> DERReader {
        DERReader(bytes, range: try readElement(.octetString))
    }

    /// Reads a non-negative INTEGER and returns its big-endian magnitude without the sign byte.
    mutating func readUnsignedInteger() throws -> ArraySlice<UInt8> {
        let start = offset
        let content = try readElement(.integer)
        guard let first = content.first.map({ bytes[$0] }) else {
            throw DERError(offset: start, reason: "INTEGER has no content")
        }
        if content.count > 1 {
            // X.690 §8.3.2: the first nine bits must not be all zeros or all ones.
            let second = bytes[content.lowerBound + 1]
            if (first == 0x00 && second & 0x80 == 0) || (first == 0xff && second & 0x80 != 0) {
                throw DERError(offset: start, reason: "INTEGER is not minimally encoded")
            }
        }
        if first & 0x80 != 0 {
            throw DERError(offset: start, reason: "negative INTEGER where only non-negative values are allowed")
        }
        let magnitude = first == 0 ? content.dropFirst() : content
        return bytes[magnitude]
    }

    /// Reads a small non-negative INTEGER such as a version number; nil when it needs more than 7 bytes.
    mutating func readSmallUnsignedInteger() throws -> Int? {
        let magnitude = try readUnsignedInteger()
        guard magnitude.count <= 7 else { return nil }
        return magnitude.reduce(0) { $0 << 8 | Int($1) }
    }

    mutating func readNull() throws {
        let start = offset
        let content = try readElement(.null)
        guard content.isEmpty else { throw DERError(offset: start, reason: "NULL has content") }
    }

    /// Reads an OBJECT IDENTIFIER in dotted form ("1.2.840.113549.1.1.1").
    mutating func readObjectIdentifier() throws -> String {
        let start = offset
        let content = try readElement(.objectIdentifier)
        guard let last = content.last, bytes[last] & 0x80 == 0 else {
            throw DERError(offset: start, reason: "OBJECT IDENTIFIER is empty or its last arc is unfinished")
        }
        var arcs: [UInt64] = []
        var value: UInt64 = 0
        var arcStart = true
        for index in content {
            let byte = bytes[index]
            if arcStart && byte == 0x80 {
                throw DERError(offset: index, reason: "OBJECT IDENTIFIER arc is not minimally encoded")
            }
            guard value >> 57 == 0 else {
                throw DERError(offset: index, reason: "OBJECT IDENTIFIER arc is too large")
            }
            value = value << 7 | UInt64(byte & 0x7f)
            arcStart = byte & 0x80 == 0
            if arcStart {
                arcs.append(value)
                value = 0
            }
        }
        // X.690 §8.19.4: the first subidentifier packs the first two arcs as 40·a + b.
        let first = arcs[0]
        let leading: [UInt64] = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80]
        return (leading + arcs.dropFirst()).map(String.init).joined(separator: ".")
    }

    /// Skips one element with exactly this tag byte, if it is next; reports whether it did.
    mutating func skipElement(ifTag tag: UInt8) throws -> Bool {
        guard nextTag == tag else { return false }
        _ = try readElement(tagByte: tag, name: "tag 0x" + Self.hex(tag))
        return true
    }

    /// Refuses anything left after the last expected element.
    func expectEnd(after what: String) throws {
        guard isAtEnd else {
            throw DERError(offset: offset, reason: "\(Self.byteCount(end - offset, "extra ")) after the \(what)")
        }
    }

    private mutating func readElement(_ tag: Tag) throws -> Range<Int> {
        try readElement(tagByte: tag.rawValue, name: tag.name)
    }

    /// Reads a tag and a definite length, checks the content fits, moves past it and returns its range.
    private mutating func readElement(tagByte: UInt8, name: String) throws -> Range<Int> {
        let start = offset
        guard start < end else {
            throw DERError(offset: start, reason: "data ends where \(name) was expected")
        }
        let found = bytes[start]
        guard found == tagByte else {
            throw DERError(offset: start,
                           reason: "expected \(name) (tag 0x\(Self.hex(tagByte))), found tag 0x\(Self.hex(found))")
        }
        guard start + 1 < end else {
            throw DERError(offset: start + 1, reason: "data ends before the length of \(name)")
        }
        let first = bytes[start + 1]
        var length: Int
        var contentStart = start + 2
        if first < 0x80 {
            length = Int(first)
        } else if first == 0x80 {
            throw DERError(offset: start + 1, reason: "indefinite length is not allowed in DER")
        } else {
            let lengthByteCount = Int(first & 0x7f)
            guard lengthByteCount <= 4 else {
                throw DERError(offset: start + 1,
                               reason: "length of \(name) uses \(lengthByteCount) bytes (at most 4 allowed)")
            }
            guard contentStart + lengthByteCount <= end else {
                throw DERError(offset: start + 1, reason: "data ends inside the length of \(name)")
            }
            length = 0
            for index in contentStart..<(contentStart + lengthByteCount) {
                length = length << 8 | Int(bytes[index])
            }
            // X.690 §10.1: the shortest form is the only DER form.
            guard length >= 0x80, bytes[contentStart] != 0 else {
                throw DERError(offset: start + 1, reason: "length of \(name) is not minimally encoded")
            }
            contentStart += lengthByteCount
        }
        guard length <= end - contentStart else {
            let left = Self.byteCount(end - contentStart)
            throw DERError(offset: start + 1, reason: "\(name) length \(length) runs past the end of the data (\(left) left)")
        }
        offset = contentStart + length
        return contentStart..<offset
    }

    private static func hex(_ byte: UInt8) -> String { [byte].hexString }

    /// "1 byte", "3 extra bytes".
    private static func byteCount(_ count: Int, _ adjective: String = "") -> String {
        "\(count) \(adjective)byte\(count == 1 ? "" : "s")"
    }
}

/// Why PEM text was refused.
struct PEMError: Error, Equatable, Sendable {
    let reason: String
    var hint: String?
}

/// One `-----BEGIN LABEL-----` … `-----END LABEL-----` block (RFC 7468, plus RFC 1421 headers
/// such as `Proc-Type: 4,ENCRYPTED`, which old OpenSSL writes into encrypted keys).
struct PEMBlock: Equatable, Sendable {
    let label: String
    /// Header lines (`Name: value`) before the base64 body, as written.
    let headers: [String]
    /// The base64 body with all whitespace removed; `decoded()` turns it into bytes.
    let body: String

    /// Every block in `text`, in order. Text around blocks is ignored, as RFC 7468 allows; line
    /// breaks may be LF or CRLF, and a block squeezed onto one line with spaces still parses.
    static func blocks(in text: String) throws -> [PEMBlock] {
        let bytes = Array(text.utf8)
        let begin = Array("-----BEGIN ".utf8), dashes = Array("-----".utf8)
        var blocks: [PEMBlock] = []
        var position = 0
        while let beginAt = find(begin, in: bytes, from: position) {
            let labelStart = beginAt + begin.count
            guard let labelEnd = find(dashes, in: bytes, from: labelStart),
                  !bytes[labelStart..<labelEnd].contains(where: { $0 == 0x0a || $0 == 0x0d }) else {
                throw PEMError(reason: "BEGIN line is not closed with -----")
            }
            let label = String(decoding: bytes[labelStart..<labelEnd], as: UTF8.self)
            let bodyStart = labelEnd + dashes.count
            let end = Array("-----END \(label)-----".utf8)
            guard let endAt = find(end, in: bytes, from: bodyStart) else {
                throw PEMError(reason: "no -----END \(label)----- line")
            }
            if let nested = find(begin, in: bytes, from: bodyStart), nested < endAt {
                throw PEMError(reason: "\(label) block has no END line before the next BEGIN line")
            }
            blocks.append(parseBody(label: label, bytes[bodyStart..<endAt]))
            position = endAt + end.count
        }
        return blocks
    }

    /// Headers are the lines holding a colon (base64 has none); every other non-space byte is body.
    private static func parseBody(label: String, _ body: ArraySlice<UInt8>) -> PEMBlock {
        var headers: [String] = []
        var base64: [UInt8] = []
        for line in body.split(whereSeparator: { $0 == 0x0a || $0 == 0x0d }) {
            if line.contains(UInt8(ascii: ":")) {
                let trimmed = line.drop(while: isSpace).reversed().drop(while: isSpace).reversed()
                headers.append(String(decoding: trimmed, as: UTF8.self))
            } else {
                base64.append(contentsOf: line.filter { !isSpace($0) })
            }
        }
        return PEMBlock(label: label, headers: headers, body: String(decoding: base64, as: UTF8.self))
    }

    /// Decodes the body: standard base64 alphabet, `=` padding only at the end.
    func decoded() throws -> [UInt8] {
        guard let bytes = Self.decodeBase64(Array(body.utf8)) else {
            let hint = body.contains("\\n")
                ? "the key holds literal \\n sequences where line breaks belong; write it with real line breaks"
                : nil
            throw PEMError(reason: "\(label) body is not valid base64", hint: hint)
        }
        return bytes
    }

    private static func decodeBase64(_ text: [UInt8]) -> [UInt8]? {
        guard text.count % 4 == 0 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(text.count / 4 * 3)
        var index = 0
        while index < text.count {
            let isLastQuad = index + 4 == text.count
            var quad: UInt32 = 0
            var padding = 0
            for offset in 0..<4 {
                let character = text[index + offset]
                if character == UInt8(ascii: "=") {
                    // Padding may only fill the last one or two places of the final quad.
                    guard isLastQuad, offset >= 2 else { return nil }
                    padding += 1
                    quad <<= 6
                } else {
                    guard padding == 0, let value = base64Value(character) else { return nil }
                    quad = quad << 6 | UInt32(value)
                }
            }
            output.append(UInt8(truncatingIfNeeded: quad >> 16))
            if padding < 2 { output.append(UInt8(truncatingIfNeeded: quad >> 8)) }
            if padding < 1 { output.append(UInt8(truncatingIfNeeded: quad)) }
            index += 4
        }
        return output
    }

    private static func base64Value(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return character - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return nil
        }
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d || byte == 0x0b || byte == 0x0c
    }

    /// The first index at or after `start` where `pattern` occurs in `bytes`.
    private static func find(_ pattern: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard !pattern.isEmpty, start >= 0, bytes.count >= pattern.count else { return nil }
        var index = start
        while index <= bytes.count - pattern.count {
            if bytes[index] == pattern[0] && bytes[index..<(index + pattern.count)].elementsEqual(pattern) {
                return index
            }
            index += 1
        }
        return nil
    }
}
