// broker-env-wrap: ask the agent for an environment plan, apply it purely, exec the command.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import BrokerWire

extension EnvPlan {
    /// What changes between `environment` and the plan applied to it, sorted by name: the
    /// variables to set (with whether the value is a secret) and those to unset.
    public func changes(from environment: [String: String]) throws -> EnvChanges {
        let after = try applied(to: environment)
        var secretNames = Set<String>()
        for case .set(let name, _, true) in steps { secretNames.insert(name) }
        var changes = EnvChanges()
        for name in after.keys.sorted() where environment[name] != after[name] {
            changes.set.append(.init(name: name, value: after[name]!, secret: secretNames.contains(name)))
        }
        changes.unset = environment.keys.filter { after[$0] == nil }.sorted()
        return changes
    }
}

/// The difference a plan makes, ready to print in a shell's syntax.
public struct EnvChanges: Equatable, Sendable {
    public struct Assignment: Equatable, Sendable {
        public var name: String
        public var value: String
        public var secret: Bool
    }

    public var set: [Assignment] = []
    public var unset: [String] = []

    public enum Format: String, CaseIterable, Sendable {
        case bash, fish, dotenv, json, github
    }

    /// The text `--print --format` writes. `github` is the `$GITHUB_ENV` file format, with a
    /// random heredoc delimiter so no value can end an entry early.
    public func rendered(_ format: Format, delimiter: String = EnvChanges.randomDelimiter()) -> String {
        switch format {
        case .bash:
            return unset.map { "unset \($0)\n" }.joined() + set.map { "export \($0.name)=\(Self.shellQuoted($0.value))\n" }.joined()
        case .fish:
            return unset.map { "set -e \($0)\n" }.joined() + set.map { "set -gx \($0.name) \(Self.fishQuoted($0.value))\n" }.joined()
        case .dotenv:
            // dotenv cannot unset: say so in comments, which every dotenv reader skips.
            return unset.map { "# unset \($0)\n" }.joined() + set.map { "\($0.name)=\(Self.dotenvQuoted($0.value))\n" }.joined()
        case .json:
            let object = JSONValue.object([
                ("set", .object(set.map { ($0.name, .string($0.value)) })),
                ("unset", .array(unset.map { .string($0) })),
            ])
            return object.encoded() + "\n"
        case .github:
            // GitHub's env file cannot unset either; an empty value is the closest, and the AWS
            // SDKs and git treat an empty variable as unset.
            let entries = unset.map { ($0, "") } + set.map { ($0.name, $0.value) }
            return entries.map { "\($0.0)<<\(delimiter)\n\($0.1)\n\(delimiter)\n" }.joined()
        }
    }

    /// `::add-mask::` workflow commands for every secret value (GitHub Actions reads them from the
    /// step's standard output and hides the values in its logs).
    public var githubMasks: String {
        self.set.filter(\.secret).map { "::add-mask::\($0.value)\n" }.joined()
    }

    public static func randomDelimiter() -> String {
        var generator = SystemRandomNumberGenerator()
        return "ghadelimiter_" + (0..<16).map { _ in String(UInt8.random(in: 0...255, using: &generator), radix: 16) }.joined()
    }

    /// POSIX single quotes: everything literal; a quote is closed, escaped and reopened.
    static func shellQuoted(_ value: String) -> String {
        BrokerWire.shellQuoted(value)
    }

    /// fish single quotes: only `\\` and `\'` are escapes.
    static func fishQuoted(_ value: String) -> String {
        "'" + value.replacingAll("\\", with: "\\\\").replacingAll("'", with: "\\'") + "'"
    }

    /// Single quotes (literal in python-dotenv, Docker Compose and direnv) when they can hold the
    /// value; otherwise double quotes with `\\` and `\"` escaped, the escapes they all decode.
    static func dotenvQuoted(_ value: String) -> String {
        if !value.contains("'") && !value.contains("\\") { return "'" + value + "'" }
        return "\"" + value.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\""
    }
}

extension String {
    /// Foundation's replacingOccurrences, which the adapters cannot import.
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}

public enum EnvWrapFrontend {
    public struct Options: Equatable {
        public var identities: [String] = []
        public var delivery: EnvDelivery?
        public var nested = false
        public var print = false
        public var format: EnvChanges.Format = .bash
        public var socketDirectory: String?
        public var command: [String] = []
    }

