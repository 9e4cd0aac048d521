// The `file` keyring: one age v1 file per secret in a 0700 directory, so `age -d` can always recover a secret.

import BrokerWire
import Foundation

public final class FileKeyring: KeyringBackend, @unchecked Sendable {
    public let directory: String
    let workFactor: Int
    /// The passphrase, or an error naming how to unlock; asked on every read and write, so the
    /// owner (KeyringService) decides how long it is held.
    let passphrase: @Sendable () throws -> [UInt8]
    let isUnlocked: @Sendable () -> Bool

    public init(directory: String, workFactor: Int, passphrase: @escaping @Sendable () throws -> [UInt8],
                isUnlocked: @escaping @Sendable () -> Bool) {
        self.directory = directory
        self.workFactor = workFactor
        self.passphrase = passphrase
        self.isUnlocked = isUnlocked
    }

    public var kind: KeyringBackendKind { .file }

    func path(_ name: String) -> String { "\(directory)/\(name).age" }

    public func read(_ name: String) throws -> Secret? {
        let path = path(name)
        guard (try? FileStatus(path: path, followingSymlinks: false)) != nil else { return nil }
        try checkPrivateDirectory(directory)
        let bytes: [UInt8]
        do { bytes = try PrivateFile.read(path: path, limit: 4 << 20) } catch {
            throw BrokerFailure(.permission, "keyring file \(path) is refused: \(error)", hint: "chmod 600 \(path)")
        }
        var key = try passphrase()
        defer { for i in 0..<key.count { key[i] = 0 } }
        var plaintext: [UInt8]
        do { plaintext = try AgeFile.decrypt(bytes, passphrase: key) } catch let error as AgeFileError {
            throw BrokerFailure(error == .wrongPassphrase ? .denied : .config, "keyring file \(path): \(error.message)", hint: error.hint)
        }
        defer { for i in 0..<plaintext.count { plaintext[i] = 0 } }
        guard !plaintext.isEmpty else { throw BrokerFailure(.config, "keyring file \(path) holds an empty secret", hint: "set it again with `brokerctl secret set \(name)`") }
        guard let text = String(validating: plaintext, as: UTF8.self) else {
            throw BrokerFailure(.config, "keyring file \(path) does not hold UTF-8 text")
        }
        return Secret(trimTrailingNewlines(text))
    }

    public func write(_ name: String, _ secret: Secret) throws {
        try ensurePrivateDirectory(directory)
        var key = try passphrase()
        defer { for i in 0..<key.count { key[i] = 0 } }
        try writeFileAtomically(path(name), bytes: AgeFile.encrypt(Array(secret.reveal().utf8), passphrase: key, logN: workFactor))
    }

    public func remove(_ name: String) throws -> Bool {
        guard unlink(path(name)) == 0 else {
            if errno == ENOENT { return false }
            throw BrokerFailure(.unavailable, "cannot remove \(path(name)): \(Errno.current)")
        }
        return true
    }

    public func list() throws -> [KeyringEntry] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.filter { $0.hasSuffix(".age") && !$0.hasPrefix(".") }.sorted().map { file in
            let status = try? FileStatus(path: "\(directory)/\(file)", followingSymlinks: false)
            return KeyringEntry(name: String(file.dropLast(4)), backend: .file, modified: status?.modified.seconds)
        }
    }

    public func state() -> String { health().text }

    public func health() -> KeyringHealth { isUnlocked() ? .unlocked : .locked(fix: Self.unlockHint) }

    static let unlockHint = "run `brokerctl unlock`, or set [keyring] passphrase = cmd:… (BROKER_KEYRING_PASSWORD works too, but any process of yours can read it)"

}
