// `[git "URL"]` bindings by host and by identity: a request reads the few bindings for its host.

/// Positions in `BrokerConfig.gitBindings`, so finding a request's binding costs the same with
/// ten bindings as with ten thousand. A pattern is filed under its host (lower-cased, without
/// port); a `*.example.com` pattern under `example.com`, where a request for `a.example.com`
/// looks for it. `GitURLPattern.specificity` still decides whether a candidate matches.
struct GitBindingIndex: Sendable {
    private var exact: [String: [Int]] = [:]
    private var wildcard: [String: [Int]] = [:]
    private(set) var byIdentity: [String: [Int]] = [:]

    init(_ bindings: [GitBinding]) {
        for (position, binding) in bindings.enumerated() {
            let labels = binding.pattern.hostLabels
            if labels.first == "*" {
                wildcard[labels.dropFirst().joined(separator: "."), default: []].append(position)
            } else {
                exact[labels.joined(separator: "."), default: []].append(position)
            }
            byIdentity[binding.identity, default: []].append(position)
        }
    }

    /// The bindings that could match a request for `host` (as git sends it: any case, maybe a
    /// port), in file order.
    func candidates(host requestHost: String) -> [Int] {
        if exact.isEmpty && wildcard.isEmpty { return [] }
        let host = Self.hostKey(requestHost)
        let named = exact[host] ?? []
        guard !wildcard.isEmpty, let dot = host.utf8.firstIndex(of: UInt8(ascii: ".")) else { return named }
        let starred = wildcard[String(host[host.utf8.index(after: dot)...])] ?? []
        if starred.isEmpty { return named }
        if named.isEmpty { return starred }
        return (named + starred).sorted()
    }

    /// The host lower-cased, without its port: as `GitURLPattern.specificity` sees it, with
    /// ASCII (every host a pattern can name) lower-cased byte by byte.
    static func hostKey(_ requestHost: String) -> String {
        // As git sends it nearly always: lower-case ASCII without a port, which is its own key.
        var host = requestHost
        let plain = host.withUTF8 { bytes in
            bytes.allSatisfy { $0 < 0x80 && $0 != UInt8(ascii: ":") && !($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) }
        }
        if plain { return requestHost }
        var bytes = Array(requestHost.utf8)
        guard bytes.allSatisfy({ $0 < 0x80 }) else {
            var host = Substring(requestHost.lowercased())
            if let colon = host.lastIndex(of: ":"), !host.hasSuffix("]") { host = host[..<colon] }
            return String(host)
        }
        for i in bytes.indices where bytes[i] >= UInt8(ascii: "A") && bytes[i] <= UInt8(ascii: "Z") { bytes[i] += 32 }
        if bytes.last != UInt8(ascii: "]"), let colon = bytes.lastIndex(of: UInt8(ascii: ":")) { bytes.removeSubrange(colon...) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
