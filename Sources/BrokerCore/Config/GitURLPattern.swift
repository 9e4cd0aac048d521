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
