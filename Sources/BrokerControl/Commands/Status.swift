// `brokerctl status`: what the agent holds, never a secret.

import BrokerWire
import Foundation

extension Brokerctl {
    func status(_ args: [String]) throws -> Int32 {
        let options = try parse(args, as: "status")
        let paths = try self.paths
        guard let answer = try client().send(WireMessage(.status), startAgent: false) else {
            if options.format == .json {
                emitJSON(["running": false, "socket": paths.socketPath])
            } else {
                out("broker-agent is not running (socket \(paths.socketPath))")
            }
            return ExitStatus.success
        }
        let now = Int64(Date().timeIntervalSince1970)
        let started = answer["started"].flatMap(Int64.init) ?? now
        let entries: [[String: Any]] = answer.values("entry").map { line in
            let parts = line.split(separator: " ").map(String.init)
            var entry: [String: Any] = ["identity": parts[0], "kind": parts[1], "key": parts.count > 3 ? parts[3] : ""]
            if let expires = Int64(parts[2]) { entry["expires"] = expires; entry["expires_in"] = expires - now }
            return entry
        }
        let leases: [[String: Any]] = answer.values("lease").compactMap { line in
            let parts = line.split(separator: " ", maxSplits: 3).map(String.init)
            guard parts.count == 4, let pid = Int(parts[1]), let expires = Int64(parts[2]) else { return nil }
            return ["pool": parts[3], "token": parts[0], "holder_pid": pid, "expires": expires, "expires_in": expires - now]
        }
        let quarantined: [[String: Any]] = answer.values("quarantined").compactMap { line in
            let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
            guard parts.count == 3, let until = Int64(parts[1]) else { return nil }
            return ["pool": parts[2], "token": parts[0], "until": until, "remaining": until - now]
        }
        if options.format == .json {
            var object: [String: Any] = [
                "running": true, "pid": Int(answer["pid"] ?? "") ?? 0, "uptime_seconds": now - started,
                "socket": answer["socket"] ?? "", "config": answer["config"] ?? "",
                "git_cache_entries": Int(answer["git_cache_entries"] ?? "") ?? 0, "entries": entries,
                "leases": leases, "quarantined": quarantined,
            ]
            object["config_error"] = answer["config_error"]
            object["cache_error"] = answer["cache_error"]
            object["audit_error"] = answer["audit_error"]
            emitJSON(object)
            return ExitStatus.success
        }
        out(renderTable([
            ["agent", "pid \(answer["pid"] ?? "?"), up \(humanDuration(now - started))"],
            ["socket", answer["socket"] ?? ""],
            ["config", answer["config"] ?? ""],
            ["git cache", "\(answer["git_cache_entries"] ?? "0") entries in memory"],
        ]))
        if let configError = answer["config_error"] { out("config error: \(configError)") }
        // A full or read-only disk: credentials are still served from memory, but say so.
        if let cacheError = answer["cache_error"] { out("cache error: \(cacheError) (credentials are kept in memory only)") }
        if let auditError = answer["audit_error"] { out("audit error: \(auditError) (records are being lost)") }
        if entries.isEmpty {
            out("no cached identity credentials")
        } else {
            out("")
            out(renderTable([["IDENTITY", "KIND", "EXPIRES IN"]] + entries.map { entry in
                [entry["identity"] as! String, entry["kind"] as! String,
                 (entry["expires_in"] as? Int64).map { humanDuration($0) } ?? "never (memory only)"]
            }))
        }
        if !leases.isEmpty || !quarantined.isEmpty {
            out("")
            out(renderTable([["POOL", "TOKEN", "HELD BY", "EXPIRES IN"]]
                + leases.map { [$0["pool"] as! String, $0["token"] as! String, "pid \($0["holder_pid"] as! Int)",
                                humanDuration($0["expires_in"] as! Int64)] }
                + quarantined.map { [$0["pool"] as! String, $0["token"] as! String, "quarantined",
                                     humanDuration($0["remaining"] as! Int64)] }))
        }
        return ExitStatus.success
    }
}
