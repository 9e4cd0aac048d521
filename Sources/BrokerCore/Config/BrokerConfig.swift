// The validated configuration model: identities, providers, git bindings and agent settings.

import BrokerWire
import Foundation

/// One `[identity "name"]` section: its raw settings with the line each came from.
public struct IdentityDefinition: Sendable {
    public var name: String
    public var kind: String
    public var via: ViaReference?
    public var location: SourceLocation
    /// Lower-cased key → values in file order (multi-valued keys keep every value).
    public var settings: [String: [ConfigEntry]]
    /// `identity` or `provider`: which kind of section, for messages.
    public var section = "identity"

    /// The last value of a key (git's "last one wins" for single-valued keys).
    public func value(_ key: String) -> String? { settings[key]?.last?.value ?? nil }
    public func entry(_ key: String) -> ConfigEntry? { settings[key]?.last }
    public func values(_ key: String) -> [String] { settings[key]?.compactMap(\.value) ?? [] }

    /// A required value, or a ConfigError naming the section line.
    public func require(_ key: String) throws -> (String, SourceLocation) {
        guard let entry = entry(key), let value = entry.value, !value.isEmpty else {
            throw ConfigError("\(section) \"\(name)\" (kind \(kind)) needs \(key)", at: location,
                              hint: "add `\(key) = …` under [\(section) \"\(name)\"]")
        }
        return (value, entry.location)
    }
}

/// A configured identity: its section and the kind built from it.
public struct ConfiguredIdentity: Sendable {
    public var definition: IdentityDefinition
    public var kind: any IdentityKind
}

public enum ViaReference: Equatable, Sendable, CustomStringConvertible {
    case provider(String)
    case identity(String)

    public var description: String {
        switch self {
        case .provider(let name): return "provider:\(name)"
        case .identity(let name): return "identity:\(name)"
        }
    }
}

public struct ProviderDefinition: Sendable {
    public var name: String
    public var kind: String
    public var location: SourceLocation
    public var settings: [String: [ConfigEntry]]
}

/// `[git "https://host/path"] identity = name`.
public struct GitBinding: Sendable {
    public var pattern: GitURLPattern
    public var identity: String
    public var location: SourceLocation
}

public struct AgentSettings: Sendable, Equatable {
    /// The agent exits after this long without a request (while it holds no git-cache entries).
    public var idleTimeout: Int = 900
    /// Connections served at once; more wait in the listen backlog, then are refused.
    public var maxConnections: Int = 128
    /// How long one connection may take to send its request.
    public var requestTimeout: Int = 10
    /// Refresh a cached credential this long before it would fall under its minimum validity.
    public var refreshAhead: Int = 300
    /// A command's maximum run time, for `cmd:` secrets and `exec` identities that set none.
    public var commandTimeout: Int = 30
    /// Per-caller token buckets (RateLimiter): requests that go upstream, and cache hits.
    public var rateLimits = true
    public var upstreamRate = 5.0
    public var upstreamBurst = 10
    public var hitRate = 50.0
    public var hitBurst = 100
    /// The longest a caller over upstream-rate waits for a token before it is refused (seconds).
    public var upstreamWait = 5
    public init() {}
}

public struct GitSettings: Sendable, Equatable {
    /// How long approved credentials for unbound URLs stay in memory (credential-cache's --timeout).
    public var cacheTimeout: Int = 900
    /// Minimum validity of a token handed to git (DESIGN D7).
    public var minimumValidity: Int = 60
    public init() {}
}

public struct AWSAdapterSettings: Sendable, Equatable {
    /// Minimum validity of AWS credentials handed out (DESIGN D7: botocore refreshes 15 min
    /// before expiry, so anything under that makes it call us on every request).
    public var minimumValidity: Int = 1200
    /// `brokerctl console`: how long the console session lasts (Atmos's console.session-duration).
    public var consoleSessionDuration: Int = 3600
    /// The AWS sign-in federation endpoint `brokerctl console` asks for a SigninToken.
    public var signinEndpoint = "https://signin.aws.amazon.com/federation"
    public init() {}
}

public struct BrokerConfig: Sendable {
    /// The file it came from; nil when there was none (a valid, empty configuration).
    public var file: String?
    public var identities: [String: IdentityDefinition] = [:]
    /// Each identity's kind, built once when the configuration is loaded.
    public var kinds: [String: any IdentityKind] = [:]
    /// Identity names in file order, for listings.
    public var identityOrder: [String] = []
    public var providers: [String: ProviderDefinition] = [:]
    /// Each provider's kind, built once when the configuration is loaded.
    public var providerKinds: [String: any ProviderKind] = [:]
    /// Provider names in file order.
    public var providerOrder: [String] = []
    public var gitBindings: [GitBinding] = []
    public var agent = AgentSettings()
    public var git = GitSettings()
    public var aws = AWSAdapterSettings()
    public var audit = AuditSettings()

