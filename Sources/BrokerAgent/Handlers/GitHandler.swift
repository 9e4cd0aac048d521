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
        let target = Self.target(scheme: scheme, host: host, path: credential.path)
        // Read in the store's box, not copied out of it.
        let snapshot = service.configStore.snapshot()
        if let error = snapshot.error {
            return try unboundDespite(error, action, credential, request: request, scheme: scheme, host: host, target: target)
        }
        return try handle(action, credential, request: request, config: snapshot.config, scheme: scheme, host: host, target: target)
    }

    private func handle(_ action: Action, _ credential: GitCredential, request: AgentRequest, config: BrokerConfig,
                        scheme: String, host: String, target: String) throws -> WireMessage {
        if let binding = config.gitBinding(protocol: scheme, host: host, path: credential.path) {
            let identity = try config.identity(binding.identity)
            switch identity.kind.acquisition {
            case .leased(let pool):
                return try PoolLeasing(service: service).git(action, pool: pool, credential: credential, config: config,
                                                             caller: request.caller, target: target)
            case .resolved:
                return try bound(action, identity: binding.identity, config: config, caller: request.caller, target: target,
                                 authtypeCapable: credential.capabilities.contains("authtype"))
            }
        }
        return try cached(action, credential, request: request, config: config, scheme: scheme, host: host, target: target)
    }

    /// `scheme://host[/path]`, for the audit record: appended into one allocation (interpolated,
    /// it was a twentieth of a warm get's instructions).
    static func target(scheme: String, host: String, path: String?) -> String {
        var target = scheme
        target.reserveCapacity(scheme.utf8.count + host.utf8.count + (path?.utf8.count ?? 0) + 4)
        target += "://"
        target += host
        if let path { target += "/"; target += path }
        return target
    }

    /// A broken configuration must not break the credential-cache drop-in: a URL that no binding
    /// in the file names (as far as it could be read) is served from memory as usual, with the
    /// error as a warning; a bound URL, or a file that could not be read at all, gets the error.
    func unboundDespite(_ error: Error, _ action: Action, _ credential: GitCredential, request: AgentRequest,
                        scheme: String, host: String, target: String) throws -> WireMessage {
        // Made from the file as it reads now, not only as the last reload saw it.
        ServingThread.answerMustNotRepeat()
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
    func bound(_ action: Action, identity name: String, config: BrokerConfig, caller: Caller, target: String,
               authtypeCapable: Bool = false) throws -> WireMessage {
        switch action {
        case .get:
            let resolution = try issuer.issue(name, in: config, validity: .git(config), caller: caller, adapter: "git", target: target)
            if let token = resolution.credential.token, token.scheme == "Bearer" {
                var answer = Self.answer(bearer: token.token, expiresAt: resolution.credential.expiresAt, authtypeCapable: authtypeCapable)
                answer.append(WireKey.answeringIdentity, name)
                answer.append(WireKey.answeringTier, resolution.tier.rawValue)
                ServingThread.answerMayRepeat()
                return answer
            }
            guard let password = resolution.credential.password else {
                throw Issuer.naming(name, BrokerFailure(.config, "its kind gives \(resolution.credential.type.rawValue) credentials, not a password git can use",
                                                        hint: "bind a kind that gives a password: \(IdentityKinds.sentence(IdentityKinds.names(producing: .password)))"))
            }
            var answer = Self.answer(username: password.username, password: password.password, expiresAt: resolution.credential.expiresAt)
            // For BROKER_TRACE; the helper relays only git's own keys to git.
            answer.append(WireKey.answeringIdentity, name)
            answer.append(WireKey.answeringTier, resolution.tier.rawValue)
            ServingThread.answerMayRepeat()
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

    /// A URL bound to nothing: git's credential-cache, served from memory, per host; with
    /// `[git] store = keyring` the same entries are kept in the keyring as well.
    func cached(_ action: Action, _ credential: GitCredential, request: AgentRequest, config: BrokerConfig,
                scheme: String, host: String, target: String) throws -> WireMessage {
        let caller = request.caller
        let persistent = config.git.store == .keyring
        let store = service.gitStore
        // A change is written to the keyring: that waits, so it goes to a thread before anything changes.
        if persistent, action != .get { try ServingThread.permitWaiting() }
        var warnings: [WireMessage.Field] = []
        if let warning = try store.prepare(persistent: persistent) { warnings.append(.init(WireKey.warning, warning)) }
        func saved() -> [WireMessage.Field] {
            guard persistent, let warning = store.saveChanges() else { return warnings }
            return warnings + [.init(WireKey.warning, warning)]
        }
        switch action {
        case .get:
            if credential.path == nil, let needy = config.pathBoundBindingsNeedingPath(protocol: scheme, host: host).first {
                warnings.append(.init(WireKey.warning, "\(needy.pattern) is bound to identity \"\(needy.identity)\" but git sent no path; run: git config --global credential.\(scheme)://\(host).useHttpPath true"))
            }
            guard let found = store.get(credential) else { return .ok(warnings) }
            audit.record(AuditRecord(event: .issued, identity: nil, adapter: "git", caller: caller, target: target,
                                     tier: persistent ? "keyring" : "memory"))
            var answer = WireMessage.ok()
            found.answer(for: credential, into: &answer)
            answer.fields += warnings
            // A keyring's entries may change under us (another agent, the keyring's own tools).
            if !persistent { ServingThread.answerMayRepeat() }
            return answer
        case .store:
            // Clamped: `now + timeout` must not overflow (timeout=9223372036854775807 trapped the agent).
            let timeout = min(request[WireKey.timeout].flatMap(Int.init) ?? config.git.cacheTimeout, Int(Int32.max))
            let outcome = store.store(credential, timeout: timeout)
            audit.record(AuditRecord(event: .stored, outcome: outcome == .stored ? "ok" : "skipped", identity: nil, adapter: "git",
                                     caller: caller, target: target, reason: outcome == .stored ? nil : "\(outcome) credential not stored"))
            return .ok(saved())
        case .erase:
            let removed = store.erase(credential)
            audit.record(AuditRecord(event: .erased, identity: nil, adapter: "git", caller: caller, target: target, reason: "\(removed) removed"))
            return .ok(saved())
        }
    }

    /// An OAuth access token (Azure DevOps, Google Cloud Source Repositories): git ≥ 2.46, which
    /// announces `capability[]=authtype`, sends it as `Authorization: Bearer`; older git as the
    /// password of a Basic login, which those services also take.
    static func answer(bearer token: Secret, expiresAt: Int64?, authtypeCapable: Bool) -> WireMessage {
        var answer = WireMessage.ok()
        answer.append("capability[]", "authtype")
        if authtypeCapable {
            answer.append("authtype", "Bearer")
            answer.append("credential", token.reveal())
        } else {
            answer.append("username", bearerUsername)
            answer.append("password", token.reveal())
        }
        answer.append("password_expiry_utc", ifPresent: expiresAt.map(String.init))
        return answer
    }

    /// Any user name goes with a bearer token as a Basic password; this one says what it is.
    static let bearerUsername = "oauth2"

    /// What git reads for an identity's credential: the one place a bound answer is built.
    static func answer(username: String, password: Secret, expiresAt: Int64?) -> WireMessage {
        var answer = WireMessage.ok()
        answer.append("username", username)
        answer.append("password", password.reveal())
        answer.append("password_expiry_utc", ifPresent: expiresAt.map(String.init))
        return answer
    }
}
