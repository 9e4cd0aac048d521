// Where long-lived secrets live (DESIGN D18): the backend protocol, the `[keyring]` settings, and the names secrets may have.

import BrokerWire

public enum KeyringBackendKind: String, Sendable, CaseIterable {
    /// The platform's keyring: Secret Service on Linux, the login Keychain on macOS.
    case system
    /// One age v1 file per secret, encrypted to a passphrase (readable with `age -d`).
    case file
    /// The running agent's memory only; gone when it exits.
    case memory
}

/// One stored secret as listings show it: never the value.
public struct KeyringEntry: Sendable, Equatable {
    public var name: String
    public var backend: KeyringBackendKind
    /// Seconds since the epoch; nil when the backend does not say.
    public var modified: Int64?

    public init(name: String, backend: KeyringBackendKind, modified: Int64?) {
        self.name = name
        self.backend = backend
        self.modified = modified
    }
}

/// A store of named secrets. `read` answers nil for a name it does not hold; every failure to
/// reach the store is a `BrokerFailure` that names the fix. No method puts a secret in argv,
/// environment or an error text.
public protocol KeyringBackend: AnyObject, Sendable {
    var kind: KeyringBackendKind { get }
    func read(_ name: String) throws -> Secret?
    func write(_ name: String, _ secret: Secret) throws
    /// True when something was removed.
    func remove(_ name: String) throws -> Bool
    func list() throws -> [KeyringEntry]
    /// `unlocked`, `locked`, or why it is unusable: for `brokerctl doctor` and `secret list`.
    func state() -> String
    /// The same, with the fix a person needs when it is not unlocked.
    func health() -> KeyringHealth
}

public enum KeyringHealth: Sendable {
    case unlocked
    case locked(fix: String)
    case unavailable(BrokerFailure)

    /// What `state()` says.
    public var text: String {
        switch self {
        case .unlocked: return "unlocked"
        case .locked: return "locked"
        case .unavailable(let failure): return "unavailable: \(failure)"
        }
    }

    public var fix: String? {
        switch self {
        case .unlocked: return nil
        case .locked(let fix): return fix
        case .unavailable(let failure): return failure.hint ?? "set [keyring] backend = file"
        }
    }
}

extension KeyringBackend {
    /// For a backend that only says `state()`.
    public func health() -> KeyringHealth {
        let state = state()
        if state == "unlocked" { return .unlocked }
        if state == "locked" { return .locked(fix: "unlock it, or set [keyring] backend = file") }
        return .unavailable(BrokerFailure(.unavailable, String(state.dropFirst(state.hasPrefix("unavailable: ") ? 13 : 0))))
    }
}

/// `[keyring]` in the configuration.
public struct KeyringSettings: Sendable, Equatable {
    /// nil: `BROKER_KEYRING_BACKEND`, else `system` where one answers, else `file`.
    public var backend: KeyringBackendKind?
    /// The file backend's directory; default `$XDG_DATA_HOME/credential-broker/keyring`.
    public var directory: String?
    /// Where the file backend's passphrase comes from when `brokerctl unlock` was not used.
    public var passphrase: SecretReference?
    /// Seconds after the last use at which an unlocked file keyring forgets its passphrase.
    public var unlockTimeout = 900
    /// log2 of scrypt's N for files the broker writes; `age -p` uses 18.
    public var workFactor = AgeFile.defaultLogN

    public init() {}

    public static let keys = ["backend", "directory", "passphrase", "unlock-timeout", "work-factor"]
}

public enum KeyringName {
    /// Names are account names in the system keyring and file names in the file backend:
    /// letters, digits and `._-@+`, not starting with a dot, at most 128 characters.
    public static func check(_ name: String) throws {
        let allowed = name.unicodeScalars.allSatisfy {
            ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "._-@+".unicodeScalars.contains($0)
        }
        guard !name.isEmpty, name.count <= 128, allowed, !name.hasPrefix(".") else {
            throw BrokerFailure(.input, "keyring name \"\(WireCodec.printable(name, limit: 64))\" is not allowed",
                                hint: "use letters, digits and . _ - @ + (not starting with a dot), at most 128 characters")
        }
    }

    /// A secret the wire and every backend can carry: non-empty text without LF, CR or NUL.
    public static func checkValue(_ secret: Secret) throws {
        guard !secret.isEmpty else { throw BrokerFailure(.input, "an empty secret cannot be stored", hint: "give a non-empty value") }
        // Never echo the value.
        guard !secret.reveal().unicodeScalars.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\0" }) else {
            throw BrokerFailure(.input, "a keyring secret cannot contain a line break or NUL")
        }
    }
}
