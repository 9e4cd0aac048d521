// `brokerctl list`: the identities, their chains and the git bindings the config defines.

import BrokerCore
import BrokerFrontends
import BrokerWire
import Foundation

extension Brokerctl {
    /// Whether an identity of this kind can answer `use`: completions offer only those.
    static func canServe(_ kind: any IdentityKind, _ use: IdentityUse) -> Bool {
        switch use {
        case .aws: return type(of: kind).descriptor.produces == .aws
        case .login: return kind.loginFlow != nil
        case .whoami:
            if case .resolved = kind.acquisition { return true }
            return false
        }
    }

    func list(_ args: [String]) throws -> Int32 {
        let options = try parse(args, as: "list")
        let config = try loadConfig()
        if let provider = options.values["--provider"] {
            return try listProvider(provider, config: config, asConfig: options.flags.contains("--as-config"), format: options.format)
        }
        if options.flags.contains("--names") {
            let use = options.values["--for"].flatMap(IdentityUse.init(rawValue:))
            config.identityOrder.filter { name in
                guard let use, let kind = config.kinds[name] else { return true }
                return Self.canServe(kind, use)
            }.forEach { out($0) }
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
                "registries": config.registryBindings.map { ["registry": $0.pattern.text, "identity": $0.identity, "defined_at": "\($0.location)"] },
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
        if !config.registryBindings.isEmpty {
            out("")
            out(renderTable([["REGISTRY", "IDENTITY"]] + config.registryBindings.map { [$0.pattern.text, $0.identity] }))
        }
        return ExitStatus.success
    }
}

extension Brokerctl {
    /// What a provider can offer (every account and role of an Identity Center session), as a
    /// table, JSON, or `[identity]` sections to append to the configuration.
    func listProvider(_ name: String, config: BrokerConfig, asConfig: Bool, format: Format) throws -> Int32 {
        _ = try config.provider(name)
        guard let answer = try client().send(WireMessage(.providerList, [.init(WireKey.provider, name)])) else {
            throw BrokerFailure(.unavailable, "broker-agent is not running")
        }
        let offers = answer.records("offer", columns: ["name", "kind"])
        func pairs(_ table: String, _ index: Int) -> [(String, String)] {
            answer.records(table, columns: ["offer", "key", "value"]).filter { $0["offer"] == String(index) }.map { ($0["key"]!, $0["value"]!) }
        }
        if asConfig {
            for (index, offer) in offers.enumerated() {
                let name = offer["name"]!
                let defined = config.identities[name] != nil ? "# already defined: " : ""
                out("\(defined)[identity \"\(name)\"]")
                out("\(defined)    kind = \(offer["kind"]!)")
                for (key, value) in pairs("setting", index) { out("\(defined)    \(key) = \(value)") }
            }
            return ExitStatus.success
        }
        if format == .json {
            emitJSON(offers.enumerated().map { index, offer -> [String: Any] in
                ["name": offer["name"]!, "kind": offer["kind"]!, "defined": config.identities[offer["name"]!] != nil,
                 "settings": Dictionary(pairs("setting", index), uniquingKeysWith: { $1 }),
                 "notes": Dictionary(pairs("note", index), uniquingKeysWith: { $1 })]
            })
            return ExitStatus.success
        }
        out(renderTable([["IDENTITY", "KIND", "NOTES", "DEFINED"]] + offers.enumerated().map { index, offer in
            [offer["name"]!, offer["kind"]!, pairs("note", index).map { "\($0.0)=\($0.1)" }.joined(separator: " "),
             config.identities[offer["name"]!] != nil ? "yes" : "no"]
        }))
        return ExitStatus.success
    }
}
