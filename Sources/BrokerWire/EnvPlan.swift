// The steps of an env.plan answer: wire vocabulary the agent writes and broker-env-wrap reads.

/// How an AWS identity reaches a wrapped command: the loopback credentials endpoint, static keys
/// in the environment, or a generated AWS profile (`--delivery`, an identity's `delivery`).
public enum EnvDelivery: String, CaseIterable, Sendable { case endpoint, env, profile }

/// What the agent wants changed in a wrapped command's environment, in order. The plan never
/// carries a whole environment: the caller's other variables stay exactly as they were.
public struct EnvPlan: Equatable, Sendable {
    public enum Step: Equatable, Sendable {
        /// `secret` marks values that must be masked (GitHub) and never echoed.
        case set(String, String, secret: Bool)
        case unset(String)
        /// One more `GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n` pair after any the caller already has.
        case gitConfig(key: String, value: String)
    }

    public var steps: [Step]

    public init(_ steps: [Step] = []) { self.steps = steps }

    /// The answer's fields, in order: `set=NAME=VALUE`, `secret=NAME=VALUE`, `unset=NAME`, and
    /// `git_key=KEY` followed by its `git_value=VALUE` (a git key may itself hold `=`).
    public var fields: [WireMessage.Field] {
        steps.flatMap { step -> [WireMessage.Field] in
            switch step {
            case .set(let name, let value, let secret): return [.init(secret ? "secret" : "set", "\(name)=\(value)")]
            case .unset(let name): return [.init("unset", name)]
            case .gitConfig(let key, let value): return [.init("git_key", key), .init("git_value", value)]
            }
        }
    }

    /// Reads the plan out of an agent answer, refusing anything that is not a plain variable name.
    public init(answer: WireMessage) throws {
        var steps: [Step] = []
        var pendingGitKey: String?
        for field in answer.fields {
            switch field.key {
            case "set", "secret":
                guard let eq = field.value.firstIndex(of: "=") else { throw Self.malformed }
                let name = String(field.value[..<eq])
                try Self.checkName(name)
                steps.append(.set(name, String(field.value[field.value.index(after: eq)...]), secret: field.key == "secret"))
            case "unset":
                try Self.checkName(field.value)
                steps.append(.unset(field.value))
            case "git_key":
                guard pendingGitKey == nil, !field.value.isEmpty else { throw Self.malformed }
                pendingGitKey = field.value
            case "git_value":
                guard let key = pendingGitKey else { throw Self.malformed }
                steps.append(.gitConfig(key: key, value: field.value))
                pendingGitKey = nil
            default:
                continue  // status, notes: not part of the plan
            }
        }
        guard pendingGitKey == nil else { throw Self.malformed }
        self.steps = steps
    }

    static let malformed = BrokerFailure(.internal, "broker-agent sent a malformed environment plan")

    /// A name a shell can export: a letter or `_`, then letters, digits and `_`.
    public static func isVariableName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(48...57).contains(first) else { return false }
        return name.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 }
    }

    static func checkName(_ name: String) throws {
        guard isVariableName(name) else { throw malformed }
    }

    /// The environment a wrapped command gets: `environment` with the plan's steps applied in
    /// order. Pure: the same input always gives the same output.
    public func applied(to environment: [String: String]) throws -> [String: String] {
        var result = environment
        for step in steps {
            switch step {
            case .set(let name, let value, _):
                result[name] = value
            case .unset(let name):
                result.removeValue(forKey: name)
            case .gitConfig(let key, let value):
                // Append after the caller's own entries, as git reads them in order.
                let count: Int
                if let text = result["GIT_CONFIG_COUNT"], !text.isEmpty {
                    guard let n = Int(text), n >= 0 else {
                        throw BrokerFailure(.input, "GIT_CONFIG_COUNT is \"\(WireCodec.printable(text))\", not a count",
                                            hint: "unset it or fix it; git refuses it too")
                    }
                    count = n
                } else {
                    count = 0
                }
                result["GIT_CONFIG_KEY_\(count)"] = key
                result["GIT_CONFIG_VALUE_\(count)"] = value
                result["GIT_CONFIG_COUNT"] = String(count + 1)
            }
        }
        return result
    }
}

/// POSIX single quotes, the one quoting rule for shell text we write: everything literal; a quote
/// is closed, escaped and reopened (`'it'\''s'`). With `leavingPlainTextBare`, text of only
/// letters, digits and `/._-+=:,@` is written as it is (helper command lines stay readable).
public func shellQuoted(_ text: String, leavingPlainTextBare: Bool = false) -> String {
    if leavingPlainTextBare && text.allSatisfy({ $0.isLetter || $0.isNumber || "/._-+=:,@".contains($0) }) { return text }
    var out = "'"
    for c in text { if c == "'" { out += "'\\''" } else { out.append(c) } }
    return out + "'"
}
