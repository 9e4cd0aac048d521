// The one cache shared by every adapter: memory in the agent, short-lived entries also on disk.

import BrokerWire
import Foundation

public struct CachedCredential: Sendable {
    public var key: CacheKey
    public var credential: Credential
    public var obtainedAt: Int64
    /// Where this entry came from the last time it was served.
    public var tier: CacheTier
}

/// Memory first, disk behind it (DESIGN D5, D9): only credentials with an expiry are written,
/// each to its own 0600 file via temp + fsync + rename, so a killed agent never leaves a torn one.
public final class CredentialCache: @unchecked Sendable {
    public let directory: String
    private let lock = NSLock()
    private var entries: [CacheKey: CachedCredential] = [:]
    private let log: @Sendable (String) -> Void

    /// This boot's id (`Clock.bootID`): an entry's elapsed-clock expiry is trusted only by a
    /// reader of the same boot.
    let bootID: String?

    public init(directory: String, bootID: String? = Clock.bootID, log: @escaping @Sendable (String) -> Void) {
        self.directory = directory
        self.bootID = bootID
        self.log = log
    }

    public func lookup(_ key: CacheKey) -> CachedCredential? {
        lock.lock(); defer { lock.unlock() }
        guard var entry = entries[key] else { return nil }
        let served = entry
        if entry.tier == .disk {
            entry.tier = .memory
            entries[key] = entry
            StateGeneration.bump()  // the next hit answers tier=memory
        }
        return served
    }

    /// Stores in memory, then (for an expiring, persistable credential) on disk. A failed disk
    /// write — a full or read-only file system — leaves the memory entry in place and the old
    /// file untouched; it is logged, kept for `brokerctl status` (`lastWriteFailure`) and thrown.
    public func store(_ credential: Credential, for key: CacheKey, obtainedAt: Int64) throws {
        lock.lock()
        entries[key] = CachedCredential(key: key, credential: credential, obtainedAt: obtainedAt, tier: .memory)
        StateGeneration.bump()
        lock.unlock()
        guard credential.expiresAt != nil && credential.persistable else { return }
        do {
            try write(key: key, credential: credential, obtainedAt: obtainedAt)
            lock.lock(); writeFailure = nil; lock.unlock()
        } catch {
            lock.lock(); writeFailure = "\(error)"; lock.unlock()
            log("cache: \(error); \(key.identity) is kept in memory only")
            throw error
        }
    }

    private var writeFailure: String?

    /// Why the last disk write failed, until one succeeds.
    public var lastWriteFailure: String? {
        lock.lock(); defer { lock.unlock() }
        return writeFailure
    }

    /// Drops every entry of an identity (or all, for nil) from memory and disk; returns how many.
    @discardableResult
    public func remove(identity: String?) -> Int {
        lock.lock()
        let doomed = entries.keys.filter { identity == nil || $0.identity == identity }
        doomed.forEach { entries[$0] = nil }
        StateGeneration.bump()
        lock.unlock()
        var removed = Set(doomed)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasSuffix(".cred") {
            guard let key = CacheKey(fileName: String(name.dropLast(5))) else { continue }
            if identity == nil || key.identity == identity {
                unlink(directory + "/" + name)
                removed.insert(key)
            }
        }
        return removed.count
    }

    public func snapshot() -> [CachedCredential] {
        lock.lock(); defer { lock.unlock() }
        return entries.values.sorted { $0.key.description < $1.key.description }
    }

    /// Drops expired entries from memory and disk.
    public func sweep(now: Clock.Instant) {
        lock.lock()
        let expired = entries.values.filter { ($0.credential.remaining(at: now) ?? .max) <= 0 }.map(\.key)
        expired.forEach { entries[$0] = nil }
        if !expired.isEmpty { StateGeneration.bump() }
        lock.unlock()
        for key in expired { unlink(path(for: key)) }
    }

    // MARK: disk

    func path(for key: CacheKey) -> String { "\(directory)/\(key.description).cred" }

    func write(key: CacheKey, credential: Credential, obtainedAt: Int64) throws {
        var message = WireMessage()
        message.append("v", "1")
        message.append("key", key.description)
        message.append("obtained", String(obtainedAt))
        message.append("expires", ifPresent: credential.expiresAt.map(String.init))
        if let bootID, let anchored = credential.expiresAtElapsed {
            message.append("boot", bootID)
            message.append("expires_elapsed", String(anchored))
        }
        for field in credential.fields { message.append((field.secret ? "secret." : "attr.") + field.key, field.value) }
        try writeFileAtomically(path(for: key), bytes: try message.encoded())
    }

    /// Loads every entry at agent start. A corrupt, foreign, expired or loose-permission file is
    /// logged, skipped and removed — never a crash, never served.
    public func loadFromDisk(now: Clock.Instant) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names.sorted() {
            let path = directory + "/" + name
            if name.hasPrefix(".tmp-") {
                unlink(path)  // left by a writer killed between create and rename
                continue
            }
            do {
                let entry = try readEntry(path: path, name: name)
                if (entry.credential.remaining(at: now) ?? 0) <= 0 {
                    unlink(path)
                    continue
                }
                lock.lock()
                entries[entry.key] = entry
                StateGeneration.bump()
                lock.unlock()
            } catch {
                log("cache: removing unusable entry \(name): \(error)")
                unlink(path)
            }
        }
    }

    struct CorruptEntry: Error, CustomStringConvertible { let description: String }

    func readEntry(path: String, name: String) throws -> CachedCredential {
        guard name.hasSuffix(".cred"), let key = CacheKey(fileName: String(name.dropLast(5))) else {
            throw CorruptEntry(description: "not a cache entry name")
        }
        let data = try PrivateFile.read(path: path, limit: 65536)
        let message: WireMessage
        do { message = try WireCodec.decode(data) } catch { throw CorruptEntry(description: "\(error)") }
        guard message["v"] == "1" else { throw CorruptEntry(description: "unknown format version") }
        guard message["key"] == key.description else { throw CorruptEntry(description: "key does not match file name") }
        guard let obtained = message["obtained"].flatMap(Int64.init),
              let expires = message["expires"].flatMap(Int64.init) else {
            throw CorruptEntry(description: "missing obtained/expires")
        }
        var fields: [String: String] = [:]
        for field in message.fields {
            if field.key.hasPrefix("attr.") { fields[String(field.key.dropFirst(5))] = field.value }
            if field.key.hasPrefix("secret.") { fields[String(field.key.dropFirst(7))] = field.value }
        }
        guard var credential = Credential(fields: fields, expiresAt: expires) else { throw CorruptEntry(description: "no secret fields") }
        // Another boot's elapsed clock started again from zero; only the wall clock is left.
        if let bootID, message["boot"] == bootID {
            guard let anchored = message["expires_elapsed"].flatMap(Int64.init) else { throw CorruptEntry(description: "bad expires_elapsed") }
            credential.expiresAtElapsed = anchored
        }
        return CachedCredential(key: key, credential: credential, obtainedAt: obtained, tier: .disk)
    }
}