    public init() {}

    /// Loads and validates `paths.configFile`; a missing default file is an empty config, a
    /// missing BROKER_CONFIG file is an error.
    /// An identity by name, with its built kind, or the error a person needs.
    public func identity(_ name: String) throws -> ConfiguredIdentity {
        guard let definition = identities[name], let kind = kinds[name] else {
            throw BrokerFailure(.denied, "identity \"\(name)\" is not defined" + (file.map { " in \($0)" } ?? " (no config file)"),
                                hint: "run `brokerctl list` to see the identities")
        }
        return ConfiguredIdentity(definition: definition, kind: kind)
    }

    /// A provider by name, with its built kind, or the error a person needs.
    public func provider(_ name: String) throws -> ConfiguredProvider {
        guard let definition = providers[name], let kind = providerKinds[name] else {
            throw BrokerFailure(.denied, "provider \"\(name)\" is not defined" + (file.map { " in \($0)" } ?? " (no config file)"),
                                hint: "add a [provider \"\(name)\"] section")
        }
        var section = IdentityDefinition(name: name, kind: definition.kind, via: nil, location: definition.location, settings: definition.settings)
        section.section = "provider"
        return ConfiguredProvider(definition: section, kind: kind)
    }

    public static func load(_ paths: BrokerPaths) throws -> BrokerConfig {
        if !FileManager.default.fileExists(atPath: paths.configFile) {
            if paths.configFileIsExplicit {
                throw ConfigError("config file \(paths.configFile) (from BROKER_CONFIG) does not exist", at: nil,
                                  hint: "create it or unset BROKER_CONFIG")
            }
            return BrokerConfig()
        }
        var config = try parse(ConfigSyntax.load(path: paths.configFile))
        config.file = paths.configFile
        return config
    }

    static let sectionNames = ["agent", "audit", "aws", "git", "identity", "provider"]
    static let auditKeys = ["max-size", "keep"]
    static let awsKeys = ["minimum-validity", "console-session-duration", "signin-endpoint"]
    static let agentKeys = ["idle-timeout", "max-connections", "request-timeout", "refresh-ahead", "command-timeout",
                            "rate-limits", "upstream-rate", "upstream-burst", "upstream-wait", "hit-rate", "hit-burst"]
    static let gitKeys = ["cache-timeout", "minimum-validity"]
    static let gitBindingKeys = ["identity"]