    /// The values of `BROKER_IDENTITY` that switch the wrap off, as Atmos users asked.
    public static let offSwitches: Set<String> = ["false", "0", "no", "off"]

    /// The variable that marks a wrapped process (its value is the wrap's pid).
    public static let marker = "BROKER_ENV_WRAP"

    public static func parse(_ arguments: [String]) throws -> Options {
        var options = Options()
        var rest = arguments[...]
        func value(_ arg: String, _ name: String) throws -> String {
            if arg == name {
                guard let next = rest.popFirst(), !next.isEmpty else { throw BrokerFailure(.usage, "\(name) needs a value") }
                return next
            }
            let text = String(arg.dropFirst(name.count + 1))
            guard !text.isEmpty else { throw BrokerFailure(.usage, "\(name) needs a value") }
            return text
        }
        func matches(_ arg: String, _ name: String) -> Bool { arg == name || arg.hasPrefix(name + "=") }
        var formatGiven = false
        while let arg = rest.first {
            if arg == "--" { rest.removeFirst(); break }
            // The first word that is not an option starts the command, as with env(1) and sudo(8).
            guard arg.hasPrefix("-") else { break }
            rest.removeFirst()
            if matches(arg, "--identity") {
                options.identities.append(try value(arg, "--identity"))
            } else if matches(arg, "--delivery") {
                let text = try value(arg, "--delivery")
                guard let delivery = EnvDelivery(rawValue: text) else {
                    throw BrokerFailure(.usage, "--delivery must be endpoint, env, profile or file, not \(WireCodec.printable(text))")
                }
                options.delivery = delivery
            } else if matches(arg, "--format") {
                let text = try value(arg, "--format")
                guard let format = EnvChanges.Format(rawValue: text) else {
                    throw BrokerFailure(.usage, "--format must be bash, fish, dotenv, json or github, not \(WireCodec.printable(text))")
                }
                options.format = format
                formatGiven = true
            } else if matches(arg, "--socket-dir") {
                options.socketDirectory = try value(arg, "--socket-dir")
            } else if arg == "--nested" {
                options.nested = true
            } else if arg == "--print" {
                options.print = true
            } else if arg == "-h" || arg == "--help" {
                throw HelpRequested()
            } else {
                throw BrokerFailure(.usage, "unknown option \(WireCodec.printable(arg))")
            }
        }
        options.command = Array(rest)
        if options.print && !options.command.isEmpty {
            throw BrokerFailure(.usage, "--print prints the plan and runs nothing; drop the command or --print")
        }
        if !options.print && options.command.isEmpty { throw BrokerFailure(.usage, "no command given") }
        if formatGiven && !options.print { throw BrokerFailure(.usage, "--format only applies to --print") }
        return options
    }

    /// The request for the agent. `pid` is the process whose life bounds the plan's lease: the
    /// wrap itself, which becomes the command when it execs.
    public static func request(_ options: Options, identities: [String], pid: Int32, binDirectory: String?) -> WireMessage {
        var request = WireMessage()
        request.append(WireKey.operation, AgentOperation.envPlan.rawValue)
        request.append("adapter", "env-wrap")
        for name in identities { request.append("identity[]", name) }
        request.append("delivery", ifPresent: options.delivery?.rawValue)
        request.append("pid", String(pid))
        request.append("bin_dir", ifPresent: binDirectory)
        return request
    }

