// The agent's keyring: picks the backend, holds the file keyring's passphrase while unlocked, and serves warm secrets from memory.

import BrokerWire
import Foundation

/// One per agent. `keyring:NAME` references, `brokerctl secret …`, `unlock` and `lock` all come
/// here. Decrypted secrets are kept in memory (D9) until they change, the keyring is locked, or
/// the unlock times out; nothing decrypted is written anywhere.
public final class KeyringService: @unchecked Sendable {
    let environment: Environment
    let clock: Clock
    let runner: CommandRunner
    let settings: @Sendable () -> KeyringSettings
    let defaultDirectory: String
    /// The memory backend outlives configuration changes: it is the only copy of its secrets.
    public let memory: MemoryKeyring

    private let lock = NSRecursiveLock()
    private var heldPassphrase: [UInt8]?
    private var lastUse: Int64 = 0
    private var warm: [String: Secret] = [:]
    private var systemAnswers: Bool?
    private var built: (settings: KeyringSettings, backend: any KeyringBackend)?
    /// What `generation()` reads without waiting for `lock`, which is held across backend reads
    /// (scrypt, secret-tool): rebuilds of the backend and locks counted, the settings it was built
    /// with, and the last use of a held passphrase.
    private let publishedLock = NSLock()
    private var published = (changes: 0, settings: KeyringSettings?.none, heldLastUse: Int64?.none)

    public init(environment: Environment, clock: Clock = .system, runner: CommandRunner = CommandRunner(),
                settings: @escaping @Sendable () -> KeyringSettings) {
        self.environment = environment
        self.clock = clock
        self.runner = runner
        self.settings = settings
        memory = MemoryKeyring(clock: clock)
        defaultDirectory = Self.defaultDirectory(environment)
    }