    /// Validates parsed entries into the model. Every error cites file:line.
    public static func parse(_ entries: [ConfigEntry]) throws -> BrokerConfig {
        var config = BrokerConfig()
        var identityEntries: [String: [ConfigEntry]] = [:]
        var identityHeaders: [String: SourceLocation] = [:]
        var providerEntries: [String: [ConfigEntry]] = [:]
        var bindingEntries: [(String, [ConfigEntry])] = []

        for entry in entries {
            switch (entry.section, entry.subsection) {
            case ("agent", nil):
                try checkKey(entry, allowed: agentKeys, in: "[agent]")
                let seconds = { try ConfigSyntax.parseDuration(entry.value, at: entry.location) }
                switch entry.key {
                case "idle-timeout": config.agent.idleTimeout = try seconds()
                case "max-connections": config.agent.maxConnections = try positive(ConfigSyntax.parseInt(entry.value, at: entry.location), entry)
                case "request-timeout": config.agent.requestTimeout = try positive(seconds(), entry)
                case "refresh-ahead": config.agent.refreshAhead = try seconds()
                case "command-timeout": config.agent.commandTimeout = try positive(seconds(), entry)
                case "rate-limits": config.agent.rateLimits = try ConfigSyntax.parseBool(entry.value, at: entry.location)
                case "upstream-rate": config.agent.upstreamRate = try rate(entry)
                case "upstream-burst": config.agent.upstreamBurst = try positive(ConfigSyntax.parseInt(entry.value, at: entry.location), entry)
                case "hit-rate": config.agent.hitRate = try rate(entry)
                case "upstream-wait": config.agent.upstreamWait = try seconds()
                case "hit-burst": config.agent.hitBurst = try positive(ConfigSyntax.parseInt(entry.value, at: entry.location), entry)
                default: break
                }
            case ("audit", nil):
                try checkKey(entry, allowed: auditKeys, in: "[audit]")
                let number = try positive(ConfigSyntax.parseInt(entry.value, at: entry.location), entry)
                switch entry.key {
                case "max-size": config.audit.maxSize = number
                case "keep": config.audit.keep = number
                default: break
                }
            case ("aws", nil):
                try checkKey(entry, allowed: awsKeys, in: "[aws]")
                if entry.key == "signin-endpoint" {
                    guard let url = entry.value, let components = URLComponents(string: url), let host = components.host,
                          components.scheme == "https" || (components.scheme == "http" && STSEndpoint.isLoopback(host)) else {
                        throw ConfigError("[aws] signin-endpoint must be an https URL (plain http only to a loopback address)", at: entry.location)
                    }
                    config.aws.signinEndpoint = url
                    continue
                }
                let seconds = try ConfigSyntax.parseDuration(entry.value, at: entry.location)
                if entry.key == "console-session-duration" {
                    guard (900...43200).contains(seconds) else {
                        throw ConfigError("[aws] console-session-duration must be between 15m and 12h", at: entry.location)
                    }
                    config.aws.consoleSessionDuration = seconds
                    continue
                }
                if seconds < 900 {
                    throw ConfigError("[aws] minimum-validity must be at least 15m: botocore refreshes 15 minutes before expiry", at: entry.location)
                }
                config.aws.minimumValidity = seconds
            case ("git", nil):
                try checkKey(entry, allowed: gitKeys, in: "[git]")
                switch entry.key {
                case "cache-timeout": config.git.cacheTimeout = try ConfigSyntax.parseDuration(entry.value, at: entry.location)
                case "minimum-validity": config.git.minimumValidity = try ConfigSyntax.parseDuration(entry.value, at: entry.location)
                default: break
                }
            case ("git", let pattern?):
                try checkKey(entry, allowed: gitBindingKeys, in: "[git \"\(pattern)\"]")
                if let index = bindingEntries.firstIndex(where: { $0.0 == pattern }) {
                    bindingEntries[index].1.append(entry)
                } else {
                    bindingEntries.append((pattern, [entry]))
                }
            case ("identity", let name?):
                try checkName(name, entry)
                if identityHeaders[name] == nil {
                    identityHeaders[name] = entry.location
                    config.identityOrder.append(name)
                }
                identityEntries[name, default: []].append(entry)
            case ("provider", let name?):
                try checkName(name, entry)
                if providerEntries[name] == nil { config.providerOrder.append(name) }
                providerEntries[name, default: []].append(entry)
            case (let section, let sub):
                if sub == nil && (section == "identity" || section == "provider") {
                    throw ConfigError("[\(section)] needs a name: [\(section) \"NAME\"]", at: entry.location)
                }
                if sub != nil && (section == "agent" || section == "audit") {
                    throw ConfigError("[\(section)] takes no name", at: entry.location)
                }
                let guess = closestMatch(to: section, among: sectionNames)
                throw ConfigError("unknown section [\(section)]", at: entry.location,
                                  hint: guess.map { "did you mean [\($0)]?" })
            }
        }

        for name in config.providerOrder {
            let (definition, kind) = try provider(name, entries: providerEntries[name]!)
            config.providers[name] = definition
            config.providerKinds[name] = kind
        }

        for name in config.identityOrder {
            let entries = identityEntries[name]!
            let built = try identity(name, entries: entries, header: identityHeaders[name]!)
            config.identities[name] = built.definition
            config.kinds[name] = built.kind
        }

        for (pattern, entries) in bindingEntries {
            let location = entries[0].location
            let parsed = try GitURLPattern(pattern, at: location)
            guard let identityEntry = entries.last(where: { $0.key == "identity" }), let identity = identityEntry.value else {
                throw ConfigError("[git \"\(pattern)\"] needs identity = NAME", at: location)
            }
            guard config.identities[identity] != nil else {
                let guess = closestMatch(to: identity, among: config.identityOrder)
                throw ConfigError("[git \"\(pattern)\"] names identity \"\(identity)\", which is not defined", at: identityEntry.location,
                                  hint: guess.map { "did you mean \"\($0)\"?" } ?? "add an [identity \"\(identity)\"] section")
            }
            config.gitBindings.append(GitBinding(pattern: parsed, identity: identity, location: identityEntry.location))
        }

        try checkChains(config)
        return config
    }

