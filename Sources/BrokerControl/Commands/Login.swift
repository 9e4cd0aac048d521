// `brokerctl login`: an identity's MFA code, or a provider's device login (the agent polls, we show it).

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
        guard identity.kind.loginFlow != nil else {
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
