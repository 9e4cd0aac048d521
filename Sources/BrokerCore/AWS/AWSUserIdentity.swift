// kind = aws/user: long-lived IAM user keys, optionally traded for a session (with MFA).

import BrokerWire
import Foundation

/// The keys come from secret references or a profile of the shared credentials file and stay
/// in memory (D9). With `mfa-serial` or `get-session-token`, they are traded for a
/// GetSessionToken session; its code comes from `mfa-command` or, because an adapter must
/// never prompt, from a person running `brokerctl login NAME`.
public struct AWSUserIdentity: AWSIdentityKind {
    public static let descriptor = KindDescriptor(
        name: "aws/user",
        summary: "long-lived IAM user keys, optionally traded for an MFA session",
        family: .aws,
        settings: [
            SettingSpec("access-key-id", "ID", .textOrReference, "the access key id (plain, or env:/file:/cmd:/keyring:)",
                        details: "The access key id, as text or as a reference."),
            SettingSpec("secret-access-key", "REFERENCE", .secretReference, "reference to the secret key: env:NAME, file:PATH, cmd:COMMAND or keyring:NAME",
                        details: "Where the secret key is read from: `env:NAME`, `file:PATH`, `cmd:COMMAND` or `keyring:NAME`. `brokerctl add NAME --kind aws/user` asks for the key pair and keeps both halves in the keyring (`keyring:NAME.access-key-id`, `keyring:NAME.secret-access-key`), as `aws-vault add` does; `brokerctl login NAME` asks for them again when the keyring lacks them, or with `--keys` to replace them."),
            SettingSpec("session-token", "REFERENCE", .secretReference, "reference to a session token, for keys that are already temporary",
                        details: "For keys that are already temporary."),
            SettingSpec("profile", "NAME", "read the keys from this profile of the shared credentials file instead",
                        details: "Read the keys from this profile of the shared credentials file instead (`credentials-file`, default `AWS_SHARED_CREDENTIALS_FILE`, then `~/.aws/credentials`; refused if group or others can read it)."),
            SettingSpec("credentials-file", "PATH", "the shared credentials file (default AWS_SHARED_CREDENTIALS_FILE, then ~/.aws/credentials)",
                        details: "The shared credentials file for `profile`."),
            SettingSpec("get-session-token", "BOOL", .boolean, "true: trade the keys for a GetSessionToken session",
                        details: "Trade the keys for a session."),
            SettingSpec("long-lived-keys", "BOOL", .boolean, "true: hand the long-lived keys themselves to hosts (less safe)",
                        details: "Without a session (`get-session-token` or `mfa-serial`), the agent uses the keys only as the upstream of other identities, such as a role it assumes, and refuses to hand them to credential_process, the endpoint or the environment. `true` hands out the long-lived keys themselves, which never expire and so outlive any process that leaks them: less safe; prefer `get-session-token = true`."),
            SettingSpec("session-duration", "DURATION", .duration, "GetSessionToken duration, 15m to 36h (default 12h)"),
            SettingSpec("mfa-serial", "ARN", "the MFA device ARN; implies get-session-token",
                        details: "The MFA device; implies get-session-token."),
            SettingSpec("mfa-command", "COMMAND", "a command printing the current MFA code (otherwise: brokerctl login NAME)",
                        details: "Prints the current MFA code."),
        ] + AWSSettings.specs,
        upstream: .none, produces: .aws,
        description: ["Long-lived IAM user keys, read when needed and held in memory only. With `get-session-token = true` or an `mfa-serial`, they are traded for a GetSessionToken session, which is cached until it nears expiry. The MFA code comes from `mfa-command`; without one, adapters never prompt: they fail with `run: brokerctl login NAME`, and brokerctl(1) prompts for the code and hands it to the agent."],
        keyringKeys: ["access-key-id", "secret-access-key"])

    enum KeySource: Sendable, Equatable {
        case references(id: String, idReference: SecretReference?, secret: SecretReference, token: SecretReference?)
        case profile(name: String, file: String?)
    }

