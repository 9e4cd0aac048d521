// What the AWS identity kinds share: region/endpoint settings, ARN checks, credential mapping.

import BrokerWire
import Foundation

/// An AWS kind can name the STS endpoint its credentials belong to (for whoami and cache keys).
public protocol AWSIdentityKind: ResolvedKind {
    var aws: AWSSettings { get }
}

extension AWSIdentityKind {
    public var delivery: DeliverySettings { DeliverySettings(region: aws.region, envDelivery: aws.delivery) }

    /// STS, where every AWS kind's credentials are signed for (and whoami asks).
    public func upstreams(in context: ResolveContext) -> [UpstreamService] {
        (try? aws.endpoint(in: context)).map { [UpstreamService(name: "AWS STS", url: $0.url)] } ?? []
    }

    /// Asks STS who the keys belong to.
    public func whoami(_ credential: Credential, context: ResolveContext) throws -> [(String, String)] {
        guard let keys = credential.aws else { return [] }
        let identity = try STSClient(endpoint: aws.endpoint(in: context)).getCallerIdentity(keys)
        return [("arn", identity.arn), ("account", identity.account), ("user_id", identity.userID),
                ("access_key_id", Secret.masked(keys.accessKeyID))]
    }
}

extension KindFamily {
    public static let aws = KindFamily(title: "AWS IDENTITY KINDS", introduction: [
        "Every AWS kind also takes `region` (the STS signing region; default `AWS_REGION`, `AWS_DEFAULT_REGION`, then us-east-1) and `sts-endpoint` (default `AWS_ENDPOINT_URL_STS`, then `AWS_ENDPOINT_URL`, then the region's endpoint in its partition: aws, aws-cn or aws-us-gov). Those variables are read from the agent's environment. The resolved endpoint is part of every cache key, so credentials from one endpoint are never served for another. `delivery` (`endpoint`, `env` or `profile`) chooses how broker-env-wrap(1) hands the identity's credentials to a command when its `--delivery` flag is not given; the default is `endpoint`.",
    ], commonSettings: AWSSettings.specs.map(\.name))
}

/// `region` and `sts-endpoint`, common to every AWS kind.
public struct AWSSettings: Sendable, Equatable {
    public var region: String?
    public var stsEndpoint: String?
    /// How broker-env-wrap hands these credentials to a command when no --delivery is given.
    public var delivery: EnvDelivery?

    /// Settings every role-assuming kind takes.
    public static let roleSpecs = [
        SettingSpec("role-arn", "ARN", required: true, "arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME",
                    details: "`arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`, checked when the file is loaded."),
        SettingSpec("session-name", "NAME", "RoleSessionName (default broker-$USER, sanitised)",
                    details: "RoleSessionName; default `broker-$USER`, sanitised."),
    ]

    public static let specs = [
        SettingSpec("region", "REGION", "signing region for STS (default AWS_REGION, AWS_DEFAULT_REGION, then us-east-1)"),
        SettingSpec("sts-endpoint", "URL", "STS endpoint URL (default AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, then the region's)"),
        SettingSpec("delivery", "HOW", .choice(EnvDelivery.allCases.filter { $0 != .file }.map(\.rawValue)),
                    "how broker-env-wrap delivers these credentials: endpoint (default), env or profile"),
    ]

    public init(_ definition: IdentityDefinition) throws {
        region = definition.value("region")
        stsEndpoint = definition.value("sts-endpoint")
        if let entry = definition.entry("delivery") {
            guard let value = entry.value.flatMap(EnvDelivery.init(rawValue:)), value != .file else {
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
    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        let resolved = (try? endpoint(in: context)).map { "\($0.url)|\($0.region)" } ?? "unresolved"
        return [CacheParameter("sts", resolved)]
    }
}

extension Credential {
    public init(aws: AWSCredentials, expiresAt: Int64?, session: AWSSessionKind, arn: String? = nil, persistable: Bool = true) {
        self.init(.aws(aws, arn: arn, session: session), expiresAt: expiresAt, persistable: persistable)
    }

    /// The upstream credential as AWS keys, or a sentence saying the chain is wrong.
    public func awsCredentials(for identity: String) throws -> AWSCredentials {
        guard let keys = aws else {
            throw BrokerFailure(.config, "identity \"\(identity)\" needs AWS credentials from its via identity, which gives none",
                                hint: "point via at an identity of kind \(IdentityKinds.sentence(IdentityKinds.names(producing: .aws)))")
        }
        return keys
    }

    /// What kind of AWS session these keys are; nil for other types.
    public var awsSession: AWSSessionKind? {
        if case .aws(_, _, let session) = value { return session }
        return nil
    }

    init(_ sts: STSCredentials, session: AWSSessionKind, persistable: Bool = true) {
        self.init(aws: sts.credentials, expiresAt: sts.expiration, session: session, arn: sts.assumedRoleARN, persistable: persistable)
    }
}

enum AWSNames {
    /// arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME, as IAM accepts it.
    static func checkRoleARN(_ arn: String, at location: SourceLocation) throws {
        if isPlainRoleARN(arn) { return }
        try checkRoleARNInDetail(arn, at: location)
    }

    /// Any ARN, Character by Character, with the error that says what is wrong with it.
    static func checkRoleARNInDetail(_ arn: String, at location: SourceLocation) throws {
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

    /// The same rules read byte by byte for an ARN of printable ASCII, as nearly every one is;
    /// false sends it to `checkRoleARN`'s own reading, which says what is wrong. (Character
    /// properties cost 45,000 instructions an ARN: a sixth of validating 10,000 identities.)
    static func isPlainRoleARN(_ arn: String) -> Bool {
        let bytes = Array(arn.utf8)
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return false }
        var parts: [ArraySlice<UInt8>] = []
        var start = 0
        for i in bytes.indices where bytes[i] == UInt8(ascii: ":") && parts.count < 5 {
            parts.append(bytes[start..<i])
            start = i + 1
        }
        parts.append(bytes[start...])
        guard parts.count == 6, parts[0].elementsEqual("arn".utf8), parts[2].elementsEqual("iam".utf8), parts[3].isEmpty,
              parts[1].elementsEqual("aws".utf8) || parts[1].elementsEqual("aws-cn".utf8) || parts[1].elementsEqual("aws-us-gov".utf8),
              parts[4].count == 12, parts[4].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              parts[5].starts(with: "role/".utf8) else { return false }
        let path = parts[5].dropFirst(5).split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard let name = path.last, !name.isEmpty, name.count <= 64 else { return false }
        return path.allSatisfy { !$0.isEmpty && $0.allSatisfy(isNameByte) }
    }

    /// `isNameCharacter` for one byte of ASCII.
    static func isNameByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || "+=,.@_-".utf8.contains(b)
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
