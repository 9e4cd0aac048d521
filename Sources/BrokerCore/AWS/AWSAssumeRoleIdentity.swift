// kind = aws/assume-role: sts:AssumeRole from the credentials of the identity named by `via`.

import BrokerWire
import Foundation

public struct AWSAssumeRoleIdentity: AWSIdentityKind {
    public static let kindName = "aws/assume-role"
    public static let summary = "an IAM role assumed with the credentials of its via identity"
    public static let settings = AWSSettings.roleSpecs + [
        SettingSpec("external-id", "the ExternalId the role's trust policy asks for"),
        SettingSpec("duration", "session length, 15m to 12h (default 1h; a role assumed from another role is capped at 1h)"),
        SettingSpec("source-identity", "SourceIdentity to stamp on the session"),
        SettingSpec("tag", "a session tag KEY=VALUE; repeat for more"),
    ] + AWSSettings.specs
    public static let upstream = UpstreamRule.required

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

    public func cacheParameters(in context: ResolveContext) -> [String] {
        ["role=\(roleARN)", "external-id=\(externalID ?? "")", "session=\(sessionName ?? AWSNames.defaultSessionName(context))",
         "duration=\(duration)", "source-identity=\(sourceIdentity ?? "")"]
            + tags.map { "tag=\($0.0)=\($0.1)" } + aws.cacheParameters(in: context)
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        guard let upstream else { throw BrokerFailure(.config, "identity \"\(name)\" needs a via identity") }
        let source = try upstream.awsCredentials(for: name)
        // AWS caps role chaining (a role session assuming a role) at one hour.
        let chained = upstream.attributes[Credential.AWSField.sessionKind] == "role"
        let seconds = chained ? min(duration, 3600) : duration
        let client = STSClient(endpoint: try aws.endpoint(in: context))
        let result = try client.assumeRole(source, roleARN: roleARN, sessionName: sessionName ?? AWSNames.defaultSessionName(context),
                                           durationSeconds: seconds, externalID: externalID, sourceIdentity: sourceIdentity, tags: tags)
        return Credential(result, kind: "role", persistable: upstream.persistable)
    }
}
