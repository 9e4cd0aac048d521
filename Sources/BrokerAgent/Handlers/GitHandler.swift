// git's get/store/erase: bound URLs from identities (resolved or leased), the rest like git's credential-cache.

import BrokerCore
import BrokerWire
import Foundation

struct GitHandler {
    let service: AgentService
    var issuer: Issuer { service.issuer }
    var audit: AuditLog { service.audit }

    enum Action: String { case get, store, erase }

    func handle(_ request: AgentRequest) throws -> WireMessage {
        let action: Action
        switch request.operation {
        case .gitStore: action = .store
        case .gitErase: action = .erase
        default: action = .get
        }
        let credential = GitCredential(request.message)
        guard let scheme = credential.protocol, let host = credential.host else {
            throw BrokerFailure(.input, "git request without protocol and host")
        }
        let target = "\(scheme)://\(host)" + (credential.path.map { "/\($0)" } ?? "")
        let config: BrokerConfig
        do {
            config = try service.loadConfig()
        } catch {
            return try unboundDespite(error, action, credential, request: request, scheme: scheme, host: host, target: target)
        }
        if let binding = config.gitBinding(protocol: scheme, host: host, path: credential.path) {
            let identity = try config.identity(binding.identity)
            switch identity.kind.acquisition {
            case .leased(let pool):
                return try PoolLeasing(service: service).git(action, pool: pool, credential: credential, config: config,
                                                             caller: request.caller, target: target)
            case .resolved:
                return try bound(action, identity: binding.identity, config: config, caller: request.caller, target: target)
            }
        }
        return try cached(action, credential, request: request, config: config, scheme: scheme, host: host, target: target)
    }

    /// A broken configuration must not break the credential-cache drop-in: a URL that no binding
    /// in the file names (as far as it could be read) is served from memory as usual, with the
    /// error as a warning; a bound URL, or a file that could not be read at all, gets the error.
    func unboundDespite(_ error: Error, _ action: Action, _ credential: GitCredential, request: AgentRequest,
                        scheme: String, host: String, target: String) throws -> WireMessage {
        let checked = BrokerConfig.check(service.paths, ambient: service.resolver.context.environment)
        guard checked.bindingsComplete, !checked.errors.isEmpty,
              checked.config.gitBinding(protocol: scheme, host: host, path: credential.path) == nil else { throw error }
        let answer = try cached(action, credential, request: request, config: checked.config, scheme: scheme, host: host, target: target)
        guard action == .get else { return answer }
        let first = checked.errors[0]
        let more = checked.errors.count > 1 ? " (and \(checked.errors.count - 1) more)" : ""
        return WireMessage(answer.fields + [.init(WireKey.warning, "the configuration has errors\(more); this URL is bound to no identity, so it is served like git credential-cache: \(first.description.onOneLine); run: brokerctl validate")])
    }

    /// A URL bound to a resolved identity: the broker is the source of truth, so `store` changes
    /// nothing and `erase` (git got a 401) drops the cached credential.
    func bound(_ action: Action, identity name: String, config: BrokerConfig, caller: Caller, target: String) throws -> WireMessage {
        switch action {
        case .get:
            let resolution = try issuer.issue(name, in: config, validity: .git(config), caller: caller, adapter: "git", target: target)
            guard let password = resolution.credential.password else {
                throw Issuer.naming(name, BrokerFailure(.config, "its kind gives \(resolution.credential.type.rawValue) credentials, not a password git can use",
                                                        hint: "bind a kind that gives a password: \(IdentityKinds.sentence(IdentityKinds.names(producing: .password)))"))
            }
            var answer = Self.answer(username: password.username, password: password.password, expiresAt: resolution.credential.expiresAt)
            // For BROKER_TRACE; the helper relays only git's own keys to git.
            answer.append(WireKey.answeringIdentity, name)
            answer.append(WireKey.answeringTier, resolution.tier.rawValue)
            return answer
        case .store:
            return .ok()
        case .erase:
            try ServingThread.permitWaiting()  // removes files from the disk cache
            let removed = service.resolver.cache.remove(identity: name)
            audit.record(AuditRecord(event: .erased, identity: name, adapter: "git", caller: caller,
                                     target: target, reason: "git rejected the credential; \(removed) cached removed"))
            return .ok()
        }
    }

    /// A URL bound to nothing: git's credential-cache, served from memory, per host.
    func cached(_ action: Action, _ credential: GitCredential, request: AgentRequest, config: BrokerConfig,
                scheme: String, host: String, target: String) throws -> WireMessage {
        let caller = request.caller
        switch action {
        case .get:
            var warning: [WireMessage.Field] = []
            if credential.path == nil, let needy = config.pathBoundBindingsNeedingPath(protocol: scheme, host: host).first {
                warning.append(.init(WireKey.warning, "\(needy.pattern) is bound to identity \"\(needy.identity)\" but git sent no path; run: git config --global credential.\(scheme)://\(host).useHttpPath true"))
            }
            guard let found = service.gitStore.get(credential) else { return .ok(warning) }
            audit.record(AuditRecord(event: .issued, identity: nil, adapter: "git", caller: caller, target: target, tier: "memory"))
            var answer = WireMessage.ok()
            found.answer(for: credential, into: &answer)
            answer.fields += warning
            return answer
        case .store:
            // Clamped: `now + timeout` must not overflow (timeout=9223372036854775807 trapped the agent).
            let timeout = min(request[WireKey.timeout].flatMap(Int.init) ?? config.git.cacheTimeout, Int(Int32.max))
            let outcome = service.gitStore.store(credential, timeout: timeout)
            audit.record(AuditRecord(event: .stored, outcome: outcome == .stored ? "ok" : "skipped", identity: nil, adapter: "git",
                                     caller: caller, target: target, reason: outcome == .stored ? nil : "\(outcome) credential not stored"))
            return .ok()
        case .erase:
            let removed = service.gitStore.erase(credential)
            audit.record(AuditRecord(event: .erased, identity: nil, adapter: "git", caller: caller, target: target, reason: "\(removed) removed"))
            return .ok()
        }
    }

    /// What git reads for an identity's credential: the one place a bound answer is built.
    static func answer(username: String, password: Secret, expiresAt: Int64?) -> WireMessage {
        var answer = WireMessage.ok()
        answer.append("username", username)
        answer.append("password", password.reveal())
        answer.append("password_expiry_utc", ifPresent: expiresAt.map(String.init))
        return answer
    }
}
