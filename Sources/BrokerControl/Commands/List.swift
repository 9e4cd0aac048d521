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
        if options.flags.contains("--profiles") { return try listProfiles(format: options.format) }
        let config = try loadConfig()
        if let provider = options.values["--provider"] {
            return try listProvider(provider, config: config, asConfig: options.flags.contains("--as-config"), format: options.format)
        }
        if options.flags.contains("--names") {
            let use = options.values["--for"].flatMap(IdentityUse.init(rawValue:))
            let names = config.identityOrder + virtualNames(config)
            names.filter { name in
                guard let use, let kind = config.kind(name) else { return true }
                // `login` also stores the keys a section reads from the keyring (Login.swift).
                return Self.canServe(kind, use) || (use == .login && !Self.keyringKeys(config.identities[name], kind).isEmpty)
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
                "auto_provision": config.providerOrder.filter { config.providerKinds[$0]?.autoProvisions == true },
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
        for provider in config.providerOrder where config.providerKinds[provider]?.autoProvisions == true {
            out("")
            out("provider \"\(provider)\" offers its accounts and roles as identities ACCOUNT-ID/ROLE (auto-provision); see: brokerctl list --provider \(provider)")
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
    /// The virtual identities of every provider with `auto-provision`, from the agent's listing
    /// (at most 10 minutes old), for completions: nothing when there is no session or no agent
    /// answer. A name a section defines is left out (it is listed already).
    func virtualNames(_ config: BrokerConfig) -> [String] {
        var names: [String] = []
        for provider in config.providerOrder where config.providerKinds[provider]?.autoProvisions == true {
            let request = WireMessage(.providerList, [.init(WireKey.provider, provider), .init(WireKey.maxAge, "600")])
            guard let answer = try? client().send(request), answer[WireKey.status] == "ok" else { continue }
            for offer in answer.records("offer", columns: ["name", "kind"]) {
                guard let name = offer["name"], config.identities[name] == nil else { continue }
                // Under the name a request resolves: the provider's prefix when the bare one is ambiguous.
                names.append((try? config.virtualIdentity(name)) != nil ? name : "\(provider)/\(name)")
            }
        }
        return names
    }

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
                 "virtual": config.identities[offer["name"]!] == nil && config.providerKinds[name]?.autoProvisions == true,
                 "settings": Dictionary(pairs("setting", index), uniquingKeysWith: { $1 }),
                 "notes": Dictionary(pairs("note", index), uniquingKeysWith: { $1 })]
            })
            return ExitStatus.success
        }
        // "virtual": usable by name with no section (the provider's auto-provision).
        let virtual = config.providerKinds[name]?.autoProvisions == true
        out(renderTable([["IDENTITY", "KIND", "NOTES", "DEFINED"]] + offers.enumerated().map { index, offer in
            [offer["name"]!, offer["kind"]!, pairs("note", index).map { "\($0.0)=\($0.1)" }.joined(separator: " "),
             config.identities[offer["name"]!] != nil ? "yes" : virtual ? "virtual" : "no"]
        }))
        return ExitStatus.success
    }

    /// The profiles beside the configuration file. Read even when the selected profile does not
    /// exist (that is when a person wants the list), and without reading any configuration.
    func listProfiles(format: Format) throws -> Int32 {
        var unselected = environment
        let selected = unselected.values.removeValue(forKey: "BROKER_PROFILE").flatMap { $0.isEmpty ? nil : $0 }
        let paths = try BrokerPaths.resolve(unselected)
        let names = BrokerPaths.profiles(in: paths.profilesDirectory)
        if format == .json {
            emitJSON([
                "directory": paths.profilesDirectory,
                "selected": selected ?? NSNull(),
                "profiles": names.map { ["name": $0, "file": paths.profilesDirectory + "/" + $0, "selected": $0 == selected] as [String: Any] },
            ] as [String: Any])
            return ExitStatus.success
        }
        if names.isEmpty {
            out("no profiles: \(paths.profilesDirectory) holds no overlay files (create config.d/NAME beside the configuration to define profile NAME)")
            return ExitStatus.success
        }
        out(renderTable([["PROFILE", "FILE", "SELECTED"]] + names.map { [$0, paths.profilesDirectory + "/" + $0, $0 == selected ? "yes" : ""] }))
        return ExitStatus.success
    }
}
