// Reads the broker's configuration file, which uses git-config syntax, into flat located entries.
import Foundation
import BrokerWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a setting was written, so every complaint about it can send a person to the right line.
public struct SourceLocation: Equatable, Hashable, Sendable, CustomStringConvertible {
    public let file: String
    public let line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { "\(file):\(line)" }
}

/// One `key = value` line, already placed under its section. Later layers give it meaning;
/// this layer only promises it was spelled legally.
public struct ConfigEntry: Equatable, Sendable {
    /// Lower-cased, because git treats section names case-insensitively.
    public let section: String
    /// Case-sensitive as written (escapes resolved), so URLs survive; nil when there is none.
    public let subsection: String?
    /// Lower-cased, because git treats key names case-insensitively.
    public let key: String
    /// nil for a bare key, which git reads as boolean true; "" for `key =`.
    public let value: String?
    /// The line where the key starts, even when the value continues onto later lines.
    public let location: SourceLocation

    public init(section: String, subsection: String?, key: String, value: String?, location: SourceLocation) {
        self.section = section
        self.subsection = subsection
        self.key = key
        self.value = value
        self.location = location
    }
}

/// A configuration mistake, pinned to the line that caused it whenever there is one.
public struct ConfigError: BrokerError, Equatable {
    public let location: SourceLocation?
    public let message: String
    public let hint: String?

    public init(_ message: String, at location: SourceLocation?, hint: String? = nil) {
        self.location = location
        self.message = message
        self.hint = hint
    }

    public var description: String {
        let body = hint.map { "\(message) (hint: \($0))" } ?? message
        guard let location else { return body }
        return "\(location): \(body)"
    }
}

/// One `[section "subsection"]` header where it was written: a header with no keys under it
/// still names a section, and a misspelt one must be reported at its own line.
public struct ConfigSectionHeader: Equatable, Sendable {
    public let section: String
    public let subsection: String?
    public let location: SourceLocation
}

/// A whole file as read: its entries and headers (includes spliced in place), and every syntax
/// error found on the way, each with its line. A bad line is skipped and reading goes on, so one
/// run reports every mistake rather than only the first.
public struct ConfigDocument: Sendable {
    public var entries: [ConfigEntry] = []
    public var headers: [ConfigSectionHeader] = []
    public var errors: [ConfigError] = []
    /// False when the file itself could not be used (missing, unreadable, untrusted): then
    /// nothing is known about what it would have configured.
    public var readable = true
}

public enum ConfigSyntax {
    /// git's own limit (MAX_INCLUDE_DEPTH); deeper nesting is almost certainly a mistake.
    public static let maxIncludeDepth = 10

    /// Parses one file's text; does not follow includes. Throws the first syntax error.
    public static func parse(text: String, file: String) throws -> [ConfigEntry] {
        let document = parseDocument(text: text, file: file)
        if let first = document.errors.first { throw first }
        return document.entries
    }

    /// Parses one file's text into entries, headers and every syntax error; does not follow includes.
    public static func parseDocument(text: String, file: String) -> ConfigDocument {
        var parser = Parser(text: text, file: file)
        parser.run()
        return ConfigDocument(entries: parser.entries, headers: parser.headers, errors: parser.errors)
    }

    /// Reads a file and follows `[include] path = …` (relative to the including file's directory,
    /// `~/` expanded from HOME), depth limit 10, include cycle = error citing the include line;
    /// a missing included file is an error citing the include line. Include entries themselves
    /// are not returned; entries come back in file order with includes spliced in place.
    public static func load(path: String) throws -> [ConfigEntry] {
        let document = loadDocument(path: path)
        if let first = document.errors.first { throw first }
        return document.entries
    }

    /// Like `load`, but collects every error (syntax, includes, trust) instead of stopping at the first.
    public static func loadDocument(path: String) -> ConfigDocument {
        var document = ConfigDocument()
        do {
            try load(file: path, includedAt: nil, chain: [], into: &document)
        } catch let error as ConfigError {
            document.errors.append(error)
            document.readable = false
        } catch {
            document.errors.append(ConfigError("cannot read config file \(path): \(error)", at: nil))
            document.readable = false
        }
        return document
    }

