// `brokerctl explain URL` (or `which`): which binding and identity git would use, through which chain, what is cached.

import BrokerCore
import BrokerWire
import Foundation

/// What git's credential request for a URL looks like: git sends the path only with useHttpPath.
struct GitRequestShape: Equatable {
    var scheme: String
    /// With the port, as git sends it (`host=example.com:8443`).
    var host: String
    var path: String?

    /// `https://user@host:port/path?q` → scheme, host with port, path without the query.
    init?(url text: String) {
        guard let schemeEnd = text.range(of: "://") else { return nil }
        scheme = text[..<schemeEnd.lowerBound].lowercased()
        var rest = text[schemeEnd.upperBound...]
        if let cut = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<cut] }
        let authority = rest.prefix { $0 != "/" }
        let afterAt = authority.lastIndex(of: "@").map { authority[authority.index(after: $0)...] } ?? authority
        guard !scheme.isEmpty, !afterAt.isEmpty else { return nil }
        host = String(afterAt)
        let pathPart = rest.dropFirst(authority.count).drop { $0 == "/" }
        path = pathPart.isEmpty ? nil : String(pathPart)
    }

    var hostURL: String { "\(scheme)://\(host)" }
}

extension Brokerctl {
    func explain(_ args: [String], as command: String = "explain") throws -> Int32 {
        let options = try parse(args, as: command)
        guard let text = options.positional.first else { throw BrokerFailure(.usage, "\(command) needs a URL") }
        guard let request = GitRequestShape(url: text) else {
            throw BrokerFailure(.usage, "\"\(WireCodec.printable(text))\" is not a URL git would ask credentials for",
                                hint: "give it as scheme://host/path, such as https://github.com/acme/tools.git")
        }
        let config = try loadConfig()
        let doctor = Doctor(ctl: self, network: false)
        let useHttpPath = doctor.gitConfig(["--bool", "--get-urlmatch", "credential.useHttpPath", request.hostURL + "/"])?
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "true"
        let withoutPath = config.gitBinding(protocol: request.scheme, host: request.host, path: nil)
        let withPath = request.path.flatMap { config.gitBinding(protocol: request.scheme, host: request.host, path: $0) }
        let effective = useHttpPath && request.path != nil ? withPath : withoutPath

        // The chain, identity first, each step's kind.
        var chain: [(name: String, kind: String)] = []
        var next = effective?.identity
        while let name = next, !chain.contains(where: { $0.name == name }), let definition = config.identities[name] {
            chain.append((name, definition.kind))
            if case .identity(let upstream)? = definition.via { next = upstream } else { next = nil }
        }

        // What the agent holds for the chain (never started for this), by expiry.
        let status = try? client().send(WireMessage(.status), startAgent: false)
        let entries = status?.records("entry", columns: ["identity", "kind", "expires", "key"]) ?? []
        let now = Int64(Date().timeIntervalSince1970)
        let cached: [(name: String, expires: Int64?)] = chain.compactMap { step in
            guard let entry = entries.first(where: { $0["identity"] == step.name }) else { return nil }
            return (step.name, entry["expires"].flatMap { Int64($0) })
        }

        var reason: String?
        if effective == nil {
            let needy = config.pathBoundBindingsNeedingPath(protocol: request.scheme, host: request.host)
            if let withPath, !useHttpPath {
                reason = "only the path-bound rule \(withPath.pattern) (\(withPath.location)) matches, and git sends no path for \(request.hostURL); run: git config --global credential.\(request.hostURL).useHttpPath true"
            } else if !needy.isEmpty, request.path != nil {
                reason = "rules for \(request.hostURL) are bound to other paths: \(needy.map { "\($0.pattern)" }.joined(separator: ", "))"
            } else if config.gitBindings.isEmpty {
                reason = config.file == nil ? "there is no configuration file, so no URL is bound" : "the configuration binds no git URLs"
            } else {
                reason = "no [git \"…\"] rule matches \(request.hostURL) (rules: \(config.gitBindings.map { "\($0.pattern)" }.joined(separator: ", ")))"
            }
        }

        if options.format == .json {
            func binding(_ b: GitBinding?) -> Any {
                b.map { ["rule": "\($0.pattern)", "identity": $0.identity, "defined_at": "\($0.location)"] } ?? NSNull()
            }
            emitJSON([
                "url": text, "protocol": request.scheme, "host": request.host, "path": request.path ?? NSNull(),
                "use_http_path": useHttpPath, "binding_without_path": binding(withoutPath), "binding_with_path": binding(withPath),
                "identity": effective?.identity ?? NSNull(),
                "chain": chain.map { ["identity": $0.name, "kind": $0.kind] },
                "agent_running": status != nil,
                "cached": cached.map { ["identity": $0.name, "expires": $0.expires.map { rfc3339UTC($0) } ?? NSNull()] as [String: Any] },
                "reason": reason ?? NSNull(),
            ] as [String: Any])
            return ExitStatus.success
        }

        func describe(_ b: GitBinding?) -> String {
            b.map { "[git \"\($0.pattern)\"] (\($0.location)) → identity \"\($0.identity)\"" } ?? "no rule"
        }
        var rows: [[String]] = [
            ["url", text],
            ["git sends", "protocol=\(request.scheme) host=\(request.host)" + (useHttpPath && request.path != nil ? " path=\(request.path!)" : "")
                + " (credential.useHttpPath is \(useHttpPath ? "on" : "off") for \(request.hostURL))"],
            ["without path", describe(withoutPath)],
        ]
        if request.path != nil { rows.append(["with path", describe(withPath)]) }
        if let effective {
            rows.append(["git uses", "identity \"\(effective.identity)\""])
            rows.append(["chain", chain.enumerated().map { $0.offset == 0 ? "\($0.element.name) (\($0.element.kind))" : "via \($0.element.name) (\($0.element.kind))" }
                .joined(separator: " → ")])
            if status == nil {
                rows.append(["cached", "nothing: broker-agent is not running"])
            } else {
                for step in chain {
                    let entry = cached.first { $0.name == step.name }
                    let state = entry.map { $0.expires.map { "until \(rfc3339UTC($0)) (in \(humanDuration($0 - now)))" } ?? "in memory, no expiry" } ?? "not cached"
                    rows.append(["cached", "\(step.name): \(state)"])
                }
            }
        } else {
            rows.append(["git uses", config.git.store == .keyring
                ? "no identity: the helper keeps what git approves for this URL in the keyring ([git] store = keyring)"
                : "no identity: the helper acts as git credential-cache for this URL (what git approves is kept \(config.git.cacheTimeout) s)"])
            rows.append(["why", reason ?? ""])
        }
        out(renderTable(rows))
        return ExitStatus.success
    }
}
