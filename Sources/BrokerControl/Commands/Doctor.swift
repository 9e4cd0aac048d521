// `brokerctl doctor`: checks the real setup (adapters, git and AWS config, agent, config, secrets, upstreams, disk), one line each.

import BrokerCore
import BrokerWire
import Foundation

/// One check's result: what was looked at, what was found and, when it is not ok, the fix.
struct DoctorFinding: Equatable {
    enum Status: String { case ok, warn, fail }
    var status: Status
    /// The area: `adapters`, `git`, `aws`, `agent`, `config`, `secret`, `upstream`, `cache`, `audit`.
    var area: String
    var detail: String
    var fix: String?

    static func ok(_ area: String, _ detail: String) -> DoctorFinding { DoctorFinding(status: .ok, area: area, detail: detail) }
    static func warn(_ area: String, _ detail: String, fix: String? = nil) -> DoctorFinding {
        DoctorFinding(status: .warn, area: area, detail: detail, fix: fix)
    }
    static func fail(_ area: String, _ detail: String, fix: String? = nil) -> DoctorFinding {
        DoctorFinding(status: .fail, area: area, detail: detail, fix: fix)
    }

    /// `fail  secret: … (fix: chmod 600 …)`: the status padded so details line up.
    var line: String {
        status.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0) + "\(area): \(detail)" + (fix.map { " (fix: \($0))" } ?? "")
    }
}

extension Brokerctl {
    /// The programs an installation consists of; the adapters find broker-agent beside themselves.
    static let installedPrograms = ["git-credential-broker", "aws-credential-process", "broker-env-wrap", "docker-credential-broker",
                                    "kube-credential-broker", "broker-agent", "brokerctl"]

    func doctor(_ args: [String]) throws -> Int32 {
        let options = try parse(args, as: "doctor")
        let doctor = Doctor(ctl: self, network: !options.flags.contains("--offline"))
        let findings = doctor.run()
        let counts = Dictionary(grouping: findings, by: \.status).mapValues(\.count)
        if options.format == .json {
            emitJSON([
                "checks": findings.map { finding -> [String: Any] in
                    var object: [String: Any] = ["status": finding.status.rawValue, "check": finding.area, "detail": finding.detail]
                    object["fix"] = finding.fix ?? NSNull()
                    return object
                },
                "ok": counts[.ok] ?? 0, "warnings": counts[.warn] ?? 0, "failures": counts[.fail] ?? 0,
            ])
        } else {
            for finding in findings { out(finding.line) }
            out("\(counts[.ok] ?? 0) ok, \(counts[.warn] ?? 0) \(counts[.warn] == 1 ? "warning" : "warnings"), \(counts[.fail] ?? 0) \(counts[.fail] == 1 ? "failure" : "failures")")
        }
        return counts[.fail, default: 0] > 0 ? ExitStatus.failure : ExitStatus.success
    }
}

/// The checks, in the order a person would fix things: install, host configuration, agent,
/// configuration and secrets, upstreams, disk.
struct Doctor {
    let ctl: Brokerctl
    let network: Bool
    var environment: Environment { ctl.environment }
    let runner = CommandRunner()

    func run() -> [DoctorFinding] {
        var findings: [DoctorFinding] = []
        let paths: BrokerPaths
        do { paths = try ctl.paths } catch {
            return [.fail("paths", "\(error)", fix: (error as? BrokerError)?.hint)]
        }
        findings += adapters()
        var config: BrokerConfig?
        do {
            config = try ctl.loadConfig()
            let loaded = config!
            findings.append(.ok("config", loaded.file.map { "\($0): \(loaded.identities.count) identities, \(loaded.gitBindings.count) git bindings" }
                                ?? "no config file at \(paths.configFile) (the helper works like git credential-cache)"))
        } catch let error as ConfigError {
            findings.append(.fail("config", error.message + (error.location.map { " at \($0)" } ?? ""), fix: error.hint ?? "edit \(paths.configFile)"))
        } catch {
            findings.append(.fail("config", "\(error)", fix: (error as? BrokerError)?.hint))
        }
        findings += git(config)
        findings += aws(config)
        findings += containers(config)
        findings += agent(paths, config: config)
        if let config {
            findings += keyring(paths, config: config)
            findings += secrets(config)
            if network { findings += upstreams(config) }
        }
        findings += disk(paths)
        return findings
    }

