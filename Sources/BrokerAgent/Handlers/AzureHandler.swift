// Azure deliveries for broker-env-wrap: the managed-identity route's answers, the
// workload-identity token file, and the tenant/client/subscription variables.

import BrokerCore
import BrokerWire
import Foundation

extension Validity {
    /// azure-identity asks again whenever fewer than 5 minutes remain and uses a token at once:
    /// a minute is enough to hand out (and short-lived test tokens stay usable).
    static let azure = Validity(minimum: 60, fallback: 30)
}

struct AzureHandler {
    let service: AgentService
    var issuer: Issuer { service.issuer }

    /// Variables an Azure delivery clears first: each would make the SDKs' chains (azure-identity's
    /// EnvironmentCredential, terraform's azurerm) pick some other credential before this one.
    static let variablesCleared = [
        "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_CLIENT_CERTIFICATE_PASSWORD",
        "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "AZURE_USERNAME", "AZURE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_AUTHORITY_HOST", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID", "AZURE_DEFAULTS_LOCATION",
        "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET",
        "ARM_CLIENT_ID", "ARM_CLIENT_SECRET", "ARM_CLIENT_CERTIFICATE_PATH", "ARM_CLIENT_CERTIFICATE_PASSWORD",
        "ARM_OIDC_TOKEN", "ARM_OIDC_TOKEN_FILE_PATH", "ARM_OIDC_REQUEST_TOKEN", "ARM_OIDC_REQUEST_URL", "ARM_USE_OIDC",
        "ARM_USE_MSI", "ARM_MSI_ENDPOINT", "ARM_TENANT_ID", "ARM_SUBSCRIPTION_ID",
    ]

    /// The identity and the Azure identities beneath it through `via`, top first.
    static func chain(_ name: String, in config: BrokerConfig) throws -> [(name: String, identity: ConfiguredIdentity)] {
        var chain: [(String, ConfiguredIdentity)] = []
        var next: String? = name
        while let current = next, chain.count < 16, !chain.contains(where: { $0.0 == current }) {
            let identity = try config.identity(current)
            guard identity.kind.delivery.azure != nil else { break }
            chain.append((current, identity))
            if case .identity(let via)? = identity.definition.via { next = via } else { next = nil }
        }
        return chain
    }

    /// What the chain says about tenant, client, subscription and resource, the top winning.
    static func delivery(_ name: String, in config: BrokerConfig) throws -> AzureDelivery {
        // Every managed-identity request asks; the chain walk builds each hop's settings anew.
        try config.memo.derived(name) {
            try chain(name, in: config).reduce(AzureDelivery()) { merged, hop in merged.over(hop.identity.kind.delivery.azure!) }
        }
    }

