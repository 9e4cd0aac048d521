// broker-env-wrap's plan: what each identity contributes to a wrapped command, by what its kind delivers.

import BrokerCore
import BrokerWire
import Foundation

struct EnvPlanHandler {
    let service: AgentService
    var issuer: Issuer { service.issuer }

    /// Variables an AWS delivery clears first, so nothing the caller had can outrank what the
    /// wrap delivers in the SDKs' credential chain.
    static let awsVariablesCleared = [
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CREDENTIAL_EXPIRATION",
        "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
    ]

    /// `op=env.plan`: the steps that give a wrapped command its identities. Every credential is
    /// resolved before answering, so a failure stops the wrap before its command starts and the
    /// command's first request is answered from memory.
    func handle(_ request: AgentRequest) throws -> WireMessage {
        let caller = request.caller
        var names: [String] = []
        for name in request.message.values(WireKey.identities) where !names.contains(name) { names.append(name) }
        guard !names.isEmpty else { throw BrokerFailure(.input, "request names no identity") }
        guard let pid = request[WireKey.pid].flatMap(Int32.init), pid > 1 else { throw BrokerFailure(.input, "request carries no pid") }
        // The lease may be bound to the caller or to its parent (--print, for the shell that
        // evaluates the output), not to some unrelated long-lived process.
        if caller.pid > 0, pid != caller.pid, pid != ProcFS.parentPID(of: caller.pid) {
            throw BrokerFailure(.denied, "pid \(pid) is neither the caller nor its parent")
        }
        let requestedDelivery = try request[WireKey.delivery].map { text -> EnvDelivery in
            guard let value = EnvDelivery(rawValue: text) else {
                throw BrokerFailure(.input, "unknown delivery \"\(WireCodec.printable(text))\"")
            }
            return value
        }
        let binDirectory = try request[WireKey.binDirectory].map { dir -> String in
            guard dir.hasPrefix("/"), !dir.contains("'") else { throw BrokerFailure(.input, "bin_dir must be an absolute path without quotes") }
            return dir
        } ?? ProcessInfoLite.executablePath().map { String($0[..<($0.lastIndex(of: "/") ?? $0.startIndex)]) } ?? "/usr/local/bin"

        let config = try service.loadConfig()
        var plan = EnvPlan()
        var awsIdentity: String?
        var leaseFiles: [String] = []
        var needsLease = false
        // Written once every identity has contributed, so a plan answered again on a thread
        // (ServingThread) audits each identity once.
        var issued: [AuditRecord] = []
        for name in names {
            var contributed = false
            var reason = "environment"
            do {
                let identity = try config.identity(name)
                let kind = identity.kind
                let bindings = config.gitBindings(boundTo: name)
                switch (kind.acquisition, type(of: kind).descriptor.produces) {
                case (.resolved, .aws):
                    if let other = awsIdentity {
                        throw BrokerFailure(.config, "identities \"\(other)\" and \"\(name)\" both give AWS credentials; a command gets one",
                                            hint: "wrap twice with --nested, or pick one")
                    }
                    awsIdentity = name
                    // The flag wins, then the identity's own `delivery`, then the endpoint.
                    let delivery = requestedDelivery ?? kind.delivery.envDelivery ?? .endpoint
                    reason = "delivery=\(delivery.rawValue)"
                    let file = try awsSteps(name, region: kind.delivery.region, delivery: delivery, pid: pid, binDirectory: binDirectory,
                                            config: config, caller: caller, into: &plan)
                    leaseFiles += file.map { [$0] } ?? []
                    needsLease = needsLease || delivery != .env
                    contributed = true
                case (.leased(let pool), _):
                    // A pool leases one token to the wrapped process for its whole life; git in
                    // it gets the same token through the helper, so lease even without `env`.
                    if !kind.delivery.exports.isEmpty || !bindings.isEmpty {
                        let grant = try PoolLeasing(service: service).lease(pool, pid: pid, config: config, caller: caller)
                        for variable in kind.delivery.exports { plan.steps.append(.set(variable, grant.token.reveal(), secret: true)) }
                        contributed = !kind.delivery.exports.isEmpty
                    }
                case (.resolved, .password), (.resolved, .token):
                    if !kind.delivery.exports.isEmpty {
                        let resolution = try issuer.resolve(name, in: config, validity: .git(config), caller: caller)
                        guard let value = resolution.credential.password?.password ?? resolution.credential.token?.token else {
                            throw BrokerFailure(.config, "identity \"\(name)\" gave no secret to export")
                        }
                        for variable in kind.delivery.exports { plan.steps.append(.set(variable, value.reveal(), secret: true)) }
                        contributed = true
                    }
                }
                for binding in bindings {
                    gitSteps(binding, binDirectory: binDirectory, into: &plan)
                    contributed = true
                }
                guard contributed else {
                    throw BrokerFailure(.config, "identity \"\(name)\" (kind \(kind.kindName)) gives a wrapped command nothing",
                                        hint: "use an identity of kind \(IdentityKinds.sentence(IdentityKinds.names(producing: .aws))), add `env = NAME`, or bind it with [git \"URL\"]")
                }
            } catch {
                throw issuer.denied(name, error, caller: caller, adapter: "env-wrap")
            }
            issued.append(AuditRecord(event: .issued, identity: name, adapter: "env-wrap", caller: caller, reason: reason))
        }
        if needsLease { try ServingThread.permitWaiting() }
        for record in issued { service.audit.record(record) }
        if needsLease {
            try service.envWrap.lease(pid, removing: leaseFiles)
        }
        return .ok(plan.fields)
    }

