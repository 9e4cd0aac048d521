// The `system` keyring on Linux: the freedesktop Secret Service (GNOME Keyring, KWallet's bridge, KeePassXC) through `secret-tool`.

import BrokerWire
import Foundation

/// Speaks to the Secret Service through `secret-tool` (libsecret-tools). The secret travels only
/// on the child's stdin (store) and stdout (lookup); argv carries the service and account names.
/// Items are `service=credential-broker account=NAME`, as git-credential-libsecret keys its own.
public final class SecretServiceKeyring: KeyringBackend, @unchecked Sendable {
    public static let service = "credential-broker"
    let environment: Environment
    let runner: CommandRunner
    let timeout: Int

    public init(environment: Environment, runner: CommandRunner = CommandRunner(), timeout: Int = 20) {
        self.environment = environment
        self.runner = runner
        self.timeout = timeout
    }

    public var kind: KeyringBackendKind { .system }

    private func run(_ arguments: [String], input: [UInt8] = []) throws -> CommandResult {
        guard environment["DBUS_SESSION_BUS_ADDRESS"].map({ !$0.isEmpty }) ?? false || environment["DISPLAY"] != nil else {
            throw Self.noSession
        }
        do {
            return try runner.run(arguments: ["secret-tool"] + arguments, input: input, timeout: timeout, environment: environment)
        } catch let failure as BrokerFailure where failure.message.hasPrefix("cannot find") {
            throw BrokerFailure(.unavailable, "secret-tool is not installed, so the system keyring cannot be reached",
                                hint: "install libsecret-tools (Debian/Ubuntu) or libsecret (Fedora/Arch), or set [keyring] backend = file")
        }
    }

    static let noSession = BrokerFailure(.unavailable, "no D-Bus session bus for the system keyring (DBUS_SESSION_BUS_ADDRESS is not set in broker-agent's environment)",
                                         hint: "log in to a desktop session, or start one with `dbus-run-session -- $SHELL` (and unlock it: `gnome-keyring-daemon --unlock`), or set [keyring] backend = file")

    static func locked(_ name: String) -> BrokerFailure {
        BrokerFailure(.denied, "the system keyring collection holding \"\(name)\" is locked",
                      hint: "unlock it (log in to the desktop, `gnome-keyring-daemon --unlock`, or your keyring's unlock command), or set [keyring] backend = file")
    }

    /// Turns secret-tool's stderr into the failure a person can act on.
    private func failure(_ result: CommandResult, doing what: String, name: String) -> BrokerFailure {
        let text = result.stderr.split(separator: "\n").map { String($0) }.first { $0.hasPrefix("secret-tool:") } ?? result.stderr
        if text.contains("D-Bus") || text.contains("dbus") || text.contains("org.freedesktop.secrets") || text.contains("ServiceUnknown") {
            return BrokerFailure(.unavailable, "the system keyring did not answer: \(WireCodec.printable(text, limit: 200))",
                                 hint: Self.noSession.hint)
        }
        if text.contains("locked") { return Self.locked(name) }
        return BrokerFailure(.unavailable, "secret-tool \(what) \(result.statusDescription)" + (text.isEmpty ? "" : ": \(WireCodec.printable(text, limit: 200))"),
                             hint: "check that a Secret Service (e.g. gnome-keyring-daemon) runs in this session, or set [keyring] backend = file")
    }

    public func read(_ name: String) throws -> Secret? {
        let result = try run(["lookup", "service", Self.service, "account", name])
        if result.status == 0, !result.stdout.isEmpty { return Secret(trimTrailingNewlines(result.stdout)) }
        // lookup says nothing when the item is missing and when its collection is locked: ask search, which says which.
        guard result.stderr.isEmpty, !result.timedOut else { throw failure(result, doing: "lookup", name: name) }
        let search = try run(["search", "service", Self.service, "account", name])
        if search.stderr.contains("locked") { throw Self.locked(name) }
        if search.status != 0, !search.stderr.isEmpty, !search.stderr.contains("attribute.") { throw failure(search, doing: "search", name: name) }
        return nil
    }

    public func write(_ name: String, _ secret: Secret) throws {
        let result = try run(["store", "--label=credential-broker: \(name)", "service", Self.service, "account", name],
                             input: Array(secret.reveal().utf8))
        guard result.status == 0 else { throw failure(result, doing: "store", name: name) }
    }

    public func remove(_ name: String) throws -> Bool {
        guard try read(name) != nil else { return false }
        let result = try run(["clear", "service", Self.service, "account", name])
        guard result.status == 0 else { throw failure(result, doing: "clear", name: name) }
        return true
    }

    /// `secret-tool search --all` prints each item's label, secret and dates on stdout and its
    /// attributes on stderr, in the same order; the secrets are dropped as they are parsed.
    public func list() throws -> [KeyringEntry] {
        let result = try run(["search", "--all", "service", Self.service])
        let accounts = result.stderr.split(separator: "\n").compactMap { line -> String? in
            line.hasPrefix("attribute.account = ") ? String(line.dropFirst("attribute.account = ".count)) : nil
        }
        if accounts.isEmpty, result.status != 0, !result.stderr.isEmpty, !result.stderr.contains("attribute.") {
            throw failure(result, doing: "search", name: "*")
        }
        var modified: [Int64?] = []
        for line in result.stdout.split(separator: "\n") {
            if line.hasPrefix("[") { modified.append(nil) }
            if line.hasPrefix("modified = "), !modified.isEmpty { modified[modified.count - 1] = Self.parseDate(String(line.dropFirst(11))) }
        }
        return accounts.enumerated().map { KeyringEntry(name: $0.element, backend: .system, modified: $0.offset < modified.count ? modified[$0.offset] : nil) }
            .sorted { $0.name < $1.name }
    }

    /// secret-tool prints local time as `2026-12-05 12:39:41`.
    static func parseDate(_ text: String) -> Int64? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.date(from: text).map { Int64($0.timeIntervalSince1970) }
    }

    public func state() -> String { health().text }

    public func health() -> KeyringHealth {
        do {
            // lookup cannot tell a locked collection from a missing item; search reports "locked" for any item it finds.
            let result = try run(["search", "service", Self.service])
            if result.stderr.contains("locked") { return .locked(fix: Self.locked("").hint ?? "unlock it") }
            if result.status != 0, !result.stderr.isEmpty, !result.stderr.contains("attribute.") {
                return .unavailable(failure(result, doing: "search", name: "*"))
            }
            return .unlocked
        } catch {
            return .unavailable(error as? BrokerFailure ?? BrokerFailure(.unavailable, "\(error)"))
        }
    }

    /// Whether a Secret Service answers in this environment (for the default backend choice).
    public func answers() -> Bool {
        guard let result = try? run(["lookup", "service", Self.service, "account", "credential-broker.probe"]) else { return false }
        return !result.timedOut && (result.status == 0 || result.stderr.isEmpty)
    }
}
