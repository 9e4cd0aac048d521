// Element text from the small XML answers of AWS query APIs (STS), without FoundationXML and its libxml2.

/// A view of one element's content (or a whole document) that finds nested elements by local name
/// and reads their text. Not a validating parser: it reads the shapes AWS sends — elements,
/// attributes, the five named entities, character references, comments, CDATA — and on anything
/// malformed or unterminated answers `nil` instead of guessing. Every scan is linear in the input.
public struct XMLText: Sendable {
    private let bytes: [UInt8]
    private let range: Range<Int>

    /// A whole document.
    public init(_ document: String) {
        self.init(bytes: Array(document.utf8))
    }

    public init(bytes: [UInt8]) {
        self.bytes = bytes
        range = 0..<bytes.count
    }

    private init(bytes: [UInt8], range: Range<Int>) {
        self.bytes = bytes
        self.range = range
    }

    /// The first element, at any depth and in document order, whose local name (the part after
    /// any namespace prefix) is `name`; `nil` when there is none or it is never closed.
    public func element(_ name: String) -> XMLText? {
        let target = Array(name.utf8)
        var i = range.lowerBound
        while let tag = nextTag(from: i, before: range.upperBound) {
            i = tag.end
            guard case .start(let qualifiedName, let selfClosing) = tag.kind else { continue }
            guard localName(qualifiedName) == target[...] else { continue }
            if selfClosing { return XMLText(bytes: bytes, range: tag.end..<tag.end) }
            guard let close = matchingEnd(of: qualifiedName, from: tag.end) else { return nil }
            return XMLText(bytes: bytes, range: tag.end..<close)
        }
        return nil
    }

    /// Follows nested elements: `element(path: ["Error", "Code"])` is the `Code` inside the first `Error`.
    public func element(path: [String]) -> XMLText? {
        var current: XMLText? = self
        for name in path { current = current?.element(name) }
        return current
    }

    /// The text of the element at `path`, or `nil` when it is missing.
    public func text(_ path: String...) -> String? {
        element(path: path)?.text
    }

