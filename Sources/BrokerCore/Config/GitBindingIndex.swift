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
        var host = Substring(requestHost.lowercased())
        if let colon = host.lastIndex(of: ":"), !host.hasSuffix("]") { host = host[..<colon] }
        let named = exact[String(host)] ?? []
        guard !wildcard.isEmpty, let dot = host.firstIndex(of: ".") else { return named }
        let starred = wildcard[String(host[host.index(after: dot)...])] ?? []
        if starred.isEmpty { return named }
        if named.isEmpty { return starred }
        return (named + starred).sorted()
    }
}
