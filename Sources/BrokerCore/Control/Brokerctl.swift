// brokerctl: a person's window into the agent and the config (status, list, validate, stop, …).

import BrokerWire
import Foundation

public struct Brokerctl {
    public enum Format: String { case table, json }

    var environment: Environment
    var out: (String) -> Void
    var err: (String) -> Void

    public init(environment: Environment = .current, out: @escaping (String) -> Void = { print($0) },
                err: @escaping (String) -> Void = { printError($0) }) {
        self.environment = environment
        self.out = out
        self.err = err
    }

    public static var usage: String { CommandCatalog.usage(for: "brokerctl") }

    /// Runs one command line; returns the exit status. Errors print one line and a hint.
    public func run(_ arguments: [String]) -> Int32 {
        var env = environment
        var args = arguments[...]
        while let first = args.first, first.hasPrefix("--config") {
            args.removeFirst()
            if first == "--config", let file = args.popFirst() {
                env.values["BROKER_CONFIG"] = file
            } else if first.hasPrefix("--config=") {
                env.values["BROKER_CONFIG"] = String(first.dropFirst("--config=".count))
            } else {
                return usageError("--config needs a file")
            }
        }
        guard let command = args.popFirst() else { return usageError("no command given") }
        let ctl = Brokerctl(environment: env, out: out, err: err)
        if args.contains("--help") || args.contains("-h"), CommandCatalog.command(named: "brokerctl")?.subcommands.contains(where: { $0.name == command }) == true {
            out(CommandCatalog.usage(for: "brokerctl \(command)"))
            return ExitStatus.success
        }
        do {
            switch command {
            case "status": return try ctl.status(Array(args))
            case "list": return try ctl.list(Array(args))
            case "validate": return try ctl.validate(Array(args))
            case "stop": return try ctl.stop(Array(args))
            case "logout": return try ctl.logout(Array(args))
            case "audit": return try ctl.audit(Array(args))
            case "git-setup": return try ctl.gitSetup(Array(args))
            case "generate-docs": return try ctl.generateDocs(Array(args))
            case "selftest": return try ctl.selfTest(Array(args))
            case "whoami": return try ctl.whoami(Array(args))
            case "login": return try ctl.login(Array(args))
            case "-h", "--help", "help":
                out(Self.usage)
                return ExitStatus.success
            default:
                return usageError("unknown command \"\(WireCodec.printable(command))\"")
            }
        } catch let failure as BrokerFailure where failure.kind == .usage {
            return usageError(failure.message)
        } catch let error as ConfigError {
            err("brokerctl: \(error.description)")
            return ExitStatus.failure
        } catch let error as BrokerError {
            err("brokerctl: \(error.description)")
            return ExitStatus.failure
        } catch {
            err("brokerctl: \(error)")
            return ExitStatus.failure
        }
    }

    func usageError(_ message: String, command: String? = nil) -> Int32 {
        err("brokerctl: \(message)")
        err(CommandCatalog.shortUsage(for: command.map { "brokerctl \($0)" } ?? "brokerctl"))
        return ExitStatus.usage
    }

    struct Options {
        var format = Format.table
        var flags: Set<String> = []
        var values: [String: String] = [:]
        var positional: [String] = []
    }

    /// Parses `--format X`, the named boolean flags and valued options; anything else is usage.
    func parse(_ args: [String], flags: Set<String> = [], valued: Set<String> = [], maxPositional: Int = 0) throws -> Options {
        var options = Options()
        var rest = args[...]
        while let arg = rest.popFirst() {
            if arg == "--format" || arg.hasPrefix("--format=") {
                let value = arg == "--format" ? rest.popFirst() : String(arg.dropFirst(9))
                guard let value, let format = Format(rawValue: value) else {
                    throw BrokerFailure(.usage, "--format takes table or json")
                }
                options.format = format
            } else if flags.contains(arg) {
                options.flags.insert(arg)
            } else if valued.contains(arg) {
                guard let value = rest.popFirst() else { throw BrokerFailure(.usage, "\(arg) needs a value") }
                options.values[arg] = value
            } else if arg.hasPrefix("-") {
                throw BrokerFailure(.usage, "unknown option \(WireCodec.printable(arg))")
            } else {
                options.positional.append(arg)
            }
        }
        if options.positional.count > maxPositional {
            throw BrokerFailure(.usage, "unexpected argument \(WireCodec.printable(options.positional[maxPositional]))")
        }
        return options
    }

