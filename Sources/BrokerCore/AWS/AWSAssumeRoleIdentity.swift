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
        aws = try AWSSettings(definition)
    }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        [CacheParameter("role", roleARN), CacheParameter("external-id", externalID),
         CacheParameter("session", sessionName ?? AWSNames.defaultSessionName(context)),
         CacheParameter("duration", duration), CacheParameter("source-identity", sourceIdentity)]
            + tags.map { CacheParameter("tag", "\($0.0)=\($0.1)") } + aws.cacheParameters(in: context)
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        guard let upstream else { throw BrokerFailure(.config, "identity \"\(name)\" needs a via identity") }
        let source = try upstream.awsCredentials(for: name)
        // AWS caps role chaining (a role session assuming a role) at one hour.
        let chained = upstream.awsSession == .role
        let seconds = chained ? min(duration, 3600) : duration
        let client = STSClient(endpoint: try aws.endpoint(in: context))
        let result = try client.assumeRole(source, roleARN: roleARN, sessionName: sessionName ?? AWSNames.defaultSessionName(context),
                                           durationSeconds: seconds, externalID: externalID, sourceIdentity: sourceIdentity, tags: tags)
        return Credential(result, session: .role, persistable: upstream.persistable)
    }
}