    // MARK: - Install

    /// Where `name` is on PATH, or nil.
    func onPath(_ name: String) -> String? { CommandRunner.locate(name, environment) }

    func adapters() -> [DoctorFinding] {
        let home = ProcessInfoLite.executableDirectory()
        var findings: [DoctorFinding] = []
        for program in Brokerctl.installedPrograms {
            let beside = home.map { $0 + "/" + program }.flatMap { ProcessInfoLite.isExecutable($0) ? $0 : nil }
            switch (onPath(program), beside) {
            case (let found?, let beside?) where !sameFile(found, beside):
                findings.append(.warn("adapters", "\(program) on PATH is \(found), but brokerctl's own is \(beside): two installations",
                                      fix: "remove the one you do not use, or put \(home!) first on PATH"))
            case (let found?, _):
                findings.append(.ok("adapters", "\(program) at \(found)"))
            case (nil, let beside?):
                findings.append(.warn("adapters", "\(program) is not on PATH (it is at \(beside))",
                                      fix: "add its directory to PATH: export PATH=\"\(home!):$PATH\""))
            case (nil, nil):
                findings.append(.fail("adapters", "\(program) is neither on PATH nor beside brokerctl", fix: "run ./install.sh"))
            }
        }
        return findings
    }

    func sameFile(_ a: String, _ b: String) -> Bool {
        guard let x = try? FileStatus(path: a), let y = try? FileStatus(path: b) else { return a == b }
        return x.device == y.device && x.inode == y.inode
    }

    // MARK: - Host configuration