    /// nil → true; true/yes/on/1; false/no/off/0/"" (case-insensitive).
    public static func parseBool(_ value: String?, at location: SourceLocation) throws -> Bool {
        guard let value else { return true }  // a bare key is git's way of writing true
        switch value.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0", "": return false
        default:
            throw ConfigError("invalid boolean \"\(value)\"", at: location, hint: "use true or false")
        }
    }

    /// Seconds, from "90", "90s", "15m", "1h", "2d" or a largest-unit-first mix such as "1h30m".
    public static func parseDuration(_ value: String?, at location: SourceLocation) throws -> Int {
        let hint = "write seconds or a number with a unit, such as 90s, 15m, 1h30m or 2d"
        guard let value else { throw ConfigError("missing duration", at: location, hint: hint) }
        if value.hasPrefix("-") {
            throw ConfigError("negative duration \"\(value)\"", at: location, hint: hint)
        }
        let invalid = ConfigError("invalid duration \"\(value)\"", at: location, hint: hint)
        let tooLarge = ConfigError("duration \"\(value)\" is too large", at: location, hint: hint)
        let bytes = Array(value.utf8)
        guard !bytes.isEmpty else { throw invalid }
        if bytes.allSatisfy(isDigit) {
            guard let seconds = Int(value) else { throw tooLarge }
            return seconds
        }

        // Largest unit first and each at most once, so "30m1h" or "1m1m" is caught as a typo.
        let units: [(unit: UInt8, seconds: Int)] = [
            (UInt8(ascii: "d"), 86_400), (UInt8(ascii: "h"), 3_600),
            (UInt8(ascii: "m"), 60), (UInt8(ascii: "s"), 1),
        ]
        var total = 0
        var index = 0
        var nextAllowedUnit = 0
        while index < bytes.count {
            let digitsStart = index
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            guard index > digitsStart, index < bytes.count,
                  let unitIndex = units.firstIndex(where: { $0.unit == bytes[index] }),
                  unitIndex >= nextAllowedUnit
            else { throw invalid }
            guard let amount = Int(String(decoding: bytes[digitsStart..<index], as: UTF8.self)) else {
                throw tooLarge
            }
            let (scaled, overflowA) = amount.multipliedReportingOverflow(by: units[unitIndex].seconds)
            let (sum, overflowB) = total.addingReportingOverflow(scaled)
            guard !overflowA, !overflowB else { throw tooLarge }
            total = sum
            nextAllowedUnit = unitIndex + 1
            index += 1
        }
        return total
    }

    /// An integer with git's optional k/m/g (×1024) suffix.
    public static func parseInt(_ value: String?, at location: SourceLocation) throws -> Int {
        let hint = "write an integer, optionally followed by k, m or g"
        guard let value else { throw ConfigError("missing number", at: location, hint: hint) }
        let invalid = ConfigError("invalid number \"\(value)\"", at: location, hint: hint)
        let outOfRange = ConfigError("number \"\(value)\" is out of range", at: location, hint: hint)

        var number = Substring(value)
        var factor = 1
        switch number.last.map({ $0.lowercased() }) {
        case "k": factor = 1 << 10
        case "m": factor = 1 << 20
        case "g": factor = 1 << 30
        default: break
        }
        if factor != 1 { number = number.dropLast() }
        let digits = number.first == "-" || number.first == "+" ? number.dropFirst() : number
        guard !digits.isEmpty, digits.utf8.allSatisfy(isDigit) else { throw invalid }
        guard let parsed = Int(number) else { throw outOfRange }
        let (scaled, overflow) = parsed.multipliedReportingOverflow(by: factor)
        guard !overflow else { throw outOfRange }
        return scaled
    }
}

// MARK: - Includes

extension ConfigSyntax {
    /// A file on the include stack: `shown` is what errors print, `canonical` is what cycle
    /// detection compares, so `a.conf` and `./a.conf` are the same file.
    private struct OpenFile {
        let shown: String
        let canonical: String
    }

