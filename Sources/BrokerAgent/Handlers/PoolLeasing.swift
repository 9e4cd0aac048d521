// Token pools' side of the agent: bound git URLs and wrap plans lease tokens instead of resolving them.

import BrokerCore
import BrokerWire
import Foundation

extension BrokerPaths {
    /// One file per pool (DESIGN D5: leases live in the state directory).
    var leasesDirectory: String { stateDirectory + "/leases" }
}

extension AgentService {
    /// Agent start: leases of live holders come back, the rest end with an audit record each.
    func startLeases() {
        leases.onEvent = { [audit] event in
            if let record = PoolLeasing.auditRecord(event, adapter: "agent", caller: nil, target: nil) { audit.record(record) }
        }
        leases.load()
    }
}

/// Leases a pool's tokens to processes, for git and for wraps.
struct PoolLeasing {
    let service: AgentService
    var leases: LeaseManager { service.leases }
    var audit: AuditLog { service.audit }

    func poolRequest(_ pool: any TokenPool, config: BrokerConfig) throws -> PoolRequest {
        PoolRequest(pool: pool.name, tokens: try pool.tokens(service.resolver.context, timeout: config.agent.commandTimeout),
                    leaseTTL: pool.leaseTTL, quarantine: pool.quarantine, minimumValidity: config.git.minimumValidity)
    }

    /// git for a URL bound to a pool. `get` answers with the token leased to the git command (or
    /// to the wrapped job around it, see ProcessTable.gitLeaseHolder); `erase` — git got a 401 —
    /// quarantines the token git used and ends its lease; `store` changes nothing.
    func git(_ action: GitHandler.Action, pool: any TokenPool, credential: GitCredential, config: BrokerConfig,
             caller: Caller, target: String) throws -> WireMessage {
        try ServingThread.permitWaiting()  // a pool's sources may be commands; leases are files
        let table = leases.processes
        let report = reporter(adapter: "git", caller: caller, target: target)
        switch action {
        case .get:
            let holderPID = table.gitLeaseHolder(helper: caller.pid)
            do {
                guard let holder = table.holder(holderPID) else {
                    throw BrokerFailure(.input, "process \(holderPID), which would hold the lease, is not running")
                }
                let ancestors = table.ancestors(of: caller.pid).compactMap(table.holder)
                let grant = try leases.lease(try poolRequest(pool, config: config), holder: holder, origin: .git,
                                             ancestors: ancestors, report: report)
                audit.record(AuditRecord(event: .issued, identity: pool.name, adapter: "git", caller: caller, target: target, tier: "lease",
                                         token: grant.fingerprint, holder: Self.describe(grant.holder, table)))
                return GitHandler.answer(username: pool.username, password: grant.token, expiresAt: grant.expiresAt)
            } catch {
                throw service.issuer.denied(pool.name, error, caller: caller, adapter: "git", target: target,
                                            holder: Caller(pid: holderPID, uid: ProcessInfoLite.userID, executable: table.executable(holderPID)))
            }
        case .store:
            return .ok()  // the pool's sources are the truth
        case .erase:
            let fingerprints = try poolRequest(pool, config: config).tokens.map(TokenFingerprint.of)
            // git sends the password it used; without one, the token the asker holds.
            let holders = table.ancestors(of: caller.pid).compactMap(table.holder)
            let rejected = credential.password.map(TokenFingerprint.of)
                ?? leases.heldFingerprint(pool: pool.name, holders: holders)
            if let rejected, leases.quarantine(pool: pool.name, fingerprint: rejected, seconds: pool.quarantine,
                                               known: fingerprints, report: report) {
                return .ok()
            }
            audit.record(AuditRecord(event: .erased, identity: pool.name, adapter: "git", caller: caller, target: target,
                                     reason: "git rejected a password that is not one of the pool's tokens; nothing quarantined"))
            return .ok()
        }
    }

    /// broker-env-wrap: the wrapped process `pid` leases a token for its whole life (or until
    /// lease-ttl). git inside it then gets the same token through the helper.
    func lease(_ pool: any TokenPool, pid: Int32, config: BrokerConfig, caller: Caller) throws -> PoolGrant {
        try ServingThread.permitWaiting()
        let table = leases.processes
        guard let holder = table.holder(pid) else { throw BrokerFailure(.input, "process \(pid) is not running") }
        return try leases.lease(try poolRequest(pool, config: config), holder: holder, origin: .wrap,
                                ancestors: table.ancestors(of: pid).compactMap(table.holder),
                                report: reporter(adapter: "env-wrap", caller: caller, target: nil))
    }

    func reporter(adapter: String, caller: Caller?, target: String?) -> (LeaseEvent) -> Void {
        { [audit] event in
            if let record = Self.auditRecord(event, adapter: adapter, caller: caller, target: target) { audit.record(record) }
        }
    }
    /// A lease event as an audit record. Exhaustion is left to the request's own denial record,
    /// which carries the same sentence (and, for git, the holder; for a wrap the holder is the caller).
    static func auditRecord(_ event: LeaseEvent, adapter: String, caller: Caller?, target: String?) -> AuditRecord? {
        let kind: AuditRecord.Event
        switch event.kind {
        case .leased, .renewed: kind = .leased
        case .released: kind = .released
        case .quarantined: kind = .quarantined
        case .exhausted: return nil
        }
        let holder = event.holder.map { Caller(pid: $0.pid, uid: ProcessInfoLite.userID, executable: event.executable) }
        return AuditRecord(event: kind, identity: event.pool, adapter: adapter, caller: caller, target: target,
                           reason: event.kind == .renewed ? "renewed: \(event.reason)" : event.reason,
                           token: event.fingerprint, holder: holder)
    }

    static func describe(_ holder: LeaseHolder, _ table: ProcessTable) -> Caller {
        Caller(pid: holder.pid, uid: ProcessInfoLite.userID, executable: table.executable(holder.pid))
    }
}
