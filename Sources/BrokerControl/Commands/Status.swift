// `brokerctl status`: what the agent holds, never a secret.

import BrokerWire
import Foundation

extension Brokerctl {
    func status(_ args: [String]) throws -> Int32 {
        let options = try parse(args, as: "status")
        let paths = try self.paths
        guard let answer = try client().send(WireMessage(.status), startAgent: false) else {
            if options.format == .json {
                emitJSON(["running": false, "socket": paths.socketPath, "config": paths.configFile, "profile": paths.profile.map { $0 as Any } ?? NSNull()] as [String: Any])
            } else {
                out("broker-agent is not running for config \(paths.configFile)" + (paths.profile.map { " profile \($0)" } ?? "")
                    + " (socket \(paths.socketPath))")
            }
            return ExitStatus.success
        }
        let now = Int64(Date().timeIntervalSince1970)
        let started = answer["started"].flatMap(Int64.init) ?? now
        let entries: [[String: Any]] = answer.records("entry", columns: ["identity", "kind", "expires", "key"]).map { record in
            var entry: [String: Any] = ["identity": record["identity"]!, "kind": record["kind"]!, "key": record["key"]!]
            if let expires = Int64(record["expires"]!) { entry["expires"] = expires; entry["expires_in"] = expires - now }
            return entry
        }
        let leases: [[String: Any]] = answer.records("lease", columns: ["token", "holder_pid", "expires", "pool"]).compactMap { record in
            guard let pid = Int(record["holder_pid"]!), let expires = Int64(record["expires"]!) else { return nil }
            return ["pool": record["pool"]!, "token": record["token"]!, "holder_pid": pid, "expires": expires, "expires_in": expires - now]
        }
        let quarantined: [[String: Any]] = answer.records("quarantined", columns: ["token", "until", "pool"]).compactMap { record in
            guard let until = Int64(record["until"]!) else { return nil }
            return ["pool": record["pool"]!, "token": record["token"]!, "until": until, "remaining": until - now]
        }
        let ambient: [[String: Any]] = answer.records("ambient", columns: ["identity", "kind"]).map { ["identity": $0["identity"]!, "kind": $0["kind"]!] }
        let ambientErrors = answer.values("ambient_error")
        let sessions: [[String: Any]] = answer.records("session", columns: ["provider", "kind", "expires"]).map { record in
            var session: [String: Any] = ["provider": record["provider"]!, "kind": record["kind"]!]
            if let expires = Int64(record["expires"]!) { session["expires"] = expires; session["expires_in"] = expires - now }
            return session
        }
        if options.format == .json {
            var object: [String: Any] = [
                "ambient": ambient, "ambient_errors": ambientErrors, "provider_sessions": sessions,
                "running": true, "pid": Int(answer["pid"] ?? "") ?? 0, "uptime_seconds": now - started,
                "socket": answer["socket"] ?? "", "config": answer["config"] ?? "",
                "git_cache_entries": Int(answer["git_cache_entries"] ?? "") ?? 0, "entries": entries,
                "docker_store_entries": Int(answer["docker_store_entries"] ?? "") ?? 0,
                "warm_answers_replayed": Int(answer["warm_answers_replayed"] ?? "") ?? 0,
                "leases": leases, "quarantined": quarantined,
            ]
            object["profile"] = answer["profile"].map { $0 as Any } ?? NSNull()
            object["config_error"] = answer["config_error"]
            object["cache_error"] = answer["cache_error"]
            object["audit_error"] = answer["audit_error"]
            object["syslog_error"] = answer["syslog_error"]
            emitJSON(object)
            return ExitStatus.success
        }
        out(renderTable([
            ["agent", "pid \(answer["pid"] ?? "?"), up \(humanDuration(now - started))"],
            ["socket", answer["socket"] ?? ""],
            ["config", answer["config"] ?? ""],
        ] + (answer["profile"].map { [["profile", "\($0) (\(answer["profile_file"] ?? "config.d/\($0)"), read after config)"]] } ?? []) + [
            ["git cache", "\(plural(Int(answer["git_cache_entries"] ?? "0") ?? 0, "entry", "entries")) in memory"],
            ["docker logins", "\(answer["docker_store_entries"] ?? "0") in memory"],
        ]))
        if let configError = answer["config_error"] { out("config error: \(configError)") }
        // A full or read-only disk: credentials are still served from memory, but say so.
        if let cacheError = answer["cache_error"] { out("cache error: \(cacheError) (credentials are kept in memory only)") }
        if let auditError = answer["audit_error"] { out("audit error: \(auditError) (records are being lost)") }
        if let syslogError = answer["syslog_error"] { out("syslog error: \(syslogError) (the audit file still has every record)") }
        for record in ambient { out("ambient identity: \(record["identity"]!) (\(record["kind"]!)) from the agent's environment") }
        for failure in ambientErrors { out("ambient error: \(failure)") }
        if entries.isEmpty {
            out("no cached identity credentials")
        } else {
            out("")
            out(renderTable([["IDENTITY", "KIND", "EXPIRES IN"]] + entries.map { entry in
                [entry["identity"] as! String, entry["kind"] as! String,
                 (entry["expires_in"] as? Int64).map { humanDuration($0) } ?? "never (memory only)"]
            }))
        }
        if !sessions.isEmpty {
            out("")
            out(renderTable([["PROVIDER", "KIND", "SESSION ENDS IN"]] + sessions.map { session in
                [session["provider"] as! String, session["kind"] as! String,
                 (session["expires_in"] as? Int64).map { $0 > 0 ? humanDuration($0) : "expired (run: brokerctl login \(session["provider"] as! String))" }
                    ?? "no session (run: brokerctl login \(session["provider"] as! String))"]
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
