// `brokerctl secret set|get|rm|list`, `unlock` and `lock`: the agent's keyring, one request each.

import BrokerCore
import BrokerWire
import Foundation

struct KeyringHandler {
    let service: AgentService

    func handle(_ request: AgentRequest) throws -> WireMessage {
        let keyring = service.keyring
        func name() throws -> String {
            guard let name = request[WireKey.name], !name.isEmpty else { throw BrokerFailure(.input, "request names no secret") }
            return name
        }
        switch request.operation {
        case .keyringSet:
            guard let value = request[WireKey.secret] else { throw BrokerFailure(.input, "request carries no secret") }
            let name = try name()
            let backend = try keyring.set(name, Secret(value))
            dropCredentials(derivedFrom: name)
            return .ok([.init(WireKey.backend, backend.rawValue)])
        case .keyringGet:
            let name = try name()
            guard let secret = try keyring.get(name) else { throw notFound(name) }
            return .ok([.init(WireKey.secret, secret.reveal())])
        case .keyringRemove:
            let name = try name()
            guard try keyring.remove(name) else { throw notFound(name) }
            dropCredentials(derivedFrom: name)
            return .ok([.init(WireKey.removed, "1")])
        case .keyringList:
            let status = keyring.status()
            var answer = WireMessage.ok([.init(WireKey.backend, status.backend), .init("state", status.state)])
            answer.append("fix", ifPresent: status.fix)
            // A locked or unreachable keyring still answers with its state; the entries need it open.
            if !status.state.hasPrefix("unavailable") {
                for entry in try keyring.list() {
                    answer.appendRecord("entry", [("name", entry.name), ("backend", entry.backend.rawValue),
                                                  ("modified", entry.modified.map(String.init) ?? "-")])
                }
            }
            return answer
        case .keyringUnlock:
            guard let passphrase = request[WireKey.passphrase] else { throw BrokerFailure(.input, "request carries no passphrase") }
            try keyring.unlock(passphrase: Array(passphrase.utf8))
            return .ok([.init("state", "unlocked")])
        default:
            keyring.lockKeyring()
            dropCredentials(derivedFrom: nil)
            return .ok([.init("state", "locked")])
        }
    }

    /// Credentials held in memory that came from a keyring secret (`name`, or any for nil), directly
    /// or through a `via` chain: a changed secret must not be served from the old one, and a lock
    /// forgets what the keyring gave.
    private func dropCredentials(derivedFrom name: String?) {
        guard let config = try? service.loadConfig() else { return }
        func uses(_ identity: String, depth: Int) -> Bool {
            guard depth < 64, let kind = config.kinds[identity] else { return false }
            let direct = kind.secretReferences.contains {
                if case .keyring(let used) = $0 { return name == nil || used == name }
                return false
            }
            if direct { return true }
            if case .identity(let upstream)? = config.identities[identity]?.via { return uses(upstream, depth: depth + 1) }
            return false
        }
        for identity in config.identityOrder where uses(identity, depth: 0) {
            service.resolver.cache.remove(identity: identity)
        }
    }

    private func notFound(_ name: String) -> BrokerFailure {
        let backend = (try? service.keyring.backend().kind.rawValue) ?? "configured"
        return BrokerFailure(.input, "no secret \"\(name)\" in the \(backend) keyring", hint: "`brokerctl secret list` shows the names")
    }
}
