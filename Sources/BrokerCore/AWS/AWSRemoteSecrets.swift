// `aws-secretsmanager:` and `aws-ssm:` references: a team's shared secrets, read through a short-lived role.

import BrokerWire
import Foundation

/// A secret kept in AWS Secrets Manager or Systems Manager Parameter Store, read by the agent
/// through a named AWS identity. The reference names where it is, never what it is:
///
///     aws-secretsmanager:ARN-or-name[#json-key][?version-stage=STAGE&region=R&identity=NAME]
///     aws-ssm:/path/name[#json-key][?region=R&identity=NAME]
public struct RemoteSecret: Sendable, Equatable, CustomStringConvertible {
    public enum Store: String, Sendable, CaseIterable {
        case secretsManager = "aws-secretsmanager"
        case parameterStore = "aws-ssm"
    }

    public var store: Store
    /// A secret's name or ARN; a parameter's name (`/team/github/pat`).
    public var id: String
    /// For a secret whose value is a JSON object: the member to use.
    public var jsonKey: String?
    public var versionStage: String?
    public var region: String?
    /// The AWS identity to read it with; nil means `[secrets] aws-identity`.
    public var identity: String?

    /// `text` is what follows the store's prefix and colon.
    public init(_ store: Store, parsing text: String, at location: SourceLocation) throws {
        self.store = store
        var rest = Substring(text)
        if let question = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false) {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[1].isEmpty else {
                    throw ConfigError("\(store.rawValue): \"\(pair)\" is not a KEY=VALUE option", at: location,
                                      hint: "options go after ? as key=value joined by &, e.g. ?region=eu-west-1&identity=NAME")
                }
                let value = String(parts[1])
                switch (String(parts[0]), store) {
                case ("version-stage", .secretsManager): versionStage = value
                case ("region", _): region = value
                case ("identity", _): identity = value
                default:
                    let known = store == .secretsManager ? "version-stage, region, identity" : "region, identity"
                    throw ConfigError("\(store.rawValue): unknown option \"\(parts[0])\"", at: location, hint: "known options: \(known)")
                }
            }
            rest = rest[..<question]
        }
        if let hash = rest.firstIndex(of: "#") {
            let key = String(rest[rest.index(after: hash)...])
            guard !key.isEmpty else { throw ConfigError("\(store.rawValue): nothing follows #", at: location, hint: "write #KEY to pick a member of a JSON secret, or drop the #") }
            jsonKey = key
            rest = rest[..<hash]
        }
        guard !rest.isEmpty, rest.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw ConfigError("\(store.rawValue): a secret name or ARN must follow the colon, without spaces", at: location,
                              hint: store == .secretsManager ? "e.g. aws-secretsmanager:team/github-pat" : "e.g. aws-ssm:/team/github/pat")
        }
        id = String(rest)
        if store == .parameterStore, !id.hasPrefix("/"), !id.hasPrefix("arn:") {
            // SSM names without a leading slash exist, but a path is what teams use; accept both.
        }
    }

    /// The whole reference (cache keys: a changed option must make a new key).
    public var description: String {
        var options: [String] = []
        if let versionStage { options.append("version-stage=\(versionStage)") }
        if let region { options.append("region=\(region)") }
        if let identity { options.append("identity=\(identity)") }
        return "\(store.rawValue):\(id)" + (jsonKey.map { "#\($0)" } ?? "") + (options.isEmpty ? "" : "?" + options.joined(separator: "&"))
    }

    /// The region an ARN names wins over the option and the default: it is where the secret is.
    var arnRegion: String? {
        let parts = id.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count >= 6 && parts[0] == "arn" && !parts[3].isEmpty ? String(parts[3]) : nil
    }
}

/// How the agent reads remote secrets: the part of the agent a secret reference may call.
public protocol RemoteSecretReader: Sendable {
    func read(_ secret: RemoteSecret, timeout: Int) throws -> Secret
    /// How long a read value is used before it is read again (`[secrets] ttl`).
    var timeToLive: Int { get }
}

/// `[secrets]`: which identity reads remote secrets, and for how long a value is kept.
public struct SecretsSettings: Sendable, Equatable {
    public var awsIdentity: String?
    /// Seconds a value read from Secrets Manager or SSM is used before it is read again, so a
    /// rotation reaches every credential built from it within this time.
    public var ttl: Int = 300
    public var region: String?
    public init() {}
}

