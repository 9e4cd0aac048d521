// `[git "<url>"]` patterns matched the way git matches `credential.<url>.*` (urlmatch).

import BrokerWire

public struct GitURLPattern: Sendable, Equatable, CustomStringConvertible {
    public var scheme: String
    /// Lower-cased host labels; a leading "*" label matches exactly one label, as in git.
    public var hostLabels: [String]
    /// Explicit port, or nil for the scheme's default.
    public var port: String?
    /// Path without leading or trailing slashes; empty for a host-wide binding.
    public var path: String
    public var text: String

    public var description: String { text }

    public init(_ text: String, at location: SourceLocation) throws {
        self = try Self.plain(text) ?? GitURLPattern(general: text, at: location)
    }

    /// Any pattern, Character by Character, with the error that says what is wrong with it.
    init(general text: String, at location: SourceLocation) throws {
        self.text = text
        guard let schemeEnd = Self.schemeSeparator(in: text) else {
            throw ConfigError("git binding \"\(text)\" is not a URL", at: location, hint: "write it as https://host/path")
        }
        scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard let first = scheme.unicodeScalars.first, ("a"..."z").contains(first),
              scheme.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || "+-.".unicodeScalars.contains($0) })
        else {
            throw ConfigError("git binding \"\(WireCodec.printable(text))\" has a bad scheme", at: location, hint: "write it as https://host/path")
        }
        var rest = text[schemeEnd.upperBound...]
        if let at = rest.firstIndex(of: "@"), rest[..<at].firstIndex(of: "/") == nil {
            throw ConfigError("git binding \"\(text)\" has a user part; bind identities by host and path", at: location)
        }
        let hostPart: Substring
        if let slash = rest.firstIndex(of: "/") {
            hostPart = rest[..<slash]
            rest = rest[rest.index(after: slash)...]
        } else {
            hostPart = rest
            rest = ""
        }
        var host = hostPart
        port = nil
        if let colon = hostPart.lastIndex(of: ":"), !hostPart.hasSuffix("]") {
            port = String(hostPart[hostPart.index(after: colon)...])
            host = hostPart[..<colon]
            if port!.isEmpty || port!.count > 5 || !port!.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }) || Int(port!)! > 65535 {
                throw ConfigError("git binding \"\(WireCodec.printable(text))\" has a bad port", at: location)
            }
        }
        if host.isEmpty { throw ConfigError("git binding \"\(WireCodec.printable(text))\" has no host", at: location) }
        hostLabels = host.lowercased().split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if hostLabels.dropFirst().contains(where: { $0.contains("*" as Character) }) || (hostLabels[0].contains("*" as Character) && hostLabels[0] != "*") {
            throw ConfigError("git binding \"\(WireCodec.printable(text))\": '*' may stand only for a whole first label (*.example.com)", at: location)
        }
        // The host reaches git's config and people's terminals: a DNS name or an IP, nothing else.
        guard Self.isHost(Substring(host.lowercased())) else {
            throw ConfigError("git binding \"\(WireCodec.printable(text))\" has a bad host", at: location,
                              hint: "a host is a DNS name or an IP address, optionally after a single *. label")
        }
        let segments = rest.split(separator: "/").map(String.init)
        guard segments.allSatisfy(Self.isPathSegment) else {
            throw ConfigError("git binding \"\(WireCodec.printable(text))\" has a bad path", at: location,
                              hint: "write the path as it appears in the URL, without . or .. segments, quotes or spaces")
        }
        path = segments.joined(separator: "/")
    }

    /// A pattern of printable ASCII that is valid as written, read byte by byte: what nearly
    /// every `[git "URL"]` is. nil for anything else (other characters, IPv6, percent escapes, any
    /// mistake), which the general parser reads and explains. Validating 10,000 bindings spent a
    /// third of its time in that parser's Character-by-Character work.
    static func plain(_ text: String) -> GitURLPattern? {
        var bytes = Array(text.utf8)
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return nil }
        func lower(_ b: UInt8) -> UInt8 { b >= 65 && b <= 90 ? b + 32 : b }
        func isLowerOrDigit(_ b: UInt8) -> Bool { (b >= 97 && b <= 122) || (b >= 48 && b <= 57) }
        func string(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
        var schemeEnd = 0
        while schemeEnd + 2 < bytes.count, !(bytes[schemeEnd] == 58 && bytes[schemeEnd + 1] == 47 && bytes[schemeEnd + 2] == 47) {
            schemeEnd += 1
        }
        guard schemeEnd > 0, schemeEnd + 2 < bytes.count else { return nil }
        for i in 0..<schemeEnd { bytes[i] = lower(bytes[i]) }
        guard bytes[0] >= 97 && bytes[0] <= 122,
              bytes[0..<schemeEnd].allSatisfy({ isLowerOrDigit($0) || $0 == 43 || $0 == 45 || $0 == 46 }) else { return nil }
        let hostStart = schemeEnd + 3
        let slash = bytes[hostStart...].firstIndex(of: 47) ?? bytes.count
        guard !bytes[hostStart..<slash].contains(64) else { return nil }  // '@': a user part
        var hostEnd = slash
        var port: String?
        if let colon = bytes[hostStart..<slash].lastIndex(of: 58) {
            let digits = bytes[(colon + 1)..<slash]
            guard !digits.isEmpty, digits.count <= 5, digits.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                  let number = Int(string((colon + 1)..<slash)), number <= 65535 else { return nil }
            port = string((colon + 1)..<slash)
            hostEnd = colon
        }
        guard hostEnd > hostStart, hostEnd - hostStart <= 253 else { return nil }
        for i in hostStart..<hostEnd { bytes[i] = lower(bytes[i]) }
        // Labels of letters, digits and '-' (neither first nor last), at most 63; a first `*` label.
        var labels: [String] = []
        var labelStart = hostStart
        for i in hostStart...hostEnd where i == hostEnd || bytes[i] == 46 {
            let label = bytes[labelStart..<i]
            let wildcard = labels.isEmpty && label.count == 1 && label.first == 42 && i < hostEnd
            guard wildcard || (!label.isEmpty && label.count <= 63 && label.first != 45 && label.last != 45
                               && label.allSatisfy({ isLowerOrDigit($0) || $0 == 45 })) else { return nil }
            labels.append(string(labelStart..<i))
            labelStart = i + 1
        }
        // Path segments as written: no dot segments, escapes or characters a URL would encode.
        var segments: [String] = []
        var segmentStart = slash + 1
        if slash < bytes.count {
            for i in segmentStart...bytes.count where i == bytes.count || bytes[i] == 47 {
                let segment = bytes[segmentStart..<i]
                segmentStart = i + 1
                if segment.isEmpty { continue }
                guard !segment.allSatisfy({ $0 == 46 }) || segment.count > 2,
                      !segment.contains(where: { Self.forbiddenInPathBytes.contains($0) }) else { return nil }
                segments.append(String(decoding: segment, as: UTF8.self))
            }
        }
        return GitURLPattern(scheme: string(0..<schemeEnd), hostLabels: labels, port: port, path: segments.joined(separator: "/"), text: text)
    }

    /// Bytes `plain` leaves to the general parser inside a path: '%' (an escape to decode) and
    /// those `isPathSegment` refuses.
    private static let forbiddenInPathBytes = Set(Array("%\"'`\\<>^{}|;".utf8))

    private init(scheme: String, hostLabels: [String], port: String?, path: String, text: String) {
        self.scheme = scheme
        self.hostLabels = hostLabels
        self.port = port
        self.path = path
        self.text = text
    }

    /// Where the first "://" is (without Foundation's `range(of:)`, which costs more than the
    /// rest of a pattern's parsing: validating 10,000 bindings spent a quarter of its time there).
    static func schemeSeparator(in text: String) -> Range<String.Index>? {
        let utf8 = text.utf8
        var i = utf8.startIndex
        while i != utf8.endIndex {
            if utf8[i] == UInt8(ascii: ":") {
                let slash1 = utf8.index(after: i)
                if slash1 != utf8.endIndex, utf8[slash1] == UInt8(ascii: "/") {
                    let slash2 = utf8.index(after: slash1)
                    if slash2 != utf8.endIndex, utf8[slash2] == UInt8(ascii: "/") { return i..<utf8.index(after: slash2) }
                }
            }
            i = utf8.index(after: i)
        }
        return nil
    }

    /// Letters, digits and '-' in labels of at most 63 (not starting or ending with '-'), an
    /// optional leading `*` label; or an IPv6 address in brackets.
    static func isHost(_ host: Substring) -> Bool {
        if host.hasPrefix("[") {
            let inner = host.dropFirst().dropLast()
            return host.hasSuffix("]") && !inner.isEmpty
                && inner.unicodeScalars.allSatisfy { $0.properties.isASCIIHexDigit || $0 == ":" || $0 == "." }
        }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        guard host.utf8.count <= 253 else { return false }
        for (index, label) in labels.enumerated() {
            if index == 0 && label == "*" && labels.count > 1 { continue }
            guard !label.isEmpty, label.utf8.count <= 63, !label.hasPrefix("-"), !label.hasSuffix("-"),
                  label.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" })
            else { return false }
        }
        return true
    }

    /// A URL path segment as written in a URL: no dot segments, no characters a URL would
    /// have percent-encoded (spaces, quotes, controls, backslash).
    static func isPathSegment(_ segment: String) -> Bool {
        guard let decoded = GitURLPattern.percentDecoded(segment), decoded != ".", decoded != ".." else { return false }
        return segment.unicodeScalars.allSatisfy { c in
            c.value > 0x20 && c.value != 0x7f && !(0x80...0x9f).contains(c.value) && !"\"'`\\<>^{}|;".unicodeScalars.contains(c)
        }
    }

    /// A path's segments as the server will see them: split on '/', each percent-decoded (so
    /// `%2f` inside a segment stays inside it), `.` dropped and `..` resolved against what came
    /// before. nil when `..` climbs above the root or an escape is malformed.
    static func normalizedSegments(_ path: String) -> [String]? {
        var segments: [String] = []
        for raw in path.split(separator: "/") {
            guard let segment = percentDecoded(String(raw)) else { return nil }
            switch segment {
            case ".": continue
            case "..":
                guard !segments.isEmpty else { return nil }
                segments.removeLast()
            default: segments.append(segment)
            }
        }
        return segments
    }

    static func percentDecoded(_ text: String) -> String? {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard utf8.count >= 2, let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) else { return nil }
            bytes.append(value)
            utf8 = utf8.dropFirst(2)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func defaultPort(_ scheme: String) -> String? {
        switch scheme {
        case "https": return "443"
        case "http": return "80"
        case "ssh": return "22"
        default: return nil
        }
    }

    /// nil when the request does not match; otherwise a score where higher is more specific:
    /// longer path first, then exact host over wildcard (git's "most specific wins").
    public func specificity(scheme requestScheme: String, host requestHost: String, path requestPath: String?) -> Int? {
        guard requestScheme.lowercased() == scheme else { return nil }
        var host = Substring(requestHost.lowercased())
        var requestPort = GitURLPattern.defaultPort(scheme)
        if let colon = host.lastIndex(of: ":"), !host.hasSuffix("]") {
            requestPort = String(host[host.index(after: colon)...])
            host = host[..<colon]
        }
        let wantPort = port ?? GitURLPattern.defaultPort(scheme)
        guard requestPort == wantPort else { return nil }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count == hostLabels.count else { return nil }
        var wildcard = false
        for (pattern, label) in zip(hostLabels, labels) {
            // Exactly one label: `.corp.example` has an empty first one, which no host has.
            if pattern == "*" { guard !label.isEmpty else { return nil }; wildcard = true; continue }
            if pattern != label { return nil }
        }
        var pathScore = 0
        if !path.isEmpty {
            // Matched on the segments the server resolves, so `acme/../evil` is evil's path.
            guard let requestPath, let request = Self.normalizedSegments(requestPath),
                  let rule = Self.normalizedSegments(path), request.count >= rule.count
            else { return nil }
            let matches = request.prefix(rule.count).elementsEqual(rule)
                || (request.count == rule.count && request.dropLast().elementsEqual(rule.dropLast())
                    && stripGit(request[rule.count - 1]) == rule[rule.count - 1])
            guard matches else { return nil }
            pathScore = rule.count
        }
        return pathScore * 4 + (wildcard ? 0 : 2) + (port != nil ? 1 : 0)
    }

    private func stripGit(_ path: String) -> String {
        path.hasSuffix(".git") ? String(path.dropLast(4)) : path
    }
}
