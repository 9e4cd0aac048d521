// kind = exec: a command that mints a short-lived token, optionally from an upstream credential.

import BrokerWire

/// The command speaks git's credential grammar: it reads the upstream credential (if `via` is
/// set) as key=value lines on stdin, and prints `username=`, `password=` and optionally
/// `password_expiry_utc=` (unix seconds). Tokens with an expiry are cached on disk until then.
public struct ExecIdentity: ResolvedKind {
    public static let descriptor = KindDescriptor(
        name: "exec",
        summary: "a command that prints username=/password=/password_expiry_utc= lines",
        settings: [
            SettingSpec("command", "COMMAND", required: true, "run with /bin/sh -c; receives the upstream credential on stdin",
                        details: "run with `/bin/sh -c` in the agent's environment."),
            SettingSpec("username", "NAME", "user name when the command prints none",
                        details: "The user name to present when the command prints none."),
            SettingSpec("timeout", "DURATION", .duration, "how long the command may run (default [agent] command-timeout)",
                        details: "How long the command may run; default `[agent] command-timeout`. When it fails or times out, the error gives its exit status and the first line of its standard error."),
            EnvironmentExports.spec,
        ],
        upstream: .optional, produces: .password,
        description: ["A command that mints a credential, optionally from an upstream one. It speaks git's credential grammar: with `via`, the command reads the upstream credential on standard input as `key=value` lines (`username=`, `password=` and, when it expires, `password_expiry_utc=`); without `via`, its standard input is empty. It prints `username=`, `password=` and optionally `password_expiry_utc=` (Unix seconds) lines on standard output and exits 0. A credential with an expiry is cached, in memory and on disk, until it nears that expiry; one without is kept in memory until the agent exits or `brokerctl logout`."],
        notes: [.code("""
            #!/bin/sh
            # an exec command: read the upstream credential, print a new one
            while IFS='=' read -r key value; do
                [ "$key" = password ] && upstream=$value
            done
            token=$(mint-token --with "$upstream")
            echo username=x-access-token
            echo "password=$token"
            echo "password_expiry_utc=$(( $(date +%s) + 3600 ))"
            """)])

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

    public var delivery: DeliverySettings { DeliverySettings(exports: exports.names) }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        [CacheParameter("command", command), CacheParameter("username", username)]
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        var input = WireMessage()
        if let upstream {
            for field in upstream.fields { input.append(field.key, field.value) }
            input.append("password_expiry_utc", ifPresent: upstream.expiresAt.map(String.init))
        }
        let result = try context.commandRunner.run(command, input: try input.encoded(), timeout: timeout ?? 30,
                                                   environment: context.environment)
        let name = "exec command `\(command.split(separator: " ").first ?? "")`"
        guard result.status == 0, !result.timedOut else {
            throw BrokerFailure(.upstream, "\(name) \(result.statusDescription)" + (result.stderrExcerpt.map { ": \($0)" } ?? ""),
                                hint: result.timedOut ? "let it run longer with `timeout = DURATION` in the identity's section (it has \(result.timeoutSeconds) s)" : nil)
        }
        let expected = "it must print key=value lines: username=NAME (or set username in the identity), password=TOKEN and optionally password_expiry_utc=UNIX-SECONDS"
        let output: WireMessage
        do {
            output = try WireCodec.decode(Array(result.stdout.utf8))
        } catch let error as WireError {
            throw BrokerFailure(.upstream, "\(name) printed malformed output: \(error.message)", hint: expected)
        }
        guard let password = output["password"], !password.isEmpty else {
            // Not what it printed instead: a base64 token's trailing '=' would make it a "key".
            throw BrokerFailure(.upstream, "\(name) printed no password= line", hint: expected)
        }
        var expiresAt: Int64?
        if let text = output["password_expiry_utc"] {
            guard let value = Int64(text) else {
                throw BrokerFailure(.upstream, "\(name) printed a password_expiry_utc that is not unix seconds", hint: expected)
            }
            expiresAt = value
        }
        guard let user = output["username"] ?? username else {
            throw BrokerFailure(.upstream, "\(name) printed no username= line and the identity sets no username", hint: expected)
        }
        return Credential(username: user, password: Secret(password), expiresAt: expiresAt)
    }
}
