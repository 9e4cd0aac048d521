// brokerctl whoami and login: the AWS questions a person asks of the agent.

import BrokerWire
import Foundation

extension Brokerctl {
    func whoami(_ args: [String]) throws -> Int32 {
        let options = try parse(args, maxPositional: 1)
        guard let name = options.positional.first ?? environment["BROKER_IDENTITY"] else {
            throw BrokerFailure(.usage, "whoami needs an identity (or BROKER_IDENTITY)")
        }
        let request = WireMessage([.init("op", "aws.whoami"), .init("identity", name)])
        guard let answer = try client().send(request) else { throw BrokerFailure(.unavailable, "broker-agent is not running") }
        let now = Int64(Date().timeIntervalSince1970)
        let expires = answer["expiration"].flatMap(Int64.init)
        if options.format == .json {
            var object: [String: Any] = [
                "identity": name, "arn": answer["arn"] ?? "", "account": answer["account"] ?? "",
                "user_id": answer["user_id"] ?? "", "access_key_id": answer["access_key_id"] ?? "", "tier": answer["tier"] ?? "",
            ]
            object["expiration"] = expires.map { rfc3339UTC($0) } ?? NSNull()
            emitJSON(object)
            return ExitStatus.success
        }
        out(renderTable([
            ["identity", name],
            ["arn", answer["arn"] ?? ""],
            ["account", answer["account"] ?? ""],
            ["access key", answer["access_key_id"] ?? ""],
            ["expires", expires.map { "\(rfc3339UTC($0)) (in \(humanDuration($0 - now)))" } ?? "never (long-lived keys)"],
            ["answered from", answer["tier"] ?? ""],
        ]))
        return ExitStatus.success
    }

    /// Prompts for an MFA code on the terminal (standard input when there is none) and hands it
    /// to the agent, which uses it once to open the identity's session.
    func login(_ args: [String]) throws -> Int32 {
        let options = try parse(args, maxPositional: 1)
        guard let name = options.positional.first else { throw BrokerFailure(.usage, "login needs an identity") }
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
        let request = WireMessage([.init("op", "identity.login"), .init("identity", name), .init("code", code)])
        guard let answer = try client().send(request) else { throw BrokerFailure(.unavailable, "broker-agent is not running") }
        let expires = answer["expiration"].flatMap(Int64.init).map { " until \(rfc3339UTC($0))" } ?? ""
        out("logged in: identity \"\(name)\" has a session\(expires)")
        return ExitStatus.success
    }
}
