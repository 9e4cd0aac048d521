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
        guard let schemeEnd = text.range(of: "://") else {
            throw ConfigError("git binding \"\(text)\" is not a URL", at: location, hint: "write it as https://host/path")
        }
        scheme = text[..<schemeEnd.lowerBound].lowercased()
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
            if port!.isEmpty || !port!.allSatisfy(\.isNumber) {
                throw ConfigError("git binding \"\(text)\" has a bad port", at: location)
            }
        }
        if host.isEmpty { throw ConfigError("git binding \"\(text)\" has no host", at: location) }
        hostLabels = host.lowercased().split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if hostLabels.dropFirst().contains(where: { $0.contains("*") }) || (hostLabels[0].contains("*") && hostLabels[0] != "*") {
            throw ConfigError("git binding \"\(text)\": '*' may stand only for a whole first label (*.example.com)", at: location)
        }
        path = rest.split(separator: "/").joined(separator: "/")
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
            if pattern == "*" { wildcard = true; continue }
            if pattern != label { return nil }
        }
        var pathScore = 0
        if !path.isEmpty {
            guard let requestPath else { return nil }
            let request = requestPath.split(separator: "/").joined(separator: "/")
            guard request == path || request.hasPrefix(path + "/") || stripGit(request) == path else { return nil }
            pathScore = path.split(separator: "/").count
        }
        return pathScore * 4 + (wildcard ? 0 : 2) + (port != nil ? 1 : 0)
    }

    private func stripGit(_ path: String) -> String {
        path.hasSuffix(".git") ? String(path.dropLast(4)) : path
    }
}
