// `brokerctl whoami`: ask STS, through the agent, who an AWS identity is.

import BrokerWire
import Foundation

extension Brokerctl {
    func whoami(_ args: [String]) throws -> Int32 {
        let options = try parse(args, as: "whoami")
        guard let name = options.positional.first ?? environment["BROKER_IDENTITY"] else {
            throw BrokerFailure(.usage, "whoami needs an identity (or BROKER_IDENTITY)")
        }
        let request = WireMessage(.whoami, [.init(WireKey.identity, name)])
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
}