    /// `$XDG_DATA_HOME/credential-broker/keyring`.
    public static func defaultDirectory(_ environment: Environment) -> String {
        let dataHome = environment["XDG_DATA_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? ((environment["HOME"] ?? "") + "/.local/share")
        return dataHome + "/credential-broker/keyring"
    }

    /// The backend in use: `BROKER_KEYRING_BACKEND`, else `[keyring] backend`, else `system` where
    /// a Secret Service answers, else `file`.
    public func backend() throws -> any KeyringBackend {
        try lock.withLock {
            let current = settings()
            if let built, built.settings == current { return built.backend }
            let kind: KeyringBackendKind
            if let name = environment["BROKER_KEYRING_BACKEND"], !name.isEmpty {
                guard let chosen = KeyringBackendKind(rawValue: name) else {
                    throw BrokerFailure(.config, "BROKER_KEYRING_BACKEND=\(WireCodec.printable(name, limit: 40)) is not a keyring backend",
                                        hint: "use system, file or memory")
                }
                kind = chosen
            } else if let chosen = current.backend {
                kind = chosen
            } else {
                if systemAnswers == nil { systemAnswers = SystemKeyring.make(environment: environment, runner: runner).answers() }
                kind = systemAnswers! ? .system : .file
            }
            let backend: any KeyringBackend
            switch kind {
            case .memory: backend = memory
            case .system: backend = SystemKeyring.make(environment: environment, runner: runner)
            case .file:
                backend = FileKeyring(directory: current.directory ?? defaultDirectory, workFactor: current.workFactor,
                                      passphrase: { [unowned self] in try self.passphrase() },
                                      isUnlocked: { [unowned self] in self.isUnlocked() })
            }
            let rebuilt = built != nil
            if rebuilt { warm.removeAll() }
            built = (current, backend)
            publishedLock.withLock {
                if rebuilt { published.changes += 1 }
                published.settings = current
            }
            return backend
        }
    }

    /// Changes whenever a copy of a secret read earlier may be stale or must be forgotten: the
    /// backend changed with the configuration, or the keyring was locked (by `brokerctl lock` or
    /// the unlock timeout). For readers that keep their own decrypted copy (`[git] store`).
    /// Never waits for a backend.
    public func generation() -> Int {
        let current = settings()
        return publishedLock.withLock {
            // Either one is counted when the next use of the keyring rebuilds or locks it.
            let rebuilding = published.settings.map { $0 != current } ?? false
            let expiring = published.heldLastUse.map { clock.elapsed() - $0 > Int64(current.unlockTimeout) } ?? false
            return published.changes + (rebuilding || expiring ? 1 : 0)
        }
    }

    // MARK: the secrets

    /// For `keyring:NAME`: warm from memory, else read from the backend once.
    public func secret(named name: String) throws -> Secret {
        try lock.withLock {
            expireIfIdle()
            let backend = try backend()
            if let secret = warm[name] { touch(); return secret }
            guard let secret = try backend.read(name) else {
                throw BrokerFailure(.config, "no secret \"\(name)\" in the \(backend.kind.rawValue) keyring",
                                    hint: "store it with `brokerctl secret set \(name)`")
            }
            warm[name] = secret
            return secret
        }
    }

    public func get(_ name: String) throws -> Secret? {
        try KeyringName.check(name)
        return try lock.withLock {
            expireIfIdle()
            if let secret = warm[name] { return secret }
            return try backend().read(name)
        }
    }

    public func set(_ name: String, _ secret: Secret) throws -> KeyringBackendKind {
        try KeyringName.check(name)
        try KeyringName.checkValue(secret)
        return try lock.withLock {
            expireIfIdle()
            let backend = try backend()
            try backend.write(name, secret)
            warm[name] = secret
            return backend.kind
        }
    }

    public func remove(_ name: String) throws -> Bool {
        try KeyringName.check(name)
        return try lock.withLock {
            warm.removeValue(forKey: name)
            return try backend().remove(name)
        }
    }

    public func list() throws -> [KeyringEntry] { try lock.withLock { try backend().list() } }

    /// The backend's name and `unlocked` / `locked` / why it is unusable, with the fix.
    public func status() -> (backend: String, state: String, fix: String?) {
        lock.withLock {
            expireIfIdle()
            let health: KeyringHealth
            let name: String
            do {
                let backend = try backend()
                (name, health) = (backend.kind.rawValue, backend.health())
            } catch {
                (name, health) = ("?", .unavailable(error as? BrokerFailure ?? BrokerFailure(.unavailable, "\(error)")))
            }
            return (name, health.text, health.fix)
        }
    }

    // MARK: the file keyring's passphrase

    /// Holds `passphrase` until `lock()` or the unlock timeout. When the directory already holds
    /// secrets, one of them must open with it, so a mistyped passphrase is refused at once.
    public func unlock(passphrase: [UInt8]) throws {
        guard !passphrase.isEmpty else { throw BrokerFailure(.input, "an empty passphrase cannot unlock the keyring") }
        try lock.withLock {
            guard let file = try backend() as? FileKeyring else {
                throw BrokerFailure(.input, "the \(try backend().kind.rawValue) keyring has no passphrase to unlock",
                                    hint: "unlock and lock apply to [keyring] backend = file")
            }
            if let sample = try file.list().max(by: { ($0.modified ?? 0) < ($1.modified ?? 0) }),
               let bytes = try? PrivateFile.read(path: file.path(sample.name), limit: 4 << 20) {
                do { _ = try AgeFile.decrypt(bytes, passphrase: passphrase) } catch let error as AgeFileError where error == .wrongPassphrase {
                    throw BrokerFailure(.denied, "wrong passphrase: it does not open \(file.path(sample.name))",
                                        hint: "use the passphrase the keyring's files were written with")
                }
            }
            heldPassphrase = passphrase
            touch()
        }
    }

    /// Forgets the passphrase and every decrypted secret.
    public func lockKeyring() {
        lock.withLock {
            if var held = heldPassphrase { for i in 0..<held.count { held[i] = 0 } }
            heldPassphrase = nil
            warm.removeAll()
            publishedLock.withLock { published.changes += 1; published.heldLastUse = nil }
        }
    }

    func isUnlocked() -> Bool {
        lock.withLock {
            expireIfIdle()
            return heldPassphrase != nil || environment["BROKER_KEYRING_PASSWORD"].map { !$0.isEmpty } ?? false || settings().passphrase != nil
        }
    }

    func passphrase() throws -> [UInt8] {
        try lock.withLock {
            expireIfIdle()
            if let held = heldPassphrase { touch(); return held }
            if let password = environment["BROKER_KEYRING_PASSWORD"], !password.isEmpty { return Array(password.utf8) }
            if let reference = settings().passphrase {
                let context = ResolveContext(environment: environment, clock: clock, commandRunner: runner)
                let secret = try reference.resolve(context, timeout: 60)
                guard !secret.isEmpty else { throw BrokerFailure(.config, "[keyring] passphrase \(reference) is empty") }
                return Array(secret.reveal().utf8)
            }
            throw BrokerFailure(.denied, "the file keyring is locked", hint: FileKeyring.unlockHint)
        }
    }

    private func touch() {
        lastUse = clock.elapsed()
        if heldPassphrase != nil { publishedLock.withLock { published.heldLastUse = lastUse } }
    }

    /// An interactive unlock lasts `unlock-timeout` seconds past its last use.
    private func expireIfIdle() {
        guard heldPassphrase != nil, clock.elapsed() - lastUse > Int64(settings().unlockTimeout) else { return }
        lockKeyring()
    }
}
