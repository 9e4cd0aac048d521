// `brokerctl login`: read an MFA code from the terminal and hand it to the agent.

import BrokerCore
import BrokerWire
import Foundation

extension Brokerctl {
    /// Prompts for an MFA code on the terminal (standard input when there is none) and hands it
    /// to the agent, which uses it once to open the identity's session.
    func login(_ args: [String]) throws -> Int32 {
        let options = try parse(args, as: "login")
        guard let name = options.positional.first else { throw BrokerFailure(.usage, "login needs an identity") }
        // Refused before any prompt: an undefined name, or a kind with nothing for a person to do.
        let config = try loadConfig()
        let identity = try config.identity(name)
        guard identity.kind.loginFlow != nil else {
            let able = config.identityOrder.filter { config.kinds[$0]?.loginFlow != nil }
            throw BrokerFailure(.input, "identity \"\(name)\" (kind \(identity.kind.kindName)) has no login step; there is nothing to log in to",
                                hint: "its credential needs nothing from a person, so just use it"
                                    + (able.isEmpty ? "" : "; identities that take a login here: \(able.prefix(5).joined(separator: ", "))"))
        }
        let tty = FileHandle(forUpdatingAtPath: "/dev/tty")
        let prompt = Data("MFA code for identity \"\(name)\": ".utf8)
        if let tty { tty.write(prompt) } else { FileHandle.standardError.write(prompt) }
        let input = tty ?? FileHandle.standardInput
        var line = Data()
        while let byte = try input.read(upToCount: 1), let b = byte.first, b != 10 { line.append(b) }
        let code = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !code.isEmpty, code.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw BrokerFailure(.usage, "an MFA code is the digits your device shows")
        }
        let request = WireMessage(.login, [.init(WireKey.identity, name), .init(WireKey.code, code)])
        guard let answer = try client().send(request) else { throw BrokerFailure(.unavailable, "broker-agent is not running") }
        let expires = answer["expiration"].flatMap(Int64.init).map { " until \(rfc3339UTC($0))" } ?? ""
        out("logged in: identity \"\(name)\" has a session\(expires)")
        return ExitStatus.success
    }
}
