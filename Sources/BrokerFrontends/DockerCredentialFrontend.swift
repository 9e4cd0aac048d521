// docker's credential-helper protocol (docker, podman, buildah, skopeo, crane) on stdin/stdout, as one agent request.

import BrokerWire

/// Follows github.com/docker/docker-credential-helpers (credentials/credentials.go and
/// client/client.go) message for message: `get` and `erase` read the server URL on stdin,
/// `store` reads `{"ServerURL","Username","Secret"}`, `list` prints a JSON map of server URL to
/// user name. A failure is one line on standard output and exit 1, since that is where clients
/// read it (they pass the helper's stderr through to the person untouched); a miss is exactly
/// `credentials not found in native keychain`, which clients match to mean "no credentials".
public enum DockerCredentialFrontend {
    public static let notFoundMessage = "credentials not found in native keychain"
    public static let missingServerURLMessage = "no credentials server URL"
    public static let missingUsernameMessage = "no credentials username"

    public enum Action: String, CaseIterable { case get, store, erase, list, version }

    public struct Options: Equatable {
        public var action: Action
        public var socketDirectory: String?
    }

    /// A failure the protocol names with a fixed message, printed as it is (no program prefix).
    struct ProtocolMessage: Error { let text: String }

    public static func parse(_ arguments: [String]) throws -> Options {
        var socketDir: String?
        var action: Action?
        var rest = arguments[...]
        while let arg = rest.popFirst() {
            if arg == "--socket-dir" || arg.hasPrefix("--socket-dir=") {
                let value = arg == "--socket-dir" ? rest.popFirst() : String(arg.dropFirst("--socket-dir=".count))
                guard let value, !value.isEmpty else { throw BrokerFailure(.usage, "--socket-dir needs a value") }
                socketDir = value
            } else if arg == "-h" || arg == "--help" {
                throw HelpRequested()
            } else if arg == "-v" || arg == "--version" {
                action = .version
            } else if action == nil, let known = Action(rawValue: arg) {
                action = known
            } else if action == nil && !arg.hasPrefix("-") {
                throw BrokerFailure(.usage, "unknown action: \(WireCodec.printable(arg))")
            } else {
                throw BrokerFailure(.usage, "unexpected argument \(WireCodec.printable(arg))")
            }
        }
        guard let action else { throw BrokerFailure(.usage, "no action given") }
        return Options(action: action, socketDirectory: socketDir)
    }

    /// The server URL as the helpers read it: all of stdin, whitespace trimmed at both ends.
    public static func serverURL(from input: [UInt8]) throws -> String {
        let isSpace: (UInt8) -> Bool = { [0x20, 0x09, 0x0a, 0x0d, 0x0b, 0x0c].contains($0) }
        guard let start = input.firstIndex(where: { !isSpace($0) }), let end = input.lastIndex(where: { !isSpace($0) }) else {
            throw ProtocolMessage(text: missingServerURLMessage)
        }
        let text = String(decoding: input[start...end], as: UTF8.self)
        guard text.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7f }) else {
            throw BrokerFailure(.input, "the server URL holds control characters")
        }
        return text
    }

    /// The agent request for one action and its stdin.
    public static func agentRequest(_ action: Action, input: [UInt8]) throws -> WireMessage {
        switch action {
        case .get: return WireMessage(.dockerGet, [.init(WireKey.serverURL, try serverURL(from: input))])
        case .erase: return WireMessage(.dockerErase, [.init(WireKey.serverURL, try serverURL(from: input))])
        case .list: return WireMessage(.dockerList)
        case .version: return WireMessage(.ping)
        case .store:
            let document: JSONValue
            do { document = try JSONValue.parse(input) } catch {
                throw BrokerFailure(.input, "store input is not JSON: \(error)")
            }
            guard case .object = document else { throw BrokerFailure(.input, "store input is not a JSON object") }
            func text(_ name: String) throws -> String {
                guard let value = document[member: name], value != .null else { return "" }
                guard let text = value.stringValue else { throw BrokerFailure(.input, "store input's \(name) is not a string") }
                return text
            }
            let url = try text("ServerURL"), username = try text("Username"), secret = try text("Secret")
            guard !url.isEmpty else { throw ProtocolMessage(text: missingServerURLMessage) }
            guard !username.isEmpty else { throw ProtocolMessage(text: missingUsernameMessage) }
            for value in [url, username, secret] where value.utf8.contains(where: { $0 == 0 || $0 == 0x0a || $0 == 0x0d }) {
                throw BrokerFailure(.input, "store input holds a line break or NUL in a value")
            }
            return WireMessage(.dockerStore, [.init(WireKey.serverURL, url), .init(WireKey.username, username), .init(WireKey.secret, secret)])
        }
    }

    /// What `get` prints for the agent's answer (Go's json.Encoder: one line, newline-terminated).
    public static func getDocument(serverURL: String, answer: WireMessage) throws -> String {
        guard let username = answer[WireKey.username], let secret = answer[WireKey.secret] else {
            throw ProtocolMessage(text: notFoundMessage)
        }
        return JSONValue.object([("ServerURL", .string(serverURL)), ("Username", .string(username)), ("Secret", .string(secret))]).encoded() + "\n"
    }

    /// What `list` prints: server URL → user name, keys sorted as Go encodes a map.
    public static func listDocument(answer: WireMessage) -> String {
        let records = answer.records("registry", columns: [WireKey.serverURL, WireKey.username])
        var byURL: [String: String] = [:]
        for record in records { byURL[record[WireKey.serverURL]!] = record[WireKey.username]! }
        let members = byURL.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map { ($0, JSONValue.string(byURL[$0]!)) }
        return JSONValue.object(members).encoded() + "\n"
    }

    public static func run(arguments: [String], environment: Environment = .current,
                           input: FileDescriptor = .standardInput, output: FileDescriptor = .standardOutput) -> Int32 {
        let options: Options
        switch parseAdapterOptions(CommandCatalog.dockerCredentialBroker, output: output, { try parse(arguments) }) {
        case .success(let parsed): options = parsed
        case .failure(let exit): return exit.status
        }
        if options.action == .version {
            return (try? output.writeAll("docker-credential-broker (credential-broker) 1\n")) == nil ? ExitStatus.failure : ExitStatus.success
        }
        do {
            // `list` gets "unused" on stdin from docker's client; it is read and ignored.
            let stdin = try input.readAll(limit: 1 << 16)
            let request = try agentRequest(options.action, input: stdin)
            var env = environment
            if let dir = options.socketDirectory { env.values["BROKER_SOCKET_DIR"] = dir }
            let client = AgentClient(paths: try BrokerPaths.resolve(env), environment: env)
            guard let answer = try client.send(request) else { throw BrokerFailure(.unavailable, "broker-agent is not running") }
            switch options.action {
            case .get: try output.writeAll(try getDocument(serverURL: request[WireKey.serverURL]!, answer: answer))
            case .list: try output.writeAll(listDocument(answer: answer))
            case .store, .erase, .version: break
            }
            return ExitStatus.success
        } catch let message as ProtocolMessage {
            try? output.writeAll(message.text + "\n")
            return ExitStatus.failure
        } catch {
            let text = (error as? BrokerError)?.description ?? "\(error)"
            try? output.writeAll("docker-credential-broker: \(text.onOneLine)\n")
            return ExitStatus.failure
        }
    }
}
