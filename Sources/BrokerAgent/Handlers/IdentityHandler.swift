// A person's operations on one identity: whoami, login (the kind's own flow) and logout.

import BrokerCore
import BrokerWire
import Foundation

struct IdentityHandler {
    let service: AgentService

    func handle(_ request: AgentRequest) throws -> WireMessage {
        switch request.operation {
        case .login: return try login(request)
        case .logout: return try logout(request)
        default: return try whoami(request)
        }
    }

    /// Resolves the identity and asks its kind who that is (STS for AWS kinds).
    func whoami(_ request: AgentRequest) throws -> WireMessage {
        let name = try request.identity()
        let config = try service.loadConfig()
        let identity = try config.identity(name)
        guard case .resolved(let kind) = identity.kind.acquisition else {
            throw BrokerFailure(.config, "identity \"\(name)\" (kind \(identity.kind.kindName)) leases tokens per process; there is no one credential to describe")
        }
        let resolution: Resolution
        let fields: [(String, String)]
        do {
            resolution = try service.issuer.resolve(name, in: config, validity: .person, caller: request.caller)
            fields = try kind.whoami(resolution.credential, context: service.resolver.context)
        } catch {
            throw service.issuer.denied(name, error, caller: request.caller, adapter: "brokerctl")
        }
        service.audit.record(AuditRecord(event: .issued, identity: name, adapter: "brokerctl", caller: request.caller,
                                         tier: resolution.tier.rawValue, reason: "whoami"))
        var answer = WireMessage.ok([.init("kind", identity.kind.kindName)] + fields.map { WireMessage.Field($0.0, $0.1) })
        answer.append(WireKey.expiration, ifPresent: resolution.credential.expiresAt.map(String.init))
        answer.append(WireKey.tier, resolution.tier.rawValue)
        return answer
    }

    /// `brokerctl login NAME`: hands the person's part (an MFA code) to the identity and resolves
    /// it now, so the session is cached before any adapter asks. Kinds without a flow refuse.
    func login(_ request: AgentRequest) throws -> WireMessage {
        let name = try request.identity()
        let config = try service.loadConfig()
        let identity = try config.identity(name)
        guard let flow = identity.kind.loginFlow else {
            throw BrokerFailure(.input, "identity \"\(name)\" (kind \(identity.kind.kindName)) has no login step",
                                hint: "its credential needs nothing from a person; just use it")
        }
        switch flow {
        case .oneTimeCode:
            guard let code = request[WireKey.code], !code.isEmpty else { throw BrokerFailure(.input, "request carries no code") }
            service.resolver.cache.remove(identity: name)
            service.resolver.context.oneTimeCodes.give(Secret(code), for: name, at: service.clock.now())
        }
        let resolution = try service.issuer.issue(name, in: config, validity: .person, caller: request.caller, adapter: "brokerctl",
                                                  reason: "login")
        var answer = WireMessage.ok()
        answer.append(WireKey.expiration, ifPresent: resolution.credential.expiresAt.map(String.init))
        return answer
    }

    func logout(_ request: AgentRequest) throws -> WireMessage {
        let name = request[WireKey.identity]
        if let name, name != "*" {
            _ = try service.loadConfig().identity(name)
        }
        let identity = name == "*" ? nil : name
        let removed = service.resolver.cache.remove(identity: identity)
        if identity == nil {
            // `[git] store = keyring` forgets them in the keyring too (or at its next save, when it cannot be written now).
            let persistent = (try? service.loadConfig())?.git.store == .keyring
            if persistent { _ = try service.gitStore.prepare(persistent: true) }
            service.gitStore.removeAll()
            if persistent { _ = service.gitStore.saveChanges() }
        }
        service.audit.record(AuditRecord(event: .erased, identity: identity ?? "*", adapter: "brokerctl", caller: request.caller,
                                         reason: "logout; \(removed) removed"))
        return .ok([.init(WireKey.removed, String(removed))])
    }
}
