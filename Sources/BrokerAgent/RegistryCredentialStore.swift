// In-memory logins for registries bound to no identity: what `docker login` stores through a credential helper.

import BrokerCore
import BrokerWire
import Foundation

/// docker's `store`/`get`/`erase`/`list` for unbound registries, like a keychain helper but held
/// in the agent's memory only (it never touches the disk, and an agent that exits forgets it;
/// the agent stays up while it holds any). Entries are keyed by the normalised registry
/// (`RegistryPattern.normalize`), so `https://r.example/v2/` and `r.example` are one registry;
/// `list` shows each under the server URL it was stored with, as the keychain helpers do.
public final class RegistryCredentialStore: @unchecked Sendable {
    public struct Entry: Sendable, Equatable {
        public var serverURL: String
        public var username: String
        public var secret: Secret
    }

    private let lock = NSLock()
    private var entries: [String: Entry] = [:]

    public init() {}

    public var count: Int { lock.lock(); defer { lock.unlock() }; return entries.count }

    public func store(_ entry: Entry) {
        lock.lock(); entries[RegistryPattern.normalize(entry.serverURL)] = entry; lock.unlock()
    }

    public func get(_ serverURL: String) -> Entry? {
        lock.lock(); defer { lock.unlock() }
        return entries[RegistryPattern.normalize(serverURL)]
    }

    @discardableResult
    public func erase(_ serverURL: String) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return entries.removeValue(forKey: RegistryPattern.normalize(serverURL)) != nil
    }

    /// Every entry, by the server URL it was stored with.
    public func list() -> [Entry] {
        lock.lock(); defer { lock.unlock() }
        return entries.values.sorted { $0.serverURL < $1.serverURL }
    }
}
