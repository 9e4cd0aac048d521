// The agent's own operations: ping, status and stop.

import BrokerCore
import BrokerWire
import Foundation

struct ControlHandler {
    let service: AgentService

    func handle(_ request: AgentRequest) throws -> WireMessage {
        switch request.operation {
        case .ping:
            return .ok([.init(WireKey.pid, String(getpid()))])
        case .stop:
            service.stopRequested = true
            return .ok()
        default:
            return status()
        }
    }

    func status() -> WireMessage {
        // The file this agent serves, even when it is broken or missing: one agent per configuration.
        let configFile = service.paths.configFile
            + (FileManager.default.fileExists(atPath: service.paths.configFile) ? "" : " (no such file: an empty configuration)")
        var answer = WireMessage.ok([
            .init("config", configFile),
            .init("git_cache_entries", String(service.gitStore.count)),
            .init("docker_store_entries", String(service.registryStore.count)),
            .init(WireKey.pid, String(getpid())),
            .init("socket", service.paths.socketPath),
            .init("started", String(service.startedAt)),
            .init("warm_answers_replayed", String(service.warmAnswersReplayed)),
            .init("version", BrokerVersion.current),
        ])
        answer.append("executable", ifPresent: ProcessInfoLite.executablePath())
        answer.append("profile", ifPresent: service.paths.profile)
        answer.append("profile_file", ifPresent: service.paths.profileFile)
        let now = service.clock.instant()
        for entry in service.resolver.cache.snapshot() {
            let expires = entry.credential.asSeen(at: now).expiresAt
            answer.appendRecord("entry", [("identity", entry.key.identity), ("kind", entry.key.kind),
                                          ("expires", expires.map(String.init) ?? "-"), ("key", entry.key.description)])
        }
        // Providers' sessions by expiry, never a token.
        if let config = try? service.loadConfig() {
            for name in config.providerOrder {
                guard let kind = config.providerKinds[name] else { continue }
                let expires = kind.sessionExpiry(context: service.resolver.context)
                answer.appendRecord("session", [("provider", name), ("kind", kind.kindName), ("expires", expires.map(String.init) ?? "-")])
            }
        }
        switch service.configStore.config() {
        case .failure(let error):
            answer.append("config_error", "\(error)")
        case .success(let config):
            // `env:` secrets this agent cannot read, for `brokerctl validate`: its environment is
            // the one it was started with, not the asking shell's.
            var missing = Set<String>()
            for name in config.identityOrder {
                for case .environment(let variable) in config.kinds[name]?.secretReferences ?? []
                where service.resolver.context.environment.values[variable] == nil && missing.insert(variable).inserted {
                    answer.appendRecord("env_missing", [("name", variable)])
                }
            }
            // Identities from the environment (a CI job's), and brokers that did not fit.
            for name in config.ambientIdentities { answer.appendRecord("ambient", [("identity", name), ("kind", config.identities[name]?.kind ?? "")]) }
            for failure in config.ambientFailures { answer.append("ambient_error", failure) }
        }
        // Pool leases by token fingerprint, never the token.
        let pools = service.leases.snapshot()
        for lease in pools.leases {
            answer.appendRecord("lease", [("token", lease.fingerprint ?? "-"), ("holder_pid", String(lease.holder.pid)),
                                          ("expires", String(lease.expiresAt)), ("pool", lease.pool)])
        }
        for (pool, tokens) in pools.quarantined.sorted(by: { $0.key < $1.key }) {
            for (fingerprint, until) in tokens.sorted(by: { $0.key < $1.key }) {
                answer.appendRecord("quarantined", [("token", fingerprint), ("until", String(until)), ("pool", pool)])
            }
        }
        if let failure = service.resolver.cache.lastWriteFailure {
            answer.append("cache_error", failure)
        }
        if let failure = service.audit.lastWriteFailure {
            answer.append("audit_error", failure)
        }
        if let failure = service.audit.lastSyslogFailure {
            answer.append("syslog_error", failure)
        }
        return answer
    }
}
