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

/// `[registry "HOST[:PORT]"] identity = name`: docker-credential-broker's bindings.
public struct RegistryBinding: Sendable {
    public var pattern: RegistryPattern
    public var identity: String
    public var location: SourceLocation
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
    /// Requests that must wait, served at once on threads; cache hits do not count (AgentServer).
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
    /// Where those approved credentials live: the agent's memory (credential-cache) or the keyring.
    public var store: GitStoreMode = .memory
    public init() {}
}

/// `[git] store`.
public enum GitStoreMode: String, Sendable, CaseIterable {
    /// In the agent's memory for `cache-timeout`, as git credential-cache keeps them.
    case memory
    /// In the `[keyring]` backend, without a timeout, surviving the agent (git-credential-libsecret).
    case keyring
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

/// A configuration with every error found in it, and what could be built from the rest.
public struct ConfigCheck: Sendable {
    public var config: BrokerConfig
    public var errors: [ConfigError]
    /// False when the file could not be read at all; then `config` says nothing about it.
    public var readable: Bool
    /// True when every `[git "URL"]` section was read and its URL understood, so a URL that
    /// `config` binds to nothing is truly unbound (a syntax error could hide a binding).
    public var bindingsComplete = true
}

public struct BrokerConfig: Sendable {
    /// The file it came from; nil when there was none (a valid, empty configuration).
    public var file: String?
    public var identities: [String: IdentityDefinition] = [:] {
        didSet { memo = ConfigMemo() }
    }
    /// Each identity's kind, built once when the configuration is loaded.
    public var kinds: [String: any IdentityKind] = [:] {
        didSet { memo = ConfigMemo() }
    }
    /// What resolvers work out from this configuration (each identity's chain and cache key):
    /// shared by its unchanged copies, started afresh by any change to its identities or kinds.
    public private(set) var memo = ConfigMemo()
    /// Identity names in file order, for listings.
    public var identityOrder: [String] = []
    public var providers: [String: ProviderDefinition] = [:]
    /// Each provider's kind, built once when the configuration is loaded.
    public var providerKinds: [String: any ProviderKind] = [:] {
        didSet { memo = ConfigMemo() }
    }
    /// Provider names in file order.
    public var providerOrder: [String] = []
    public var registryBindings: [RegistryBinding] = []
    public var gitBindings: [GitBinding] = [] {
        didSet { bindingIndex = GitBindingIndex(gitBindings) }
    }
    /// `gitBindings` by host and by identity, rebuilt whenever they change.
    private(set) var bindingIndex = GitBindingIndex([])
    public var agent = AgentSettings()
    public var git = GitSettings()
    public var aws = AWSAdapterSettings()
    public var audit = AuditSettings()
    /// The identity marked `default = true`, if any: what `brokerctl whoami` and the adapters'
    /// callers mean when they name none and BROKER_IDENTITY is unset.
    public var defaultIdentity: String?
    public var secrets = SecretsSettings()
    /// Identities the ambient brokers added (the agent's configuration only).
    public var ambientIdentities: [String] = []
    /// Why an ambient broker was skipped, one sentence each.
    public var ambientFailures: [String] = []
    public var keyring = KeyringSettings()

    public init() {}

    /// Loads and validates `paths.configFile`; a missing default file is an empty config, a
    /// missing BROKER_CONFIG file is an error.
    /// An identity by name, with its built kind, or the error a person needs.
    public func identity(_ name: String) throws -> ConfiguredIdentity {
        if let definition = identities[name], let kind = kinds[name] { return ConfiguredIdentity(definition: definition, kind: kind) }
        if let virtual = try virtualIdentity(name) { return virtual }
        let offering = providerOrder.filter { providerKinds[$0]?.autoProvisions == true }
        // An ambient broker that would have defined it but was skipped says why (its sentence
        // names variables and settings, never a value read through a reference).
        if let skipped = ambientFailures.first {
            throw BrokerFailure(.denied, "identity \"\(name)\" is not defined" + (file.map { " in \($0)" } ?? " (no config file)") + ", and \(skipped)",
                                hint: "fix the variable the ambient broker names, then `brokerctl stop` so the next request starts an agent with it; `brokerctl status` lists the ambient identities")
        }
        throw BrokerFailure(.denied, "identity \"\(name)\" is not defined" + (file.map { " in \($0)" } ?? " (no config file)"),
                            hint: offering.isEmpty ? "run `brokerctl list` to see the identities"
                                : "run `brokerctl list` to see the identities, or `brokerctl list --provider \(offering[0])` for those provider \"\(offering[0])\" offers")
    }

