// The `system` keyring on macOS: generic-password items in the login Keychain through Security.framework.

#if os(macOS)
import BrokerWire
import Foundation
import Security

/// Items are `service = credential-broker`, `account = NAME`, as `security find-generic-password
/// -s credential-broker -a NAME` shows them. Not compiled on Linux; CI here cannot run it.
public final class KeychainKeyring: KeyringBackend, @unchecked Sendable {
    public static let service = "credential-broker"

    public init() {}

    public var kind: KeyringBackendKind { .system }

    private func query(_ name: String?) -> [String: Any] {
        var query: [String: Any] = [kSecClass as String: kSecClassGenericPassword, kSecAttrService as String: Self.service]
        if let name { query[kSecAttrAccount as String] = name }
        return query
    }

    private func failure(_ status: OSStatus, _ what: String) -> BrokerFailure {
        let text = (SecCopyErrorMessageString(status, nil) as String?) ?? "OSStatus \(status)"
        if status == errSecInteractionNotAllowed || status == errSecAuthFailed {
            return BrokerFailure(.denied, "the login Keychain is locked (\(what): \(text))",
                                 hint: "unlock it (`security unlock-keychain`), or set [keyring] backend = file")
        }
        return BrokerFailure(.unavailable, "the login Keychain refused to \(what): \(text)", hint: "or set [keyring] backend = file")
    }

    public func read(_ name: String) throws -> Secret? {
        var query = query(name)
        query[kSecReturnData as String] = true
        query[kSecMatchLimit as String] = kSecMatchLimitOne
        var result: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &result)
        if status == errSecItemNotFound { return nil }
        guard status == errSecSuccess, let data = result as? Data else { throw failure(status, "read \"\(name)\"") }
        return Secret(String(decoding: data, as: UTF8.self))
    }

    public func write(_ name: String, _ secret: Secret) throws {
        let data = Data(secret.reveal().utf8)
        let update = SecItemUpdate(query(name) as CFDictionary, [kSecValueData as String: data] as CFDictionary)
        if update == errSecSuccess { return }
        guard update == errSecItemNotFound else { throw failure(update, "store \"\(name)\"") }
        var item = query(name)
        item[kSecValueData as String] = data
        item[kSecAttrLabel as String] = "credential-broker: \(name)"
        let status = SecItemAdd(item as CFDictionary, nil)
        guard status == errSecSuccess else { throw failure(status, "store \"\(name)\"") }
    }

    public func remove(_ name: String) throws -> Bool {
        let status = SecItemDelete(query(name) as CFDictionary)
        if status == errSecItemNotFound { return false }
        guard status == errSecSuccess else { throw failure(status, "remove \"\(name)\"") }
        return true
    }

    public func list() throws -> [KeyringEntry] {
        var query = query(nil)
        query[kSecReturnAttributes as String] = true
        query[kSecMatchLimit as String] = kSecMatchLimitAll
        var result: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &result)
        if status == errSecItemNotFound { return [] }
        guard status == errSecSuccess, let items = result as? [[String: Any]] else { throw failure(status, "list items") }
        return items.compactMap { item in
            guard let account = item[kSecAttrAccount as String] as? String else { return nil }
            let modified = (item[kSecAttrModificationDate as String] as? Date).map { Int64($0.timeIntervalSince1970) }
            return KeyringEntry(name: account, backend: .system, modified: modified)
        }.sorted { $0.name < $1.name }
    }

    public func state() -> String {
        do { _ = try read("credential-broker.probe"); return "unlocked" } catch { return "unavailable: \(error)" }
    }

    public func answers() -> Bool { true }
}
#endif
