// AWS keys for credential_process and for the wrapped command's loopback credentials endpoint.

import BrokerCore
import BrokerWire
import Foundation

struct AWSHandler {
    let service: AgentService

    /// `op=aws.credentials`: the identity's keys, as aws-credential-process prints them.
    func credentials(_ request: AgentRequest) throws -> WireMessage {
        let name = try request.identity()
        return try service.withConfig { try credentials(request, identity: name, config: $0) }
    }

    private func credentials(_ request: AgentRequest, identity name: String, config: BrokerConfig) throws -> WireMessage {
        let resolution = try service.issuer.issue(name, in: config, validity: .aws(config), caller: request.caller,
                                                  adapter: request[WireKey.adapter] ?? "aws")
        let keys = try Self.keys(of: resolution, identity: name, config: config)
        var answer = WireMessage.ok()
        answer.append(WireKey.accessKeyID, keys.accessKeyID)
        answer.append(WireKey.secretAccessKey, keys.secretAccessKey.reveal())
        answer.append(WireKey.sessionToken, ifPresent: keys.sessionToken?.reveal())
        answer.append(WireKey.expiration, ifPresent: resolution.credential.expiresAt.map(String.init))
        answer.append(WireKey.tier, resolution.tier.rawValue)
        ServingThread.answerMayRepeat()
        return answer
    }

    /// `op=aws.console`: a console sign-in URL for the identity's role session. The URL is a
    /// credential: it goes to brokerctl only, and the audit records the destination, never the URL.
    func console(_ request: AgentRequest) throws -> WireMessage {
        let name = try request.identity()
        let config = try service.loadConfig()
        let destination = request[WireKey.destination]
        // The console session's length is its own (SessionDuration); the credential only has to last the exchange.
        let validity = Validity(minimum: 300, fallback: nil)
        let resolution = try service.issuer.issue(name, in: config, validity: validity, caller: request.caller, adapter: "brokerctl",
                                                  target: destination ?? AWSConsoleSignin.defaultDestination, reason: "console")
        let url: Secret
        do {
            // A kind whose credential the console does not take makes one it does (aws/user: a federation token).
            var session = resolution.credential
            if case .resolved(let kind)? = config.kind(name)?.acquisition {
                session = try kind.consoleSession(from: session, duration: config.aws.consoleSessionDuration, context: service.resolver.context)
            }
            url = try AWSConsoleSignin.url(for: session, identity: name, endpoint: config.aws.signinEndpoint,
                                           destination: destination, duration: config.aws.consoleSessionDuration)
        } catch {
            throw service.issuer.denied(name, error, caller: request.caller, adapter: "brokerctl", target: destination)
        }
        return .ok([.init(WireKey.url, url.reveal())])
    }

    /// The keys of an AWS credential for a host, or the sentence saying the identity gives none
    /// or may not hand these out.
    static func keys(of resolution: Resolution, identity name: String, config: BrokerConfig) throws -> AWSCredentials {
        let credential = resolution.credential
        guard let keys = credential.aws else {
            throw BrokerFailure(.config, "identity \"\(name)\" (kind \(config.kind(name)?.kindName ?? "?")) does not give AWS credentials",
                                hint: "use an identity of kind \(IdentityKinds.sentence(IdentityKinds.names(producing: .aws)))")
        }
        if let kind = resolution.kind {
            try kind.deliverable(credential)
        } else if case .resolved(let kind)? = config.kind(name)?.acquisition {
            try kind.deliverable(credential)
        }
        return keys
    }

    /// What the endpoint answers a valid token: the identity's current keys, refreshed ahead
    /// of expiry by the resolver like every other adapter's.
    func endpointReply(_ grant: LoopbackEndpoint.Grant) throws -> LoopbackReply {
        let caller = Caller(pid: grant.pid, uid: ProcessInfoLite.userID)
        do {
            let config = try service.loadConfig()
            let resolution = try service.issuer.issue(grant.identity, in: config, validity: .aws(config), caller: caller, adapter: "endpoint")
            let keys = try Self.keys(of: resolution, identity: grant.identity, config: config)
            // Long-lived keys have no expiry, but boto3 requires one: say an hour, and the SDK
            // comes back then for the same keys.
            let expiry = resolution.credential.expiresAt ?? (service.clock.now() + 3600)
            return LoopbackReply(status: 200, body: .object([
                ("AccessKeyId", .string(keys.accessKeyID)),
                ("SecretAccessKey", .string(keys.secretAccessKey.reveal())),
                // boto3 requires the key; an empty token is never sent on a request.
                ("Token", .string(keys.sessionToken?.reveal() ?? "")),
                ("Expiration", .string(rfc3339UTC(expiry))),
            ]))
        } catch let wait as MustWait {
            throw wait  // answered again on a thread
        } catch {
            return .error(502, "CredentialsUnavailable", "\(error)".onOneLine)
        }
    }
}
