// brokerctl: a person's window into the agent and the config; routes to one file per subcommand under Commands/.

import BrokerCore
import BrokerFrontends
import BrokerWire
import Foundation

public struct Brokerctl {
    public enum Format: String { case table, json }

    var environment: Environment
    /// The config file came from `--config`, not BROKER_CONFIG: messages must say which.
    var configFromOption = false
    private var rawOut: (String) -> Void
    private var rawErr: (String) -> Void

    public init(environment: Environment = .current, out: @escaping (String) -> Void = { print($0) },
                err: @escaping (String) -> Void = { printError($0) }) {
        self.environment = environment
        self.rawOut = out
        self.rawErr = err
    }

    /// Everything brokerctl prints for people passes here: audit targets are decoded paths
    /// from remote URLs, and an escape sequence in one must reach the terminal as `\x1b`.
    func out(_ text: String) { rawOut(WireCodec.printable(text, limit: nil, keepingLineBreaks: true)) }
    func err(_ text: String) { rawErr(WireCodec.printable(text, limit: nil, keepingLineBreaks: true)) }

    public static var usage: String { CommandCatalog.usage(for: "brokerctl") }

    /// Runs one command line; returns the exit status. Errors print one line and a hint.
    public func run(_ arguments: [String]) -> Int32 {
        var env = environment
        var fromOption = configFromOption
        var args = arguments[...]
        var early: [String] = []
        while let first = args.first {
            if first.hasPrefix("--config") {
                args.removeFirst()
                if first == "--config", let file = args.popFirst() {
                    env.values["BROKER_CONFIG"] = file
                    fromOption = true
                } else if first.hasPrefix("--config=") {
                    env.values["BROKER_CONFIG"] = String(first.dropFirst("--config=".count))
                    fromOption = true
                } else {
                    return usageError("--config needs a file")
                }
            } else if first == "--profile" || first.hasPrefix("--profile=") {
                args.removeFirst()
                let name = first == "--profile" ? args.popFirst() : String(first.dropFirst("--profile=".count))
                guard let name, !name.isEmpty else { return usageError("--profile needs a profile name") }
                env.values["BROKER_PROFILE"] = name
            } else if let option = Self.subcommandOption(first), option.value == nil || first.contains("=") || args.count > 1 {
                // A subcommand's option before it (`brokerctl --format json status`) counts as given after it.
                let words = option.value == nil || first.contains("=") ? 1 : 2
                early += args.prefix(words)
                args = args.dropFirst(words)
            } else {
                break
            }
        }
        guard let command = args.popFirst() else { return usageError("no command given") }
        args = early[...] + args
        var ctl = Brokerctl(environment: env, out: rawOut, err: rawErr)
        ctl.configFromOption = fromOption
        if args.contains("--help") || args.contains("-h"), CommandCatalog.brokerctl.subcommand(named: command) != nil {
            out(CommandCatalog.usage(for: "brokerctl \(command)"))
            return ExitStatus.success
        }
        do {
            switch command {
            case "status": return try ctl.status(Array(args))
            case "list": return try ctl.list(Array(args))
            case "validate": return try ctl.validate(Array(args))
            case "stop": return try ctl.stop(Array(args))
            case "logout": return try ctl.logout(Array(args))
            case "audit": return try ctl.audit(Array(args))
            case "git-setup": return try ctl.gitSetup(Array(args))
            case "docker-setup": return try ctl.dockerSetup(Array(args))
            case "kube-setup": return try ctl.kubeSetup(Array(args))
            case "generate-docs": return try ctl.generateDocs(Array(args))
            case "selftest": return try ctl.selfTest(Array(args))
            case "whoami": return try ctl.whoami(Array(args))
            case "login": return try ctl.login(Array(args))
            case "doctor": return try ctl.doctor(Array(args))
            case "explain", "which": return try ctl.explain(Array(args), as: command)
            case "add": return try ctl.add(Array(args))
            case "secret": return try ctl.secret(Array(args))
            case "unlock": return try ctl.unlock(Array(args))
            case "lock": return try ctl.lock(Array(args))
            case "console": return try ctl.console(Array(args))
            case "-h", "--help", "help":
                out(Self.usage)
                return ExitStatus.success
            default:
                let names = CommandCatalog.brokerctl.subcommands.map(\.name)
                let guess = closestMatch(to: command, among: names).map { " (did you mean \"\($0)\"?)" } ?? ""
                return usageError("unknown command \"\(WireCodec.printable(command))\"\(guess)")
            }
        } catch let failure as BrokerFailure where failure.kind == .usage {
            // The subcommand's own synopsis, not the generic one.
            let known = CommandCatalog.brokerctl.subcommand(named: command) != nil
            return usageError(failure.message, command: known ? command : nil)
        } catch let error as ConfigError {
            err("brokerctl: \(error.description)")
            return ExitStatus.failure
        } catch let error as BrokerError {
            err("brokerctl: \(error.description)")
            return ExitStatus.failure
        } catch {
            err("brokerctl: \(error)")
            return ExitStatus.failure
        }
    }

