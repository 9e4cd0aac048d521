// `brokerctl secret set|get|rm|list`: the agent's keyring by name; values only in, or out with --reveal on a terminal.

import BrokerWire
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Brokerctl {
    func secret(_ args: [String]) throws -> Int32 {
        let options = try parse(args, as: "secret")
        guard let action = options.positional.first else { throw BrokerFailure(.usage, "secret needs set, get, rm or list") }
        let name = options.positional.dropFirst().first
        func needName() throws -> String {
            guard let name, options.positional.count == 2 else { throw BrokerFailure(.usage, "secret \(action) takes one NAME") }
            return name
        }
        switch action {
        case "set":
            let name = try needName()
            let value = try TerminalInput.readSecret(prompt: "secret for \"\(name)\": ")
            guard !value.isEmpty else { throw BrokerFailure(.input, "an empty secret cannot be stored", hint: "give a non-empty value") }
            let answer = try agent(WireMessage(.keyringSet, [.init(WireKey.name, name), .init(WireKey.secret, value)]))
            out("stored \"\(name)\" in the \(answer[WireKey.backend] ?? "?") keyring")
        case "get":
            let name = try needName()
            guard options.flags.contains("--reveal"), isatty(1) == 1 else {
                throw BrokerFailure(.usage, "secret get prints a secret only with --reveal, to a terminal",
                                    hint: "reference it as keyring:\(name) instead of copying it")
            }
            let answer = try agent(WireMessage(.keyringGet, [.init(WireKey.name, name)]))
            print(answer[WireKey.secret] ?? "")
        case "rm":
            let name = try needName()
            _ = try agent(WireMessage(.keyringRemove, [.init(WireKey.name, name)]))
            out("removed \"\(name)\"")
        case "list":
            guard options.positional.count == 1 else { throw BrokerFailure(.usage, "secret list takes no NAME") }
            let answer = try agent(WireMessage(.keyringList))
            let entries = answer.records("entry", columns: ["name", "backend", "modified"])
            let backend = answer[WireKey.backend] ?? "?", state = answer["state"] ?? "?"
            if options.format == .json {
                emitJSON(["backend": backend, "state": state,
                          "secrets": entries.map { ["name": $0["name"]!, "backend": $0["backend"]!,
                                                    "modified": $0["modified"].flatMap(Int64.init).map(rfc3339UTC) ?? NSNull()] as [String: Any] }])
            } else {
                out("keyring: \(backend) (\(state))")
                let rows = entries.map { [$0["name"]!, $0["backend"]!, $0["modified"].flatMap(Int64.init).map(rfc3339UTC) ?? "-"] }
                for row in [["NAME", "BACKEND", "MODIFIED"]] + rows {
                    out(row[0].padding(toLength: max(24, row[0].count + 2), withPad: " ", startingAt: 0)
                        + row[1].padding(toLength: 9, withPad: " ", startingAt: 0) + row[2])
                }
            }
        default:
            throw BrokerFailure(.usage, "unknown secret action \"\(WireCodec.printable(action))\": use set, get, rm or list")
        }
        return ExitStatus.success
    }

    /// Sends a keyring request, starting the agent if needed (the memory keyring lives in it).
    func agent(_ request: WireMessage) throws -> WireMessage {
        // A file keyring read or write runs scrypt (about a second, longer in debug builds).
        let client = AgentClient(paths: try paths, environment: environment, timeoutSeconds: 120)
        guard let answer = try client.send(request) else { throw BrokerFailure(.unavailable, "broker-agent is not running") }
        return answer
    }
}
