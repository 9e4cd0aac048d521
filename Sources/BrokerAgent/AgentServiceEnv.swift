// broker-env-wrap's side of the agent: environment plans, leases bound to a pid, the endpoint.

import BrokerCore
import BrokerWire
import Foundation

/// What the agent holds for running wraps: the endpoint (started on first use, so an agent
/// that never wraps anything opens no TCP port), and per wrapped pid, what to undo when it exits.
public final class EnvWrapSessions: @unchecked Sendable {
    private let lock = NSLock()
    private var endpoint: ContainerEndpoint?
    /// pid → files to remove when it exits (generated AWS config files).
    private var files: [Int32: [String]] = [:]
    private var leases: Set<Int32> = []
    private var watcherInstance: ProcessExitWatcher?

    public init() {}

    /// Wrapped processes still running: the agent must not exit under them (idle timeout).
    public var activeLeases: Int {
        lock.lock(); defer { lock.unlock() }
        return leases.count
    }

    func endpoint(answer: @escaping @Sendable (ContainerEndpoint.Grant) -> ContainerEndpoint.Reply,
                  log: @escaping @Sendable (String) -> Void) throws -> ContainerEndpoint {
        lock.lock(); defer { lock.unlock() }
        if let endpoint { return endpoint }
        let started = try ContainerEndpoint(answer: answer, log: log)
        log("credentials endpoint listening on 127.0.0.1:\(started.port)")
        endpoint = started
        return started
    }

    /// Ties what was handed out to `pid`'s life. Throws when the process is already gone.
    func lease(_ pid: Int32, removing paths: [String] = []) throws {
        lock.lock()
        files[pid, default: []] += paths
        leases.insert(pid)
        let watcher = watcherInstance ?? ProcessExitWatcher { [weak self] pid in self?.end(pid) }
        watcherInstance = watcher
        lock.unlock()
        do {
            try watcher.watch(pid)
        } catch {
            end(pid)
            throw error
        }
    }

    func end(_ pid: Int32) {
        lock.lock()
        let doomed = files.removeValue(forKey: pid) ?? []
        leases.remove(pid)
        let endpoint = self.endpoint
        lock.unlock()
        endpoint?.revoke(pid: pid)
        for path in doomed { unlink(path) }
    }

    /// Agent shutdown: the port closes and generated files go.
    public func stop() {
        lock.lock()
        let all = files.values.flatMap { $0 }
        files.removeAll()
        leases.removeAll()
        let endpoint = self.endpoint
        self.endpoint = nil
        lock.unlock()
        endpoint?.stop()
        for path in all { unlink(path) }
    }
}