    /// A `[provider "NAME"]` section, validated from its kind's descriptor.
    static func provider(_ name: String, entries: [ConfigEntry]) throws -> (ProviderDefinition, any ProviderKind) {
        let location = entries[0].location
        var settings: [String: [ConfigEntry]] = [:]
        for entry in entries { settings[entry.key, default: []].append(entry) }
        guard let kindEntry = settings["kind"]?.last, let kindName = kindEntry.value, !kindName.isEmpty else {
            throw ConfigError("provider \"\(name)\" has no kind", at: location,
                              hint: "add `kind = …` (one of: \(IdentityKinds.providerNames.joined(separator: ", ")))")
        }
        guard let kind = IdentityKinds.provider(named: kindName) else {
            let names = IdentityKinds.providerNames
            let hint = IdentityKinds.named(kindName) != nil
                ? "\(kindName) is an identity kind: write it as [identity \"\(name)\"]"
                : closestMatch(to: kindName, among: names).map { "did you mean \"\($0)\"?" } ?? "provider kinds: \(names.joined(separator: ", "))"
            throw ConfigError("unknown provider kind \"\(kindName)\" for provider \"\(name)\"", at: kindEntry.location, hint: hint)
        }
        let allowed = ["kind"] + kind.descriptor.settings.map(\.name)
        for entry in entries { try checkKey(entry, allowed: allowed, in: "[provider \"\(name)\"] (kind \(kindName))") }
        var definition = IdentityDefinition(name: name, kind: kindName, via: nil, location: location, settings: settings)
        definition.section = "provider"
        for spec in kind.descriptor.settings where spec.required { _ = try definition.require(spec.name) }
        return (ProviderDefinition(name: name, kind: kindName, location: location, settings: settings), try kind.init(definition))
    }

    static func identity(_ name: String, entries: [ConfigEntry], header: SourceLocation) throws -> ConfiguredIdentity {
        var settings: [String: [ConfigEntry]] = [:]
        for entry in entries { settings[entry.key, default: []].append(entry) }
        guard let kindEntry = settings["kind"]?.last, let kindName = kindEntry.value, !kindName.isEmpty else {
            throw ConfigError("identity \"\(name)\" has no kind", at: header,
                              hint: "add `kind = …` (one of: \(IdentityKinds.names.joined(separator: ", ")))")
        }
        guard let kind = IdentityKinds.named(kindName) else {
            let names = IdentityKinds.names
            throw ConfigError("unknown identity kind \"\(kindName)\"", at: kindEntry.location,
                              hint: closestMatch(to: kindName, among: names).map { "did you mean \"\($0)\"?" }
                                ?? "known kinds: \(names.joined(separator: ", "))")
        }
        let descriptor = kind.descriptor
        let allowed = ["kind", "via"] + descriptor.settings.map(\.name)
        for entry in entries { try checkKey(entry, allowed: allowed, in: "[identity \"\(name)\"] (kind \(kindName))") }

        var via: ViaReference?
        if let viaEntry = settings["via"]?.last {
            via = try parseVia(viaEntry)
        }
        switch (descriptor.upstream, via) {
        case (.required, nil):
            throw ConfigError("identity \"\(name)\" (kind \(kindName)) needs via = identity:NAME", at: header)
        case (.none, let v?):
            throw ConfigError("identity \"\(name)\" (kind \(kindName)) takes no via (got \(v))", at: settings["via"]!.last!.location)
        case (.provider, nil):
            throw ConfigError("identity \"\(name)\" (kind \(kindName)) needs via = provider:NAME", at: header,
                              hint: "name a [provider \"NAME\"] section of kind \(IdentityKinds.sentence(IdentityKinds.providerNames))")
        case (.provider, .identity(let target)?):
            throw ConfigError("identity \"\(name)\" (kind \(kindName)) starts from a provider: via = provider:NAME, not identity:\(target)",
                              at: settings["via"]!.last!.location)
        case (.optional, .provider(let target)?), (.required, .provider(let target)?):
            throw ConfigError("identity \"\(name)\" (kind \(kindName)) takes via = identity:NAME, not provider:\(target)",
                              at: settings["via"]!.last!.location,
                              hint: "a provider's session feeds kinds made for it; chain this identity from one of those")
        default: break
        }
        let definition = IdentityDefinition(name: name, kind: kindName, via: via, location: header, settings: settings)
        for spec in descriptor.settings where spec.required {
            _ = try definition.require(spec.name)
        }
        // The kind's own value checks, with their lines; the value is kept, never rebuilt per request.
        return ConfiguredIdentity(definition: definition, kind: try kind.init(definition))
    }

