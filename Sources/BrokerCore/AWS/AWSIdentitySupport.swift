// What the AWS identity kinds share: region/endpoint settings, ARN checks, credential mapping.

import BrokerWire
import Foundation

/// An AWS kind can name the STS endpoint its credentials belong to (for whoami and cache keys).
public protocol AWSIdentityKind: IdentityKind {
    var aws: AWSSettings { get }
}

/// `region` and `sts-endpoint`, common to every AWS kind.
public struct AWSSettings: Sendable, Equatable {
    public var region: String?
    public var stsEndpoint: String?
    /// How broker-env-wrap hands these credentials to a command when no --delivery is given.
    public var delivery: EnvDelivery?

    /// Settings every role-assuming kind takes.
    public static let roleSpecs = [
        SettingSpec("role-arn", required: true, "arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME"),
        SettingSpec("session-name", "RoleSessionName (default broker-$USER, sanitised)"),
    ]

    public static let specs = [
        SettingSpec("region", "signing region for STS (default AWS_REGION, AWS_DEFAULT_REGION, then us-east-1)"),
        SettingSpec("sts-endpoint", "STS endpoint URL (default AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, then the region's)"),
        SettingSpec("delivery", "how broker-env-wrap delivers these credentials: endpoint (default), env or profile"),
    ]

    public init(_ definition: IdentityDefinition) throws {
        region = definition.value("region")
        stsEndpoint = definition.value("sts-endpoint")
        if let entry = definition.entry("delivery") {
            guard let value = entry.value.flatMap(EnvDelivery.init(rawValue:)) else {
                throw ConfigError("delivery must be endpoint, env or profile", at: entry.location)
            }
            delivery = value
        }
    }

    public func endpoint(in context: ResolveContext) throws -> STSEndpoint {
        try STSEndpoint.resolve(region: region, override: stsEndpoint, environment: context.environment)
    }

    /// The resolved endpoint shapes every credential: a cache keyed without it would serve one
    /// endpoint's keys to another (the aws CLI's cache does exactly that).
    public func cacheParameters(in context: ResolveContext) -> [String] {
        let resolved = (try? endpoint(in: context)).map { "\($0.url)|\($0.region)" } ?? "unresolved"
        return ["sts=\(resolved)"]
    }
}

extension Credential {
    public init(aws: AWSCredentials, expiresAt: Int64?, kind: String, arn: String? = nil, persistable: Bool = true) {
        var secrets = [AWSField.secretAccessKey: aws.secretAccessKey]
        secrets[AWSField.sessionToken] = aws.sessionToken
        var attributes = [AWSField.accessKeyID: aws.accessKeyID, AWSField.sessionKind: kind]
        attributes[AWSField.arn] = arn
        self.init(attributes: attributes, secrets: secrets, expiresAt: expiresAt, persistable: persistable)
    }

    /// The upstream credential as AWS keys, or a sentence saying the chain is wrong.
    public func awsCredentials(for identity: String) throws -> AWSCredentials {
        guard let id = attributes[AWSField.accessKeyID], let secret = secrets[AWSField.secretAccessKey] else {
            throw BrokerFailure(.config, "identity \"\(identity)\" needs AWS credentials from its via identity, which gives none",
                                hint: "point via at an aws/user, aws/credentials, aws/assume-role or aws/web-identity identity")
        }
        return AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: secrets[AWSField.sessionToken])
    }

    init(_ sts: STSCredentials, kind: String, persistable: Bool = true) {
        self.init(aws: sts.credentials, expiresAt: sts.expiration, kind: kind, arn: sts.assumedRoleARN, persistable: persistable)
    }
}

enum AWSNames {
    /// arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME, as IAM accepts it.
    static func checkRoleARN(_ arn: String, at location: SourceLocation) throws {
        let parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        func fail(_ why: String) -> ConfigError {
            ConfigError("role-arn \"\(WireCodec.printable(arn))\" \(why)", at: location,
                        hint: "write it as arn:aws:iam::123456789012:role/NAME")
        }
        guard parts.count == 6, parts[0] == "arn", parts[2] == "iam", parts[3].isEmpty else { throw fail("is not an IAM role ARN") }
        guard ["aws", "aws-cn", "aws-us-gov"].contains(String(parts[1])) else { throw fail("names an unknown partition \"\(parts[1])\"") }
        guard parts[4].count == 12, parts[4].allSatisfy(\.isASCII), parts[4].allSatisfy(\.isNumber) else {
            throw fail("needs a 12-digit account id")
        }
        let resource = parts[5]
        guard resource.hasPrefix("role/") else { throw fail("is not a role (the resource must start with role/)") }
        let path = resource.dropFirst(5).split(separator: "/", omittingEmptySubsequences: false)
        guard let name = path.last, !name.isEmpty, name.count <= 64, name.allSatisfy(isNameCharacter),
              path.dropLast().allSatisfy({ !$0.isEmpty && $0.allSatisfy(isNameCharacter) }) else {
            throw fail("has an invalid role name or path")
        }
    }

    static func isNameCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || "+=,.@_-".contains(c))
    }

    /// A valid RoleSessionName (2–64 of [\w+=,.@-]) derived from free text, e.g. the user name.
    static func sessionName(from text: String) -> String {
        var name = String(text.map { isNameCharacter($0) ? $0 : "-" }.prefix(64))
        if name.count < 2 { name = "credential-broker" }
        return name
    }

    static func defaultSessionName(_ context: ResolveContext) -> String {
        sessionName(from: "broker-" + (context.environment["USER"] ?? context.environment["LOGNAME"] ?? "user"))
    }

    static func duration(_ definition: IdentityDefinition, key: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let entry = definition.entry(key) else { return value }
        let seconds = try ConfigSyntax.parseDuration(entry.value, at: entry.location)
        guard range.contains(seconds) else {
            throw ConfigError("\(key) must be between \(range.lowerBound / 60)m and \(range.upperBound / 3600)h", at: entry.location)
        }
        return seconds
    }
}

/// Reads `access-key-id`-style values that may be plain text or a secret reference.
func valueOrReference(_ text: String, at location: SourceLocation) throws -> SecretReference? {
    for prefix in ["env:", "file:", "cmd:", "keyring:"] where text.hasPrefix(prefix) {
        return try SecretReference(text, at: location)
    }
    return nil
}
