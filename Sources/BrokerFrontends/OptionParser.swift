// Parses a command line by the catalog's own option declarations, so the table that documents an
// option is the one that accepts it (git's `struct option[]` drives parse_options and the usage).

import BrokerWire

/// What a command line said, by the options' long names.
public struct ParsedOptions: Equatable, Sendable {
    /// The flags given (`--all`).
    public var flags: Set<String> = []
    /// The last value given to each option that takes one (`--tail` → `5`).
    public var values: [String: String] = [:]
    /// Every value given to each option, in order, for options that may repeat (`--set`).
    public var lists: [String: [String]] = [:]
    public var positionals: [String] = []

    public init() {}
}

extension Subcommand {
    /// Parses `arguments` against `options` and `positionals`: `--name VALUE` or `--name=VALUE`
    /// for an option with a value (one of its `.choices`, when it has them), `--name` alone for a
    /// flag; more positionals than declared is a usage error.
    public func parse(_ arguments: [String]) throws -> ParsedOptions {
        var parsed = ParsedOptions()
        var rest = arguments[...]
        while let arg = rest.popFirst() {
            guard arg.hasPrefix("-") else {
                parsed.positionals.append(arg)
                continue
            }
            let name = arg.split(separator: "=", maxSplits: 1).first.map(String.init) ?? arg
            guard let option = options.first(where: { $0.long == name }), option.value != nil || name == arg else {
                throw BrokerFailure(.usage, "unknown option \(WireCodec.printable(arg))")
            }
            guard option.value != nil else {
                parsed.flags.insert(option.long)
                continue
            }
            let value = name == arg ? rest.popFirst() : String(arg.dropFirst(name.count + 1))
            if case .choices(let choices) = option.completion {
                guard let value, choices.contains(value) else {
                    throw BrokerFailure(.usage, "\(option.long) takes \(Self.alternatives(choices))")
                }
            }
            guard let value else { throw BrokerFailure(.usage, "\(option.long) needs a value") }
            parsed.values[option.long] = value
            parsed.lists[option.long, default: []].append(value)
        }
        if parsed.positionals.count > positionals.count {
            throw BrokerFailure(.usage, "unexpected argument \(WireCodec.printable(parsed.positionals[positionals.count]))")
        }
        return parsed
    }

    /// `table or json`, `a, b or c`.
    static func alternatives(_ words: [String]) -> String {
        guard words.count > 1 else { return words.first ?? "" }
        return words.dropLast().joined(separator: ", ") + " or " + words[words.count - 1]
    }
}
