// docker's credential helpers and client-go's exec plugin: registries bound to identities (or a memory store), cluster tokens.

import BrokerCore
import BrokerWire
import Foundation

extension Validity {
    /// A registry login is used at once, but a long push reuses it: 15 minutes, and a minute in an outage.
    static let registry = Validity(minimum: 900, fallback: 60)
    /// client-go caches the token until `expirationTimestamp`: hand out at least 5 minutes.
    static let cluster = Validity(minimum: 300, fallback: 60)
}

struct DockerHandler {
    let service: AgentService
    var audit: AuditLog { service.audit }

    func handle(_ request: AgentRequest) throws -> WireMessage {
        if request.operation == .dockerList { return list() }
        guard let serverURL = request[WireKey.serverURL], !serverURL.isEmpty else {
            throw BrokerFailure(.input, "docker request without a server URL")
        }
        let registry = RegistryPattern.normalize(serverURL)
        guard !registry.isEmpty else { throw BrokerFailure(.input, "the server URL \"\(WireCodec.printable(serverURL))\" names no registry") }
        let config = try service.loadConfig()
        if let binding = config.registryBinding(for: registry) {
            return try bound(request, identity: binding.identity, registry: registry, config: config)
        }
        let caller = request.caller
        switch request.operation {
        case .dockerStore:
            guard let username = request[WireKey.username], !username.isEmpty else { throw BrokerFailure(.input, "docker store without a username") }
            service.registryStore.store(.init(serverURL: serverURL, username: username, secret: Secret(request[WireKey.secret] ?? "")))
            audit.record(AuditRecord(event: .stored, identity: nil, adapter: "docker", caller: caller, target: registry))
            return .ok()
        case .dockerErase:
            let removed = service.registryStore.erase(serverURL)
            audit.record(AuditRecord(event: .erased, identity: nil, adapter: "docker", caller: caller, target: registry,
                                     reason: removed ? "1 removed" : "0 removed"))
            return .ok()
        default:
            // A miss is an ok answer without a username: the adapter prints docker's exact miss message.
            guard let entry = service.registryStore.get(serverURL) else { return .ok() }
            audit.record(AuditRecord(event: .issued, identity: nil, adapter: "docker", caller: caller, target: registry, tier: "memory"))
            return .ok([.init(WireKey.username, entry.username), .init(WireKey.secret, entry.secret.reveal())])
        }
    }

    /// A registry bound to an identity: the broker is the source of truth, so `store` changes
    /// nothing and `erase` (the registry refused the login) drops the cached credential.
    func bound(_ request: AgentRequest, identity name: String, registry: String, config: BrokerConfig) throws -> WireMessage {
        switch request.operation {
        case .dockerStore:
            return .ok()
        case .dockerErase:
            let removed = service.resolver.cache.remove(identity: name)
            audit.record(AuditRecord(event: .erased, identity: name, adapter: "docker", caller: request.caller, target: registry,
                                     reason: "the registry client erased the login; \(removed) cached removed"))
            return .ok()
        default:
            var config = config
            if case .resolved(let kind)? = config.kinds[name]?.acquisition, let scoped = (kind as? any RegistryScopedKind)?.scoped(to: registry) {
                config.kinds[name] = scoped
            }
            let kind = try config.identity(name).kind
            if case .leased(let pool) = kind.acquisition {
                let grant = try PoolLeasing(service: service).docker(pool: pool, config: config, caller: request.caller, target: registry)
                return .ok([.init(WireKey.username, pool.username), .init(WireKey.secret, grant.token.reveal())])
            }
            // Refused before anything is obtained: a wrong binding costs no upstream call.
            let produces = type(of: kind).descriptor.produces
            guard produces == .password else { throw Self.notALogin(name, produces) }
            let resolution = try service.issuer.issue(name, in: config, validity: .registry, caller: request.caller, adapter: "docker", target: registry)
            if case .resolved(let kind)? = config.kind(name)?.acquisition { try kind.deliverable(resolution.credential) }
            guard let login = resolution.credential.password else { throw Self.notALogin(name, resolution.credential.type) }
            var answer = WireMessage.ok([.init(WireKey.username, login.username), .init(WireKey.secret, login.password.reveal())])
            answer.append(WireKey.expiration, ifPresent: resolution.credential.expiresAt.map(String.init))
            return answer
        }
    }