    /// An identity's built kind, with or without a section; nil when there is none.
    public func kind(_ name: String) -> (any IdentityKind)? {
        kinds[name] ?? (try? virtualIdentity(name))??.kind
    }

    /// A virtual identity: one a provider with `auto-provision` offers under `name` (`ACCOUNT/ROLE`,
    /// or `PROVIDER/ACCOUNT/ROLE`), built once per configuration (ConfigMemo) from the name alone,
    /// so a request costs the same however many the provider could offer. nil when no provider
    /// offers the name; an error when two do.
    public func virtualIdentity(_ name: String) throws -> ConfiguredIdentity? {
        guard identities[name] == nil, providerKinds.values.contains(where: \.autoProvisions) else { return nil }
        if let known = memo.virtualIdentity(name) { return known }
        var offers: [(provider: String, offer: OfferedIdentity)] = []
        for provider in providerOrder {
            guard let kind = providerKinds[provider], kind.autoProvisions else { continue }
            if let offer = kind.offeredIdentity(named: name) { offers.append((provider, offer)) }
            if name.hasPrefix(provider + "/"), let offer = kind.offeredIdentity(named: String(name.dropFirst(provider.count + 1))) {
                return memo.remember(name, try build(offer, named: name, provider: provider))
            }
        }
        guard let only = offers.first else { return nil }
        guard offers.count == 1 else {
            throw BrokerFailure(.config, "identity \"\(name)\" is offered by providers \(offers.map { "\"\($0.provider)\"" }.joined(separator: " and ")), which both set auto-provision",
                                hint: "name it with its provider: \(offers[0].provider)/\(name)")
        }
        return memo.remember(name, try build(only.offer, named: name, provider: only.provider))
    }

    /// The section an offered identity would have, built as a written one is; errors point at the provider.
    func build(_ offer: OfferedIdentity, named name: String, provider: String) throws -> ConfiguredIdentity {
        guard let kind = IdentityKinds.named(offer.kind), let section = providers[provider] else {
            throw BrokerFailure(.internal, "provider \"\(provider)\" offers identities of kind \(offer.kind), which is not registered")
        }
        let location = section.settings["auto-provision"]?.last?.location ?? section.location
        var settings: [String: [ConfigEntry]] = [:]
        var via: ViaReference?
        for (key, value) in offer.settings {
            let entry = ConfigEntry(section: "identity", subsection: name, key: key, value: value, location: location)
            if key == "via" { via = try Self.parseVia(entry) }
            settings[key, default: []].append(entry)
        }
        let definition = IdentityDefinition(name: name, kind: offer.kind, via: via, location: location, settings: settings)
        return ConfiguredIdentity(definition: definition, kind: try kind.init(definition))
    }

    /// Whether `name` is an identity: a section, or a virtual identity.
    func isIdentity(_ name: String) -> Bool {
        identities[name] != nil || (try? virtualIdentity(name)) != nil
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

    /// Loads and validates `paths.configFile`; throws the first error (every one is in `check`).
    /// `ambient`: the agent's environment, for the ambient brokers (AmbientBrokers.swift); nil
    /// (brokerctl) reads the file alone.
    public static func load(_ paths: BrokerPaths, ambient environment: Environment? = nil) throws -> BrokerConfig {
        let checked = check(paths, ambient: environment)
        if let first = checked.errors.first { throw first }
        return checked.config
    }

    /// Where a config path came from, for messages: "(from BROKER_CONFIG)" only when it did.
    static func origin(_ paths: BrokerPaths) -> (said: String, hint: String) {
        switch paths.configOrigin {
        case .option: return (" (from --config)", "create it or fix the --config path")
        case .environment: return (" (from BROKER_CONFIG)", "create it or unset BROKER_CONFIG")
        case .standard: return ("", "create it")
        }
    }

    /// Reads and validates `paths.configFile` and reports every error, not only the first, with
    /// the configuration built from everything that was valid. A missing default file is an
    /// empty config; a missing explicit file is an error.
    public static func check(_ paths: BrokerPaths, ambient environment: Environment? = nil) -> ConfigCheck {
        let exists = FileManager.default.fileExists(atPath: paths.configFile)
        if !exists && paths.configFileIsExplicit {
            let origin = origin(paths)
            return ConfigCheck(config: BrokerConfig(), errors: [
                ConfigError("config file \(paths.configFile)\(origin.said) does not exist", at: nil, hint: origin.hint),
            ], readable: false)
        }
        var document = exists ? ConfigSyntax.loadDocument(path: paths.configFile) : ConfigDocument()
        if let overlay = paths.profileFile {
            // A profile adds to the main file, read after it as an include at its end would be:
            // a section it names again continues there, and a key it sets again wins.
            guard FileManager.default.fileExists(atPath: overlay) else {
                return ConfigCheck(config: BrokerConfig(), errors: [
                    ConfigError("profile \"\(paths.profile ?? "")\" has no overlay file \(overlay)", at: nil,
                                hint: "create it, or unset BROKER_PROFILE"),
                ], readable: false)
            }
            let added = ConfigSyntax.loadDocument(path: overlay)
            document.entries += added.entries
            document.headers += added.headers
            document.errors += added.errors
            document.readable = document.readable && added.readable
        }
        // The agent adds what its environment's ambient brokers define and the file does not.
        var ambient: (entries: [ConfigEntry], identities: [String], failures: [String]) = ([], [], [])
        if let environment, document.readable {
            ambient = AmbientBrokers.contribute(to: document.entries, environment: environment)
            document.entries += ambient.entries
        }
        var checked = build(document)
        checked.config.file = exists ? paths.configFile : paths.profileFile
        checked.config.ambientIdentities = ambient.identities
        checked.config.ambientFailures = ambient.failures
        return checked
    }

    /// Validates a parsed document into the model, collecting every error.
    public static func build(_ document: ConfigDocument) -> ConfigCheck {
        var builder = Builder()
        builder.checkHeaders(document.headers)
        builder.read(document.entries)
        // Syntax errors first (what follows them is uncertain), then the rest in file order.
        let byLine = builder.errors.enumerated().sorted { a, b in
            guard let la = a.element.location, let lb = b.element.location, la.file == lb.file else { return a.offset < b.offset }
            return la.line == lb.line ? a.offset < b.offset : la.line < lb.line
        }.map(\.element)
        let errors = document.errors + byLine
        var check = ConfigCheck(config: builder.config, errors: errors, readable: document.readable)
        // A URL can be called unbound only when every [git "…"] section was read and understood.
        check.bindingsComplete = document.readable && document.errors.isEmpty && !builder.brokenBinding
        return check
    }

    static let sectionNames = ["agent", "ambient", "audit", "aws", "git", "identity", "keyring", "provider", "registry", "secrets"]
    static let secretsKeys = ["aws-identity", "ttl", "region"]
    static let auditKeys = ["max-size", "keep", "syslog", "syslog-socket"]
    static let awsKeys = ["minimum-validity", "console-session-duration", "signin-endpoint"]
    static let agentKeys = ["idle-timeout", "max-connections", "request-timeout", "refresh-ahead", "command-timeout",
                            "rate-limits", "upstream-rate", "upstream-burst", "upstream-wait", "hit-rate", "hit-burst"]
    static let gitKeys = ["cache-timeout", "minimum-validity", "store"]
    static let gitBindingKeys = ["identity"]
    /// Keys every identity section takes, whatever its kind.
    public static let commonIdentityKeys = ["kind", "via", "default"]

    static func parseKeyring(_ entry: ConfigEntry, into keyring: inout KeyringSettings) throws {
        try checkKey(entry, allowed: KeyringSettings.keys, in: "[keyring]")
        let value = entry.value ?? ""
        switch entry.key {
        case "backend":
            guard let kind = KeyringBackendKind(rawValue: value) else {
                throw ConfigError("[keyring] backend must be system, file or memory, not \"\(value)\"", at: entry.location)
            }
            keyring.backend = kind
        case "directory":
            guard value.hasPrefix("/") else { throw ConfigError("[keyring] directory must be an absolute path", at: entry.location) }
            keyring.directory = value
        case "passphrase": keyring.passphrase = try SecretReference(value, at: entry.location)
        case "unlock-timeout": keyring.unlockTimeout = try positive(ConfigSyntax.parseDuration(entry.value, at: entry.location), entry)
        case "work-factor":
            let logN = try ConfigSyntax.parseInt(entry.value, at: entry.location)
            guard (1...AgeFile.maximumLogN).contains(logN) else {
                throw ConfigError("[keyring] work-factor must be between 1 and \(AgeFile.maximumLogN) (age -p uses 18)", at: entry.location)
            }
            keyring.workFactor = logN
        default: break
        }
    }

    /// Validates parsed entries into the model. Every error cites file:line; throws the first.
    public static func parse(_ entries: [ConfigEntry], headers: [ConfigSectionHeader] = []) throws -> BrokerConfig {
        let checked = build(ConfigDocument(entries: entries, headers: headers))
        if let first = checked.errors.first { throw first }
        return checked.config
    }

    /// Builds the model entry by entry, recording each error and going on, so `validate` can
    /// report them all and a broken file still says which git URLs it binds.
    struct Builder {
        var config = BrokerConfig()
        var errors: [ConfigError] = []
        var identityEntries: [String: [ConfigEntry]] = [:]
        var identityHeaders: [String: SourceLocation] = [:]
        var providerEntries: [String: [ConfigEntry]] = [:]
        var bindingEntries: [(String, [ConfigEntry])] = []
        var registryEntries: [(String, [ConfigEntry])] = []
        /// Sections already reported as unknown or misnamed: their keys add no more errors.
        var reportedSections: Set<String> = []
        /// Identities whose section has an error: what names them adds no second error.
        var brokenIdentities: Set<String> = []
        /// A `[git "URL"]` section with an error: some URL may be bound that `config` does not show.
        var brokenBinding = false
        var bindingPositions: [String: Int] = [:]

        mutating func record(_ error: Error) {
            errors.append(error as? ConfigError ?? ConfigError("\(error)", at: nil))
        }

        static func sectionKey(_ section: String, _ subsection: String?) -> String { section + "\u{0}" + (subsection ?? "") }

        /// A section the model does not know is an error at its header, even with no keys under it.
        static func sectionProblem(_ section: String, _ sub: String?, at location: SourceLocation) -> ConfigError? {
            switch (section, sub) {
            case ("agent", nil), ("audit", nil), ("aws", nil), ("ambient", nil), ("secrets", nil), ("keyring", nil), ("git", _), ("identity", _?),
                 ("provider", _?), ("registry", _?): return nil
            case ("identity", nil), ("provider", nil), ("registry", nil):
                return ConfigError("[\(section)] needs a name: [\(section) \"NAME\"]", at: location)
            case ("agent", _?), ("audit", _?), ("aws", _?), ("ambient", _?), ("secrets", _?), ("keyring", _?):
                return ConfigError("[\(section)] takes no name", at: location)
            default:
                let guess = closestMatch(to: section, among: sectionNames)
                let shown = sub.map { "[\(section) \"\(WireCodec.printable($0))\"]" } ?? "[\(section)]"
                return ConfigError("unknown section \(shown)", at: location,
                                   hint: guess.map { "did you mean [\($0)]?" }
                                       ?? "known sections: \(sectionNames.map { "[\($0)]" }.joined(separator: ", "))")
            }
        }

        mutating func checkHeaders(_ headers: [ConfigSectionHeader]) {
            for header in headers {
                if let problem = Self.sectionProblem(header.section, header.subsection, at: header.location) {
                    if reportedSections.insert(Self.sectionKey(header.section, header.subsection)).inserted { errors.append(problem) }
                    continue
                }
                if header.section == "identity", let name = header.subsection, identityHeaders[name] == nil {
                    // A header with no keys still defines the identity (and so is told it lacks a kind).
                    do {
                        try checkName(name, ConfigEntry(section: "identity", subsection: name, key: "", value: nil, location: header.location))
                        identityHeaders[name] = header.location
                        config.identityOrder.append(name)
                        identityEntries[name] = identityEntries[name] ?? []
                    } catch {
                        // Reported once, at the header; its keys add nothing.
                        reportedSections.insert(Self.sectionKey(header.section, header.subsection))
                        record(error)
                    }
                }
            }
        }

        mutating func read(_ entries: [ConfigEntry]) {
            for entry in entries {
                guard reportedSections.isEmpty || !reportedSections.contains(Self.sectionKey(entry.section, entry.subsection)) else { continue }
                do { try readEntry(entry) } catch { record(error) }
            }
            for name in config.providerOrder {
                do {
                    let (definition, kind) = try provider(name, entries: providerEntries[name]!)
                    config.providers[name] = definition
                    config.providerKinds[name] = kind
                } catch {
                    record(error)
                }
            }
            // Collected, then assigned once: each assignment starts the configuration's memo afresh.
            var identities: [String: IdentityDefinition] = [:]
            var kinds: [String: any IdentityKind] = [:]
            identities.reserveCapacity(config.identityOrder.count)
            kinds.reserveCapacity(config.identityOrder.count)
            for name in config.identityOrder {
                let entries = identityEntries[name] ?? []
                do {
                    let built = try identity(name, entries: entries, header: identityHeaders[name]!)
                    identities[name] = built.definition
                    kinds[name] = built.kind
                    if let entry = built.definition.entry("default"), try ConfigSyntax.parseBool(entry.value, at: entry.location) {
                        if let earlier = config.defaultIdentity {
                            throw ConfigError("identities \"\(earlier)\" and \"\(name)\" are both marked default = true; at most one identity may be the default",
                                              at: entry.location, hint: "remove `default = true` from one of them")
                        }
                        config.defaultIdentity = name
                    }
                } catch {
                    brokenIdentities.insert(name)
                    record(error)
                }
            }
            config.identities = identities
            config.kinds = kinds
            // Collected, then assigned once: each assignment re-indexes every binding.
            var bindings: [GitBinding] = []
            bindings.reserveCapacity(bindingEntries.count)
            for (pattern, entries) in bindingEntries {
                let location = entries[0].location
                do {
                    let parsed = try GitURLPattern(pattern, at: location)
                    guard let identityEntry = entries.last(where: { $0.key == "identity" }), let identity = identityEntry.value else {
                        throw ConfigError("[git \"\(pattern)\"] needs identity = NAME", at: location)
                    }
                    // Kept even when the identity is broken: the URL is still bound, and a request
                    // for it must get the identity's error rather than a credential-cache answer.
                    bindings.append(GitBinding(pattern: parsed, identity: identity, location: identityEntry.location))
                    guard config.isIdentity(identity) || brokenIdentities.contains(identity) else {
                        let guess = closestMatch(to: identity, among: config.identityOrder)
                        throw ConfigError("[git \"\(pattern)\"] names identity \"\(identity)\", which is not defined", at: identityEntry.location,
                                          hint: guess.map { "did you mean \"\($0)\"?" } ?? "add an [identity \"\(identity)\"] section")
                    }
                } catch {
                    if bindings.last?.pattern.text != pattern { brokenBinding = true }
                    record(error)
                }
            }
            config.gitBindings = bindings
            for (pattern, entries) in registryEntries {
                let location = entries[0].location
                do {
                    let parsed = try RegistryPattern(pattern, at: location)
                    guard let identityEntry = entries.last(where: { $0.key == "identity" }), let identity = identityEntry.value else {
                        throw ConfigError("[registry \"\(pattern)\"] needs identity = NAME", at: location)
                    }
                    guard config.isIdentity(identity) || brokenIdentities.contains(identity) else {
                        let guess = closestMatch(to: identity, among: config.identityOrder)
                        throw ConfigError("[registry \"\(pattern)\"] names identity \"\(identity)\", which is not defined", at: identityEntry.location,
                                          hint: guess.map { "did you mean \"\($0)\"?" } ?? "add an [identity \"\(identity)\"] section")
                    }
                    config.registryBindings.append(RegistryBinding(pattern: parsed, identity: identity, location: identityEntry.location))
                } catch {
                    record(error)
                }
            }
            let known = Set(config.identityOrder)
            errors += checkChains(config, known: known)
            do { try checkRemoteSecrets(config) } catch { record(error) }
        }

        mutating func readEntry(_ entry: ConfigEntry) throws {
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
                switch entry.key {
                case "syslog": config.audit.syslog = try ConfigSyntax.parseBool(entry.value, at: entry.location)
                case "syslog-socket":
                    guard let path = entry.value, path.hasPrefix("/") else {
                        throw ConfigError("[audit] syslog-socket must be an absolute path", at: entry.location, hint: "the usual one is /dev/log")
                    }
                    config.audit.syslogSocket = path
                case "max-size": config.audit.maxSize = try positive(ConfigSyntax.parseInt(entry.value, at: entry.location), entry)
                case "keep": config.audit.keep = try positive(ConfigSyntax.parseInt(entry.value, at: entry.location), entry)
                default: break
                }
            case ("ambient", nil):
                try checkKey(entry, allowed: AmbientBrokers.keys, in: "[ambient]")
                guard let value = entry.value, AmbientMode(rawValue: value) != nil else {
                    throw ConfigError("[ambient] \(entry.key) must be auto, true or false", at: entry.location)
                }
            case ("secrets", nil):
                try checkKey(entry, allowed: secretsKeys, in: "[secrets]")
                switch entry.key {
                case "aws-identity": config.secrets.awsIdentity = entry.value
                case "ttl": config.secrets.ttl = try positive(ConfigSyntax.parseDuration(entry.value, at: entry.location), entry)
                case "region": config.secrets.region = entry.value
                default: break
                }
            case ("keyring", nil):
                try parseKeyring(entry, into: &config.keyring)
            case ("aws", nil):
                try checkKey(entry, allowed: awsKeys, in: "[aws]")
                if entry.key == "signin-endpoint" {
                    guard let url = entry.value, let components = URLComponents(string: url), let host = components.host,
                          components.scheme == "https" || (components.scheme == "http" && STSEndpoint.isLoopback(host)) else {
                        throw ConfigError("[aws] signin-endpoint must be an https URL (plain http only to a loopback address)", at: entry.location)
                    }
                    config.aws.signinEndpoint = url
                    return
                }
                let seconds = try ConfigSyntax.parseDuration(entry.value, at: entry.location)
                if entry.key == "console-session-duration" {
                    guard (900...43200).contains(seconds) else {
                        throw ConfigError("[aws] console-session-duration must be between 15m and 12h", at: entry.location)
                    }
                    config.aws.consoleSessionDuration = seconds
                    return
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
                case "store":
                    guard let mode = entry.value.flatMap(GitStoreMode.init(rawValue:)) else {
                        throw ConfigError("[git] store must be memory or keyring, not \"\(entry.value ?? "")\"", at: entry.location)
                    }
                    config.git.store = mode
                default: break
                }
            case ("git", let pattern?):
                do { try checkKey(entry, allowed: gitBindingKeys, in: "[git \"\(pattern)\"]") } catch {
                    brokenBinding = true
                    throw error
                }
                if let index = bindingPositions[pattern] {
                    bindingEntries[index].1.append(entry)
                } else {
                    bindingPositions[pattern] = bindingEntries.count
                    bindingEntries.append((pattern, [entry]))
                }
            case ("registry", let pattern?):
                try checkKey(entry, allowed: gitBindingKeys, in: "[registry \"\(pattern)\"]")
                if let index = registryEntries.firstIndex(where: { $0.0 == pattern }) {
                    registryEntries[index].1.append(entry)
                } else {
                    registryEntries.append((pattern, [entry]))
                }
            case ("identity", let name?):
                // A name with a header or an earlier line was checked there.
                if identityHeaders[name] == nil {
                    try checkName(name, entry)
                    identityHeaders[name] = entry.location
                    config.identityOrder.append(name)
                }
                identityEntries[name, default: []].append(entry)
            case ("provider", let name?):
                try checkName(name, entry)
                if providerEntries[name] == nil { config.providerOrder.append(name) }
                providerEntries[name, default: []].append(entry)
            case (let section, let sub):
                reportedSections.insert(Self.sectionKey(section, sub))
                if let problem = Self.sectionProblem(section, sub, at: entry.location) { throw problem }
            }
        }
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
        // The list of keys is built only for a key that is not in it, which the error spells out.
        for entry in entries where !commonIdentityKeys.contains(entry.key) && !descriptor.settings.contains(where: { $0.name == entry.key }) {
            try checkKey(entry, allowed: commonIdentityKeys + descriptor.settings.map(\.name), in: "[identity \"\(name)\"] (kind \(kindName))")
        }

        var via: ViaReference?
        if let viaEntry = settings["via"]?.last {
            via = try parseVia(viaEntry)
        }
        switch (descriptor.upstream, via) {
        case (.required, nil):
            throw ConfigError("identity \"\(name)\" (kind \(kindName)) needs via = identity:NAME", at: header)
        case (.identityOrProvider, nil):
            throw ConfigError("identity \"\(name)\" (kind \(kindName)) needs via = identity:NAME or provider:NAME", at: header)
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
    /// `known`: every identity with a section, built or not, so a broken one is not also "not defined".
    static func checkChains(_ config: BrokerConfig, known: Set<String>) -> [ConfigError] {
        var errors: [ConfigError] = []
        var graph: [String: [String]] = [:]
        for name in config.identityOrder {
            guard let definition = config.identities[name] else { continue }
            guard let via = definition.via else { continue }
            let viaLocation = definition.entry("via")!.location
            switch via {
            case .identity(let target):
                guard known.contains(target) || config.isIdentity(target) else {
                    errors.append(ConfigError("identity \"\(name)\" has via = identity:\(target), which is not defined", at: viaLocation,
                                              hint: closestMatch(to: target, among: config.identityOrder).map { "did you mean identity:\($0)?" }))
                    continue
                }
                graph[name] = [target]
                if let error = checkUpstreamToken(config, name, target, at: viaLocation) { errors.append(error) }
            case .provider(let target):
                if config.providers[target] == nil {
                    errors.append(ConfigError("identity \"\(name)\" has via = provider:\(target), which is not defined", at: viaLocation))
                }
            }
        }
        if let cycle = findCycle(in: graph) {
            let location = config.identities[cycle[0]]!.entry("via")!.location
            errors.append(ConfigError("identity chain has a cycle: \(cycle.joined(separator: " → "))", at: location,
                                      hint: "break the cycle by changing one `via`"))
        }
        return errors
    }

    /// A kind that exchanges its `via` identity's token (an OIDC ID token for a role) chained from
    /// a kind whose token has another form: an Azure access token would reach the exchange and be
    /// refused there with the issuer's words, so it is refused here with the kinds that fit.
    /// Kinds that give no token at all keep the error at request time, which names what they give.
    static func checkUpstreamToken(_ config: BrokerConfig, _ name: String, _ target: String, at location: SourceLocation) -> ConfigError? {
        guard let kind = config.kinds[name], let needed = type(of: kind).descriptor.upstreamToken,
              let upstream = config.kinds[target] else { return nil }
        let given = type(of: upstream).descriptor
        guard given.produces == .token, given.tokenForm != needed else { return nil }
        let what = given.tokenForm == .accessToken ? "an access token" : "a token"
        return ConfigError("identity \"\(name)\" needs an OIDC ID token from its via identity, but \"\(target)\" (kind \(given.name)) gives \(what), which no federation accepts",
                           at: location, hint: "chain from an identity of kind \(IdentityKinds.sentence(IdentityKinds.names(producingToken: needed)))")
    }

    /// Every `aws-secretsmanager:`/`aws-ssm:` reference is read through an AWS identity that
    /// exists, gives AWS credentials, and does not itself need a remote secret anywhere along its
    /// chain (that would be a cycle no request could finish).
    static func checkRemoteSecrets(_ config: BrokerConfig) throws {
        func usesRemote(_ name: String) -> Bool { config.kinds[name]?.secretReferences.contains { $0.remote != nil } ?? false }
        for name in config.identityOrder {
            guard let kind = config.kinds[name], let definition = config.identities[name] else { continue }
            for secret in kind.secretReferences.compactMap(\.remote) {
                // The line of the setting that holds the reference, else the section's header.
                let location = definition.settings.values.joined().first { ($0.value ?? "").hasPrefix("\(secret.store.rawValue):\(secret.id)") }?.location
                    ?? definition.location
                guard let reader = secret.identity ?? config.secrets.awsIdentity else {
                    throw ConfigError("identity \"\(name)\" reads \(secret.store.rawValue):\(secret.id), but no AWS identity is named to read it with",
                                      at: location, hint: "set [secrets] aws-identity = NAME, or add ?identity=NAME to the reference")
                }
                guard let kind = config.kinds[reader] else {
                    throw ConfigError("identity \"\(name)\" reads \(secret.store.rawValue):\(secret.id) through identity \"\(reader)\", which is not defined",
                                      at: location, hint: closestMatch(to: reader, among: config.identityOrder).map { "did you mean \"\($0)\"?" })
                }
                guard type(of: kind).descriptor.produces == .aws else {
                    throw ConfigError("identity \"\(name)\" reads \(secret.store.rawValue):\(secret.id) through identity \"\(reader)\", which gives no AWS credentials",
                                      at: location, hint: "name an identity of kind \(IdentityKinds.sentence(IdentityKinds.names(producing: .aws)))")
                }
                var hop: String? = reader
                var seen: Set<String> = []
                while let current = hop, seen.insert(current).inserted {
                    if usesRemote(current) {
                        throw ConfigError("identity \"\(name)\" reads its secret through \"\(reader)\", whose chain needs a remote secret itself (\"\(current)\")",
                                          at: location, hint: "the identity that reads remote secrets must get its own secrets from env:, file: or cmd:")
                    }
                    if case .identity(let next)? = config.identities[current]?.via { hop = next } else { hop = nil }
                }
            }
        }
    }

    /// `section` is only spelled out for an error: building it for every line cost more than the check.
    static func checkKey(_ entry: ConfigEntry, allowed: [String], in section: @autoclosure () -> String) throws {
        guard !allowed.contains(entry.key) else { return }
        let section = section()
        let guess = closestMatch(to: entry.key, among: allowed)
        throw ConfigError("unknown key \"\(entry.key)\" in \(section)", at: entry.location,
                          hint: guess.map { "did you mean \"\($0)\"?" } ?? "known keys: \(allowed.joined(separator: ", "))")
    }

    static func checkName(_ name: String, _ entry: ConfigEntry) throws {
        let ok = !name.isEmpty && name.utf8.allSatisfy { b in
            (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 45 || b == 95 || b == 46 || b == 47
        } && !name.hasPrefix(".") && !Self.hasDoubleDot(name)
        if !ok {
            throw ConfigError("name \"\(WireCodec.printable(name))\" may hold only letters, digits, '-', '_', '.', '/', and may neither start with '.' nor contain '..'", at: entry.location)
        }
    }

    /// `name` holds "..": by bytes (Foundation's `contains` on strings is a costly search, run
    /// for every line of every identity section).
    static func hasDoubleDot(_ name: String) -> Bool {
        var previous: UInt8 = 0
        for byte in name.utf8 {
            if byte == UInt8(ascii: "."), previous == byte { return true }
            previous = byte
        }
        return false
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

    /// The identity bound to a git request, if any (most specific binding wins; of equally
    /// specific ones, the first in the file). Only the bindings for the request's host are read.
    public func gitBinding(protocol scheme: String, host: String, path: String?) -> GitBinding? {
        var best: (binding: GitBinding, score: Int)?
        for position in bindingIndex.candidates(host: host) {
            let binding = gitBindings[position]
            guard let score = binding.pattern.specificity(scheme: scheme, host: host, path: path) else { continue }
            if best == nil || score > best!.score { best = (binding, score) }
        }
        return best?.binding
    }

    /// The identity bound to a registry (`host[:port]`, normalised), if any: an exact pattern
    /// beats a wildcard, and of two wildcards the one with more literal characters wins.
    public func registryBinding(for registry: String) -> RegistryBinding? {
        registryBindings
            .compactMap { binding in binding.pattern.specificity(registry).map { (binding, $0) } }
            .max { $0.1 < $1.1 }?.0
    }

    /// Bindings for this host that could match only if git sent a path (useHttpPath is off).
    public func pathBoundBindingsNeedingPath(protocol scheme: String, host: String) -> [GitBinding] {
        bindingIndex.candidates(host: host).map { gitBindings[$0] }
            .filter { !$0.pattern.path.isEmpty && $0.pattern.specificity(scheme: scheme, host: host, path: $0.pattern.path) != nil }
    }

    /// The bindings naming `identity`, in file order.
    public func gitBindings(boundTo identity: String) -> [GitBinding] {
        (bindingIndex.byIdentity[identity] ?? []).map { gitBindings[$0] }
    }
}
