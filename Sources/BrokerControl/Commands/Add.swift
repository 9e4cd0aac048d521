// `brokerctl add NAME --kind KIND [--set KEY=VALUE …] [--secret KEY …] [--store keyring|file]`: a new identity section, its secrets in the keyring or 0600 files, then validate.

import BrokerCore
import BrokerWire
import Foundation

/// Where `brokerctl add` keeps a secret a person typed, and the reference the configuration
/// then holds.
protocol SecretStore {
    /// Stores `secret` and returns the reference to write (`file:…`, `keyring:…`).
    func store(_ secret: Secret, identity: String, setting: String) throws -> String
    /// Removes what `store` wrote, when the configuration it was for is rolled back.
    func remove(reference: String)
}

/// One 0600 file per secret under the configuration's directory (`secrets/NAME.KEY`, 0700),
/// referenced relative to the configuration file so the pair can move together.
struct FileSecretStore: SecretStore {
    let configDirectory: String

    func store(_ secret: Secret, identity: String, setting: String) throws -> String {
        let relative = "secrets/\(identity.replacingOccurrences(of: "/", with: "_")).\(setting)"
        let path = configDirectory + "/" + relative
        try ensurePrivateDirectory(configDirectory + "/secrets")
        if FileManager.default.fileExists(atPath: path) {
            throw BrokerFailure(.input, "\(path) already exists; not overwriting a stored secret",
                                hint: "remove it, or --set \(setting)=file:\(path) to use it")
        }
        try writeFileAtomically(path, bytes: Array(secret.reveal().utf8) + [10])
        return "file:" + relative
    }

    func remove(reference: String) {
        guard reference.hasPrefix("file:") else { return }
        unlink(configDirectory + "/" + reference.dropFirst(5))
    }
}

/// The agent's keyring (`[keyring]`): one secret per setting, named `IDENTITY.KEY`.
struct KeyringSecretStore: SecretStore {
    let ctl: Brokerctl

    func store(_ secret: Secret, identity: String, setting: String) throws -> String {
        let name = Self.name(identity: identity, setting: setting)
        let held = try ctl.agent(WireMessage(.keyringList)).records("entry", columns: ["name"]).compactMap { $0["name"] }
        if held.contains(name) {
            throw BrokerFailure(.input, "the keyring already holds \"\(name)\"; not overwriting a stored secret",
                                hint: "remove it with `brokerctl secret rm \(name)`, or --set \(setting)=keyring:\(name) to use it")
        }
        _ = try ctl.agent(WireMessage(.keyringSet, [.init(WireKey.name, name), .init(WireKey.secret, secret.reveal())]))
        return "keyring:" + name
    }

    func remove(reference: String) {
        guard reference.hasPrefix("keyring:") else { return }
        _ = try? ctl.agent(WireMessage(.keyringRemove, [.init(WireKey.name, String(reference.dropFirst(8)))]))
    }

    /// `IDENTITY.KEY`, with anything a keyring name may not hold (an identity's `/`) as `_`.
    static func name(identity: String, setting: String) -> String {
        let allowed = identity.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-@+".contains($0)) ? $0 : "_" }
        let base = String(allowed).drop { $0 == "." }
        return String(((base.isEmpty ? "identity" : base) + "." + setting).prefix(128))
    }
}

extension Brokerctl {
    /// Asks for one setting on the terminal (without echo for a secret), or reads one line from
    /// standard input when there is no terminal.
    static func ask(_ key: String, identity: String, secret: Bool) throws -> String {
        let prompt = TerminalPrompt.isInteractive ? "\(key) for identity \"\(identity)\"\(secret ? " (not shown)" : ""): " : ""
        guard let typed = TerminalPrompt.readLine(prompt, echo: !secret), !typed.isEmpty else {
            throw BrokerFailure(.input, "no value given for \(key)", hint: "type it when asked, or pipe it on standard input (one line per value)")
        }
        return typed
    }

