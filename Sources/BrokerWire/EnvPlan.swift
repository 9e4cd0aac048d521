// The steps of an env.plan answer: wire vocabulary the agent writes and broker-env-wrap reads.

/// How an AWS identity reaches a wrapped command: the loopback credentials endpoint, static keys
/// in the environment, or a generated AWS profile (`--delivery`, an identity's `delivery`).
public enum EnvDelivery: String, CaseIterable, Sendable { case endpoint, env, profile, file }

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
                guard Self.isAllowedExport(name) else {
                    throw BrokerFailure(.denied, "broker-agent asked to set \(name), which changes how shells, the dynamic loader or git run programs; refused")
                }
                steps.append(.set(name, String(field.value[field.value.index(after: eq)...]), secret: field.key == "secret"))
            case "unset":
                try Self.checkName(field.value)
                steps.append(.unset(field.value))
            case "git_key":
                guard pendingGitKey == nil, !field.value.isEmpty else { throw Self.malformed }
                pendingGitKey = field.value
            case "git_value":
                guard let key = pendingGitKey else { throw Self.malformed }
                guard Self.isBrokerGitConfig(key: key, value: field.value) else {
                    throw BrokerFailure(.denied, "broker-agent asked to set git config \(WireCodec.printable(key)), which is not the broker's own credential helper; refused")
                }
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

    /// Names that change how a shell, the dynamic loader, an interpreter or git runs programs.
    /// Neither a config's `env = NAME` nor an agent's plan may set them (DESIGN D14): a token's
    /// value put there would be run, or would redirect what runs.
    static let codeRunningNames: Set<String> = [
        "PATH", "ENV", "BASH_ENV", "IFS", "PS4", "SHELLOPTS", "BASHOPTS", "CDPATH", "GLOBIGNORE", "PROMPT_COMMAND", "ZDOTDIR",
        "PERL5OPT", "PERL5LIB", "PERLLIB", "PYTHONSTARTUP", "PYTHONPATH", "PYTHONHOME", "NODE_OPTIONS", "NODE_PATH",
        "RUBYOPT", "RUBYLIB", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "GCONV_PATH", "LOCPATH", "NLSPATH",
        "GIT_SSH", "GIT_SSH_COMMAND", "GIT_ASKPASS", "SSH_ASKPASS", "GIT_EXEC_PATH", "GIT_EDITOR", "GIT_SEQUENCE_EDITOR",
        "GIT_PAGER", "GIT_PROXY_COMMAND", "GIT_EXTERNAL_DIFF", "GIT_TEMPLATE_DIR", "GIT_DIR", "GIT_WORK_TREE", "EDITOR", "VISUAL", "PAGER",
    ]
    static let codeRunningPrefixes = ["LD_", "DYLD_", "BASH_FUNC_", "GIT_CONFIG", "GIT_TRACE"]

    /// A plain variable name that does not change how programs run: what `env = NAME` may name
    /// and what broker-env-wrap applies from a plan. The broker's own `GIT_CONFIG_*` entries
    /// travel as `git_key`/`git_value` steps, checked by `isBrokerGitConfig`.
    public static func isAllowedExport(_ name: String) -> Bool {
        isVariableName(name) && !codeRunningNames.contains(name) && !codeRunningPrefixes.contains { name.hasPrefix($0) }
    }

    /// The only git configuration the broker writes: `credential.<url>.helper` (empty, or the
    /// absolute path of git-credential-broker, shell-quoted) and `credential.<url>.useHttpPath`.
    public static func isBrokerGitConfig(key: String, value: String) -> Bool {
        let lower = key.lowercased()
        guard lower.hasPrefix("credential.") else { return false }
        if lower.hasSuffix(".usehttppath") { return value == "true" }
        guard lower.hasSuffix(".helper") else { return false }
        if value.isEmpty { return true }
        let quoted = value.count > 2 && value.hasPrefix("'") && value.hasSuffix("'")
        let path = quoted ? String(value.dropFirst().dropLast()) : value
        let plain = path.allSatisfy { $0.isLetter || $0.isNumber || "/._-+=:,@".contains($0) }
        return path.hasPrefix("/") && path.hasSuffix("/git-credential-broker") && !path.contains("'") && (quoted || plain)
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