    /// Appends one file's entries to `document`, following includes. Throws only when the file
    /// itself cannot be used; an include that cannot is recorded at its line and skipped.
    private static func load(file: String, includedAt: SourceLocation?, chain: [OpenFile], into document: inout ConfigDocument) throws {
        let text = try readText(of: file, includedAt: includedAt)
        try checkTrusted(file, includedAt: includedAt)
        let current = OpenFile(shown: file, canonical: canonicalPath(file))
        if let start = chain.firstIndex(where: { $0.canonical == current.canonical }) {
            let loop = (chain[start...].map(\.shown) + [current.shown]).joined(separator: " -> ")
            throw ConfigError("include cycle: \(loop)", at: includedAt, hint: "remove one of these includes")
        }
        let chain = chain + [current]
        if chain.count > maxIncludeDepth + 1 {
            throw ConfigError("includes nest deeper than \(maxIncludeDepth) levels", at: includedAt,
                              hint: "flatten the include chain")
        }

        let parsed = parseDocument(text: text, file: file)
        document.errors += parsed.errors
        document.headers += parsed.headers.filter { !($0.section == "include" && $0.subsection == nil) }
        for entry in parsed.entries {
            guard entry.section == "include", entry.subsection == nil, entry.key == "path" else {
                document.entries.append(entry)
                continue
            }
            do {
                let target = try includeTarget(entry.value, from: file, at: entry.location)
                try load(file: target, includedAt: entry.location, chain: chain, into: &document)
            } catch let error as ConfigError {
                document.errors.append(error)
            }
        }
    }

    private static func readText(of file: String, includedAt: SourceLocation?) throws -> String {
        let what = includedAt == nil ? "config file" : "included file"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) else {
            throw ConfigError("\(what) \(file) does not exist", at: includedAt,
                              hint: includedAt == nil ? nil : "fix the include path or create the file")
        }
        guard !isDirectory.boolValue, let data = FileManager.default.contents(atPath: file) else {
            throw ConfigError("cannot read \(what) \(file)", at: includedAt)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError("\(what) \(file) is not valid utf-8", at: includedAt)
        }
        return text
    }

    /// D14, ssh's rule for its own config: a file another user could have written (not owned by
    /// us or root, writable by group or others, or under such a directory up to HOME — or up to
    /// `/` outside HOME) is refused with the command that fixes it. Root-owned sticky
    /// directories such as /tmp are passed over: others may add files there, not replace ours.
    static func checkTrusted(_ file: String, includedAt: SourceLocation?) throws {
        let what = includedAt == nil ? "config file" : "included file"
        let me = geteuid()
        func check(_ path: String, _ shown: String) throws {
            var st = stat()
            guard stat(path, &st) == 0 else { return }  // reading it reports what is wrong
            let isDirectory = st.st_mode & S_IFMT == S_IFDIR
            if isDirectory, st.st_uid == 0, st.st_mode & S_ISVTX != 0 { return }
            if st.st_uid != me && st.st_uid != 0 {
                throw ConfigError("\(shown) is owned by uid \(st.st_uid), not by you (uid \(me)) or root", at: includedAt,
                                  hint: "chown \(me) \(path)")
            }
            if st.st_mode & 0o022 != 0 {
                throw ConfigError("\(shown) is writable by group or others", at: includedAt, hint: "chmod go-w \(path)")
            }
        }
        try check(file, "\(what) \(file)")
        let home = getenv("HOME").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        let homes = Set([home, home.map(canonicalPath)].compactMap { $0 })
        // The path as written and the path it resolves to: a link's own directory matters too.
        let absolute = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
        for path in Set([absolute, canonicalPath(absolute)]) {
            var directory = path
            while directory != "/" {
                directory = (directory as NSString).deletingLastPathComponent
                if directory.isEmpty { break }
                try check(directory, "directory \(directory) above \(what) \(file)")
                if homes.contains(directory) { break }
            }
        }
    }

    private static func includeTarget(_ raw: String?, from file: String, at location: SourceLocation) throws -> String {
        guard let raw, !raw.isEmpty else {
            throw ConfigError("include path is empty", at: location, hint: "write path = <file>")
        }
        var path = raw
        if path == "~" || path.hasPrefix("~/") {
            guard let home = getenv("HOME").map({ String(cString: $0) }), !home.isEmpty else {
                throw ConfigError("cannot expand ~ in include path: HOME is not set", at: location)
            }
            path = home + path.dropFirst()
        } else if path.hasPrefix("~") {
            throw ConfigError("cannot expand \(path) in include path", at: location,
                              hint: "only ~/ (your own home) is supported")
        }
        guard !path.hasPrefix("/") else { return path }
        let directory = (file as NSString).deletingLastPathComponent
        return directory.isEmpty ? path : directory + "/" + path
    }

    private static func canonicalPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