    /// The steps for one Azure identity; returns files the lease must remove.
    func planSteps(_ name: String, delivery: EnvDelivery, pid: Int32, config: BrokerConfig, caller: Caller,
                   endpoint: () throws -> LoopbackEndpoint, into plan: inout EnvPlan) throws -> [String] {
        let azure = try Self.delivery(name, in: config)
        // Resolved before the command starts: a failure stops the wrap, and the first request is a cache hit.
        _ = try issuer.resolve(name, in: config, validity: .azure, caller: caller)
        for variable in Self.variablesCleared { plan.steps.append(.unset(variable)) }
        for (variable, value) in [("AZURE_TENANT_ID", azure.tenant), ("ARM_TENANT_ID", azure.tenant),
                                  ("AZURE_CLIENT_ID", azure.clientID), ("ARM_CLIENT_ID", azure.clientID),
                                  ("AZURE_SUBSCRIPTION_ID", azure.subscription), ("ARM_SUBSCRIPTION_ID", azure.subscription),
                                  ("AZURE_DEFAULTS_LOCATION", azure.location)] {
            if let value { plan.steps.append(.set(variable, value, secret: false)) }
        }
        switch delivery {
        case .endpoint:
            try ServingThread.permitWaiting()  // may start the endpoint's thread
            let endpoint = try endpoint()
            let grant = endpoint.grant(identity: name, pid: pid, route: AzureManagedIdentityRoute.name)
            plan.steps.append(.set("IDENTITY_ENDPOINT", AzureManagedIdentityRoute.url(endpoint), secret: false))
            plan.steps.append(.set("IDENTITY_HEADER", grant.token.reveal(), secret: true))
            return []
        case .file:
            try ServingThread.permitWaiting()  // writes a file and starts its refresher
            let path = try writeTokenFile(name, pid: pid, config: config, caller: caller)
            plan.steps.append(.set("AZURE_FEDERATED_TOKEN_FILE", path, secret: false))
            plan.steps.append(.set("AZURE_AUTHORITY_HOST", azure.authority ?? AzureApplication.defaultAuthority, secret: false))
            plan.steps.append(.set("ARM_USE_OIDC", "true", secret: false))
            plan.steps.append(.set("ARM_OIDC_TOKEN_FILE_PATH", path, secret: false))
            return [path]
        case .env:
            let (token, _) = try federatedToken(name, config: config, caller: caller, minimum: 60)
            plan.steps.append(.set("ARM_USE_OIDC", "true", secret: false))
            plan.steps.append(.set("ARM_OIDC_TOKEN", token.reveal(), secret: true))
            return []
        case .profile:
            throw BrokerFailure(.config, "identity \"\(name)\" is an Azure identity: --delivery profile writes an AWS profile",
                                hint: "use --delivery endpoint (a managed identity) or, for a federated identity, --delivery file")
        }
    }

    /// The federated OIDC token of the chain's federated identity, and when it expires.
    func federatedToken(_ name: String, config: BrokerConfig, caller: Caller, minimum: Int) throws -> (Secret, Int64?) {
        guard let hop = try Self.chain(name, in: config).first(where: { $0.identity.kind is any AzureFederatedKind }),
              let federated = hop.identity.kind as? any AzureFederatedKind else {
            throw BrokerFailure(.config, "identity \"\(name)\" holds no federated token to hand over: only the managed-identity endpoint delivers it",
                                hint: "use --delivery endpoint, or chain from a federated identity (kind \(IdentityKinds.sentence(IdentityKinds.all.filter { $0 is any AzureFederatedKind.Type }.map { $0.descriptor.name })))")
        }
        var upstream: Credential?
        if case .identity(let via)? = hop.identity.definition.via {
            upstream = try issuer.issue(via, in: config, validity: Validity(minimum: minimum, fallback: nil), caller: caller,
                                        adapter: "env-wrap", reason: "federated-token").credential
        }
        let token = try federated.federatedToken(upstream: upstream, context: service.resolver.context)
        return (token, upstream?.expiresAt ?? unverifiedJWTExpiry(token))
    }

    /// Writes the federated token to a 0600 file in the private runtime directory and keeps it
    /// fresh: azure-identity reads it again every 10 minutes, terraform on every token request.
    private func writeTokenFile(_ name: String, pid: Int32, config: BrokerConfig, caller: Caller) throws -> String {
        let (token, expiry) = try federatedToken(name, config: config, caller: caller, minimum: 60)
        let path = "\(service.paths.runtimeDirectory)/env-wrap-\(pid)-\(UInt32.random(in: 0...UInt32.max)).azure-token"
        try Self.replace(path, with: token, creating: true)
        let refresher = Thread { [service] in
            Self.keepFresh(path, identity: name, pid: pid, expiry: expiry, service: service, what: "federated token") { minimum in
                try AzureHandler(service: service).federatedToken(name, config: try service.loadConfig(), caller: caller, minimum: minimum)
            }
        }
        refresher.stackSize = 256 * 1024
        refresher.start()
        return path
    }