    /// git inside the wrap asks the broker, and only the broker, for a bound URL.
    private func gitSteps(_ binding: GitBinding, binDirectory: String, into plan: inout EnvPlan) {
        let url = binding.pattern.text
        // An empty helper first: it clears helpers configured earlier (a keychain, a cache)
        // for this URL, so only the broker answers for it.
        plan.steps.append(.gitConfig(key: "credential.\(url).helper", value: ""))
        plan.steps.append(.gitConfig(key: "credential.\(url).helper", value: Self.shellQuoted(binDirectory + "/git-credential-broker")))
        if !binding.pattern.path.isEmpty {
            plan.steps.append(.gitConfig(key: "credential.\(url).useHttpPath", value: "true"))
        }
    }

    /// The AWS part of a plan; returns a generated file the lease must remove.
    private func awsSteps(_ name: String, region: String?, delivery: EnvDelivery, pid: Int32, binDirectory: String,
                          config: BrokerConfig, caller: Caller, into plan: inout EnvPlan) throws -> String? {
        let resolution = try issuer.resolve(name, in: config, validity: .aws(config), caller: caller)
        let keys = try AWSHandler.keys(of: resolution, identity: name, config: config)
        for variable in Self.awsVariablesCleared { plan.steps.append(.unset(variable)) }
        if let region {
            plan.steps.append(.set("AWS_REGION", region, secret: false))
            plan.steps.append(.set("AWS_DEFAULT_REGION", region, secret: false))
        }
        var file: String?
        switch delivery {
        case .env:
            plan.steps.append(.set("AWS_ACCESS_KEY_ID", keys.accessKeyID, secret: false))
            plan.steps.append(.set("AWS_SECRET_ACCESS_KEY", keys.secretAccessKey.reveal(), secret: true))
            if let token = keys.sessionToken { plan.steps.append(.set("AWS_SESSION_TOKEN", token.reveal(), secret: true)) }
            if let expiry = resolution.credential.expiresAt {
                plan.steps.append(.set("AWS_CREDENTIAL_EXPIRATION", rfc3339UTC(expiry), secret: false))
            }
        case .endpoint:
            try ServingThread.permitWaiting()  // may start the endpoint's thread
            let endpoint = try service.envWrap.endpoint(answer: { [weak service] grant in
                guard let service else { return .error(502, "Unavailable", "broker-agent is stopping") }
                return AWSHandler(service: service).endpointReply(grant)
            }, log: service.log)
            let grant = endpoint.grant(identity: name, pid: pid)
            plan.steps.append(.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url, secret: false))
            plan.steps.append(.set("AWS_CONTAINER_AUTHORIZATION_TOKEN", grant.token.reveal(), secret: true))
            // A [default] in ~/.aws/credentials would outrank the endpoint in every SDK's chain.
            plan.steps.append(.set("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", secret: false))
        case .profile:
            try ServingThread.permitWaiting()  // writes a file
            let path = try writeProfile(name, region: region, pid: pid, binDirectory: binDirectory)
            file = path
            plan.steps.append(.set("AWS_CONFIG_FILE", path, secret: false))
            plan.steps.append(.set("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", secret: false))
        }
        return file
    }

    /// An AWS config file (0600, in the private runtime directory) whose default profile runs
    /// aws-credential-process for `name` against this agent.
    private func writeProfile(_ name: String, region: String?, pid: Int32, binDirectory: String) throws -> String {
        let paths = service.paths
        let path = "\(paths.runtimeDirectory)/env-wrap-\(pid)-\(UInt32.random(in: 0...UInt32.max)).aws-config"
        var text = "# written by broker-agent for broker-env-wrap (pid \(pid)); removed when that process exits\n[default]\n"
        text += "credential_process = \(Self.shellQuoted(binDirectory + "/aws-credential-process")) --identity \(Self.shellQuoted(name))"
        text += " --socket-dir \(Self.shellQuoted(paths.runtimeDirectory))\n"
        if let region { text += "region = \(region)\n" }
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, .writeOnly, options: [.create, .exclusiveCreate, .closeOnExec], permissions: 0o600)
        } catch {
            throw BrokerFailure(.unavailable, "cannot write \(path): \(error)")
        }
        try fd.closeAfter { try fd.writeAll(text) }
        return path
    }

    /// POSIX single quotes, for the paths written into helper command lines.
    static func shellQuoted(_ text: String) -> String {
        BrokerWire.shellQuoted(text, leavingPlainTextBare: true)
    }
}