    public let name: String
    let keys: KeySource
    public let sessionDuration: Int
    public let getSessionToken: Bool
    public let mfaSerial: String?
    public let mfaCommand: String?
    public let aws: AWSSettings
    /// Whether the long-lived keys themselves may be handed to hosts (aws-vault never does).
    public let longLivedKeys: Bool

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        if let profile = definition.value("profile") {
            for key in ["access-key-id", "secret-access-key", "session-token"] {
                if let entry = definition.entry(key) {
                    throw ConfigError("set profile or \(key), not both", at: entry.location)
                }
            }
            keys = .profile(name: profile, file: definition.value("credentials-file"))
        } else {
            let (id, idLocation) = try definition.require("access-key-id")
            let (secret, secretLocation) = try definition.require("secret-access-key")
            let token = try definition.entry("session-token").map { try SecretReference($0.value ?? "", at: $0.location) }
            keys = .references(id: id, idReference: try valueOrReference(id, at: idLocation),
                               secret: try SecretReference(secret, at: secretLocation), token: token)
        }
        mfaSerial = definition.value("mfa-serial")
        mfaCommand = definition.value("mfa-command")
        getSessionToken = try definition.entry("get-session-token").map { try ConfigSyntax.parseBool($0.value, at: $0.location) } ?? false
            || mfaSerial != nil
        sessionDuration = try AWSNames.duration(definition, key: "session-duration", default: 43200, range: 900...129600)
        aws = try AWSSettings(definition)
        longLivedKeys = try definition.entry("long-lived-keys").map { try ConfigSyntax.parseBool($0.value, at: $0.location) } ?? false
    }

    public func deliverable(_ credential: Credential) throws {
        guard case .aws(_, _, session: .user) = credential.value, !longLivedKeys else { return }
        throw BrokerFailure(.config, "identity \"\(name)\" would hand out long-lived IAM user keys",
                            hint: "set get-session-token = true under [identity \"\(name)\"] to hand out a session instead, or long-lived-keys = true to accept the risk")
    }

    /// The console takes no user keys and no GetSessionToken session: the long-lived keys are
    /// traded for a federated user's session (GetFederationToken, as aws-vault does), whose
    /// permissions are the user's (an allow-all session policy, intersected with them by AWS).
    public func consoleSession(from credential: Credential, duration: Int, context: ResolveContext) throws -> Credential {
        guard let session = credential.awsSession, session == .user || session == .session else { return credential }
        // A GetSessionToken session cannot ask for a federation token; its keys can.
        let keys = session == .user ? try credential.awsCredentials(for: name) : try readKeys(context)
        guard keys.sessionToken == nil else {
            throw BrokerFailure(.config, "identity \"\(name)\" has keys that are already temporary, which cannot ask for a console session",
                                hint: "open the console with an identity of kind aws/assume-role that chains from this one")
        }
        let client = STSClient(endpoint: try aws.endpoint(in: context))
        // GetFederationToken's Name: 2 to 32 of [\w+=,.@-].
        let federated = try client.getFederationToken(keys, name: String(AWSNames.defaultSessionName(context).prefix(32)), durationSeconds: min(max(duration, 900), 43200),
                                                      policy: Self.allowAllPolicy)
        return Credential(federated, session: .federated, persistable: false)
    }

    /// The session policy that leaves the user's own permissions in force.
    static let allowAllPolicy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#

    public var loginFlow: LoginFlow? { mfaSerial.map { .oneTimeCode(prompt: "MFA code for \($0)") } }

    /// What a refusal carries so broker-env-wrap can run this kind's login flow on a terminal.
    var loginNeeded: LoginNeeded? {
        guard case .oneTimeCode(let prompt)? = loginFlow else { return nil }
        return LoginNeeded(identity: name, prompt: prompt)
    }

    public var secretReferences: [SecretReference] {
        switch keys {
        case .references(_, let idReference, let secret, let token): return [idReference, secret, token].compactMap { $0 }
        case .profile: return []
        }
    }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        var parameters: [CacheParameter]
        switch keys {
        case .references(let id, _, let secret, let token):
            parameters = [CacheParameter("access-key-id", id), CacheParameter("secret-access-key", secret), CacheParameter("session-token", token)]
        case .profile(let profile, let file):
            parameters = [CacheParameter("profile", profile), CacheParameter("credentials-file", file)]
        }
        return parameters + [CacheParameter("session", getSessionToken), CacheParameter("duration", sessionDuration),
                             CacheParameter("mfa", mfaSerial)] + aws.cacheParameters(in: context)
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        let longLived = try readKeys(context)
        guard getSessionToken else { return Credential(aws: longLived, expiresAt: nil, session: longLived.sessionToken == nil ? .user : .session) }
        var code: Secret?
        if let mfaSerial {
            code = try mfaCode(for: mfaSerial, context)
        }
        let client = STSClient(endpoint: try aws.endpoint(in: context))
        let session = try client.getSessionToken(longLived, durationSeconds: sessionDuration, serialNumber: mfaSerial, tokenCode: code)
        return Credential(session, session: .session)
    }

    func mfaCode(for serial: String, _ context: ResolveContext) throws -> Secret {
        if let given = context.oneTimeCodes.take(for: name, at: context.clock.now()) { return given }
        guard let mfaCommand else {
            throw BrokerFailure(.denied, "identity \"\(name)\" needs an MFA code for \(serial)", hint: "run: brokerctl login \(name)",
                                login: loginNeeded)
        }
        let result = try context.commandRunner.run(mfaCommand, timeout: 120, environment: context.environment)
        let code = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard result.status == 0, !result.timedOut, !code.isEmpty else {
            let first = result.stderrExcerpt.map { ": " + $0 } ?? ""
            throw BrokerFailure(.upstream, "mfa-command of identity \"\(name)\" \(result.statusDescription)\(first)")
        }
        return Secret(code)
    }

    func readKeys(_ context: ResolveContext) throws -> AWSCredentials {
        let read: AWSCredentials
        switch keys {
        case .references(let id, let idReference, let secret, let token):
            let keyID = try idReference.map { try $0.resolve(context, timeout: 30).reveal() } ?? id
            read = AWSCredentials(accessKeyID: keyID, secretAccessKey: try secret.resolve(context, timeout: 30),
                                  sessionToken: try token.map { try $0.resolve(context, timeout: 30) })
        case .profile(let profile, let file):
            let path = file ?? context.environment["AWS_SHARED_CREDENTIALS_FILE"] ?? ((context.environment["HOME"] ?? "~") + "/.aws/credentials")
            read = try SharedCredentialsFile.read(path: path, profile: profile)
        }
        try checkShape(read)
        return read
    }

    /// Keys read from a variable or a file go into HTTP headers and the answers hosts parse: a
    /// CR, LF or space in them is a mistake (a pasted line, a Windows file) caught here, by name
    /// and never by value.
    func checkShape(_ keys: AWSCredentials) throws {
        let id = keys.accessKeyID.utf8
        guard (1...128).contains(id.count), id.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) }) else {
            throw BrokerFailure(.config, "identity \"\(name)\": its access key id is not an AWS access key id (at most 128 letters and digits)",
                                hint: "check the variable, file or command access-key-id reads (a stray newline or carriage return?)")
        }
        for (what, secret) in [("secret access key", Optional(keys.secretAccessKey)), ("session token", keys.sessionToken)] {
            guard let value = secret?.reveal() else { continue }
            guard !value.isEmpty, value.utf8.allSatisfy({ (0x21...0x7e).contains($0) }) else {
                throw BrokerFailure(.config, "identity \"\(name)\": its \(what) holds spaces, control characters or non-ASCII bytes",
                                    hint: "check the variable, file or command it is read from (a stray newline or carriage return?)")
            }
        }
    }
}

/// `~/.aws/credentials`: INI sections of aws_access_key_id / aws_secret_access_key / aws_session_token.
enum SharedCredentialsFile {
    static func read(path: String, profile: String) throws -> AWSCredentials {
        guard let st = try? FileStatus(path: path), let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw BrokerFailure(.config, "cannot read the shared credentials file \(path)")
        }
        if st.mode & 0o077 != 0 {
            throw BrokerFailure(.permission, "shared credentials file \(path) is readable by group or others", hint: "chmod 600 \(path)")
        }
        var section: String?
        var values: [String: String] = [:]
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                continue
            }
            guard section == profile, let eq = line.firstIndex(of: "=") else { continue }
            values[line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()] = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
        }
        guard let id = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] else {
            throw BrokerFailure(.config, "profile \"\(profile)\" in \(path) has no aws_access_key_id/aws_secret_access_key")
        }
        return AWSCredentials(accessKeyID: id, secretAccessKey: Secret(secret), sessionToken: values["aws_session_token"].map(Secret.init))
    }
}
