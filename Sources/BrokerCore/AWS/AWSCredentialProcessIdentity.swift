// kind = aws/credentials: an external credential_process as the source of AWS keys.

import BrokerWire
import Foundation

/// Runs a program that speaks the credential_process contract (Version 1 JSON on stdout) and
/// uses its keys as they are. Every way such a program can go wrong gets its own sentence: a
/// crash, a non-zero exit, a timeout, output that is not JSON, a Version other than 1, missing
/// keys, and a "lying" Expiration that is unparseable or already past.
public struct AWSCredentialProcessIdentity: AWSIdentityKind {
    public static let descriptor = KindDescriptor(
        name: "aws/credentials",
        summary: "AWS keys from an external credential_process (Version 1 JSON)",
        family: .aws,
        settings: [
            SettingSpec("command", "COMMAND", required: true, "the credential_process command line, run with /bin/sh -c",
                        details: "the credential_process command line, run with `/bin/sh -c`."),
            SettingSpec("timeout", "DURATION", .duration, "how long it may run (default [agent] command-timeout)",
                        details: "How long it may run; default `[agent] command-timeout`."),
        ] + AWSSettings.specs,
        upstream: .none, produces: .aws,
        description: ["An external `credential_process` as the source: the command is run, its Version 1 JSON validated, and its keys used as they are, until its `Expiration` (none means long-lived, kept in memory only). A crash, a non-zero exit, a timeout, output that is not JSON, a `Version` other than 1, missing keys and an unparseable or past `Expiration` each give their own error; its standard output is never quoted."])

    public let name: String
    public let command: String
    public let timeout: Int?
    public let aws: AWSSettings

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        command = try definition.require("command").0
        timeout = try definition.entry("timeout").map { try ConfigSyntax.parseDuration($0.value, at: $0.location) }
        aws = try AWSSettings(definition)
    }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        [CacheParameter("command", command)] + aws.cacheParameters(in: context)
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        let program = "credential_process `\(command.split(separator: " ").first ?? "")`"
        let limit = timeout ?? 30
        let result = try context.commandRunner.run(command, timeout: limit, environment: context.environment)
        let firstErrorLine = result.stderrExcerpt.map { ": " + $0 } ?? ""
        if result.timedOut {
            throw BrokerFailure(.upstream, "\(program) timed out after \(limit) s", hint: "raise `timeout` for identity \"\(name)\"")
        }
        if let signal = result.crashSignal {
            throw BrokerFailure(.upstream, "\(program) crashed (killed by signal \(signal))\(firstErrorLine)")
        }
        guard result.status == 0 else {
            throw BrokerFailure(.upstream, "\(program) exited with status \(result.status)\(firstErrorLine)")
        }
        return try Self.credential(fromOutput: result.stdout, program: program, now: context.clock.now())
    }

    /// Reads a credential_process's stdout (the Version 1 JSON document) into a credential, or
    /// says what is wrong with it; `program` names the process in messages. Pure, so it can be fuzzed.
    public static func credential(fromOutput stdout: String, program: String, now: Int64) throws -> Credential {
        // Never quote stdout: it holds (or half-holds) the secret key.
        guard let object = try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any] else {
            throw BrokerFailure(.upstream, "\(program) printed output that is not a JSON object (\(stdout.utf8.count) bytes)")
        }
        guard let version = object["Version"] as? Int, version == 1 else {
            let shown = object["Version"].map { "\($0)" }.map { WireCodec.printable($0) } ?? "none"
            throw BrokerFailure(.upstream, "\(program) printed Version \(shown); only Version 1 is understood")
        }
        guard let keyID = object["AccessKeyId"] as? String, !keyID.isEmpty,
              let secret = object["SecretAccessKey"] as? String, !secret.isEmpty else {
            throw BrokerFailure(.upstream, "\(program) printed no AccessKeyId or SecretAccessKey")
        }
        var expiresAt: Int64?
        if let text = object["Expiration"] {
            guard let string = text as? String, let seconds = parseRFC3339(string) else {
                throw BrokerFailure(.upstream, "\(program) printed an Expiration that is not an RFC 3339 time")
            }
            if seconds <= now {
                throw BrokerFailure(.upstream, "\(program) printed credentials that expired at \(rfc3339UTC(seconds))")
            }
            expiresAt = seconds
        }
        let token = (object["SessionToken"] as? String).flatMap { $0.isEmpty ? nil : Secret($0) }
        let keys = AWSCredentials(accessKeyID: keyID, secretAccessKey: Secret(secret), sessionToken: token)
        return Credential(aws: keys, expiresAt: expiresAt, session: token == nil ? .user : .session)
    }
}
