// Small name and graph helpers the config layer uses to explain mistakes: typo suggestions and cycles.

/// "did you mean": the closest candidate within edit distance ≤ 2 (case-insensitive), or nil.
/// Ties go to the earlier candidate, so callers control the preference by ordering. A candidate
/// that shares nothing with the word (every character replaced, as in "ab" → "cd") is never
/// suggested: at that point the suggestion is noise, not a correction.
public func closestMatch(to word: String, among candidates: [String]) -> String? {
    let target = Array(word.lowercased())
    var best: (candidate: String, distance: Int)?
    for candidate in candidates {
        let other = Array(candidate.lowercased())
        let distance = editDistance(target, other)
        guard distance <= 2, distance < max(target.count, other.count) else { continue }
        if best == nil || distance < best!.distance {
            best = (candidate, distance)
        }
    }
    return best?.candidate
}

/// Optimal-string-alignment Damerau–Levenshtein distance: a swapped pair of neighbouring
/// letters ("identiyt") counts as one typo, as a person would count it.
private func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { table[i][0] = i }
    for j in 0...b.count { table[0][j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            var best = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                best = min(best, table[i - 2][j - 2] + 1)
            }
            table[i][j] = best
        }
    }
    return table[a.count][b.count]
}

/// The first cycle found in a directed graph, as a path that starts and ends at the same node,
/// e.g. ["a","b","a"]; nil if acyclic. Nodes and their edges are both visited in sorted order so
/// the same configuration always reports the same cycle. Nodes that appear only as edge targets
/// are treated as having no edges.
public func findCycle(in graph: [String: [String]]) -> [String]? {
    enum Mark { case onPath, finished }
    var marks: [String: Mark] = [:]
    var path: [String] = []

    func visit(_ node: String) -> [String]? {
        marks[node] = .onPath
        path.append(node)
        for next in (graph[node] ?? []).sorted() {
            switch marks[next] {
            case .onPath:
                let start = path.lastIndex(of: next)!
                return Array(path[start...]) + [next]
            case .finished:
                continue
            case nil:
                if let cycle = visit(next) { return cycle }
            }
        }
        marks[node] = .finished
        path.removeLast()
        return nil
    }

    for node in graph.keys.sorted() where marks[node] == nil {
        if let cycle = visit(node) { return cycle }
    }
    return nil
}
