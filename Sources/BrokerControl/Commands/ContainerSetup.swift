// `brokerctl docker-setup` and `brokerctl kube-setup`: point docker's config and a kubeconfig at the adapters, keeping what is there.

import BrokerCore
import BrokerWire
import Foundation

extension Brokerctl {
    /// Adds `"credHelpers": {"REGISTRY": "broker"}` for every exact `[registry]` binding and each
    /// `--registry HOST` to docker's config.json (which skopeo, podman and buildah read too),
    /// leaving every other key as it is. Prints the entries it adds; `--print` writes nothing.
    func dockerSetup(_ args: [String]) throws -> Int32 {
        let options = try parse(args, as: "docker-setup")
        let config = try loadConfig()
        var registries: [String] = []
        for binding in config.registryBindings where !binding.pattern.text.contains("*") { registries.append(binding.pattern.text) }
        for extra in (options.values["--registry"] ?? "").split(separator: ",") {
            registries.append(RegistryPattern.normalize(String(extra)))
        }
        for binding in config.registryBindings where binding.pattern.text.contains("*") {
            err("brokerctl: note: [registry \"\(binding.pattern.text)\"] is a pattern; docker's credHelpers needs each registry by name: add --registry HOST for the ones you use")
        }
        let path = options.values["--file"] ?? environment["DOCKER_CONFIG"].map { $0 + "/config.json" } ?? ((environment["HOME"] ?? "") + "/.docker/config.json")
        var document: [String: Any] = [:]
        if FileManager.default.fileExists(atPath: path) {
            guard let data = FileManager.default.contents(atPath: path),
                  let parsed = (data.isEmpty ? [:] : try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw BrokerFailure(.input, "\(path) is not a JSON object", hint: "fix or move it, then run brokerctl docker-setup again")
            }
            document = parsed
        }
        var helpers = document["credHelpers"] as? [String: Any] ?? [:]
        var added: [String] = []
        for registry in registries where helpers[registry] as? String != "broker" {
            if let other = helpers[registry] as? String { err("brokerctl: note: \(registry) used credential helper \"\(other)\"; now broker") }
            helpers[registry] = "broker"
            added.append(registry)
        }
        guard !added.isEmpty else {
            out("\(path): nothing to add")
            return ExitStatus.success
        }
        document["credHelpers"] = helpers
        for registry in added { out("+ \"credHelpers\": {\"\(registry)\": \"broker\"}") }
        if options.flags.contains("--print") { return ExitStatus.success }
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try writeFileAtomically(path, bytes: Array(data) + [10])
        out("wrote \(path)")
        return ExitStatus.success
    }

    /// A kubeconfig user whose token comes from kube-credential-broker, written by kubectl itself
    /// (`kubectl config set-credentials`), so the rest of the kubeconfig is kept as it is.
    func kubeSetup(_ args: [String]) throws -> Int32 {
        let options = try parse(args, as: "kube-setup")
        guard let identity = options.values["--identity"] else { throw BrokerFailure(.usage, "kube-setup needs --identity NAME") }
        let config = try loadConfig()
        let configured = try config.identity(identity)
        guard IdentityKinds.names(producing: .token).contains(configured.kind.kindName) else {
            throw BrokerFailure(.config, "identity \"\(identity)\" (kind \(configured.kind.kindName)) gives no bearer token a cluster accepts",
                                hint: "use an identity of kind \(IdentityKinds.sentence(IdentityKinds.names(producing: .token)))")
        }
        let user = options.values["--user"] ?? identity
        let plugin = options.values["--command"] ?? Self.siblingExecutable("kube-credential-broker")
        var arguments = ["kubectl", "config", "set-credentials", user,
                         "--exec-api-version=client.authentication.k8s.io/v1", "--exec-command=\(plugin)",
                         "--exec-arg=--identity", "--exec-arg=\(identity)", "--exec-interactive-mode=Never"]
        if let kubeconfig = options.values["--kubeconfig"] { arguments.insert("--kubeconfig=\(kubeconfig)", at: 1) }
        var commands = [arguments]
        if options.flags.contains("--cluster") {
            let cluster = try describeCluster(identity: identity, config: config)
            let kubectl = Array(arguments.prefix(arguments[1].hasPrefix("--kubeconfig=") ? 2 : 1))
            commands = [
                kubectl + ["config", "set-cluster", cluster.name, "--server=\(cluster.server)"],
                kubectl + ["config", "set", "clusters.\(cluster.name).certificate-authority-data", cluster.certificateAuthorityData],
                arguments,
                kubectl + ["config", "set-context", cluster.name, "--cluster=\(cluster.name)", "--user=\(user)"],
            ]
        }
        guard !options.flags.contains("--print") else {
            for command in commands { out(command.map(Self.shellQuoted).joined(separator: " ")) }
            return ExitStatus.success
        }
        for command in commands {
            // An argv, never a shell line (D14).
            let result = try CommandRunner().run(arguments: command, timeout: 30, environment: environment)
            guard result.status == 0 else {
                throw BrokerFailure(.unavailable, "kubectl \(command.dropFirst().first { !$0.hasPrefix("--") } ?? "") \(command.count > 2 ? command[2] : "") failed: \(result.stderr.split(separator: "\n").first ?? "")",
                                    hint: "is kubectl installed and on PATH?")
            }
        }
        out("user \(user): exec \(plugin) --identity \(identity) (client.authentication.k8s.io/v1, interactiveMode Never)")
        if options.flags.contains("--cluster") {
            out("cluster and context \(commands[0][commands[0].count - 2]): use it with kubectl config use-context \(commands[0][commands[0].count - 2])")
        } else {
            out("use it: kubectl config set-context --current --user=\(user)")
        }
        return ExitStatus.success
    }

    /// The cluster's endpoint and CA, looked up with the identity's `via` credential, which the
    /// agent hands out (so the lookup is signed like everything else, and cached).
    func describeCluster(identity: String, config: BrokerConfig) throws -> ClusterDescription {
        let configured = try config.identity(identity)
        guard let describing = configured.kind as? any ClusterDescribing else {
            throw BrokerFailure(.config, "identity \"\(identity)\" (kind \(configured.kind.kindName)) cannot look its cluster up", hint: "drop --cluster")
        }
        guard case .identity(let via)? = configured.definition.via else {
            throw BrokerFailure(.config, "identity \"\(identity)\" has no via identity to look its cluster up with")
        }
        guard let answer = try client().send(WireMessage(.awsCredentials, [.init(WireKey.identity, via), .init(WireKey.adapter, "brokerctl")])),
              let keyID = answer[WireKey.accessKeyID], let secret = answer[WireKey.secretAccessKey] else {
            throw BrokerFailure(.unavailable, "broker-agent gave no AWS credentials for identity \"\(via)\"")
        }
        let keys = AWSCredentials(accessKeyID: keyID, secretAccessKey: Secret(secret), sessionToken: answer[WireKey.sessionToken].map(Secret.init))
        return try describing.describeCluster(upstream: Credential(aws: keys, expiresAt: nil, session: .session),
                                              context: ResolveContext(environment: environment))
    }

    /// A program installed next to brokerctl, else its bare name (found on PATH).
    static func siblingExecutable(_ name: String) -> String {
        let me = CommandLine.arguments.first.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().deletingLastPathComponent().path } ?? ""
        let candidate = me + "/" + name
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : name
    }

}