extension AgentService {
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
    func envPlan(_ request: WireMessage, caller: Caller) throws -> WireMessage {
        var names: [String] = []
        for name in request.values("identity[]") where !names.contains(name) { names.append(name) }
        guard !names.isEmpty else { throw BrokerFailure(.input, "request names no identity") }
        guard let pid = request["pid"].flatMap(Int32.init), pid > 1 else { throw BrokerFailure(.input, "request carries no pid") }
        // The lease may be bound to the caller or to its parent (--print, for the shell that
        // evaluates the output), not to some unrelated long-lived process.
        if caller.pid > 0, pid != caller.pid, pid != Caller.parentPID(of: caller.pid) {
            throw BrokerFailure(.denied, "pid \(pid) is neither the caller nor its parent")
        }
        let requestedDelivery = try request["delivery"].map { text -> EnvDelivery in
            guard let value = EnvDelivery(rawValue: text) else {
                throw BrokerFailure(.input, "unknown delivery \"\(WireCodec.printable(text))\"")
            }
            return value
        }
        let binDirectory = try request["bin_dir"].map { dir -> String in
            guard dir.hasPrefix("/"), !dir.contains("'") else { throw BrokerFailure(.input, "bin_dir must be an absolute path without quotes") }
            return dir
        } ?? ProcessInfoLite.executablePath().map { String($0[..<($0.lastIndex(of: "/") ?? $0.startIndex)]) } ?? "/usr/local/bin"

        let config = try loadConfig()
        var plan = EnvPlan()
        var awsIdentity: String?
        var leaseFiles: [String] = []
        var needsLease = false
        var awsDelivery = EnvDelivery.endpoint
        for name in names {
            let chain = try ChainResolver.chain(of: name, in: config)
            let kind = chain[0].kind
            var contributed = false
            do {
                if let aws = kind as? any AWSIdentityKind {
                    if let other = awsIdentity {
                        throw BrokerFailure(.config, "identities \"\(other)\" and \"\(name)\" both give AWS credentials; a command gets one",
                                            hint: "wrap twice with --nested, or pick one")
                    }
                    awsIdentity = name
                    // The flag wins, then the identity's own `delivery`, then the endpoint.
                    let delivery = requestedDelivery ?? aws.aws.delivery ?? .endpoint
                    awsDelivery = delivery
                    let file = try awsSteps(name, region: aws.aws.region, delivery: delivery, pid: pid, binDirectory: binDirectory,
                                            config: config, caller: caller, into: &plan)
                    leaseFiles += file.map { [$0] } ?? []
                    needsLease = needsLease || delivery != .env
                    contributed = true
                }
                let exports = (kind as? any ExportsEnvironment)?.exports.names ?? []
                if let pool = kind as? GitHubPATPoolIdentity {
                    // A pool leases one token to the wrapped process for its whole life; git in
                    // it gets the same token through the helper, so lease even without `env`.
                    if !exports.isEmpty || config.gitBindings.contains(where: { $0.identity == name }) {
                        let grant = try leasePoolToken(pool, pid: pid, config: config, caller: caller)
                        for variable in exports { plan.steps.append(.set(variable, grant.token.reveal(), secret: true)) }
                        contributed = !exports.isEmpty
                    }
                } else if !exports.isEmpty {
                    let resolution = try resolve(name, in: config, minimumValidity: config.git.minimumValidity,
                                                           fallbackValidity: Self.gitFallbackValidity, for: caller)
                    guard let value = resolution.credential.secrets["password"] else {
                        throw BrokerFailure(.config, "identity \"\(name)\" gave no secret to export")
                    }
                    for variable in exports { plan.steps.append(.set(variable, value.reveal(), secret: true)) }
                    contributed = true
                }
            } catch {
                audit.record(AuditRecord(event: .denied, outcome: "error", identity: name, adapter: "env-wrap", caller: caller, reason: "\(error)"))
                throw Self.naming(name, error)
            }
            for binding in config.gitBindings where binding.identity == name {
                let url = binding.pattern.text
                // An empty helper first: it clears helpers configured earlier (a keychain, a
                // cache) for this URL, so only the broker answers for it.
                plan.steps.append(.gitConfig(key: "credential.\(url).helper", value: ""))
                plan.steps.append(.gitConfig(key: "credential.\(url).helper", value: Self.shellQuoted(binDirectory + "/git-credential-broker")))
                if !binding.pattern.path.isEmpty {
                    plan.steps.append(.gitConfig(key: "credential.\(url).useHttpPath", value: "true"))
                }
                contributed = true
            }
            guard contributed else {
                throw BrokerFailure(.config, "identity \"\(name)\" (kind \(kind.kindNameOfInstance)) gives a wrapped command nothing",
                                    hint: "use an aws/… identity, add `env = NAME`, or bind it with [git \"URL\"]")
            }
            audit.record(AuditRecord(event: .issued, identity: name, adapter: "env-wrap", caller: caller,
                                     reason: awsIdentity == name ? "delivery=\(awsDelivery.rawValue)" : "environment"))
        }
        if needsLease {
            try envWrap.lease(pid, removing: leaseFiles)
        }
        var answer = WireMessage()
        answer.append("status", "ok")
        answer.fields += plan.fields
        return answer
    }