// MARK: - The parser

private func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

private enum ASCII {
    static let newline = UInt8(ascii: "\n")
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")

    static func isLetter(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) }
    /// git's `iskeychar`: what section and key names are made of.
    static func isKeyChar(_ b: UInt8) -> Bool { isLetter(b) || isDigit(b) || b == UInt8(ascii: "-") }
    /// Newline is handled separately everywhere, because it ends values and headers.
    static func isBlank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D }
    static func isCommentStart(_ b: UInt8) -> Bool { b == UInt8(ascii: "#") || b == UInt8(ascii: ";") }
    /// What `parseValue` must interpret rather than copy: line ends, blanks, quotes, escapes, comments.
    static func needsValueParsing(_ b: UInt8) -> Bool {
        b == newline || isBlank(b) || b == quote || b == backslash || isCommentStart(b)
    }
}

/// A hand-written scanner modelled on git's `config.c`, over the file's UTF-8 bytes: every byte
/// the grammar looks at is ASCII, and a multi-byte scalar is copied whole, so slicing at ASCII
/// bytes always yields valid UTF-8 (the text came from a `String`). "\r\n" is read as "\n".
private struct Parser {
    private let bytes: [UInt8]
    private let file: String
    private var position = 0
    private var line = 1
    private var section: (name: String, subsection: String?)?
    /// Set after a bad header: its keys belong to no section we know and are passed over quietly.
    private var inBadSection = false
    private(set) var entries: [ConfigEntry] = []
    private(set) var headers: [ConfigSectionHeader] = []
    private(set) var errors: [ConfigError] = []
    /// Reused for every value, so a line costs no buffer of its own.
    private var scratch: [UInt8] = []

    init(text: String, file: String) {
        self.file = file
        var text = text
        let bytes: [UInt8] = text.withUTF8 { source in
            // Nearly every file has neither a byte-order mark nor a carriage return: one copy.
            if !source.starts(with: [0xEF, 0xBB, 0xBF]), source.isEmpty || memchr(source.baseAddress!, 0x0D, source.count) == nil {
                return Array(source)
            }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(source.count)
            var index = 0
            if source.count >= 3, source[0] == 0xEF, source[1] == 0xBB, source[2] == 0xBF { index = 3 }
            while index < source.count {
                let b = source[index]
                if b == 0x0D, index + 1 < source.count, source[index + 1] == ASCII.newline {
                    index += 1
                    continue
                }
                bytes.append(b)
                index += 1
            }
            return bytes
        }
        self.bytes = bytes
    }

    private var here: SourceLocation { SourceLocation(file: file, line: line) }
    private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    /// The whole scalar starting at `position`, for messages that quote a character.
    private func scalarText(at index: Int) -> String {
        var end = index + 1
        while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
        return String(decoding: bytes[index..<end], as: UTF8.self)
    }

    private mutating func advance() {
        if bytes[position] == ASCII.newline { line += 1 }
        position += 1
    }

    private mutating func skipBlanks() {
        while position < bytes.count, ASCII.isBlank(bytes[position]) { position += 1 }
    }

    private mutating func skipRestOfLine() {
        while position < bytes.count, bytes[position] != ASCII.newline { position += 1 }
    }