    func usageError(_ message: String, command: String? = nil) -> Int32 {
        err("brokerctl: \(message)")
        err(CommandCatalog.shortUsage(for: command.map { "brokerctl \($0)" } ?? "brokerctl"))
        return ExitStatus.usage
    }

    struct Options {
        var format = Format.table
        var flags: Set<String> = []
        var values: [String: String] = [:]
        var lists: [String: [String]] = [:]
        var positional: [String] = []
    }

    /// Parses a subcommand's arguments by its options in the catalog, which also documents them.
    func parse(_ args: [String], as name: String) throws -> Options {
        guard let subcommand = CommandCatalog.brokerctl.subcommand(named: name) else {
            throw BrokerFailure(.internal, "brokerctl \(name) is missing from the command catalog")
        }
        if !subcommand.options.contains(where: { $0.long == "--format" }),
           let given = args.first(where: { $0 == "--format" || $0.hasPrefix("--format=") }) {
            let json = CommandCatalog.brokerctl.subcommands.filter { $0.options.contains { $0.long == "--format" } }.map(\.name)
            throw BrokerFailure(.usage, "brokerctl \(name) does not take \(WireCodec.printable(given)); its output is for people. These print JSON: \(json.joined(separator: ", "))")
        }
        let parsed = try subcommand.parse(args)
        var options = Options()
        options.format = parsed.values["--format"].flatMap(Format.init(rawValue:)) ?? .table
        options.flags = parsed.flags
        options.values = parsed.values
        options.lists = parsed.lists
        options.positional = parsed.positionals
        return options
    }

    /// The option of some subcommand that `word` names (`--format`, `--format=json`), if any.
    static func subcommandOption(_ word: String) -> CommandOption? {
        guard word.hasPrefix("--") else { return nil }
        let name = word.split(separator: "=", maxSplits: 1).first.map(String.init) ?? word
        return CommandCatalog.brokerctl.subcommands.lazy.flatMap(\.options).first { $0.long == name }
    }

    var paths: BrokerPaths {
        get throws {
            var paths = try BrokerPaths.resolve(environment)
            if configFromOption && paths.configFileIsExplicit { paths.configOrigin = .option }
            return paths
        }
    }

    func client() throws -> AgentClient {
        AgentClient(paths: try paths, environment: environment, timeoutSeconds: 10,
                    feedback: ClientFeedback(program: "brokerctl", environment: environment))
    }

    func emitJSON(_ object: Any) {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
        // JSON escapes C0 itself; DEL and C1 become \u escapes, which keep it valid JSON.
        var text = String.UnicodeScalarView()
        for scalar in String(decoding: data, as: UTF8.self).unicodeScalars {
            if (0x7f...0x9f).contains(scalar.value) {
                text.append(contentsOf: "\\u00\(String(scalar.value, radix: 16))".unicodeScalars)
            } else {
                text.append(scalar)
            }
        }
        rawOut(String(text))
    }

    func loadConfig() throws -> BrokerConfig { try BrokerConfig.load(try paths) }
}

/// Left-aligned columns separated by two spaces.
func renderTable(_ rows: [[String]]) -> String {
    guard let width = rows.map(\.count).max() else { return "" }
    var widths = [Int](repeating: 0, count: width)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    return rows.map { row in
        row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            .joined(separator: "  ")
    }.joined(separator: "\n")
}

func humanDuration(_ seconds: Int64) -> String {
    if seconds < 0 { return "expired" }
    if seconds < 120 { return "\(seconds)s" }
    if seconds < 3600 { return "\(seconds / 60)m" }
    if seconds < 172_800 { return "\(seconds / 3600)h\(seconds % 3600 / 60)m" }
    return "\(seconds / 86400)d"
}