    /// The AWS part of a plan; returns a generated file the lease must remove.
    private func awsSteps(_ name: String, region: String?, delivery: EnvDelivery, pid: Int32, binDirectory: String,
                          config: BrokerConfig, caller: Caller, into plan: inout EnvPlan) throws -> String? {
        let resolution = try resolve(name, in: config, minimumValidity: config.aws.minimumValidity, fallbackValidity: Self.awsFallbackValidity, for: caller)
        let keys = try resolution.credential.awsCredentials(for: name)
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
            let endpoint = try envWrap.endpoint(answer: { [weak self] grant in
                self?.endpointReply(grant) ?? .error(502, "Unavailable", "broker-agent is stopping")
            }, log: log)
            let grant = endpoint.grant(identity: name, pid: pid)
            plan.steps.append(.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url, secret: false))
            plan.steps.append(.set("AWS_CONTAINER_AUTHORIZATION_TOKEN", grant.token.reveal(), secret: true))
            // A [default] in ~/.aws/credentials would outrank the endpoint in every SDK's chain.
            plan.steps.append(.set("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", secret: false))
        case .profile:
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
        let path = "\(paths.runtimeDirectory)/env-wrap-\(pid)-\(UInt32.random(in: 0...UInt32.max)).aws-config"
        var text = "# written by broker-agent for broker-env-wrap (pid \(pid)); removed when that process exits\n[default]\n"
        text += "credential_process = \(Self.shellQuoted(binDirectory + "/aws-credential-process")) --identity \(Self.shellQuoted(name))"
        text += " --socket-dir \(Self.shellQuoted(paths.runtimeDirectory))\n"
        if let region { text += "region = \(region)\n" }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BrokerFailure(.unavailable, "cannot write \(path): \(Errno.current)") }
        try FileDescriptor(rawValue: fd).closeAfter { try FileDescriptor(rawValue: fd).writeAll(text) }
        return path
    }

    /// What the endpoint answers a valid token: the identity's current keys, refreshed ahead
    /// of expiry by the resolver like every other adapter's.
    func endpointReply(_ grant: ContainerEndpoint.Grant) -> ContainerEndpoint.Reply {
        let caller = Caller(pid: grant.pid, uid: ProcessInfoLite.userID)
        do {
            let config = try loadConfig()
            let resolution = try resolve(grant.identity, in: config, minimumValidity: config.aws.minimumValidity, fallbackValidity: Self.awsFallbackValidity, for: caller)
            let keys = try resolution.credential.awsCredentials(for: grant.identity)
            audit.record(AuditRecord(event: .issued, identity: grant.identity, adapter: "endpoint", caller: caller,
                                     tier: resolution.tier.rawValue))
            // Long-lived keys have no expiry, but boto3 requires one: say an hour, and the SDK
            // comes back then for the same keys.
            let expiry = resolution.credential.expiresAt ?? (clock.now() + 3600)
            return ContainerEndpoint.Reply(status: 200, body: .object([
                ("AccessKeyId", .string(keys.accessKeyID)),
                ("SecretAccessKey", .string(keys.secretAccessKey.reveal())),
                // boto3 requires the key; an empty token is never sent on a request.
                ("Token", .string(keys.sessionToken?.reveal() ?? "")),
                ("Expiration", .string(rfc3339UTC(expiry))),
            ]))
        } catch {
            audit.record(AuditRecord(event: .denied, outcome: "error", identity: grant.identity, adapter: "endpoint", caller: caller,
                                     reason: "\(error)"))
            let failure = Self.naming(grant.identity, error)
            return .error(502, "CredentialsUnavailable", "\(failure)".replacingOccurrences(of: "\n", with: " "))
        }
    }

    /// POSIX single quotes, for the paths written into helper command lines.
    static func shellQuoted(_ text: String) -> String {
        text.allSatisfy({ $0.isLetter || $0.isNumber || "/._-+=:,@".contains($0) }) ? text : "'\(text)'"
    }
}

extension IdentityKind {
    var kindNameOfInstance: String { Self.kindName }
}