    func add(_ args: [String]) throws -> Int32 {
        let options = try parse(args, as: "add")
        if let provider = options.values["--from-provider"] {
            guard options.positional.isEmpty, options.values["--kind"] == nil, (options.lists["--set"] ?? []).isEmpty,
                  (options.lists["--secret"] ?? []).isEmpty else {
                throw BrokerFailure(.usage, "--from-provider takes no NAME, --kind, --set or --secret: the provider names its identities")
            }
            return try addFromProvider(provider)
        }
        guard let name = options.positional.first else { throw BrokerFailure(.usage, "add needs the new identity's NAME") }
        guard let kindName = options.values["--kind"] else { throw BrokerFailure(.usage, "add needs --kind KIND (one of: \(IdentityKinds.names.joined(separator: ", ")))") }
        guard let kind = IdentityKinds.named(kindName) else { throw BrokerFailure(.usage, "unknown kind \"\(kindName)\"") }
        let descriptor = kind.descriptor
        let paths = try self.paths
        let config = try loadConfig()
        if let existing = config.identities[name] {
            throw BrokerFailure(.input, "identity \"\(name)\" is already defined at \(existing.location)", hint: "edit it there, or choose another name")
        }

        // Settings from --set, each checked against the kind's own declarations.
        let known = BrokerConfig.commonIdentityKeys.filter { $0 != "kind" } + descriptor.settings.map(\.name)
        var settings: [(key: String, value: String)] = []
        for item in options.lists["--set"] ?? [] {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                throw BrokerFailure(.usage, "--set takes KEY=VALUE, not \"\(WireCodec.printable(item))\"")
            }
            let key = item[..<eq].lowercased(), value = String(item[item.index(after: eq)...])
            guard known.contains(key) else {
                // Usage errors print their message and the synopsis: the suggestion belongs in the message.
                throw BrokerFailure(.usage, "kind \(kindName) has no setting \"\(WireCodec.printable(key))\"; "
                                    + (closestMatch(to: key, among: known).map { "did you mean \"\($0)\"?" } ?? "its settings: \(known.joined(separator: ", "))"))
            }
            if descriptor.settings.first(where: { $0.name == key })?.type == .secretReference, !Self.isReference(value) {
                // Never write a typed secret into the configuration (D3).
                throw BrokerFailure(.usage, "\(key) is a secret: --set it to a reference (env:NAME, file:PATH, cmd:COMMAND), not a value, or pass --secret \(key) to be asked for it and have it stored in a 0600 file")
            }
            settings.append((key, value))
        }
        // Where typed values go: the keyring for kinds that keep settings there (aws-vault add), else
        // files. The option table refuses any other --store.
        let storeName = options.values["--store"] ?? (descriptor.keyringKeys.isEmpty ? "file" : "keyring")
        // What to ask for: with the keyring, the kind's keyring settings not given; the kind's
        // required secret settings not given, and every --secret KEY.
        var asked: [String] = storeName == "keyring" ? descriptor.keyringKeys.filter { key in !settings.contains { $0.key == key } } : []
        for key in options.lists["--secret"] ?? [] {
            guard descriptor.settings.contains(where: { $0.name == key && $0.type == .secretReference }) else {
                let secretKeys = descriptor.settings.filter { $0.type == .secretReference }.map(\.name)
                throw BrokerFailure(.usage, "kind \(kindName) has no secret setting \"\(WireCodec.printable(key))\"; "
                                    + (secretKeys.isEmpty ? "it takes no secrets" : "its secret settings: \(secretKeys.joined(separator: ", "))"))
            }
            if !asked.contains(key) { asked.append(key) }
        }
        for spec in descriptor.settings where spec.required && spec.type == .secretReference
            && !settings.contains(where: { $0.key == spec.name }) && !asked.contains(spec.name) {
            asked.append(spec.name)
        }
        for key in asked where settings.contains(where: { $0.key == key }) {
            throw BrokerFailure(.usage, "\(key) is given with --set and with --secret; give one")
        }

