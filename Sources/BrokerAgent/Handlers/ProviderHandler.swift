// A person's operations on a provider: device login (the agent polls), its progress, logout, and what it offers.

import BrokerCore
import BrokerWire
import Foundation

struct ProviderHandler {
    let service: AgentService

    func handle(_ request: AgentRequest) throws -> WireMessage {
        guard let name = request[WireKey.provider], !name.isEmpty else { throw BrokerFailure(.input, "request names no provider") }
        let config = try service.loadConfig()
        let provider = try config.provider(name)
        let context = service.resolver.context
        switch request.operation {
        case .providerLogin: return try login(provider, context: context, caller: request.caller)
        case .providerLoginStatus: return status(name, caller: request.caller)
        case .providerLogout: return try logout(provider, config: config, context: context, caller: request.caller)
        default:
            let maximumAge = request[WireKey.maxAge].flatMap { Int64($0) }.map { max(0, $0) } ?? 0
            return try list(provider, context: context, maximumAge: maximumAge)
        }
    }

    /// Starts the device login and answers at once with what the person must see; the agent
    /// polls on its own thread, so closing brokerctl does not stop a login already approved.
    func login(_ provider: ConfiguredProvider, context: ResolveContext, caller: Caller) throws -> WireMessage {
        let name = provider.definition.name
        guard let flow = provider.kind.deviceLogin else {
            throw BrokerFailure(.input, "provider \"\(name)\" (kind \(provider.kind.kindName)) has no login step")
        }
        let login: DeviceLogin
        do {
            let audit = service.audit
            login = try context.providerSessions.startLogin(flow, provider: name, context: context) { state in
                switch state {
                case .approved: audit.record(AuditRecord(event: .issued, identity: "provider:\(name)", adapter: "brokerctl", caller: caller, reason: "login"))
                case .failed(let why, _): audit.record(AuditRecord(event: .denied, outcome: "error", identity: "provider:\(name)", adapter: "brokerctl",
                                                                   caller: caller, reason: "login: \(why)"))
                case .pending: break
                }
            }
        } catch {
            service.audit.record(AuditRecord(event: .denied, outcome: "error", identity: "provider:\(name)", adapter: "brokerctl",
                                             caller: caller, reason: "login: \(error)"))
            throw error
        }
        let authorization = login.authorization
        var answer = WireMessage.ok([
            .init(WireKey.verificationURI, authorization.verificationURI),
            .init(WireKey.userCode, authorization.userCode),
            .init(WireKey.interval, String(authorization.interval)),
            .init(WireKey.expiration, String(authorization.expiresAt)),
        ])
        answer.append(WireKey.verificationURIComplete, ifPresent: authorization.verificationURIComplete)
        return answer
    }

    func status(_ name: String, caller: Caller) -> WireMessage {
        guard let login = service.resolver.context.providerSessions.login(name) else {
            return .ok([.init(WireKey.state, "error"), .init(WireKey.error, "no login of provider \"\(name)\" is in progress"),
                        .init(WireKey.hint, "run: brokerctl login \(name)")])
        }
        switch login.state {
        case .pending(let polls):
            return .ok([.init(WireKey.state, "pending"), .init(WireKey.polls, String(polls))])
        case .approved(let expiresAt):
            var answer = WireMessage.ok([.init(WireKey.state, "ok")])
            answer.append(WireKey.expiration, ifPresent: expiresAt.map(String.init))
            return answer
        case .failed(let message, let hint):
            var answer = WireMessage.ok([.init(WireKey.state, "error"), .init(WireKey.error, message.onOneLine)])
            answer.append(WireKey.hint, ifPresent: hint)
            return answer
        }
    }

    /// Ends the session upstream, forgets its tokens, and drops every cached credential derived from it.
    func logout(_ provider: ConfiguredProvider, config: BrokerConfig, context: ResolveContext, caller: Caller) throws -> WireMessage {
        let name = provider.definition.name
        context.providerSessions.login(name)?.cancel()
        var removed = try provider.kind.logout(context: context)
        var credentials = 0
        // Virtual identities have no section: their cached credentials name them.
        let virtual = service.resolver.cache.snapshot().map(\.key.identity).filter { config.identities[$0] == nil }
        for identity in config.identityOrder + Set(virtual).sorted() {
            guard let chain = try? ChainResolver.chain(of: identity, in: config), chain.last?.provider?.definition.name == name else { continue }
            credentials += service.resolver.cache.remove(identity: identity)
        }
        removed.append("\(credentials) cached credential(s)")
        service.audit.record(AuditRecord(event: .erased, identity: "provider:\(name)", adapter: "brokerctl", caller: caller,
                                         reason: "logout; removed " + removed.joined(separator: ", ")))
        var answer = WireMessage.ok()
        for item in removed { answer.append("\(WireKey.removed)[]", item) }
        return answer
    }

    /// `maximumAge`: a listing at most this old may answer (completions ask so; a person's `list --provider` does not).
    func list(_ provider: ConfiguredProvider, context: ResolveContext, maximumAge: Int64) throws -> WireMessage {
        let offered = try provider.kind.offeredIdentities(context: context, maximumAge: maximumAge)
        var answer = WireMessage.ok()
        // Settings and notes as tables of their own, keyed by the offer's index: no value is ever split.
        for (index, identity) in offered.enumerated() {
            answer.appendRecord("offer", [("name", identity.name), ("kind", identity.kind)])
            for (key, value) in identity.settings { answer.appendRecord("setting", [("offer", String(index)), ("key", key), ("value", value)]) }
            for (key, value) in identity.notes { answer.appendRecord("note", [("offer", String(index)), ("key", key), ("value", value)]) }
        }
        return answer
    }
}