    static func notALogin(_ name: String, _ type: CredentialType) -> Error {
        Issuer.naming(name, BrokerFailure(.config, "its kind gives \(type.rawValue) credentials, not a registry login",
                                          hint: "bind a kind that gives a password: \(IdentityKinds.sentence(IdentityKinds.names(producing: .password)))"))
    }

    func list() -> WireMessage {
        var answer = WireMessage.ok()
        for entry in service.registryStore.list() {
            answer.appendRecord("registry", [(WireKey.serverURL, entry.serverURL), (WireKey.username, entry.username)])
        }
        return answer
    }
}

struct KubeHandler {
    let service: AgentService

    /// `op=kube.credential`: the identity's bearer token and its expiry, for an ExecCredential.
    func credential(_ request: AgentRequest) throws -> WireMessage {
        let name = try request.identity()
        let config = try service.loadConfig()
        let produces = type(of: try config.identity(name).kind).descriptor.produces
        guard produces == .token else { throw Self.notAToken(name, produces) }
        let resolution = try service.issuer.issue(name, in: config, validity: .cluster, caller: request.caller, adapter: "kube")
        if case .resolved(let kind)? = config.kind(name)?.acquisition { try kind.deliverable(resolution.credential) }
        guard let token = resolution.credential.token else { throw Self.notAToken(name, resolution.credential.type) }
        var answer = WireMessage.ok([.init(WireKey.token, token.token.reveal()), .init(WireKey.tokenScheme, token.scheme)])
        answer.append(WireKey.expiration, ifPresent: resolution.credential.expiresAt.map(String.init))
        return answer
    }

    static func notAToken(_ name: String, _ type: CredentialType) -> Error {
        Issuer.naming(name, BrokerFailure(.config, "its kind gives \(type.rawValue) credentials, not a bearer token a cluster accepts",
                                          hint: "use an identity of kind \(IdentityKinds.sentence(IdentityKinds.names(producing: .token)))"))
    }
}

extension PoolLeasing {
    /// docker's `get` for a registry bound to a token pool (ghcr.io with a pool of PATs): the token
    /// leased to the registry client that ran the helper (its parent: docker, skopeo, podman), for
    /// that process's life or the pool's lease-ttl, so parallel pulls spread over the pool.
    func docker(pool: any TokenPool, config: BrokerConfig, caller: Caller, target: String) throws -> PoolGrant {
        let table = leases.processes
        let holderPID = table.ancestors(of: caller.pid).first ?? caller.pid
        let report = reporter(adapter: "docker", caller: caller, target: target)
        do {
            guard let holder = table.holder(holderPID) else {
                throw BrokerFailure(.input, "process \(holderPID), which would hold the lease, is not running")
            }
            let ancestors = table.ancestors(of: holderPID).compactMap(table.holder)
            let grant = try leases.lease(try poolRequest(pool, config: config), holder: holder, origin: .docker,
                                         ancestors: ancestors, report: report)
            audit.record(AuditRecord(event: .issued, identity: pool.name, adapter: "docker", caller: caller, target: target, tier: "lease",
                                     token: grant.fingerprint, holder: Self.describe(grant.holder, table)))
            return grant
        } catch {
            throw service.issuer.denied(pool.name, error, caller: caller, adapter: "docker", target: target,
                                        holder: Caller(pid: holderPID, uid: ProcessInfoLite.userID, executable: table.executable(holderPID)))
        }
    }
}