    static func parseVia(_ entry: ConfigEntry) throws -> ViaReference {
        let value = entry.value ?? ""
        if value.hasPrefix("identity:"), value.count > "identity:".count {
            return .identity(String(value.dropFirst("identity:".count)))
        }
        if value.hasPrefix("provider:"), value.count > "provider:".count {
            return .provider(String(value.dropFirst("provider:".count)))
        }
        throw ConfigError("via must be identity:NAME or provider:NAME, not \"\(value)\"", at: entry.location)
    }

    /// Dangling `via` and cycles, with the cycle spelled out (a → b → a).
    static func checkChains(_ config: BrokerConfig) throws {
        var graph: [String: [String]] = [:]
        for name in config.identityOrder {
            let definition = config.identities[name]!
            guard let via = definition.via else { continue }
            let viaLocation = definition.entry("via")!.location
            switch via {
            case .identity(let target):
                guard config.identities[target] != nil else {
                    throw ConfigError("identity \"\(name)\" has via = identity:\(target), which is not defined", at: viaLocation,
                                      hint: closestMatch(to: target, among: config.identityOrder).map { "did you mean identity:\($0)?" })
                }
                graph[name] = [target]
            case .provider(let target):
                if config.providers[target] == nil {
                    throw ConfigError("identity \"\(name)\" has via = provider:\(target), which is not defined", at: viaLocation)
                }
            }
        }
        if let cycle = findCycle(in: graph) {
            let location = config.identities[cycle[0]]!.entry("via")!.location
            throw ConfigError("identity chain has a cycle: \(cycle.joined(separator: " → "))", at: location,
                              hint: "break the cycle by changing one `via`")
        }
    }

    static func checkKey(_ entry: ConfigEntry, allowed: [String], in section: String) throws {
        guard !allowed.contains(entry.key) else { return }
        let guess = closestMatch(to: entry.key, among: allowed)
        throw ConfigError("unknown key \"\(entry.key)\" in \(section)", at: entry.location,
                          hint: guess.map { "did you mean \"\($0)\"?" } ?? "known keys: \(allowed.joined(separator: ", "))")
    }

    static func checkName(_ name: String, _ entry: ConfigEntry) throws {
        let ok = !name.isEmpty && name.utf8.allSatisfy { b in
            (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 45 || b == 95 || b == 46 || b == 47
        } && !name.hasPrefix(".") && !name.contains("..")
        if !ok {
            throw ConfigError("name \"\(WireCodec.printable(name))\" may hold only letters, digits, '-', '_', '.', '/', and may neither start with '.' nor contain '..'", at: entry.location)
        }
    }

    /// Requests per second from "5/s", "30/m", "100/h" or a bare "5".
    static func rate(_ entry: ConfigEntry) throws -> Double {
        let error = ConfigError("invalid rate \"\(entry.value ?? "")\" for \(entry.key)", at: entry.location,
                                hint: "write a positive number of requests per second, minute or hour: 5/s, 30/m, 100/h")
        guard let value = entry.value else { throw error }
        let parts = value.split(separator: "/", omittingEmptySubsequences: false)
        let per: Double
        switch parts.count == 2 ? String(parts[1]) : "s" {
        case "s": per = 1
        case "m": per = 60
        case "h": per = 3600
        default: throw error
        }
        guard parts.count <= 2, parts[0].allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let amount = Double(parts[0]), amount > 0, amount <= 1_000_000 else { throw error }
        return amount / per
    }

    static func positive(_ value: Int, _ entry: ConfigEntry) throws -> Int {
        if value <= 0 { throw ConfigError("\(entry.key) must be greater than zero", at: entry.location) }
        return value
    }

    /// The identity bound to a git request, if any (most specific binding wins).
    public func gitBinding(protocol scheme: String, host: String, path: String?) -> GitBinding? {
        gitBindings
            .compactMap { binding in binding.pattern.specificity(scheme: scheme, host: host, path: path).map { (binding, $0) } }
            .max { $0.1 < $1.1 }?.0
    }

    /// Bindings for this host that could match only if git sent a path (useHttpPath is off).
    public func pathBoundBindingsNeedingPath(protocol scheme: String, host: String) -> [GitBinding] {
        gitBindings.filter { !$0.pattern.path.isEmpty && $0.pattern.specificity(scheme: scheme, host: host, path: $0.pattern.path) != nil }
    }
}