    /// Registries bound by name must reach docker-credential-broker through docker's config
    /// (`credHelpers`, or `credsStore`); each aws/eks identity needs a kubeconfig user whose exec
    /// plugin is kube-credential-broker with that identity. Read only; never a token.
    func containers(_ config: BrokerConfig?) -> [DoctorFinding] {
        guard let config else { return [] }
        var findings: [DoctorFinding] = []
        let named = config.registryBindings.filter { !$0.pattern.text.contains("*") }
        if !named.isEmpty {
            let path = environment["DOCKER_CONFIG"].map { $0 + "/config.json" } ?? ((environment["HOME"] ?? "") + "/.docker/config.json")
            let document = FileManager.default.contents(atPath: path).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
            let helpers = document?["credHelpers"] as? [String: Any] ?? [:]
            let store = document?["credsStore"] as? String
            for binding in named {
                let registry = binding.pattern.text
                if helpers[registry] as? String == "broker" || (helpers[registry] == nil && store == "broker") {
                    findings.append(.ok("docker", "\(registry) asks docker-credential-broker (\(path))"))
                } else {
                    let other = (helpers[registry] as? String).map { " (its credHelpers entry names docker-credential-\($0))" } ?? ""
                    findings.append(.warn("docker", "\(registry) is bound to identity \"\(binding.identity)\", but \(path) does not send it to docker-credential-broker\(other)",
                                          fix: "brokerctl docker-setup"))
                }
            }
        }
        let clusters = config.identityOrder.filter { config.identities[$0]?.kind == AWSEKSIdentity.descriptor.name }
        guard !clusters.isEmpty else { return findings }
        guard onPath("kubectl") != nil,
              let view = try? runner.run(arguments: ["kubectl", "config", "view", "-o", "json"], timeout: 10, environment: environment),
              view.status == 0,
              let document = try? JSONDecoder().decode(KubeconfigView.self, from: Data(view.stdout.utf8)) else {
            return findings + [.warn("kube", "cannot read the kubeconfig with `kubectl config view`, so the users for \(clusters.joined(separator: ", ")) are not checked",
                                     fix: "install kubectl, or check KUBECONFIG")]
        }
        // Each user's exec plugin: its command and the identity it asks for.
        let users: [(name: String, command: String, identity: String?)] = (document.users ?? []).compactMap { entry in
            guard let plugin = entry.user.exec else { return nil }
            let args = plugin.args ?? []
            let identity = args.firstIndex(of: "--identity").flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil }
                ?? args.first { $0.hasPrefix("--identity=") }.map { String($0.dropFirst("--identity=".count)) }
            return (entry.name, plugin.command, identity)
        }
        for identity in clusters {
            guard let user = users.first(where: { $0.command.hasSuffix("kube-credential-broker") && $0.identity == identity }) else {
                findings.append(.warn("kube", "no kubeconfig user runs kube-credential-broker --identity \(identity)",
                                      fix: "brokerctl kube-setup --identity \(identity) --cluster"))
                continue
            }
            let runnable = user.command.contains("/") ? ProcessInfoLite.isExecutable(user.command) : onPath(user.command) != nil
            if runnable {
                findings.append(.ok("kube", "user \(user.name) runs \(user.command) --identity \(identity)"))
            } else {
                findings.append(.fail("kube", "user \(user.name) runs \(user.command), which cannot be found",
                                      fix: "brokerctl kube-setup --identity \(identity) (it writes kube-credential-broker's path)"))
            }
        }
        return findings
    }

    /// Runs git with the person's own environment and configuration; nil when there is no git.
    func gitConfig(_ arguments: [String]) -> CommandResult? {
        guard onPath("git") != nil else { return nil }
        return try? runner.run(arguments: ["git", "config"] + arguments, timeout: 10, environment: environment)
    }

    /// The program a `credential.helper` value runs (git's rules: an absolute path as it is, a
    /// `!` shell snippet as written, otherwise `git-credential-` + the first word on PATH).
    func helperProgram(_ value: String) -> (program: String?, ours: Bool) {
        if value.hasPrefix("!") { return (nil, value.contains("git-credential-broker")) }
        let word = String(value.split(separator: " ").first ?? "")
        if word.hasPrefix("/") || word.hasPrefix("~/") {
            let path = word.hasPrefix("~/") ? (environment["HOME"] ?? "") + word.dropFirst(1) : word
            return (path, path.hasSuffix("/git-credential-broker"))
        }
        return (onPath("git-credential-" + word), word == "broker")
    }

    func git(_ config: BrokerConfig?) -> [DoctorFinding] {
        guard let listed = gitConfig(["--get-all", "credential.helper"]) else {
            return [.warn("git", "git is not on PATH; nothing to check", fix: "install git")]
        }
        // An empty value resets the list (gitcredentials(7)): only what follows the last one counts.
        var helpers: [String] = []
        for line in listed.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast(listed.stdout.hasSuffix("\n") ? 1 : 0) {
            let value = line.trimmingCharacters(in: .whitespaces)
            if value.isEmpty { helpers = [] } else { helpers.append(value) }
        }
        let bindings = config?.gitBindings ?? []
        var findings: [DoctorFinding] = []
        guard let index = helpers.firstIndex(where: { helperProgram($0).ours }) else {
            let detail = helpers.isEmpty ? "git has no credential.helper" : "git's credential helpers (\(helpers.joined(separator: ", "))) do not include broker"
            let fix = "brokerctl git-setup --global"
            findings.append(bindings.isEmpty ? .warn("git", detail + "; git will not ask the broker", fix: fix)
                                             : .fail("git", detail + ", so the \(bindings.count) git bindings are never used", fix: fix))
            return findings
        }
        let value = helpers[index]
        let position = "helper \(index + 1) of \(helpers.count)"
        if value.hasPrefix("!") {
            findings.append(.ok("git", "credential.helper = \(value) (\(position), a shell snippet; not checked further)"))
        } else if let program = helperProgram(value).program, ProcessInfoLite.isExecutable(program) {
            findings.append(.ok("git", "credential.helper = \(value) runs \(program) (\(position))"))
        } else {
            let word = String(value.split(separator: " ").first ?? "")
            let missing = word.hasPrefix("/") || word.hasPrefix("~/") ? word : "git-credential-broker (on PATH)"
            let home = ProcessInfoLite.executableDirectory()
            findings.append(.fail("git", "credential.helper = \(value), but \(missing) cannot be run; every git credential request fails over to prompting",
                                  fix: home.map { "run brokerctl git-setup --global (the helper is at \($0)/git-credential-broker), or add its directory to PATH" } ?? "run ./install.sh, then brokerctl git-setup --global"))
        }
        if index > 0 {
            findings.append(.warn("git", "\(helpers[..<index].joined(separator: ", ")) \(index == 1 ? "comes" : "come") before broker: git asks \(index == 1 ? "it" : "them") first, and an answer there wins even for bound URLs",
                                  fix: "list broker first: brokerctl git-setup --global"))
        }
        // Path-bound rules match only when git sends the path (useHttpPath), per host.
        var checked = Set<String>()
        for binding in bindings where !binding.pattern.path.isEmpty {
            let hostURL = "\(binding.pattern.scheme)://\(binding.pattern.hostLabels.joined(separator: "."))" + (binding.pattern.port.map { ":\($0)" } ?? "")
            guard checked.insert(hostURL).inserted else { continue }
            let answer = gitConfig(["--bool", "--get-urlmatch", "credential.useHttpPath", hostURL + "/"])
            if answer?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "true" {
                findings.append(.ok("git", "credential.useHttpPath is on for \(hostURL), as the path-bound rule \(binding.pattern) needs"))
            } else {
                findings.append(.fail("git", "the rule \(binding.pattern) (\(binding.location)) needs a path, but git sends none for \(hostURL)",
                                      fix: "git config --global credential.\(hostURL).useHttpPath true"))
            }
        }
        return findings
    }

    func aws(_ config: BrokerConfig?) -> [DoctorFinding] {
        let file = environment["AWS_CONFIG_FILE"] ?? (environment["HOME"] ?? "~") + "/.aws/config"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            return [.ok("aws", "no AWS config at \(file); nothing uses credential_process")]
        }
        var findings: [DoctorFinding] = []
        var section = "?"
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") && line.hasSuffix("]") { section = String(line.dropFirst().dropLast()); continue }
            guard let eq = line.firstIndex(of: "="), line[..<eq].trimmingCharacters(in: .whitespaces) == "credential_process" else { continue }
            let words = shellWords(String(line[line.index(after: eq)...]))
            guard let program = words.first, program.hasSuffix("aws-credential-process") else { continue }
            let place = "[\(section)] credential_process (\(file):\(number + 1))"
            let path = program.contains("/") ? program : onPath(program)
            guard let path, ProcessInfoLite.isExecutable(path) else {
                findings.append(.fail("aws", "\(place) runs \(program), which cannot be run",
                                      fix: ProcessInfoLite.executableDirectory().map { "write its absolute path: \($0)/aws-credential-process" } ?? "run ./install.sh"))
                continue
            }
            var identity: String?
            for (i, word) in words.enumerated() {
                if word == "--identity", i + 1 < words.count { identity = words[i + 1] }
                if word.hasPrefix("--identity=") { identity = String(word.dropFirst("--identity=".count)) }
            }
            guard let identity else {
                findings.append(.ok("aws", "\(place) runs \(path) (identity from BROKER_IDENTITY)"))
                continue
            }
            if let config, config.identities[identity] == nil {
                findings.append(.fail("aws", "\(place) names identity \"\(identity)\", which the configuration does not define",
                                      fix: "define [identity \"\(identity)\"] or fix the name (brokerctl list)"))
            } else {
                findings.append(.ok("aws", "\(place) runs \(path) for identity \"\(identity)\""))
            }
        }
        if findings.isEmpty { findings.append(.ok("aws", "no profile in \(file) uses aws-credential-process")) }
        return findings
    }

    /// The words of a command line as botocore splits it (shlex), enough for quotes and spaces.
    func shellWords(_ line: String) -> [String] {
        var words: [String] = [], word = "", quote: Character?, any = false
        for c in line {
            if let q = quote {
                if c == q { quote = nil } else { word.append(c) }
            } else if c == "'" || c == "\"" {
                quote = c; any = true
            } else if c == " " || c == "\t" {
                if any || !word.isEmpty { words.append(word) }
                word = ""; any = false
            } else {
                word.append(c)
            }
        }
        if any || !word.isEmpty { words.append(word) }
        return words
    }

    // MARK: - Agent

    func agent(_ paths: BrokerPaths, config: BrokerConfig?) -> [DoctorFinding] {
        let answer: WireMessage?
        do {
            answer = try AgentClient(paths: paths, environment: environment, timeoutSeconds: 5).send(WireMessage(.status), startAgent: false)
        } catch {
            return [.fail("agent", (error as? BrokerError)?.message ?? "\(error)", fix: (error as? BrokerError)?.hint)]
        }
        guard let answer else {
            let spawnable = environment["BROKER_AGENT"] ?? onPath("broker-agent")
                ?? ProcessInfoLite.executableDirectory().map { $0 + "/broker-agent" }.flatMap { ProcessInfoLite.isExecutable($0) ? $0 : nil }
            guard let spawnable, ProcessInfoLite.isExecutable(spawnable) else {
                return [.fail("agent", "broker-agent is not running and cannot be started: no executable beside the adapters, on PATH or in BROKER_AGENT",
                              fix: "run ./install.sh")]
            }
            // Not a failure: the adapters start it on demand. Its own checks wait for a running one.
            return [.warn("agent", "broker-agent is not running (socket \(paths.socketPath)); the first request starts \(spawnable), so its version and socket are not checked")]
        }
        var findings: [DoctorFinding] = []
        let pid = answer["pid"] ?? "?"
        let version = answer["version"] ?? "unknown"
        if version != BrokerVersion.current {
            findings.append(.fail("agent", "broker-agent (pid \(pid)) is version \(version), this brokerctl is \(BrokerVersion.current)",
                                  fix: "brokerctl stop (the next request starts the installed agent)"))
        } else if let executable = answer["executable"], let started = answer["started"].flatMap(Int64.init),
                  let st = try? FileStatus(path: executable.hasSuffix(" (deleted)") ? String(executable.dropLast(10)) : executable),
                  executable.hasSuffix(" (deleted)") || st.modified.seconds > started {
            findings.append(.fail("agent", "broker-agent (pid \(pid)) runs a build that has since been replaced on disk (\(executable))",
                                  fix: "brokerctl stop (the next request starts the new one)"))
        } else {
            findings.append(.ok("agent", "broker-agent pid \(pid), version \(version)" + (answer["executable"].map { ", \($0)" } ?? "")))
        }
        if let st = try? FileStatus(path: paths.runtimeDirectory, followingSymlinks: false) {
            let mode = String(st.permissions, radix: 8)
            if st.permissions & 0o077 != 0 || st.ownerID != ProcessInfoLite.userID {
                findings.append(.fail("agent", "socket directory \(paths.runtimeDirectory) is mode 0\(mode), owner uid \(st.ownerID)",
                                      fix: "chmod 0700 \(paths.runtimeDirectory)"))
            } else {
                let socketMode = (try? FileStatus(path: paths.socketPath, followingSymlinks: false)).map { "0" + String($0.permissions, radix: 8) } ?? "?"
                findings.append(.ok("agent", "socket directory \(paths.runtimeDirectory) is yours and 0\(mode); socket mode \(socketMode)"))
            }
        }
        let ours = config?.file ?? "(none)"
        if let served = answer["config"], served != ours, served != "(invalid)" {
            findings.append(.warn("agent", "the running agent serves configuration \(served), but you are using \(ours)",
                                  fix: "brokerctl stop, so the next request starts an agent with \(ours)"))
        }
        if let error = answer["config_error"] {
            findings.append(.fail("agent", "the agent cannot load its configuration: \(error)", fix: "fix the file, then brokerctl validate"))
        }
        if let error = answer["cache_error"] { findings.append(.fail("cache", "the agent cannot write its cache: \(error)", fix: "free disk space or fix \(paths.cacheDirectory)")) }
        if let error = answer["audit_error"] { findings.append(.fail("audit", "the agent cannot write the audit log: \(error)", fix: "free disk space or fix \(paths.stateDirectory)")) }
        return findings
    }

    // MARK: - Keyring

    /// Which backend holds `keyring:` secrets (and `[git] store = keyring`) and whether it is
    /// open: the running agent's answer, since it holds the passphrase and has its own D-Bus
    /// session; else what an agent started from here would find. A locked or unreachable keyring
    /// is a failure when the configuration needs it; otherwise an unreachable one is a warning
    /// and a locked one is fine. Never reads a secret.
    func keyring(_ paths: BrokerPaths, config: BrokerConfig) -> [DoctorFinding] {
        var needs: [String] = []
        let referencing = config.identityOrder.filter { name in
            config.kinds[name]?.secretReferences.contains { if case .keyring = $0 { return true } else { return false } } ?? false
        }
        if !referencing.isEmpty { needs.append("keyring: secrets of \(referencing.map { "\"\($0)\"" }.joined(separator: ", "))") }
        if config.git.store == .keyring { needs.append("[git] store = keyring") }
        let backend: String, state: String, fix: String?, secrets: Int?, whose: String
        if let answer = try? AgentClient(paths: paths, environment: environment, timeoutSeconds: 60).send(WireMessage(.keyringList), startAgent: false) {
            (backend, state, fix) = (answer[WireKey.backend] ?? "?", answer["state"] ?? "?", answer["fix"])
            secrets = state == "unlocked" ? answer.records("entry", columns: ["name"]).count : nil
            whose = "the running agent's"
        } else {
            let service = KeyringService(environment: environment, runner: runner, settings: { [keyring = config.keyring] in keyring })
            (backend, state, fix) = service.status()
            secrets = nil
            whose = "an agent started from here would use the"
        }
        var detail = "\(whose) keyring: \(backend) backend, \(state)"
        if backend == KeyringBackendKind.file.rawValue { detail += ", in \(config.keyring.directory ?? KeyringService.defaultDirectory(environment))" }
        if let secrets { detail += ", \(secrets) \(secrets == 1 ? "secret" : "secrets")" }
        if backend == KeyringBackendKind.memory.rawValue { detail += " (held by the agent only: gone when it exits)" }
        let used = needs.isEmpty ? "" : " (needed by \(needs.joined(separator: " and ")))"
        if state == "unlocked" { return [.ok("keyring", detail + used)] }
        let fixText = fix ?? "set [keyring] backend = file"
        if !needs.isEmpty { return [.fail("keyring", detail + used, fix: fixText)] }
        // A locked keyring nothing uses yet is how a new installation starts.
        if state == "locked" { return [.ok("keyring", detail + "; nothing in the configuration needs it yet")] }
        return [.warn("keyring", detail, fix: fixText)]
    }

    // MARK: - Secrets and upstreams

    /// Every secret reference, checked without reading or running it: a file's existence,
    /// owner, mode and size; a variable's presence; a command's program.
    func secrets(_ config: BrokerConfig) -> [DoctorFinding] {
        var findings: [DoctorFinding] = []
        for name in config.identityOrder {
            guard let kind = config.kinds[name] else { continue }
            for reference in kind.secretReferences {
                let what = "identity \"\(name)\" \(reference)"
                switch reference {
                case .environment(let variable):
                    if environment[variable] != nil {
                        findings.append(.ok("secret", "\(what): set in this environment (the agent reads the one it was started with)"))
                    } else {
                        findings.append(.warn("secret", "\(what): \(variable) is not set here, so an agent started from here cannot read it",
                                              fix: "export \(variable), then brokerctl stop"))
                    }
                case .file:
                    // The same checks as `brokerctl validate`, without reading the secret.
                    if let failure = reference.check(environment: environment) {
                        findings.append(.fail("secret", "\(what): \(failure.message)", fix: failure.hint ?? "fix the file"))
                    } else {
                        findings.append(.ok("secret", "\(what): exists, yours, private, not empty"))
                    }
                case .keyring(let name):
                    findings.append(.ok("secret", "\(what): read by the agent from its keyring (brokerctl secret list shows whether \(name) is there)"))
                case .remote(let secret):
                    findings.append(.ok("secret", "\(what): read by the agent through AWS identity \(secret.identity ?? config.secrets.awsIdentity ?? "?") (not read by doctor)"))
                case .command(let command, _):
                    let program = shellWords(command).first ?? ""
                    if program.isEmpty || onPath(program) != nil || (program.contains("/") && ProcessInfoLite.isExecutable(program)) {
                        findings.append(.ok("secret", "\(what): a command (not run by doctor)"))
                    } else {
                        findings.append(.warn("secret", "\(what): \(program) is not on PATH", fix: "install it or write its absolute path"))
                    }
                }
            }
        }
        return findings
    }

    /// Each configured upstream once: reachable within a short timeout, and its clock against
    /// ours (signatures and JWTs fail beyond a few minutes of skew). Nothing secret is sent.
    func upstreams(_ config: BrokerConfig) -> [DoctorFinding] {
        var users: [UpstreamService: [String]] = [:]
        var order: [UpstreamService] = []
        let context = ResolveContext(environment: environment)
        for name in config.identityOrder {
            for service in config.kinds[name]?.upstreams(in: context) ?? [] {
                if users[service] == nil { order.append(service) }
                users[service, default: []].append(name)
            }
        }
        var findings: [DoctorFinding] = []
        for service in order {
            let who = "\(service.name) \(service.url) (\(users[service]!.map { "\"\($0)\"" }.joined(separator: ", ")))"
            switch UpstreamProbe.probe(service, timeout: 3) {
            case .unreachable(let reason):
                findings.append(.fail("upstream", "\(who): unreachable: \(reason)",
                                      fix: "check the network, a proxy, or the endpoint setting (sts-endpoint, api-url, AWS_ENDPOINT_URL*)"))
            case .answered(let status, let skew, let milliseconds):
                findings.append(.ok("upstream", "\(who): answered HTTP \(status) in \(milliseconds) ms"))
                guard let skew else {
                    findings.append(.warn("clock", "\(service.name) \(service.url) sent no Date header; clock not checked"))
                    continue
                }
                let direction = skew > 0 ? "behind" : "ahead of"
                let text = "this machine's clock is \(abs(skew)) s \(direction) \(service.name) \(service.url)"
                if abs(skew) > 300 {
                    findings.append(.fail("clock", text + "; signed requests are refused beyond 5 minutes", fix: "sync the clock (timedatectl set-ntp true)"))
                } else if abs(skew) > 30 {
                    findings.append(.warn("clock", text, fix: "sync the clock (timedatectl set-ntp true)"))
                } else {
                    findings.append(.ok("clock", "within \(abs(skew)) s of \(service.name) \(service.url)"))
                }
            }
        }
        return findings
    }

    // MARK: - Disk

    func disk(_ paths: BrokerPaths) -> [DoctorFinding] {
        var findings: [DoctorFinding] = []
        for (area, directory, file) in [("cache", paths.cacheDirectory, paths.cacheEntriesDirectory), ("audit", paths.stateDirectory, paths.auditLogPath)] {
            guard (try? FileStatus(path: directory, followingSymlinks: false)) != nil else {
                findings.append(.ok(area, "\(directory) does not exist yet (created 0700 on first use)"))
                continue
            }
            do { try checkPrivateDirectory(directory) } catch {
                findings.append(.fail(area, (error as? BrokerError)?.message ?? "\(error)", fix: (error as? BrokerError)?.hint))
                continue
            }
            guard access(directory, W_OK) == 0 else {
                findings.append(.fail(area, "\(directory) is not writable", fix: "chmod u+w \(directory), or free the disk it is on"))
                continue
            }
            if area == "audit", (try? FileStatus(path: file)) != nil, access(file, W_OK) != 0 {
                findings.append(.fail(area, "\(file) is not writable", fix: "chmod 600 \(file)"))
                continue
            }
            if area == "cache" {
                let entries = (try? FileManager.default.contentsOfDirectory(atPath: file))?.count ?? 0
                findings.append(.ok(area, "\(directory) is private and writable; \(entries) cached \(entries == 1 ? "entry" : "entries"), \(Self.humanBytes(Self.totalSize(file)))"))
            } else {
                findings.append(.ok(area, "\(directory) is private and writable; audit log and its rotations \(Self.humanBytes(Self.totalSize(directory)))"))
            }
        }
        return findings
    }

    static func totalSize(_ path: String) -> Int64 {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else {
            return (try? FileStatus(path: path).size) ?? 0
        }
        return names.reduce(0) { $0 + ((try? FileStatus(path: path + "/" + $1, followingSymlinks: false))?.size ?? 0) }
    }

    static func humanBytes(_ bytes: Int64) -> String {
        if bytes < 1024 { return "\(bytes) B" }
        if bytes < 1 << 20 { return "\(bytes / 1024) KiB" }
        return "\(bytes >> 20) MiB"
    }
}

/// What doctor reads of `kubectl config view -o json`: the users' exec plugins.
struct KubeconfigView: Decodable {
    struct Plugin: Decodable {
        let command: String
        let args: [String]?
    }
    struct Credentials: Decodable { let exec: Plugin? }
    struct User: Decodable {
        let name: String
        let user: Credentials
    }
    let users: [User]?
}
