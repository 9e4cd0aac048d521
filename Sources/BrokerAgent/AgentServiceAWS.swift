// The agent's AWS operations beyond handing out keys: whoami (GetCallerIdentity) and MFA login.

import BrokerCore
import BrokerWire
import Foundation

extension AgentService {
    /// Resolves the identity, asks STS who that is, and says which tier answered.
    func awsWhoami(_ request: WireMessage, caller: Caller) throws -> WireMessage {
        guard let name = request["identity"], !name.isEmpty else { throw BrokerFailure(.input, "request names no identity") }
        let config = try loadConfig()
        let chain = try ChainResolver.chain(of: name, in: config)
        guard let kind = chain.first?.kind as? any AWSIdentityKind else {
            throw BrokerFailure(.config, "identity \"\(name)\" is not an AWS identity")
        }
        let resolution: Resolution
        do {
            resolution = try resolve(name, in: config, minimumValidity: 60, for: caller)
        } catch {
            audit.record(AuditRecord(event: .denied, outcome: "error", identity: name, adapter: "brokerctl", caller: caller, reason: "\(error)"))
            throw Self.naming(name, error)
        }
        let keys = try resolution.credential.awsCredentials(for: name)
        let identity: CallerIdentity
        do {
            identity = try STSClient(endpoint: kind.aws.endpoint(in: resolver.context)).getCallerIdentity(keys)
        } catch {
            throw Self.naming(name, error)
        }
        audit.record(AuditRecord(event: .issued, identity: name, adapter: "brokerctl", caller: caller,
                                 tier: resolution.tier.rawValue, reason: "whoami"))
        var answer = WireMessage()
        answer.append("status", "ok")
        answer.append("arn", identity.arn)
        answer.append("account", identity.account)
        answer.append("user_id", identity.userID)
        answer.append("access_key_id", Secret.masked(keys.accessKeyID))
        answer.append("expiration", ifPresent: resolution.credential.expiresAt.map(String.init))
        answer.append("tier", resolution.tier.rawValue)
        return answer
    }

    /// `brokerctl login NAME`: hands a person's MFA code to the identity and resolves it now, so
    /// the session is cached before any adapter asks.
    func login(_ request: WireMessage, caller: Caller) throws -> WireMessage {
        guard let name = request["identity"], !name.isEmpty else { throw BrokerFailure(.input, "request names no identity") }
        guard let code = request["code"], !code.isEmpty else { throw BrokerFailure(.input, "request carries no code") }
        let config = try loadConfig()
        guard config.identities[name] != nil else { throw BrokerFailure(.denied, "identity \"\(name)\" is not defined") }
        resolver.cache.remove(identity: name)
        resolver.context.oneTimeCodes.give(Secret(code), for: name, at: clock.now())
        let resolution: Resolution
        do {
            resolution = try resolve(name, in: config, minimumValidity: 60, for: caller)
        } catch {
            audit.record(AuditRecord(event: .denied, outcome: "error", identity: name, adapter: "brokerctl", caller: caller, reason: "login: \(error)"))
            throw Self.naming(name, error)
        }
        audit.record(AuditRecord(event: .issued, identity: name, adapter: "brokerctl", caller: caller, tier: resolution.tier.rawValue, reason: "login"))
        var answer = WireMessage()
        answer.append("status", "ok")
        answer.append("expiration", ifPresent: resolution.credential.expiresAt.map(String.init))
        return answer
    }
}
