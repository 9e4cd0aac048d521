// git's credential protocol on stdin/stdout, translated into one agent request and back.

/// The keys of git's credential protocol we relay; anything else git sends is ignored, as the
/// protocol asks of helpers.
let gitRelayedKeys: Set<String> = [
    "protocol", "host", "path", "username", "password", "password_expiry_utc",
    "oauth_refresh_token", "authtype", "credential", "ephemeral", "capability[]", "wwwauth[]",
]

public enum ExitStatus {
    public static let success: Int32 = 0
    public static let failure: Int32 = 1
    public static let usage: Int32 = 64
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
                throw BrokerFailure(.usage, "help requested")
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
        var request = WireMessage()
        request.append("op", "git.\(options.operation)")
        request.append("adapter", "git")
        request.append("timeout", ifPresent: options.timeoutSeconds.map(String.init))
        for field in input.fields where gitRelayedKeys.contains(field.key) {
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
        } catch let error as BrokerFailure {
            if error.message != "help requested" { printError("git-credential-broker: \(error.message)") }
            printError(usage)
            return error.message == "help requested" ? ExitStatus.success : ExitStatus.usage
        } catch {
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
            let client = AgentClient(paths: try BrokerPaths.resolve(env), environment: env)
            guard let answer = try client.send(request) else { return ExitStatus.success }
            var reply = answer
            reply.removeAll("status")
            for warning in reply.values("broker.warning") { printError("git-credential-broker: \(warning)") }
            reply.fields.removeAll { $0.key.hasPrefix("broker.") }
            if options.operation == "get" {
                try output.writeAll(try reply.encoded())
            }
            return ExitStatus.success
        } catch let error as BrokerError {
            printError("git-credential-broker: \(error.description)")
            return ExitStatus.failure
        } catch {
            printError("git-credential-broker: \(error)")
            return ExitStatus.failure
        }
    }
}
