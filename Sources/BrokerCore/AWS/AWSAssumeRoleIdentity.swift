// kind = aws/assume-role: sts:AssumeRole from the credentials of the identity named by `via`.

import BrokerWire
import Foundation

public struct AWSAssumeRoleIdentity: AWSIdentityKind {
    public static let descriptor = KindDescriptor(
        name: "aws/assume-role",
        summary: "an IAM role assumed with the credentials of its via identity",
        family: .aws,
        settings: AWSSettings.roleSpecs + [
            SettingSpec("external-id", "ID", "the ExternalId the role's trust policy asks for"),
            SettingSpec("duration", "DURATION", .duration, "session length, 15m to 12h (default 1h; a role assumed from another role is capped at 1h)",
                        details: "Session length, 15m to 12h; default 1h."),
            SettingSpec("source-identity", "NAME", "SourceIdentity to stamp on the session"),
            SettingSpec("tag", "KEY=VALUE", repeatable: true, "a session tag KEY=VALUE; repeat for more",
                        details: "A session tag; repeat the key for more."),
            SettingSpec("transitive-tag-key", "KEY", repeatable: true, "a tag key that stays on the sessions of roles chained from this one; repeat for more",
                        details: "The key of one of the `tag` settings that is to stay on the sessions of roles assumed from this one (TransitiveTagKeys); repeat for more."),
            SettingSpec("policy-arn", "ARN", repeatable: true, "a managed session policy, arn:PARTITION:iam::ACCOUNT|aws:policy/NAME; repeat for more",
                        details: "A managed policy that narrows the session (PolicyArns): `arn:PARTITION:iam::ACCOUNT:policy/NAME` or an AWS managed policy, `arn:aws:iam::aws:policy/NAME`; repeat for more, up to 10."),
        ] + AWSSettings.specs,
        upstream: .required, produces: .aws,
        description: ["sts:AssumeRole with the credentials of the identity named by `via` (required): any AWS kind, including another role, to any depth. A role assumed from a role session is capped at one hour, as AWS requires."])

    public let name: String
    public let roleARN: String
    public let externalID: String?
    public let sessionName: String?
    public let duration: Int
    public let sourceIdentity: String?
    public let tags: [(String, String)]
    public let transitiveTagKeys: [String]
    public let policyARNs: [String]
    public let aws: AWSSettings

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        let (arn, location) = try definition.require("role-arn")
        try AWSNames.checkRoleARN(arn, at: location)
        roleARN = arn
        externalID = definition.value("external-id")
        if let entry = definition.entry("session-name"), let value = entry.value {
            guard (2...64).contains(value.count), value.allSatisfy(AWSNames.isNameCharacter) else {
                throw ConfigError("session-name must be 2 to 64 of letters, digits and +=,.@_-", at: entry.location)
            }
        }
        sessionName = definition.value("session-name")
        duration = try AWSNames.duration(definition, key: "duration", default: 3600, range: 900...43200)
        sourceIdentity = definition.value("source-identity")
        tags = try (definition.settings["tag"] ?? []).map { entry in
            guard let value = entry.value, let eq = value.firstIndex(of: "="), eq != value.startIndex else {
                throw ConfigError("tag must be KEY=VALUE", at: entry.location)
            }
            return (String(value[..<eq]), String(value[value.index(after: eq)...]))
        }
        transitiveTagKeys = try (definition.settings["transitive-tag-key"] ?? []).map { [tags] entry in
            guard let key = entry.value, tags.contains(where: { $0.0 == key }) else {
                throw ConfigError("transitive-tag-key \"\(WireCodec.printable(entry.value ?? ""))\" names no tag of this identity", at: entry.location,
                                  hint: "add `tag = KEY=VALUE` for it; STS refuses transitive keys that are not session tags")
            }
            return key
        }
        let policies = definition.settings["policy-arn"] ?? []
        if policies.count > 10 { throw ConfigError("at most 10 policy-arn settings (STS takes 10 managed session policies)", at: policies[10].location) }
        policyARNs = try policies.map { entry in
            let arn = entry.value ?? ""
            let parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
            guard parts.count == 6, parts[0] == "arn", ["aws", "aws-cn", "aws-us-gov"].contains(String(parts[1])), parts[2] == "iam",
                  parts[3].isEmpty, parts[4] == "aws" || (parts[4].count == 12 && parts[4].allSatisfy { $0.isASCII && $0.isNumber }),
                  parts[5].hasPrefix("policy/"), parts[5].count > 7 else {
                throw ConfigError("policy-arn \"\(WireCodec.printable(arn))\" is not an IAM policy ARN", at: entry.location,
                                  hint: "write it as arn:aws:iam::123456789012:policy/NAME or arn:aws:iam::aws:policy/NAME")
            }
            return arn
        }
        aws = try AWSSettings(definition)
    }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        [CacheParameter("role", roleARN), CacheParameter("external-id", externalID),
         CacheParameter("session", sessionName ?? AWSNames.defaultSessionName(context)),
         CacheParameter("duration", duration), CacheParameter("source-identity", sourceIdentity)]
            + tags.map { CacheParameter("tag", "\($0.0)=\($0.1)") } + transitiveTagKeys.map { CacheParameter("transitive-tag-key", $0) }
            + policyARNs.map { CacheParameter("policy-arn", $0) } + aws.cacheParameters(in: context)
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        guard let upstream else { throw BrokerFailure(.config, "identity \"\(name)\" needs a via identity") }
        let source = try upstream.awsCredentials(for: name)
        // AWS caps role chaining (a role session assuming a role) at one hour.
        let chained = upstream.awsSession == .role
        let seconds = chained ? min(duration, 3600) : duration
        let client = STSClient(endpoint: try aws.endpoint(in: context))
        let result = try client.assumeRole(source, roleARN: roleARN, sessionName: sessionName ?? AWSNames.defaultSessionName(context),
                                           durationSeconds: seconds, externalID: externalID, sourceIdentity: sourceIdentity, tags: tags,
                                           transitiveTagKeys: transitiveTagKeys, policyARNs: policyARNs)
        return Credential(result, session: .role, persistable: upstream.persistable)
    }
}