    /// Reads to the end; a line with an error is recorded and skipped, and reading goes on.
    mutating func run() {
        while let c = current {
            if c == ASCII.newline || ASCII.isBlank(c) {
                advance()
            } else if ASCII.isCommentStart(c) {
                skipRestOfLine()
            } else if c == UInt8(ascii: "[") {
                // Like git, a header may share its line with a key: `[core] bare`.
                let start = here
                do {
                    let header = try parseHeader()
                    section = header
                    inBadSection = false
                    headers.append(ConfigSectionHeader(section: header.name, subsection: header.subsection, location: start))
                } catch let error as ConfigError {
                    errors.append(error)
                    section = nil
                    inBadSection = true
                    skipRestOfLine()
                } catch {}
            } else if inBadSection {
                skipRestOfLine()
            } else {
                do { try parseEntry() } catch let error as ConfigError {
                    errors.append(error)
                    skipRestOfLine()
                } catch {}
            }
        }
    }

    // MARK: Section headers

    private func badHeader(_ reason: String, at location: SourceLocation) -> ConfigError {
        ConfigError("bad section header: \(reason)", at: location,
                    hint: "write [section] or [section \"subsection\"]")
    }

    private mutating func parseHeader() throws -> (name: String, subsection: String?) {
        let start = here
        advance()  // "["
        let nameStart = position
        var dot: Int?
        while true {
            guard let c = current, c != ASCII.newline else { throw badHeader("missing ']'", at: start) }
            if c == UInt8(ascii: "]") { break }
            if c == 0x20 || c == 0x09 {
                let name = lowered(nameStart..<position)
                advance()
                return try parseExtendedHeader(name: name, hasDot: dot != nil, start: start)
            }
            guard ASCII.isKeyChar(c) || c == UInt8(ascii: ".") else {
                throw badHeader("'\(scalarText(at: position))' is not allowed in a section name", at: start)
            }
            if c == UInt8(ascii: "."), dot == nil { dot = position }
            advance()
        }
        let nameEnd = position
        advance()  // "]"

        // Legacy `[section.subsection]`: git lower-cases the whole header, subsection included.
        guard let dot else {
            guard nameEnd > nameStart else { throw badHeader("empty section name", at: start) }
            return (lowered(nameStart..<nameEnd), nil)
        }
        guard dot > nameStart, nameEnd > dot + 1 else {
            throw badHeader("empty name around '.'", at: start)
        }
        return (lowered(nameStart..<dot), lowered(dot + 1..<nameEnd))
    }

    /// ASCII lower-casing is all `String.lowercased()` changes in a name made of key characters.
    private func lowered(_ range: Range<Int>) -> String {
        String(unsafeUninitializedCapacity: range.count) { buffer in
            for (offset, index) in range.enumerated() { buffer[offset] = bytes[index].asciiLowercased }
            return range.count
        }
    }

    private mutating func parseExtendedHeader(name: String, hasDot: Bool, start: SourceLocation) throws -> (name: String, subsection: String?) {
        guard !name.isEmpty else { throw badHeader("empty section name", at: start) }
        // `[a.b "c"]` mixes both spellings; git half-accepts it, we refuse the ambiguity.
        guard !hasDot else {
            throw badHeader("a section with a quoted subsection cannot contain '.'", at: start)
        }
        skipBlanks()
        guard current == ASCII.quote else { throw badHeader("the subsection must be in double quotes", at: start) }
        advance()
        scratch.removeAll(keepingCapacity: true)
        while true {
            guard var c = current, c != ASCII.newline else { throw badHeader("missing closing quote", at: start) }
            advance()
            if c == ASCII.quote { break }
            if c == ASCII.backslash {
                // git keeps the escaped character and drops the backslash, whatever it escapes.
                guard let escaped = current, escaped != ASCII.newline else {
                    throw badHeader("missing closing quote", at: start)
                }
                advance()
                c = escaped
            }
            scratch.append(c)
        }
        guard current == UInt8(ascii: "]") else {
            throw badHeader("expected ']' right after the closing quote", at: start)
        }
        advance()
        return (name, String(decoding: scratch, as: UTF8.self))
    }

    // MARK: Entries

