// kind = exec: a command that mints a short-lived token, optionally from an upstream credential.

import BrokerWire

/// The command speaks git's credential grammar: it reads the upstream credential (if `via` is
/// set) as key=value lines on stdin, and prints `username=`, `password=` and optionally
/// `password_expiry_utc=` (unix seconds). Tokens with an expiry are cached on disk until then.
public struct ExecIdentity: IdentityKind, ExportsEnvironment {
    public static let kindName = "exec"
    public static let summary = "a command that prints username=/password=/password_expiry_utc= lines"
    public static let settings = [
        SettingSpec("command", required: true, "run with /bin/sh -c; receives the upstream credential on stdin"),
        SettingSpec("username", "user name when the command prints none"),
        SettingSpec("timeout", "how long the command may run (default [agent] command-timeout)"),
        EnvironmentExports.spec,
    ]
    public static let upstream = UpstreamRule.optional

    public let command: String
    public let username: String?
    public let timeout: Int?
    public let exports: EnvironmentExports

    public init(_ definition: IdentityDefinition) throws {
        command = try definition.require("command").0
        username = definition.value("username")
        timeout = try definition.entry("timeout").map { try ConfigSyntax.parseDuration($0.value, at: $0.location) }
        exports = try EnvironmentExports(definition)
    }

    public func cacheParameters(in context: ResolveContext) -> [String] { ["command=\(command)", "username=\(username ?? "")"] }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        var input = WireMessage()
        if let upstream {
            for (key, value) in upstream.attributes.sorted(by: { $0.key < $1.key }) { input.append(key, value) }
            for (key, value) in upstream.secrets.sorted(by: { $0.key < $1.key }) { input.append(key, value.reveal()) }
            input.append("password_expiry_utc", ifPresent: upstream.expiresAt.map(String.init))
        }
        let result = try context.commandRunner.run(command, input: try input.encoded(), timeout: timeout ?? 30,
                                                   environment: context.environment)
        let name = "exec command `\(command.split(separator: " ").first ?? "")`"
        guard result.status == 0, !result.timedOut else {
            let firstLine = result.stderr.split(separator: "\n").first.map { WireCodec.printable(String($0)) } ?? ""
            throw BrokerFailure(.upstream, "\(name) \(result.statusDescription)" + (firstLine.isEmpty ? "" : ": \(firstLine)"))
        }
        let output: WireMessage
        do {
            output = try WireCodec.decode(Array(result.stdout.utf8))
        } catch let error as WireError {
            throw BrokerFailure(.upstream, "\(name) printed malformed output: \(error.message)")
        }
        guard let password = output["password"], !password.isEmpty else {
            throw BrokerFailure(.upstream, "\(name) printed no password= line")
        }
        var expiresAt: Int64?
        if let text = output["password_expiry_utc"] {
            guard let value = Int64(text) else {
                throw BrokerFailure(.upstream, "\(name) printed a password_expiry_utc that is not unix seconds")
            }
            expiresAt = value
        }
        guard let user = output["username"] ?? username else {
            throw BrokerFailure(.upstream, "\(name) printed no username= line and the identity sets no username")
        }
        return Credential(attributes: ["username": user], secrets: ["password": Secret(password)], expiresAt: expiresAt)
    }
}
