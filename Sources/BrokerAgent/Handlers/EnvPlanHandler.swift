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
        var gcpIdentity: String?
        var azureIdentity: String?
        var leaseFiles: [String] = []
        var revocations: [EnvWrapSessions.Revocation] = []
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
                case (.resolved, _) where kind.delivery.gcp != nil:
                    if let other = gcpIdentity {
                        throw BrokerFailure(.config, "identities \"\(other)\" and \"\(name)\" both give Google Cloud credentials; a command gets one",
                                            hint: "wrap twice with --nested, or pick one")
                    }
                    gcpIdentity = name
                    let delivery = requestedDelivery ?? kind.delivery.envDelivery ?? .endpoint
                    reason = "delivery=\(delivery.rawValue)"
                    leaseFiles += try gcpSteps(name, delivery: delivery, pid: pid, config: config, caller: caller, into: &plan)
                    needsLease = true
                    contributed = true
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
                case (.resolved, .token) where kind.delivery.azure != nil:
                    if let other = azureIdentity {
                        throw BrokerFailure(.config, "identities \"\(other)\" and \"\(name)\" both give Azure tokens; a command gets one",
                                            hint: "wrap twice with --nested, or pick one")
                    }
                    azureIdentity = name
                    let delivery = requestedDelivery ?? kind.delivery.envDelivery ?? .endpoint
                    reason = "delivery=\(delivery.rawValue)"
                    leaseFiles += try AzureHandler(service: service).planSteps(name, delivery: delivery, pid: pid, config: config, caller: caller,
                                                                               endpoint: { try loopbackEndpoint() }, into: &plan)
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
                if case .resolved(let resolved) = kind.acquisition, resolved.revokesAfterWrap, contributed {
                    // Resolved now (a memory hit when exported above), so what git in the wrap
                    // is served is the very credential revoked when the wrap ends.
                    let resolution = try issuer.resolve(name, in: config, validity: .git(config), caller: caller)
                    revocations.append(revocation(name, kind: resolved, credential: resolution.credential, pid: pid))
                    needsLease = true
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
            try service.envWrap.lease(pid, removing: leaseFiles, revoking: revocations)
        }
        return .ok(plan.fields)
    }

    /// Revokes `credential` when the wraps holding it have ended: first dropped from the cache
    /// (no request gets it any more), then ended at its issuer. Audited either way; a failure
    /// only leaves the token to expire.
    private func revocation(_ name: String, kind: any ResolvedKind, credential: Credential, pid: Int32) -> EnvWrapSessions.Revocation {
        let secret = credential.password?.password ?? credential.token?.token
        let fingerprint = secret.map(TokenFingerprint.of) ?? name
        let resolver = service.resolver
        let audit = service.audit
        return EnvWrapSessions.Revocation(key: fingerprint) {
            resolver.cache.remove(identity: name)
            var record = AuditRecord(event: .revoked, identity: name, adapter: "env-wrap", caller: nil,
                                     reason: "the wraps holding it ended (last: pid \(pid))", token: fingerprint)
            do {
                try kind.revoke(credential, context: resolver.context)
            } catch {
                record.outcome = "error"
                record.reason = "revoke failed, the token stays valid until it expires: \(error)"
            }
            audit.record(record)
        }
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
            let endpoint = try loopbackEndpoint()
            let grant = endpoint.grant(identity: name, pid: pid, route: AWSCredentialsRoute.name)
            plan.steps.append(.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", AWSCredentialsRoute.url(endpoint), secret: false))
            plan.steps.append(.set("AWS_CONTAINER_AUTHORIZATION_TOKEN", grant.token.reveal(), secret: true))
            // A [default] in ~/.aws/credentials would outrank the endpoint in every SDK's chain.
            plan.steps.append(.set("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", secret: false))
        case .file:
            throw BrokerFailure(.config, "--delivery file writes an Azure workload-identity token file; identity \"\(name)\" gives AWS credentials",
                                hint: "use --delivery endpoint, env or profile for AWS identities")
        case .profile:
            try ServingThread.permitWaiting()  // writes a file
            let path = try writeProfile(name, region: region, pid: pid, binDirectory: binDirectory)
            file = path
            plan.steps.append(.set("AWS_CONFIG_FILE", path, secret: false))
            plan.steps.append(.set("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", secret: false))
        }
        return file
    }

    /// Variables a Google Cloud delivery clears first: anything the caller had that google-auth,
    /// gcloud or terraform would prefer to what the wrap delivers.
    static let gcpVariablesCleared = [
        "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_OAUTH_ACCESS_TOKEN", "GOOGLE_CREDENTIALS", "GOOGLE_CLOUD_KEYFILE_JSON", "GCLOUD_KEYFILE_JSON",
        "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE", "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE", "CLOUDSDK_CORE_ACCOUNT",
        "GCE_METADATA_HOST", "GCE_METADATA_ROOT", "GCE_METADATA_IP", "NO_GCE_CHECK", "GOOGLE_IMPERSONATE_SERVICE_ACCOUNT",
        "CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT",
    ]

    /// The Google Cloud part of a plan; returns generated files the lease must remove.
    private func gcpSteps(_ name: String, delivery: EnvDelivery, pid: Int32, config: BrokerConfig, caller: Caller,
                          into plan: inout EnvPlan) throws -> [String] {
        let resolution = try issuer.resolve(name, in: config, validity: GCPHandler.validity, caller: caller)
        let (_, token) = try GCPHandler.token(of: resolution.credential, identity: name)
        for variable in Self.gcpVariablesCleared { plan.steps.append(.unset(variable)) }
        let gcp = config.kind(name)?.delivery.gcp ?? GCPDelivery()
        if let project = gcp.project {
            for variable in ["CLOUDSDK_CORE_PROJECT", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT"] { plan.steps.append(.set(variable, project, secret: false)) }
        }
        if let region = gcp.region {
            for variable in ["CLOUDSDK_COMPUTE_REGION", "GOOGLE_CLOUD_REGION"] { plan.steps.append(.set(variable, region, secret: false)) }
        }
        if let zone = gcp.zone {
            for variable in ["CLOUDSDK_COMPUTE_ZONE", "GOOGLE_CLOUD_ZONE"] { plan.steps.append(.set(variable, zone, secret: false)) }
        }
        switch delivery {
        case .endpoint:
            try ServingThread.permitWaiting()  // may start the endpoint's thread
            let endpoint = try loopbackEndpoint()
            let grant = endpoint.grant(identity: name, pid: pid, route: GCEMetadataRoute.name)
            let host = GCEMetadataRoute.host(endpoint, secret: grant.token)
            // google-auth reads GCE_METADATA_HOST (GCE_METADATA_ROOT for older ones) and pings GCE_METADATA_IP;
            // gcloud's own metadata reads use GCE_METADATA_ROOT. All hold the secret.
            for variable in ["GCE_METADATA_HOST", "GCE_METADATA_ROOT", "GCE_METADATA_IP"] { plan.steps.append(.set(variable, host, secret: true)) }
            return []
        case .env, .file:
            // `file` is gcloud's token file alone; `env` adds the variable terraform's google provider reads.
            try ServingThread.permitWaiting()  // writes a file and starts its refresher
            let path = "\(service.paths.runtimeDirectory)/env-wrap-\(pid)-\(UInt32.random(in: 0...UInt32.max)).gcp-token"
            try AzureHandler.replace(path, with: token, creating: true)
            // gcloud reads the file on every command, so a long run keeps working only if it is rewritten.
            let refresher = Thread { [service] in
                AzureHandler.keepFresh(path, identity: name, pid: pid, expiry: resolution.credential.expiresAt, service: service,
                                       what: "Google Cloud access token") { minimum in
                    let fresh = try service.issuer.resolve(name, in: try service.loadConfig(), validity: Validity(minimum: minimum, fallback: nil), caller: caller)
                    return (try GCPHandler.token(of: fresh.credential, identity: name).token, fresh.credential.expiresAt)
                }
            }
            refresher.stackSize = 256 * 1024
            refresher.start()
            plan.steps.append(.set("CLOUDSDK_AUTH_ACCESS_TOKEN_FILE", path, secret: false))
            if delivery == .env { plan.steps.append(.set("GOOGLE_OAUTH_ACCESS_TOKEN", token.reveal(), secret: true)) }
            return [path]
        case .profile:
            throw BrokerFailure(.input, "identity \"\(name)\" gives Google Cloud credentials, which have no profile delivery",
                                hint: "use --delivery endpoint (the metadata server) or --delivery env")
        }
    }

    /// The per-run endpoint with every cloud's route; started on first use.
    private func loopbackEndpoint() throws -> LoopbackEndpoint {
        let service = self.service
        return try service.envWrap.endpoint(routes: {
            [AWSCredentialsRoute(keys: { [weak service] grant in
                guard let service else { return .error(502, "Unavailable", "broker-agent is stopping") }
                return try AWSHandler(service: service).endpointReply(grant)
            }),
             GCEMetadataRoute(answerRequest: { [weak service] path, query, grant in
                guard let service else { return .error(502, "Unavailable", "broker-agent is stopping") }
                return try GCPHandler(service: service).metadataReply(path: path, query: query, grant: grant)
            }),
             AzureManagedIdentityRoute(token: { [weak service] query, grant in
                guard let service else { return AzureManagedIdentityRoute.error(502, "broker-agent is stopping") }
                return try AzureHandler(service: service).endpointReply(query, grant: grant)
            })]
        }, log: service.log)
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