/// Reads remote secrets with AWS credentials the agent resolves, keeping each value in memory
/// (never on disk: these are the long-lived secrets D9 is about) for `[secrets] ttl`. Concurrent
/// reads of one reference make one upstream call.
public final class AWSRemoteSecrets: RemoteSecretReader, @unchecked Sendable {
    private let credentials: @Sendable (String) throws -> AWSCredentials
    private let settings: @Sendable () -> SecretsSettings
    private let environment: Environment
    private let clock: Clock
    private let flights = SingleFlight<String, Secret>()
    private let lock = NSLock()
    private var values: [String: (value: Secret, version: String?, readAt: Int64)] = [:]

    /// `credentials` resolves an identity name to AWS keys (through the agent's resolver and cache).
    public init(environment: Environment, clock: Clock = .system, settings: @escaping @Sendable () -> SecretsSettings,
                credentials: @escaping @Sendable (String) throws -> AWSCredentials) {
        self.environment = environment
        self.clock = clock
        self.settings = settings
        self.credentials = credentials
    }

    public var timeToLive: Int { settings().ttl }

    public func read(_ secret: RemoteSecret, timeout: Int) throws -> Secret {
        let key = secret.description
        let now = clock.instant().elapsed
        let ttl = Int64(settings().ttl)
        lock.lock()
        if let kept = values[key], now - kept.readAt < ttl {
            lock.unlock()
            return kept.value
        }
        lock.unlock()
        return try flights.run(key) {
            let (value, version) = try fetch(secret, timeout: timeout)
            lock.lock(); values[key] = (value, version, clock.instant().elapsed); lock.unlock()
            return value
        }.value
    }

    /// The version id a reference was last read at (tests and `brokerctl status` may show it).
    public func version(of secret: RemoteSecret) -> String? {
        lock.lock(); defer { lock.unlock() }
        return values[secret.description]?.version
    }

    func fetch(_ secret: RemoteSecret, timeout: Int) throws -> (Secret, String?) {
        let current = settings()
        guard let identity = secret.identity ?? current.awsIdentity else {
            throw BrokerFailure(.config, "\(secret.store.rawValue): references need an AWS identity to read them with",
                                hint: "set [secrets] aws-identity = NAME, or add ?identity=NAME to the reference")
        }
        let keys = try credentials(identity)
        let region = secret.arnRegion ?? secret.region ?? current.region
        let text: String
        let version: String?
        switch secret.store {
        case .secretsManager:
            let client = AWSJSONClient(serviceTitle: "Secrets Manager", signingName: "secretsmanager", targetPrefix: "secretsmanager",
                                       endpoint: try .resolve(hostPrefix: "secretsmanager", environmentSuffix: "SECRETS_MANAGER",
                                                              region: region, environment: environment),
                                       timeout: Double(timeout))
            var request: [String: Any] = ["SecretId": secret.id]
            if let stage = secret.versionStage { request["VersionStage"] = stage }
            let answer = try client.call("GetSecretValue", request, credentials: keys)
            guard let string = answer["SecretString"] as? String else {
                throw BrokerFailure(.config, "secret \(secret.id) in Secrets Manager has no string value (a binary secret)",
                                    hint: "store the value as a SecretString")
            }
            text = string
            version = answer["VersionId"] as? String
        case .parameterStore:
            let client = AWSJSONClient(serviceTitle: "Systems Manager", signingName: "ssm", targetPrefix: "AmazonSSM",
                                       endpoint: try .resolve(hostPrefix: "ssm", environmentSuffix: "SSM", region: region, environment: environment),
                                       timeout: Double(timeout))
            let answer = try client.call("GetParameter", ["Name": secret.id, "WithDecryption": true], credentials: keys)
            guard let parameter = answer["Parameter"] as? [String: Any], let string = parameter["Value"] as? String else {
                throw BrokerFailure(.upstream, "Systems Manager GetParameter answered without Parameter.Value for \(secret.id)",
                                    hint: "check that AWS_ENDPOINT_URL_SSM (or AWS_ENDPOINT_URL) points at Systems Manager")
            }
            text = string
            version = (parameter["Version"] as? Int).map(String.init)
        }
        guard let member = secret.jsonKey else { return (Secret(text), version) }
        // Only the member's name goes into errors; the value (which may be all secrets) never does.
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw BrokerFailure(.config, "\(secret.store.rawValue):\(secret.id) is not a JSON object, so #\(member) names nothing",
                                hint: "drop #\(member) to use the whole value")
        }
        guard let value = object[member] as? String else {
            throw BrokerFailure(.config, "\(secret.store.rawValue):\(secret.id) has no string member \"\(member)\"",
                                hint: "its members are: \(object.keys.sorted().joined(separator: ", "))")
        }
        return (Secret(value), version)
    }
}