    var paths: BrokerPaths { get throws { try BrokerPaths.resolve(environment) } }

    func client() throws -> AgentClient { AgentClient(paths: try paths, environment: environment, timeoutSeconds: 10) }

    func emitJSON(_ object: Any) {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
        out(String(decoding: data, as: UTF8.self))
    }

    // MARK: commands

    func status(_ args: [String]) throws -> Int32 {
        let options = try parse(args)
        let paths = try self.paths
        guard let answer = try client().send(WireMessage(["op": "status"]), startAgent: false) else {
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

    func loadConfig() throws -> BrokerConfig { try BrokerConfig.load(try paths) }

    func list(_ args: [String]) throws -> Int32 {
        let options = try parse(args, flags: ["--names"])
        let config = try loadConfig()
        if options.flags.contains("--names") {
            config.identityOrder.forEach { out($0) }
            return ExitStatus.success
        }
        func chain(_ name: String) -> [String] {
            var names = [name]
            var current = config.identities[name]?.via
            while case .identity(let next)? = current, names.count < 65 {
                names.append(next)
                current = config.identities[next]?.via
            }
            if case .provider(let p)? = current { names.append("provider:\(p)") }
            return names
        }
        if options.format == .json {
            emitJSON([
                "config": config.file ?? NSNull(),
                "identities": config.identityOrder.map { name -> [String: Any] in
                    let definition = config.identities[name]!
                    return ["name": name, "kind": definition.kind, "chain": chain(name),
                            "via": definition.via.map { "\($0)" } ?? NSNull(), "defined_at": "\(definition.location)"]
                },
                "git": config.gitBindings.map { ["url": $0.pattern.text, "identity": $0.identity, "defined_at": "\($0.location)"] },
            ] as [String: Any])
            return ExitStatus.success
        }
        if config.identityOrder.isEmpty {
            out("no identities configured" + (config.file.map { " in \($0)" } ?? " (no config file; unbound git URLs use the in-memory cache)"))
        } else {
            out(renderTable([["IDENTITY", "KIND", "CHAIN"]] + config.identityOrder.map { name in
                [name, config.identities[name]!.kind, chain(name).joined(separator: " → ")]
            }))
        }
        if !config.gitBindings.isEmpty {
            out("")
            out(renderTable([["GIT URL", "IDENTITY"]] + config.gitBindings.map { [$0.pattern.text, $0.identity] }))
        }
        return ExitStatus.success
    }

    func validate(_ args: [String]) throws -> Int32 {
        let options = try parse(args, valued: ["--config"])
        var ctl = self
        if let file = options.values["--config"] { ctl.environment.values["BROKER_CONFIG"] = file }
        let config = try ctl.loadConfig()
        guard let file = config.file else {
            out("no config file at \(try ctl.paths.configFile): nothing to check (an empty config is valid)")
            return ExitStatus.success
        }
        out("\(file): ok (\(config.identities.count) identities, \(config.gitBindings.count) git bindings)")
        return ExitStatus.success
    }

    func stop(_ args: [String]) throws -> Int32 {
        _ = try parse(args)
        guard let answer = try client().send(WireMessage(["op": "ping"]), startAgent: false) else {
            out("broker-agent is not running")
            return ExitStatus.success
        }
        _ = try client().send(WireMessage(["op": "stop"]), startAgent: false)
        let pid = answer["pid"].flatMap(Int32.init) ?? 0
        // Wait until it has let go of the socket, so a following command starts a fresh agent.
        for _ in 0..<100 where pid > 0 && kill(pid, 0) == 0 { usleep(20_000) }
        out("stopped broker-agent (pid \(pid))")
        return ExitStatus.success
    }

    func logout(_ args: [String]) throws -> Int32 {
        let options = try parse(args, flags: ["--all"], maxPositional: 1)
        let all = options.flags.contains("--all")
        guard all != (options.positional.count == 1) else {
            throw BrokerFailure(.usage, "logout takes one identity or --all")
        }
        let identity = options.positional.first
        if let answer = try client().send(WireMessage([.init("op", "identity.logout"), .init("identity", identity ?? "*")]), startAgent: false) {
            out("dropped \(answer["removed"] ?? "0") cached credential(s)" + (identity.map { " of \"\($0)\"" } ?? ""))
        } else {
            // No agent: the disk cache is all there is.
            let cache = CredentialCache(directory: try paths.cacheEntriesDirectory, log: { _ in })
            let removed = cache.remove(identity: identity)
            out("dropped \(removed) cached credential(s) from disk" + (identity.map { " of \"\($0)\"" } ?? ""))
        }
        return ExitStatus.success
    }

    func audit(_ args: [String]) throws -> Int32 {
        let options = try parse(args, valued: ["--tail"])
        let tail = try options.values["--tail"].map { text -> Int in
            guard let n = Int(text), n > 0 else { throw BrokerFailure(.usage, "--tail takes a positive number") }
            return n
        } ?? 20
        let path = try paths.auditLogPath
        let lines = AuditFiles.lastLines(of: path, count: tail)
        let records = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        if options.format == .json {
            emitJSON(records)
            return ExitStatus.success
        }
        if records.isEmpty { out("no audit records in \(path)"); return ExitStatus.success }
        out(renderTable([["TIME", "EVENT", "OUTCOME", "IDENTITY", "ADAPTER", "CALLER", "TARGET"]] + records.map { r in
            let caller = r["caller"] as? [String: Any]
            let exe = (caller?["parent_exe"] as? String ?? caller?["exe"] as? String).map { ($0 as NSString).lastPathComponent } ?? "-"
            return [r["time"] as? String ?? "", r["event"] as? String ?? "", r["outcome"] as? String ?? "",
                    r["identity"] as? String ?? "-", r["adapter"] as? String ?? "",
                    "\(exe)[\(caller?["pid"] as? Int ?? 0)]", r["target"] as? String ?? ""]
        }))
        return ExitStatus.success
    }

    /// The git config lines people need: the helper itself, and useHttpPath for hosts whose
    /// bindings carry a path (git sends no path otherwise, DESIGN §4).
    func gitSetup(_ args: [String]) throws -> Int32 {
        let options = try parse(args, flags: ["--print", "--global"])
        let config = try loadConfig()
        var settings: [(String, String)] = [("credential.helper", "broker")]
        var seen = Set<String>()
        for binding in config.gitBindings where !binding.pattern.path.isEmpty {
            let hostURL = "\(binding.pattern.scheme)://\(binding.pattern.hostLabels.joined(separator: "."))" + (binding.pattern.port.map { ":\($0)" } ?? "")
            if seen.insert(hostURL).inserted { settings.append(("credential.\(hostURL).useHttpPath", "true")) }
        }
        if options.flags.contains("--global") {
            for (key, value) in settings {
                let result = try CommandRunner().run("git config --global '\(key)' '\(value)'", timeout: 10, environment: environment)
                guard result.status == 0 else {
                    throw BrokerFailure(.unavailable, "git config --global \(key) failed: \(result.stderr.split(separator: "\n").first ?? "")")
                }
                out("set \(key) = \(value)")
            }
        } else {
            for (key, value) in settings { out("git config --global \(key) \(value)") }
        }
        return ExitStatus.success
    }

    func generateDocs(_ args: [String]) throws -> Int32 {
        let options = try parse(args, maxPositional: 1)
        guard let root = options.positional.first else { throw BrokerFailure(.usage, "generate-docs needs a directory") }
        for path in try Documentation.write(to: root) { out("wrote \(path)") }
        return ExitStatus.success
    }
}

/// Left-aligned columns separated by two spaces.
func renderTable(_ rows: [[String]]) -> String {
    guard let width = rows.map(\.count).max() else { return "" }
    var widths = [Int](repeating: 0, count: width)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    return rows.map { row in
        row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            .joined(separator: "  ")
    }.joined(separator: "\n")
}

func humanDuration(_ seconds: Int64) -> String {
    if seconds < 0 { return "expired" }
    if seconds < 120 { return "\(seconds)s" }
    if seconds < 3600 { return "\(seconds / 60)m" }
    if seconds < 172_800 { return "\(seconds / 3600)h\(seconds % 3600 / 60)m" }
    return "\(seconds / 86400)d"
}
