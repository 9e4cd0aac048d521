// git's credential protocol on stdin/stdout, translated into one agent request and back.

import BrokerWire

/// The keys of git's credential protocol we relay; anything else git sends is ignored, as the
/// protocol asks of helpers.
let gitRelayedKeys: Set<String> = [
    "protocol", "host", "path", "username", "password", "password_expiry_utc",
    "oauth_refresh_token", "authtype", "credential", "ephemeral", "capability[]", "wwwauth[]",
]

/// Keys that may repeat (`key[]`); git's credential_read() collects them. Every other key keeps
/// its last value, as credential_read() overwrites an earlier one.
let gitListKeys: Set<String> = ["capability[]", "wwwauth[]", "state[]"]

/// The keys a helper's answer may carry (git ≥ 2.46 vocabulary). Only these reach git's
/// stdin, whatever an agent from another release sends back.
let gitAnswerKeys: Set<String> = [
    "capability[]", "username", "password", "authtype", "credential", "ephemeral",
    "password_expiry_utc", "oauth_refresh_token", "state[]", "continue", "quit",
]

/// Thrown by an adapter's option parser for -h/--help: not a failure; the usage is the answer.
struct HelpRequested: Error {}

/// How an adapter ends before doing its work (help shown, or a usage error reported).
struct AdapterExit: Error {
    let status: Int32
}

/// The option parsing aws-credential-process and broker-env-wrap share: `--help` prints the
/// usage (exit 0); a usage error is one stderr line with the short usage (exit 64). git's
/// helper words its errors for git (`errorLine`) and keeps its own.
func parseAdapterOptions<Options>(_ command: CommandDescription, output: FileDescriptor,
                                  _ parse: () throws -> Options) -> Result<Options, AdapterExit> {
    do {
        return .success(try parse())
    } catch is HelpRequested {
        try? output.writeAll(CommandCatalog.usage(of: command) + "\n")
        return .failure(AdapterExit(status: ExitStatus.success))
    } catch let failure as BrokerFailure {
        printError("\(command.name): \(failure.description); \(CommandCatalog.shortUsage(of: command))")
        return .failure(AdapterExit(status: ExitStatus.usage))
    } catch {
        return .failure(AdapterExit(status: ExitStatus.usage))
    }
}

public struct GitCredentialFrontend {
    public struct Options: Equatable {
        public var operation: String
        public var timeoutSeconds: Int?
        public var socketDirectory: String?
    }

    public static let usage = "usage: git-credential-broker [--timeout=SECONDS] [--socket-dir DIR] (get|store|erase|capability)"

    /// git runs `git-credential-broker [args from credential.helper] <operation>`.
    public static func parse(_ arguments: [String]) throws -> Options {
        var timeout: Int?
        var socketDir: String?
        var operation: String?
        var rest = arguments[...]
        while let arg = rest.popFirst() {
            if arg.hasPrefix("--timeout=") || arg == "--timeout" {
                let text = arg == "--timeout" ? (rest.popFirst() ?? "") : String(arg.dropFirst("--timeout=".count))
                guard let value = Int(text), value >= 0 else {
                    throw BrokerFailure(.usage, "--timeout takes a whole number of seconds, not \"\(WireCodec.printable(text))\"")
                }
                timeout = value
            } else if arg.hasPrefix("--socket-dir=") || arg == "--socket-dir" {
                socketDir = arg == "--socket-dir" ? rest.popFirst() : String(arg.dropFirst("--socket-dir=".count))
            } else if arg == "-h" || arg == "--help" {
                throw HelpRequested()
            } else if arg.hasPrefix("-") {
                throw BrokerFailure(.usage, "unknown option \(WireCodec.printable(arg))")
            } else if operation == nil {
                operation = arg
            }
        }
        guard let operation else { throw BrokerFailure(.usage, "no operation given") }
        return Options(operation: operation, timeoutSeconds: timeout, socketDirectory: socketDir)
    }

    /// What `capability` prints: the helper understands `authtype`/`credential` (git ≥ 2.46).
    public static let capabilityAnnouncement = "version 0\ncapability authtype\n"

    /// Validates git's input and builds the agent request. Refuses input git itself would never
    /// produce, so nothing half-understood reaches the agent.
    public static func agentRequest(for options: Options, input: WireMessage) throws -> WireMessage {
        guard input["protocol"] != nil else { throw BrokerFailure(.input, "input has no protocol= line") }
        guard input["host"] != nil else { throw BrokerFailure(.input, "input has no host= line") }
        guard let operation = AgentOperation(rawValue: "git.\(options.operation)") else {
            throw BrokerFailure(.input, "unknown operation \(options.operation)")
        }
        var request = WireMessage(operation)
        request.append("adapter", "git")
        request.append("timeout", ifPresent: options.timeoutSeconds.map(String.init))
        for (index, field) in input.fields.enumerated() where gitRelayedKeys.contains(field.key) {
            // A repeated single-valued key counts once, with its last value (credential_read).
            if !gitListKeys.contains(field.key), input.fields[(index + 1)...].contains(where: { $0.key == field.key }) {
                continue
            }
            request.fields.append(field)
        }
        return request
    }

    /// The whole adapter: returns the exit status; writes stdout only once the full answer is known.
    public static func run(arguments: [String], environment: Environment = .current,
                           input: FileDescriptor = .standardInput, output: FileDescriptor = .standardOutput) -> Int32 {
        let options: Options
        do {
            options = try parse(arguments)
        } catch is HelpRequested {
            try? output.writeAll(CommandCatalog.usage(of: CommandCatalog.gitCredentialBroker))
            return ExitStatus.success
        } catch {
            // One line (DESIGN D12): git shows a helper's stderr to the person as it is.
            let message = (error as? BrokerError)?.message ?? "\(error)"
            printError(errorLine("\(message); \(usage)"))
            return ExitStatus.usage
        }
        switch options.operation {
        case "capability":
            return (try? output.writeAll(capabilityAnnouncement)) == nil ? ExitStatus.failure : ExitStatus.success
        case "get", "store", "erase":
            break
        default:
            return ExitStatus.success  // unknown operations are ignored, per git's protocol
        }
        do {
            let message = try readWireMessage(from: input)
            let request = try agentRequest(for: options, input: message)
            var env = environment
            if let dir = options.socketDirectory { env.values["BROKER_SOCKET_DIR"] = dir }
            let client = AgentClient(paths: try BrokerPaths.resolve(env), environment: env,
                                     feedback: ClientFeedback(program: "git-credential-broker", environment: env))
            guard let answer = try client.send(request) else { return ExitStatus.success }
            for warning in answer.values("broker.warning") { printError(errorLine(warning)) }
            if options.operation == "get" {
                // Only git's own vocabulary goes to git; encoded() refuses LF/CR/NUL in a value
                // before a byte is written, so git never reads half an answer.
                let reply = WireMessage(answer.fields.filter { gitAnswerKeys.contains($0.key) })
                try output.writeAll(try reply.encoded())
            }
            return ExitStatus.success
        } catch let error as BrokerError {
            printError(errorLine(error.description))
            return ExitStatus.failure
        } catch {
            printError(errorLine("\(error)"))
            return ExitStatus.failure
        }
    }

    /// `git-credential-broker: <text>` on exactly one line, whatever `text` holds.
    static func errorLine(_ text: String) -> String {
        "git-credential-broker: " + text.onOneLine
    }
}
