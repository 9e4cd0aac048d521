// `brokerctl login`: an identity's keys into the keyring and its MFA code, or a provider's device login (the agent polls, we show it).

import BrokerCore
import BrokerWire
import Foundation

extension Brokerctl {
    /// Prompts for an MFA code on the terminal (standard input when there is none) and hands it
    /// to the agent, which uses it once to open the identity's session.
    func login(_ args: [String]) throws -> Int32 {
        let options = try parse(args, as: "login")
        guard let name = options.positional.first else { throw BrokerFailure(.usage, "login needs an identity or a provider") }
        // Refused before any prompt: an undefined name, or a kind with nothing for a person to do.
        let config = try loadConfig()
        if config.providers[name] != nil {
            return try providerLogin(name, openBrowser: !options.flags.contains("--no-browser") && isatty(0) == 1 && isatty(1) == 1)
        }
        let identity = try config.identity(name)
        let storedKeys = try loginKeys(identity, name: name, replace: options.flags.contains("--keys"))
        guard identity.kind.loginFlow != nil else {
            if let storedKeys {
                if !storedKeys { out("identity \"\(name)\" has its keys in the keyring; nothing else to log in to (--keys replaces them)") }
                return ExitStatus.success
            }
            let able = config.identityOrder.filter { config.kinds[$0]?.loginFlow != nil }
            throw BrokerFailure(.input, "identity \"\(name)\" (kind \(identity.kind.kindName)) has no login step; there is nothing to log in to",
                                hint: "its credential needs nothing from a person, so just use it"
                                    + (able.isEmpty ? "" : "; identities that take a login here: \(able.prefix(5).joined(separator: ", "))"))
        }
        let tty = FileHandle(forUpdatingAtPath: "/dev/tty")
        let prompt = Data("MFA code for identity \"\(name)\": ".utf8)
        if let tty { tty.write(prompt) } else { FileHandle.standardError.write(prompt) }
        let input = tty ?? FileHandle.standardInput
        var line = Data()
        while let byte = try input.read(upToCount: 1), let b = byte.first, b != 10 { line.append(b) }
        let code = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !code.isEmpty, code.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw BrokerFailure(.usage, "an MFA code is the digits your device shows")
        }
        let request = WireMessage(.login, [.init(WireKey.identity, name), .init(WireKey.code, code)])
        guard let answer = try client().send(request) else { throw BrokerFailure(.unavailable, "broker-agent is not running") }
        let expires = answer["expiration"].flatMap(Int64.init).map { " until \(rfc3339UTC($0))" } ?? ""
        out("logged in: identity \"\(name)\" has a session\(expires)")
        return ExitStatus.success
    }
}

extension Brokerctl {
    /// The settings the identity's kind keeps in the keyring (an IAM user's key pair, as
    /// `aws-vault add` keeps it) and its section references as `keyring:NAME`: asked for when
    /// the keyring lacks one, or all of them with `replace`, and stored under those names. nil
    /// when the section references none; whether anything was stored otherwise.
    func loginKeys(_ identity: ConfiguredIdentity, name: String, replace: Bool) throws -> Bool? {
        let descriptor = type(of: identity.kind).descriptor
        let referenced = Self.keyringKeys(identity.definition, identity.kind)
        guard !referenced.isEmpty else {
            if replace {
                throw BrokerFailure(.input, "identity \"\(name)\" does not read its \(descriptor.keyringKeys.joined(separator: " or ")) from the keyring, so --keys has nothing to replace",
                                    hint: descriptor.keyringKeys.isEmpty ? "its kind keeps no keys in the keyring"
                                        : "write " + descriptor.keyringKeys.map { "\($0) = keyring:\(KeyringSecretStore.name(identity: name, setting: $0))" }.joined(separator: " and ") + " in its section")
            }
            return nil
        }
        let listing = try agent(WireMessage(.keyringList))
        let held = Set(listing.records("entry", columns: ["name"]).compactMap { $0["name"] })
        let wanted = replace ? referenced : referenced.filter { !held.contains($0.secret) }
        guard !wanted.isEmpty else { return false }
        var backend = listing[WireKey.backend] ?? "?"
        for (key, secret) in wanted {
            let value = try Self.ask(key, identity: name, secret: descriptor.settings.first { $0.name == key }?.type == .secretReference)
            backend = try agent(WireMessage(.keyringSet, [.init(WireKey.name, secret), .init(WireKey.secret, value)]))[WireKey.backend] ?? backend
        }
        out("stored \(wanted.map(\.key).joined(separator: " and ")) of identity \"\(name)\" in the \(backend) keyring as "
            + wanted.map { "keyring:\($0.secret)" }.joined(separator: ", "))
        return true
    }

    /// The kind's keyring-held settings that the section references as `keyring:NAME`, with NAME.
    static func keyringKeys(_ definition: IdentityDefinition?, _ kind: any IdentityKind) -> [(key: String, secret: String)] {
        type(of: kind).descriptor.keyringKeys.compactMap { key in
            guard let value = definition?.value(key), value.hasPrefix("keyring:") else { return nil }
            return (key, String(value.dropFirst(8)))
        }
    }

    /// Starts the provider's device login in the agent, shows the person where to approve it,
    /// opens a browser when both ends are a terminal, and follows the agent's polling to the end.
    func providerLogin(_ name: String, openBrowser: Bool) throws -> Int32 {
        let client = try client()
        guard let started = try client.send(WireMessage(.providerLogin, [.init(WireKey.provider, name)])) else {
            throw BrokerFailure(.unavailable, "broker-agent is not running")
        }
        let complete = started[WireKey.verificationURIComplete]
        let code = started[WireKey.userCode] ?? ""
        out("To log in to provider \"\(name)\", open \(complete ?? started[WireKey.verificationURI] ?? "(no URL given)")")
        out("and check that it shows the code \(code)" + (complete == nil ? " (enter it there)" : "") + ".")
        if openBrowser, let url = complete ?? started[WireKey.verificationURI] { Self.openInBrowser(url) }
        let deadline = (started[WireKey.expiration].flatMap(Int64.init) ?? currentUnixTime() + 600) + 15
        var lastReported = currentUnixTime()
        while currentUnixTime() <= deadline {
            sleep(1)
            guard let status = try client.send(WireMessage(.providerLoginStatus, [.init(WireKey.provider, name)])) else {
                throw BrokerFailure(.unavailable, "broker-agent stopped during the login")
            }
            switch status[WireKey.state] {
            case "ok":
                let expires = status[WireKey.expiration].flatMap(Int64.init).map { " until \(rfc3339UTC($0))" } ?? ""
                out("logged in: provider \"\(name)\" has a session\(expires)")
                return ExitStatus.success
            case "pending":
                if currentUnixTime() - lastReported >= 5 {
                    err("waiting for approval (\(status[WireKey.polls] ?? "0") checks so far)…")
                    lastReported = currentUnixTime()
                }
            default:
                throw BrokerFailure(.denied, status[WireKey.error] ?? "the login failed", hint: status[WireKey.hint])
            }
        }
        throw BrokerFailure(.denied, "the login of provider \"\(name)\" was not approved in time", hint: "run: brokerctl login \(name)")
    }

    /// The desktop's URL opener, as argv (never a shell); failures are silent: the URL is printed.
    static func openInBrowser(_ url: String) {
        // Only a web URL: a service's answer starting with `-` must not become an option of the opener.
        guard url.hasPrefix("https://") || url.hasPrefix("http://") else { return }
        #if os(macOS)
        let opener = "/usr/bin/open"
        #else
        let opener = "xdg-open"
        #endif
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [opener, url]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try? process.run()
    }
}