    /// The content with markup dropped, entities and character references decoded and CDATA kept
    /// verbatim; an unknown or unterminated entity stays as written. Bytes that are not UTF-8 and
    /// references to non-characters become U+FFFD.
    public var text: String {
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            let byte = bytes[i]
            if byte == UInt8(ascii: "<") {
                if starts(with: "<![CDATA[", at: i), let close = find("]]>", from: i + 9, before: end) {
                    out.append(contentsOf: bytes[(i + 9)..<close])
                    i = close + 3
                } else if let tag = nextTag(from: i, before: end), tag.start == i {
                    i = tag.end
                } else {
                    // A '<' that opens nothing well-formed: stop rather than leak markup as text.
                    break
                }
            } else if byte == UInt8(ascii: "&") {
                let (decoded, length) = decodeReference(at: i, before: end)
                out.append(contentsOf: decoded)
                i += length
            } else {
                out.append(byte)
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: - Scanning

    private enum TagKind {
        case start(name: ArraySlice<UInt8>, selfClosing: Bool)
        case end(name: ArraySlice<UInt8>)
        case other  // comment, CDATA, processing instruction, declaration
    }

    private struct Tag {
        var start: Int
        var end: Int  // one past the closing '>'
        var kind: TagKind
    }

    /// The next markup construct starting at or after `from`; `nil` when there is none or it is unterminated.
    private func nextTag(from: Int, before end: Int) -> Tag? {
        guard let lt = find(UInt8(ascii: "<"), from: from, before: end) else { return nil }
        if starts(with: "<!--", at: lt) {
            guard let close = find("-->", from: lt + 4, before: end) else { return nil }
            return Tag(start: lt, end: close + 3, kind: .other)
        }
        if starts(with: "<![CDATA[", at: lt) {
            guard let close = find("]]>", from: lt + 9, before: end) else { return nil }
            return Tag(start: lt, end: close + 3, kind: .other)
        }
        if starts(with: "<?", at: lt) {
            guard let close = find("?>", from: lt + 2, before: end) else { return nil }
            return Tag(start: lt, end: close + 2, kind: .other)
        }
        guard let gt = tagEnd(from: lt + 1, before: end) else { return nil }
        let isEnd = lt + 1 < end && bytes[lt + 1] == UInt8(ascii: "/")
        if lt + 1 < end && bytes[lt + 1] == UInt8(ascii: "!") {
            return Tag(start: lt, end: gt + 1, kind: .other)
        }
        let nameStart = isEnd ? lt + 2 : lt + 1
        var nameEnd = nameStart
        while nameEnd < gt && !isNameTerminator(bytes[nameEnd]) { nameEnd += 1 }
        let name = bytes[nameStart..<nameEnd]
        if isEnd { return Tag(start: lt, end: gt + 1, kind: .end(name: name)) }
        let selfClosing = bytes[gt - 1] == UInt8(ascii: "/") && gt - 1 >= nameEnd
        return Tag(start: lt, end: gt + 1, kind: .start(name: name, selfClosing: selfClosing))
    }

    /// The '>' closing a tag, skipping quoted attribute values (which may hold '>').
    private func tagEnd(from: Int, before end: Int) -> Int? {
        var quote: UInt8? = nil
        var i = from
        while i < end {
            let byte = bytes[i]
            if let open = quote {
                if byte == open { quote = nil }
            } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                quote = byte
            } else if byte == UInt8(ascii: ">") {
                return i
            } else if byte == UInt8(ascii: "<") {
                return nil  // a new tag before this one closed: malformed
            }
            i += 1
        }
        return nil
    }

    /// Where the content of an element named `name` that opened just before `from` ends, counting
    /// nested elements of the same name.
    private func matchingEnd(of name: ArraySlice<UInt8>, from: Int) -> Int? {
        var depth = 1
        var i = from
        while let tag = nextTag(from: i, before: range.upperBound) {
            i = tag.end
            switch tag.kind {
            case .start(let inner, let selfClosing) where inner == name && !selfClosing:
                depth += 1
            case .end(let inner) where inner == name:
                depth -= 1
                if depth == 0 { return tag.start }
            default:
                continue
            }
        }
        return nil
    }

    private func localName(_ qualified: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        guard let colon = qualified.lastIndex(of: UInt8(ascii: ":")) else { return qualified }
        return qualified[(colon + 1)...]
    }

    private func isNameTerminator(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d || byte == UInt8(ascii: "/")
            || byte == UInt8(ascii: ">")
    }

    private func find(_ byte: UInt8, from: Int, before end: Int) -> Int? {
        var i = from
        while i < end {
            if bytes[i] == byte { return i }
            i += 1
        }
        return nil
    }

    private func find(_ needle: StaticString, from: Int, before end: Int) -> Int? {
        let first = needle.utf8Start.pointee
        var i = from
        while i < end, let candidate = find(first, from: i, before: end) {
            if starts(with: needle, at: candidate), candidate + needle.utf8CodeUnitCount <= end { return candidate }
            i = candidate + 1
        }
        return nil
    }

    private func starts(with prefix: StaticString, at index: Int) -> Bool {
        let count = prefix.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let p = prefix.utf8Start
        for k in 0..<count where bytes[index + k] != p[k] { return false }
        return true
    }

    // MARK: - Entities

    /// Decodes the reference starting at the '&' at `index`: its bytes and how many input bytes it used.
    private func decodeReference(at index: Int, before end: Int) -> ([UInt8], Int) {
        let literal: ([UInt8], Int) = ([UInt8(ascii: "&")], 1)
        // The longest reference we accept is "&#x10FFFF;" (10 bytes); a ';' further away means a bare '&'.
        guard let semicolon = find(UInt8(ascii: ";"), from: index + 1, before: min(end, index + 12)) else { return literal }
        let name = bytes[(index + 1)..<semicolon]
        let length = semicolon - index + 1
        switch String(decoding: name, as: UTF8.self) {
        case "amp": return ([UInt8(ascii: "&")], length)
        case "lt": return ([UInt8(ascii: "<")], length)
        case "gt": return ([UInt8(ascii: ">")], length)
        case "quot": return ([UInt8(ascii: "\"")], length)
        case "apos": return ([UInt8(ascii: "'")], length)
        default: break
        }
        guard name.first == UInt8(ascii: "#"), name.count >= 2 else { return literal }
        let digits = name.dropFirst()
        let value: UInt32?
        if digits.first == UInt8(ascii: "x") || digits.first == UInt8(ascii: "X") {
            value = UInt32(String(decoding: digits.dropFirst(), as: UTF8.self), radix: 16)
        } else {
            value = UInt32(String(decoding: digits, as: UTF8.self), radix: 10)
        }
        guard let value else { return literal }
        // NUL and surrogates are not characters; U+FFFD says "something was here".
        let scalar = value == 0 ? nil : Unicode.Scalar(value)
        return (Array(String(Character(scalar ?? "\u{FFFD}")).utf8), length)
    }
}
