// brokerctl: a person's window into the agent and the config; routes to one file per subcommand under Commands/.

import BrokerCore
import BrokerFrontends
import BrokerWire
import Foundation

public struct Brokerctl {
    public enum Format: String { case table, json }

    var environment: Environment
    var out: (String) -> Void
    var err: (String) -> Void

    public init(environment: Environment = .current, out: @escaping (String) -> Void = { print($0) },
                err: @escaping (String) -> Void = { printError($0) }) {
        self.environment = environment
        self.out = out
        self.err = err
    }

    public static var usage: String { CommandCatalog.usage(for: "brokerctl") }

    /// Runs one command line; returns the exit status. Errors print one line and a hint.
    public func run(_ arguments: [String]) -> Int32 {
        var env = environment
        var args = arguments[...]
        while let first = args.first, first.hasPrefix("--config") {
            args.removeFirst()
            if first == "--config", let file = args.popFirst() {
                env.values["BROKER_CONFIG"] = file
            } else if first.hasPrefix("--config=") {
                env.values["BROKER_CONFIG"] = String(first.dropFirst("--config=".count))
            } else {
                return usageError("--config needs a file")
            }
        }
        guard let command = args.popFirst() else { return usageError("no command given") }
        let ctl = Brokerctl(environment: env, out: out, err: err)
        if args.contains("--help") || args.contains("-h"), CommandCatalog.command(named: "brokerctl")?.subcommands.contains(where: { $0.name == command }) == true {
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
            case "generate-docs": return try ctl.generateDocs(Array(args))
            case "selftest": return try ctl.selfTest(Array(args))
            case "whoami": return try ctl.whoami(Array(args))
            case "login": return try ctl.login(Array(args))
            case "-h", "--help", "help":
                out(Self.usage)
                return ExitStatus.success
            default:
                return usageError("unknown command \"\(WireCodec.printable(command))\"")
            }
        } catch let failure as BrokerFailure where failure.kind == .usage {
            return usageError(failure.message)
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
        var positional: [String] = []
    }

    /// Parses `--format X`, the named boolean flags and valued options; anything else is usage.
    func parse(_ args: [String], flags: Set<String> = [], valued: Set<String> = [], maxPositional: Int = 0) throws -> Options {
        var options = Options()
        var rest = args[...]
        while let arg = rest.popFirst() {
            if arg == "--format" || arg.hasPrefix("--format=") {
                let value = arg == "--format" ? rest.popFirst() : String(arg.dropFirst(9))
                guard let value, let format = Format(rawValue: value) else {
                    throw BrokerFailure(.usage, "--format takes table or json")
                }
                options.format = format
            } else if flags.contains(arg) {
                options.flags.insert(arg)
            } else if valued.contains(arg) {
                guard let value = rest.popFirst() else { throw BrokerFailure(.usage, "\(arg) needs a value") }
                options.values[arg] = value
            } else if arg.hasPrefix("-") {
                throw BrokerFailure(.usage, "unknown option \(WireCodec.printable(arg))")
            } else {
                options.positional.append(arg)
            }
        }
        if options.positional.count > maxPositional {
            throw BrokerFailure(.usage, "unexpected argument \(WireCodec.printable(options.positional[maxPositional]))")
        }
        return options
    }

    var paths: BrokerPaths { get throws { try BrokerPaths.resolve(environment) } }

    func client() throws -> AgentClient { AgentClient(paths: try paths, environment: environment, timeoutSeconds: 10) }

    func emitJSON(_ object: Any) {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
        out(String(decoding: data, as: UTF8.self))
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