        let configDirectory = String(paths.configFile[..<(paths.configFile.lastIndex(of: "/") ?? paths.configFile.startIndex)])
        let store: SecretStore = storeName == "keyring" ? KeyringSecretStore(ctl: self) : FileSecretStore(configDirectory: configDirectory)
        var stored: [String] = []
        let original = FileManager.default.contents(atPath: paths.configFile).map { [UInt8]($0) }
        do {
            for key in asked {
                let secret = descriptor.settings.first { $0.name == key }?.type == .secretReference
                let typed = try Self.ask(key, identity: name, secret: secret)
                guard secret || storeName == "keyring" else {
                    settings.append((key, typed))   // not a secret: it goes into the section as it is
                    continue
                }
                let reference = try store.store(Secret(typed), identity: name, setting: key)
                stored.append(reference)
                settings.append((key, reference))
            }
            var text = "[identity \(Self.configQuoted(name, always: true))]\n\tkind = \(kindName)\n"
            for (key, value) in settings { text += "\t\(key) = \(Self.configQuoted(value))\n" }
            var bytes = original ?? []
            if !bytes.isEmpty { bytes += bytes.last == 10 ? [10] : [10, 10] }
            bytes += Array(text.utf8)
            // A new configuration directory is made 0700; an existing one is left as it is (the
            // secrets directory inside it is what must be private).
            if !FileManager.default.fileExists(atPath: configDirectory) { try ensurePrivateDirectory(configDirectory) }
            let mode = (try? FileStatus(path: paths.configFile))?.permissions
            try writeFileAtomically(paths.configFile, bytes: bytes)
            if let mode { chmod(paths.configFile, mode_t(mode)) }
            let checked = try loadConfig()
            out("added identity \"\(name)\" (kind \(kindName)) to \(paths.configFile)" + (stored.isEmpty ? "" : "; secrets stored as \(stored.joined(separator: ", "))"))
            out("\(paths.configFile): ok (\(checked.identities.count) identities, \(checked.gitBindings.count) git bindings)")
            return ExitStatus.success
        } catch {
            // Lose nothing: the file as it was, and no secret file left behind for a section that is not there.
            if let original { try? writeFileAtomically(paths.configFile, bytes: original) } else { unlink(paths.configFile) }
            for reference in stored { store.remove(reference: reference) }
            if let configError = error as? ConfigError {
                throw BrokerFailure(.config, "the new section does not validate, so the file is unchanged: \(configError.description)")
            }
            throw error
        }
    }

    /// `add --from-provider PROVIDER`: a section for every identity the provider's session offers
    /// that the configuration does not define yet, appended at once and validated as one change.
    func addFromProvider(_ provider: String) throws -> Int32 {
        let paths = try self.paths
        let config = try loadConfig()
        _ = try config.provider(provider)
        guard let answer = try client().send(WireMessage(.providerList, [.init(WireKey.provider, provider)])) else {
            throw BrokerFailure(.unavailable, "broker-agent is not running")
        }
        let offers = answer.records("offer", columns: ["name", "kind"])
        let settings = answer.records("setting", columns: ["offer", "key", "value"])
        var text = ""
        var added = 0
        for (index, offer) in offers.enumerated() {
            guard let name = offer["name"], let kind = offer["kind"], config.identities[name] == nil else { continue }
            text += "[identity \(Self.configQuoted(name, always: true))]\n\tkind = \(kind)\n"
            for setting in settings where setting["offer"] == String(index) {
                text += "\t\(setting["key"] ?? "") = \(Self.configQuoted(setting["value"] ?? ""))\n"
            }
            added += 1
        }
        let skipped = offers.count - added
        guard added > 0 else {
            out("provider \"\(provider)\" offers \(offers.count) identities; all are defined already")
            return ExitStatus.success
        }
        let original = FileManager.default.contents(atPath: paths.configFile).map { [UInt8]($0) }
        do {
            var bytes = original ?? []
            if !bytes.isEmpty { bytes += bytes.last == 10 ? [10] : [10, 10] }
            bytes += Array(text.utf8)
            let mode = (try? FileStatus(path: paths.configFile))?.permissions
            try writeFileAtomically(paths.configFile, bytes: bytes)
            if let mode { chmod(paths.configFile, mode_t(mode)) }
            let checked = try loadConfig()
            out("added \(added) identities from provider \"\(provider)\" to \(paths.configFile)" + (skipped > 0 ? " (\(skipped) defined already)" : ""))
            out("\(paths.configFile): ok (\(checked.identities.count) identities, \(checked.gitBindings.count) git bindings)")
            return ExitStatus.success
        } catch {
            if let original { try? writeFileAtomically(paths.configFile, bytes: original) } else { unlink(paths.configFile) }
            if let configError = error as? ConfigError {
                throw BrokerFailure(.config, "the new sections do not validate, so the file is unchanged: \(configError.description)")
            }
            throw error
        }
    }

    static func isReference(_ value: String) -> Bool {
        ["env:", "file:", "cmd:", "keyring:"].contains { value.hasPrefix($0) && value.count > $0.count }
    }

    /// A value as git-config syntax reads it back: quoted when it holds anything the parser would
    /// treat specially (comment characters, quotes, backslashes, outer spaces).
    static func configQuoted(_ value: String, always: Bool = false) -> String {
        let special = value.contains { "#;\"\\".contains($0) } || value.hasPrefix(" ") || value.hasSuffix(" ") || value.isEmpty
        guard always || special else { return value }
        return "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