    /// The whole adapter. Everything before the exec reports failure as one stderr line; after
    /// the exec, the exit status and signals are the command's own.
    public static func run(arguments: [String], environment: Environment = .current,
                           output: FileDescriptor = .standardOutput) -> Int32 {
        let options: Options
        switch parseAdapterOptions(CommandCatalog.brokerEnvWrap, output: output, { try parse(arguments) }) {
        case .success(let parsed): options = parsed
        case .failure(let exit): return exit.status
        }
        if let switchValue = environment["BROKER_IDENTITY"], offSwitches.contains(switchValue.lowercased()) {
            if options.print { return ExitStatus.success }  // nothing to change
            return execute(options.command, environment: environment.values)
        }
        if !options.nested, let outer = environment[marker] {
            printError("broker-env-wrap: already inside broker-env-wrap (pid \(WireCodec.printable(outer))) (hint: pass --nested to wrap again, or run the command directly)")
            return ExitStatus.failure
        }
        let identities = options.identities.isEmpty ? (environment["BROKER_IDENTITY"].map { [$0] } ?? []) : options.identities
        guard !identities.isEmpty else {
            printError("broker-env-wrap: no identity given (hint: pass --identity NAME or set BROKER_IDENTITY); \(CommandCatalog.shortUsage(of: CommandCatalog.brokerEnvWrap))")
            return ExitStatus.usage
        }
        var newEnvironment: [String: String]
        let plan: EnvPlan
        do {
            var env = environment
            if let dir = options.socketDirectory { env.values["BROKER_SOCKET_DIR"] = dir }
            let client = AgentClient(paths: try BrokerPaths.resolve(env), environment: env,
                                     feedback: ClientFeedback(program: "broker-env-wrap", environment: env))
            // With --print the lease lasts as long as the shell that evaluates the output (bash
            // runs a lone command substitution in that shell's own child, so it is our parent).
            let pid = options.print ? getppid() : getpid()
            let binDirectory = ProcessInfoLite.executableDirectory()
            let planRequest = request(options, identities: identities, pid: pid, binDirectory: binDirectory)
            guard let answer = try sendLoggingIn(planRequest, client: client) else {
                throw BrokerFailure(.unavailable, "broker-agent is not running")
            }
            plan = try EnvPlan(answer: answer)
            newEnvironment = try plan.applied(to: env.values)
            if options.print {
                let changes = try plan.changes(from: env.values)
                if options.format == .github {
                    try writeGitHubEnvironment(changes, environment: env, output: output)
                } else {
                    try output.writeAll(changes.rendered(options.format))
                }
                return ExitStatus.success
            }
        } catch {
            return reportFailure("broker-env-wrap", error)
        }
        newEnvironment[marker] = String(getpid())
        return execute(options.command, environment: newEnvironment)
    }

    /// Sends the plan request; when an identity needs a person's code (MFA) and a person is at
    /// a terminal, asks for it, hands it to the agent as `brokerctl login` does, and asks again,
    /// as aws-vault exec does. Without a terminal the error stands, with its `brokerctl login` hint.
    static func sendLoggingIn(_ request: WireMessage, client: AgentClient, interactive: Bool = TerminalPrompt.isInteractive) throws -> WireMessage? {
        var loggedIn: Set<String> = []
        while true {
            do {
                return try client.send(request)
            } catch let failure as BrokerFailure {
                guard interactive, let login = failure.login, !loggedIn.contains(login.identity) else { throw failure }
                loggedIn.insert(login.identity)
                guard let code = TerminalPrompt.readLine("\(login.prompt) (identity \"\(login.identity)\"): ")?
                    .filter({ $0 != " " && $0 != "\t" }), !code.isEmpty else { throw failure }
                guard code.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                    throw BrokerFailure(.usage, "an MFA code is the digits your device shows")
                }
                _ = try client.send(WireMessage(.login, [.init(WireKey.identity, login.identity), .init(WireKey.code, code)]))
            }
        }
    }

    /// GitHub Actions: masks on standard output (the runner reads workflow commands there), the
    /// variables appended to the file `$GITHUB_ENV` names, as actions/toolkit's exportVariable does.
    static func writeGitHubEnvironment(_ changes: EnvChanges, environment: Environment, output: FileDescriptor) throws {
        guard let path = environment["GITHUB_ENV"] else {
            throw BrokerFailure(.usage, "--format github appends to the file $GITHUB_ENV names, and GITHUB_ENV is not set",
                                hint: "run it in a GitHub Actions step, or use --format dotenv")
        }
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, .writeOnly, options: [.append, .create, .closeOnExec], permissions: 0o600)
        } catch {
            throw BrokerFailure(.unavailable, "cannot open $GITHUB_ENV (\(path)): \(error)")
        }
        try output.writeAll(changes.githubMasks)
        try fd.closeAfter { try fd.writeAll(changes.rendered(.github)) }
    }

    /// Replaces this process with `command`, found on PATH like a shell finds it. Returns only on
    /// failure: 127 when nothing by that name exists, 126 when it cannot be executed.
    public static func execute(_ command: [String], environment: [String: String]) -> Int32 {
        let name = command[0]
        let error = ProcessImage.replace(arguments: command, environment: environment.map { "\($0.key)=\($0.value)" })
        if error.rawValue != ENOENT && error.rawValue != ENOTDIR {
            printError("broker-env-wrap: \(WireCodec.printable(name)): \(error)")
            return 126
        }
        printError("broker-env-wrap: \(WireCodec.printable(name)): command not found")
        return 127
    }
}