    private mutating func parseEntry() throws {
        let start = here
        let tokenStart = position
        while let c = current, !ASCII.isBlank(c), c != ASCII.newline, c != UInt8(ascii: "="), !ASCII.isCommentStart(c) {
            position += 1
        }
        let tokenRange = tokenStart..<position
        guard !tokenRange.isEmpty else {
            throw ConfigError("expected a key or a [section] header", at: start, hint: "write key = value")
        }
        guard ASCII.isLetter(bytes[tokenStart]), bytes[tokenRange].allSatisfy(ASCII.isKeyChar) else {
            let token = String(decoding: bytes[tokenRange], as: UTF8.self)
            throw ConfigError("invalid key name \"\(token)\"", at: start,
                              hint: "a key starts with a letter and holds only letters, digits and '-'")
        }
        guard let section else {
            let token = String(decoding: bytes[tokenRange], as: UTF8.self)
            throw ConfigError("key \"\(token)\" is outside any section", at: start,
                              hint: "put it under a [section] header")
        }

        skipBlanks()
        var value: String?
        switch current {
        case nil, ASCII.newline?:
            value = nil
        case let c? where ASCII.isCommentStart(c):
            // git rejects `flag # note`; nothing is ambiguous about it, so we allow it.
            skipRestOfLine()
            value = nil
        case UInt8(ascii: "=")?:
            advance()
            value = try parseValue()
        default:
            let token = String(decoding: bytes[tokenRange], as: UTF8.self)
            throw ConfigError("expected '=' after key \"\(token)\"", at: start, hint: "write key = value")
        }
        entries.append(ConfigEntry(section: section.name, subsection: section.subsection,
                                   key: lowered(tokenRange), value: value, location: start))
    }

    /// Everything after `=` up to the end of the logical line, following git's `parse_value`
    /// except that whitespace runs outside quotes collapse to one space.
    private mutating func parseValue() throws -> String {
        // A value of plain characters up to the end of its line (`kind = static`, a path, a URL)
        // is the bytes as written, taken without a copy into `scratch`.
        var start = position
        while start < bytes.count, ASCII.isBlank(bytes[start]) { start += 1 }
        var end = start
        while end < bytes.count, !ASCII.needsValueParsing(bytes[end]) { end += 1 }
        if end == bytes.count || bytes[end] == ASCII.newline {
            position = end
            return String(decoding: bytes[start..<end], as: UTF8.self)
        }
        scratch.removeAll(keepingCapacity: true)
        var inQuotes = false
        var inComment = false
        // A space is only written once something follows it, which is what trims the end.
        var pendingSpace = false

        func append(_ c: UInt8) {
            if pendingSpace { scratch.append(0x20) }
            pendingSpace = false
            scratch.append(c)
        }

        while true {
            guard let c = current, c != ASCII.newline else {
                if inQuotes {
                    throw ConfigError("unterminated quote", at: here, hint: "close the value with \"")
                }
                return String(decoding: scratch, as: UTF8.self)
            }
            advance()
            if inComment { continue }
            if !inQuotes, ASCII.isBlank(c) {
                if !scratch.isEmpty { pendingSpace = true }
                continue
            }
            if !inQuotes, ASCII.isCommentStart(c) {
                inComment = true
                continue
            }
            if c == ASCII.backslash {
                let escapeLine = here
                guard let escaped = current else { continue }  // a final backslash continues into nothing
                let escapedText = escaped < 0x80 ? "" : scalarText(at: position)
                advance()
                switch escaped {
                case ASCII.newline: continue  // continuation; the next line's indentation becomes one space
                case UInt8(ascii: "n"): append(ASCII.newline)
                case UInt8(ascii: "t"): append(0x09)
                case UInt8(ascii: "b"): append(0x08)
                case ASCII.backslash, ASCII.quote: append(escaped)
                default:
                    let shown = escaped < 0x80 ? String(UnicodeScalar(escaped)) : escapedText
                    throw ConfigError("invalid escape \"\\\(shown)\"", at: escapeLine,
                                      hint: "only \\\", \\\\, \\n, \\t and \\b are escapes; write \\\\ for a backslash")
                }
                continue
            }
            if c == ASCII.quote {
                // Flushing here keeps the space in `a ""`, as git does.
                if pendingSpace { scratch.append(0x20) }
                pendingSpace = false
                inQuotes.toggle()
                continue
            }
            append(c)
        }
    }
}
