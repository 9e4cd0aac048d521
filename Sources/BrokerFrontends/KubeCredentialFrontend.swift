// client-go's exec credential plugin (kubectl and every Go client): one agent request, one ExecCredential.

import BrokerWire

/// Reads `KUBERNETES_EXEC_INFO` for the API version client-go speaks
/// (`client.authentication.k8s.io/v1` or `v1beta1`) and prints an ExecCredential of that
/// version with `status.token` and `status.expirationTimestamp`. It never prompts, whatever
/// `spec.interactive` says; a failure is one line on stderr and exit 1 (client-go shows it).
public enum KubeCredentialFrontend {
    public static let apiVersions = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"]
    /// What `aws eks get-token` and aws-iam-authenticator assume when client-go sends nothing.
    public static let defaultAPIVersion = "client.authentication.k8s.io/v1beta1"

    /// The same two options as aws-credential-process, read the same way.
    public typealias Options = AWSCredentialProcessFrontend.Options

    public static func parse(_ arguments: [String], environment: Environment) throws -> Options {
        try AWSCredentialProcessFrontend.parse(arguments, environment: environment)
    }

    /// The API version to answer in, from `KUBERNETES_EXEC_INFO` (absent: v1beta1, as the AWS tools do).
    public static func apiVersion(execInfo: String?) throws -> String {
        guard let execInfo, !execInfo.isEmpty else { return defaultAPIVersion }
        let document: JSONValue
        do { document = try JSONValue.parse(execInfo) } catch {
            throw BrokerFailure(.input, "KUBERNETES_EXEC_INFO is not JSON: \(error)")
        }
        guard document[member: "kind"]?.stringValue == "ExecCredential" else {
            throw BrokerFailure(.input, "KUBERNETES_EXEC_INFO is not an ExecCredential")
        }
        guard let version = document[member: "apiVersion"]?.stringValue, apiVersions.contains(version) else {
            let given = document[member: "apiVersion"]?.stringValue.map { WireCodec.printable($0) } ?? "(none)"
            throw BrokerFailure(.input, "KUBERNETES_EXEC_INFO asks for apiVersion \(given), which this plugin does not speak",
                                hint: "set the kubeconfig exec stanza's apiVersion to client.authentication.k8s.io/v1 or v1beta1")
        }
        return version
    }

    /// The ExecCredential client-go reads.
    public static func document(apiVersion: String, answer: WireMessage) throws -> String {
        guard let token = answer[WireKey.token], !token.isEmpty else { throw BrokerFailure(.internal, "broker-agent's answer has no token") }
        var status: [(String, JSONValue)] = []
        if let expiration = answer[WireKey.expiration] {
            guard let seconds = Int64(expiration) else { throw BrokerFailure(.internal, "broker-agent sent a malformed expiration") }
            status.append(("expirationTimestamp", .string(rfc3339UTC(seconds))))
        }
        status.append(("token", .string(token)))
        return JSONValue.object([
            ("kind", .string("ExecCredential")), ("apiVersion", .string(apiVersion)),
            ("spec", .object([])), ("status", .object(status)),
        ]).encoded() + "\n"
    }

    public static func run(arguments: [String], environment: Environment = .current,
                           output: FileDescriptor = .standardOutput) -> Int32 {
        let options: Options
        switch parseAdapterOptions(CommandCatalog.kubeCredentialBroker, output: output, { try parse(arguments, environment: environment) }) {
        case .success(let parsed): options = parsed
        case .failure(let exit): return exit.status
        }
        do {
            let version = try apiVersion(execInfo: environment["KUBERNETES_EXEC_INFO"])
            var env = environment
            if let dir = options.socketDirectory { env.values["BROKER_SOCKET_DIR"] = dir }
            let client = AgentClient(paths: try BrokerPaths.resolve(env), environment: env)
            let request = WireMessage(.kubeCredential, [.init(WireKey.identity, options.identity), .init(WireKey.adapter, "kube")])
            guard let answer = try client.send(request) else { throw BrokerFailure(.unavailable, "broker-agent is not running") }
            try output.writeAll(try document(apiVersion: version, answer: answer))
            return ExitStatus.success
        } catch {
            return reportFailure("kube-credential-broker", error)
        }
    }
}
