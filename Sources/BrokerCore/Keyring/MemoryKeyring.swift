// The `memory` keyring: secrets held by the running agent only (for CI), gone when it exits.

import BrokerWire
import Foundation

public final class MemoryKeyring: KeyringBackend, @unchecked Sendable {
    private let lock = NSLock()
    private var secrets: [String: (secret: Secret, modified: Int64)] = [:]
    private let clock: Clock

    public init(clock: Clock = .system) { self.clock = clock }

    public var kind: KeyringBackendKind { .memory }

    public func read(_ name: String) throws -> Secret? { lock.withLock { secrets[name]?.secret } }

    public func write(_ name: String, _ secret: Secret) throws {
        lock.withLock { secrets[name] = (secret, clock.now()) }
    }

    public func remove(_ name: String) throws -> Bool { lock.withLock { secrets.removeValue(forKey: name) != nil } }

    public func list() throws -> [KeyringEntry] {
        lock.withLock { secrets.map { KeyringEntry(name: $0.key, backend: .memory, modified: $0.value.modified) } }
            .sorted { $0.name < $1.name }
    }

    public func state() -> String { "unlocked" }
}
