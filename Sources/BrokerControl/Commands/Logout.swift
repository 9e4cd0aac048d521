// `brokerctl logout`: drop cached credentials, through the agent or from disk.

import BrokerCore
import BrokerWire

extension Brokerctl {
    func logout(_ args: [String]) throws -> Int32 {
        let options = try parse(args, as: "logout")
        let all = options.flags.contains("--all")
        guard all != (options.positional.count == 1) else {
            throw BrokerFailure(.usage, "logout takes one identity or --all")
        }
        let identity = options.positional.first
        if let name = identity, try loadConfig().providers[name] != nil {
            guard let answer = try client().send(WireMessage(.providerLogout, [.init(WireKey.provider, name)])) else {
                throw BrokerFailure(.unavailable, "broker-agent is not running")
            }
            out("logged out of provider \"\(name)\": removed " + answer.values("\(WireKey.removed)[]").joined(separator: ", "))
            return ExitStatus.success
        }
        let removed: Int
        let fromDisk: Bool
        if let answer = try client().send(WireMessage(.logout, [.init(WireKey.identity, identity ?? "*")]), startAgent: false) {
            removed = Int(answer["removed"] ?? "0") ?? 0
            fromDisk = false
        } else {
            // No agent: the disk cache is all there is.
            let cache = CredentialCache(directory: try paths.cacheEntriesDirectory, log: { _ in })
            removed = cache.remove(identity: identity)
            fromDisk = true
        }
        if options.format == .json {
            var object: [String: Any] = ["removed": removed, "agent_running": !fromDisk]
            object["identity"] = identity
            emitJSON(object)
        } else {
            out("dropped \(plural(removed, "cached credential"))" + (fromDisk ? " from disk" : "") + (identity.map { " of \"\($0)\"" } ?? ""))
        }
        return ExitStatus.success
    }
}