    /// Rewrites the file when half the token's life has gone, until the file is removed (the
    /// wrapped command exited) or the process is gone. `fetch` gives a token valid at least the
    /// seconds it is passed, and its expiry. Shared by every cloud's token file.
    static func keepFresh(_ path: String, identity: String, pid: Int32, expiry: Int64?, service: AgentService, what: String,
                          fetch: (Int) throws -> (Secret, Int64?)) {
        let clock = service.clock
        var written = clock.now()
        var expiresAt = expiry
        while true {
            let lifetime = max(60, (expiresAt ?? (written + 600)) - written)
            let due = written + lifetime / 2
            while clock.now() < due {
                sleep(1)
                guard access(path, F_OK) == 0, kill(pid, 0) == 0 || errno == EPERM else { return }
            }
            do {
                let (token, next) = try fetch(Int(max(60, lifetime / 2 + 1)))
                guard access(path, F_OK) == 0 else { return }
                try replace(path, with: token, creating: false)
                written = clock.now()
                expiresAt = next
                service.log("env-wrap: rewrote the \(what) file of identity \"\(identity)\" for pid \(pid)")
            } catch {
                service.log("env-wrap: cannot refresh the \(what) file of identity \"\(identity)\": \("\(error)".onOneLine)")
                written = clock.now() - lifetime / 2 + 15  // try again in 15 s
            }
        }
    }

    /// Writes a sibling and renames it over `path`, so a reader never sees half a token.
    static func replace(_ path: String, with token: Secret, creating: Bool) throws {
        let temporary = path + ".new"
        unlink(temporary)
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(temporary, .writeOnly, options: [.create, .exclusiveCreate, .closeOnExec], permissions: 0o600)
        } catch {
            throw BrokerFailure(.unavailable, "cannot write \(temporary): \(error)")
        }
        do {
            try fd.closeAfter { try fd.writeAll(token.reveal()) }
        } catch {
            unlink(temporary)
            throw BrokerFailure(.unavailable, "cannot write \(temporary): \(error)")
        }
        guard creating || access(path, F_OK) == 0 else { unlink(temporary); return }
        guard rename(temporary, path) == 0 else {
            let error = Errno.current
            unlink(temporary)
            throw BrokerFailure(.unavailable, "cannot replace \(path): \(error)")
        }
    }

    /// What the managed-identity route answers a valid secret: the identity's current token,
    /// for its own resource and client only.
    func endpointReply(_ query: AzureManagedIdentityRoute.Query, grant: LoopbackEndpoint.Grant) throws -> LoopbackReply {
        let caller = Caller(pid: grant.pid, uid: ProcessInfoLite.userID)
        do {
            let config = try service.loadConfig()
            let azure = try Self.delivery(grant.identity, in: config)
            let resource = azure.resource ?? AzureApplication.defaultResource
            // Resources and client IDs compare without case (Entra ID's own rule).
            guard query.resource == resource || equalIgnoringASCIICase(query.resource.utf8, resource.utf8) else {
                return AzureManagedIdentityRoute.error(400, "identity \(grant.identity) gives tokens for \(resource), not \(WireCodec.printable(query.resource, limit: 100)); set resource in its section or define another identity")
            }
            if let asked = query.clientID, azure.clientID.map({ equalIgnoringASCIICase(asked.utf8, $0.utf8) }) != true {
                return AzureManagedIdentityRoute.error(400, "client_id \(WireCodec.printable(asked, limit: 40)) is not this wrap's identity (\(azure.clientID ?? "none"))")
            }
            let resolution = try issuer.issue(grant.identity, in: config, validity: .azure, caller: caller, adapter: "endpoint")
            guard let token = resolution.credential.token else {
                return AzureManagedIdentityRoute.error(502, "identity \(grant.identity) gave no token")
            }
            let expiry = resolution.credential.expiresAt ?? (service.clock.now() + 3600)
            var fields: [(String, JSONValue)] = [("access_token", .string(token.token.reveal())), ("expires_on", .string(String(expiry))),
                                                 ("resource", .string(query.resource)), ("token_type", .string("Bearer"))]
            if let client = azure.clientID { fields.append(("client_id", .string(client))) }
            return LoopbackReply(status: 200, body: .object(fields))
        } catch let wait as MustWait {
            throw wait  // answered again on a thread
        } catch {
            return AzureManagedIdentityRoute.error(502, "\(error)".onOneLine)
        }
    }
}
