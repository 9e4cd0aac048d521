// `brokerctl whoami`: ask the agent who an identity is (STS for AWS kinds, the kind's own answer otherwise).

import BrokerCore
import BrokerWire
import Foundation

extension Brokerctl {
    func whoami(_ args: [String]) throws -> Int32 {
        let options = try parse(args, as: "whoami")
        let name = try options.positional.first ?? chosenIdentity(for: "whoami")
        let request = WireMessage(.whoami, [.init(WireKey.identity, name)])
        guard let answer = try client().send(request) else { throw BrokerFailure(.unavailable, "broker-agent is not running") }
        let now = Int64(Date().timeIntervalSince1970)
        let expires = answer["expiration"].flatMap(Int64.init)
        // The kind's own fields (arn, account, … for AWS; username for password kinds), in its order.
        let reserved: Set<String> = [WireKey.status, "kind", WireKey.expiration, WireKey.tier]
        let fields = answer.fields.filter { !reserved.contains($0.key) }
        if options.format == .json {
            var object: [String: Any] = ["identity": name, "kind": answer["kind"] ?? "", "tier": answer["tier"] ?? ""]
            for field in fields { object[field.key] = field.value }
            object["expiration"] = expires.map { rfc3339UTC($0) } ?? NSNull()
            emitJSON(object)
            return ExitStatus.success
        }
        let labels = ["arn": "arn", "account": "account", "access_key_id": "access key", "user_id": "user id"]
        out(renderTable([["identity", name], ["kind", answer["kind"] ?? ""]]
            + fields.map { [labels[$0.key] ?? $0.key.replacingOccurrences(of: "_", with: " "), $0.value] }
            + [["expires", expires.map { "\(rfc3339UTC($0)) (in \(humanDuration($0 - now)))" } ?? "never (long-lived)"],
               ["answered from", answer["tier"] ?? ""]]))
        return ExitStatus.success
    }

    /// The identity a command means when none is named: `BROKER_IDENTITY`, then the one marked
    /// `default = true`; otherwise a usage error that lists the choices.
    func chosenIdentity(for command: String) throws -> String {
        if let named = environment["BROKER_IDENTITY"], !named.isEmpty { return named }
        let config = try loadConfig()
        if let chosen = config.defaultIdentity { return chosen }
        let choices = config.identityOrder.filter { name in
            if case .resolved = config.kinds[name]?.acquisition { return true } else { return false }
        }
        throw BrokerFailure(.usage, "\(command) needs an identity: name one, set BROKER_IDENTITY, or mark one `default = true`"
                            + (choices.isEmpty ? " (the configuration defines none)" : "; choices: \(choices.joined(separator: ", "))"))
    }
}
