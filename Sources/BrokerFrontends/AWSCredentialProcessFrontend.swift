// credential_process for the AWS CLI and SDKs: one agent request, one Version 1 JSON document.

import BrokerWire

public enum AWSCredentialProcessFrontend {
    public struct Options: Equatable {
        public var identity: String
        public var socketDirectory: String?
    }

    public static func parse(_ arguments: [String], environment: Environment) throws -> Options {
        var identity: String?
        var socketDir: String?
        var rest = arguments[...]
        func value(_ arg: String, _ name: String) throws -> String {
            if arg == name {
                guard let next = rest.popFirst(), !next.isEmpty else { throw BrokerFailure(.usage, "\(name) needs a value") }
                return next
            }
            return String(arg.dropFirst(name.count + 1))
        }
        while let arg = rest.popFirst() {
            if arg == "--identity" || arg.hasPrefix("--identity=") {
                identity = try value(arg, "--identity")
            } else if arg == "--socket-dir" || arg.hasPrefix("--socket-dir=") {
                socketDir = try value(arg, "--socket-dir")
            } else if arg == "-h" || arg == "--help" {
                throw HelpRequested()
            } else {
                throw BrokerFailure(.usage, "unexpected argument \(WireCodec.printable(arg))")
            }
        }
        guard let name = identity ?? environment["BROKER_IDENTITY"] else {
            throw BrokerFailure(.usage, "no identity given", hint: "pass --identity NAME or set BROKER_IDENTITY")
        }
        return Options(identity: name, socketDirectory: socketDir)
    }

    /// The document botocore and the Go SDK read (Version 1). `Expiration` only when the
    /// credentials expire: long-lived keys carry none, as the format allows.
    public static func document(from answer: WireMessage) throws -> String {
        guard let keyID = answer["access_key_id"], let secret = answer["secret_access_key"] else {
            throw BrokerFailure(.internal, "broker-agent's answer has no access key")
        }
        var members: [(String, JSONValue)] = [
            ("Version", .int(1)),
            ("AccessKeyId", .string(keyID)),
            ("SecretAccessKey", .string(secret)),
        ]
        if let token = answer["session_token"] { members.append(("SessionToken", .string(token))) }
        if let expiration = answer["expiration"] {
            guard let seconds = Int64(expiration) else { throw BrokerFailure(.internal, "broker-agent sent a malformed expiration") }
            members.append(("Expiration", .string(rfc3339UTC(seconds))))
        }
        return JSONValue.object(members).encoded() + "\n"
    }

    /// The whole adapter. It never prompts: a code a person must type goes through
    /// `brokerctl login`, and the error says so.
    public static func run(arguments: [String], environment: Environment = .current,
                           output: FileDescriptor = .standardOutput) -> Int32 {
        let options: Options
        switch parseAdapterOptions(CommandCatalog.awsCredentialProcess, output: output, { try parse(arguments, environment: environment) }) {
        case .success(let parsed): options = parsed
        case .failure(let exit): return exit.status
        }
        do {
            var env = environment
            if let dir = options.socketDirectory { env.values["BROKER_SOCKET_DIR"] = dir }
            let client = AgentClient(paths: try BrokerPaths.resolve(env), environment: env,
                                     feedback: ClientFeedback(program: "aws-credential-process", environment: env))
            var request = WireMessage()
            request.append(WireKey.operation, AgentOperation.awsCredentials.rawValue)
            request.append("adapter", "aws")
            request.append("identity", options.identity)
            guard let answer = try client.send(request) else { throw BrokerFailure(.unavailable, "broker-agent is not running") }
            try output.writeAll(try document(from: answer))
            return ExitStatus.success
        } catch {
            return reportFailure("aws-credential-process", error)
        }
    }
}

extension String {
    /// One stderr line, whatever the message held.
    var replacingNewlines: String { onOneLine }
}

/// One stderr line for a failed adapter run (DESIGN D12): `program: sentence (hint: …)`, and the
/// failure exit status. Nothing is written to stdout.
func reportFailure(_ program: String, _ error: Error) -> Int32 {
    let text = (error as? BrokerError)?.description ?? "\(error)"
    printError("\(program): \(text)".replacingNewlines)
    return ExitStatus.failure
}
