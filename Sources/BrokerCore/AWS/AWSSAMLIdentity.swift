// kind = aws/saml: sts:AssumeRoleWithSAML with a base64 SAML assertion a command prints (saml2aws-style tools).

import BrokerWire
import Foundation

public struct AWSSAMLIdentity: AWSIdentityKind {
    public static let descriptor = KindDescriptor(
        name: "aws/saml",
        summary: "an IAM role assumed with a SAML assertion from your identity provider",
        family: .aws,
        settings: [
            SettingSpec("role-arn", "ARN", required: true, "arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME",
                        details: "`arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`, one of the roles the assertion grants."),
            SettingSpec("principal-arn", "ARN", required: true, "the IAM SAML provider, arn:PARTITION:iam::ACCOUNT:saml-provider/NAME",
                        details: "The IAM SAML provider that trusts your identity provider: `arn:PARTITION:iam::ACCOUNT:saml-provider/NAME`."),
            SettingSpec("saml-assertion", "REFERENCE", .secretReference, required: true, "where the base64 SAMLResponse comes from, usually cmd:",
                        details: "A secret reference to the base64 SAMLResponse, usually a `cmd:` running a tool that logs in to the identity provider and prints it. The assertion is read when a credential is needed and never stored."),
            SettingSpec("duration", "DURATION", .duration, "session length, 15m to 12h (default 1h)"),
        ] + AWSSettings.specs,
        upstream: .none, produces: .aws,
        description: ["sts:AssumeRoleWithSAML with a SAML assertion from your identity provider. The assertion is the proof, so the call is unsigned; the role credentials are cached like any AWS credential until they near expiry, and the assertion command runs again only then."])

    public let name: String
    public let roleARN: String
    public let principalARN: String
    public let assertion: SecretReference
    public let duration: Int
    public let aws: AWSSettings

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        let (arn, location) = try definition.require("role-arn")
        try AWSNames.checkRoleARN(arn, at: location)
        roleARN = arn
        let (principal, principalLocation) = try definition.require("principal-arn")
        let parts = principal.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[2] == "iam", parts[3].isEmpty, parts[4].count == 12,
              parts[5].hasPrefix("saml-provider/"), parts[5].count > 14 else {
            throw ConfigError("principal-arn \"\(WireCodec.printable(principal))\" is not an IAM SAML provider ARN", at: principalLocation,
                              hint: "write it as arn:aws:iam::123456789012:saml-provider/NAME")
        }
        principalARN = principal
        let (reference, referenceLocation) = try definition.require("saml-assertion")
        assertion = try SecretReference(reference, at: referenceLocation)
        duration = try AWSNames.duration(definition, key: "duration", default: 3600, range: 900...43200)
        aws = try AWSSettings(definition)
    }

    public var secretReferences: [SecretReference] { [assertion] }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        [CacheParameter("role", roleARN), CacheParameter("principal", principalARN), CacheParameter("assertion", assertion),
         CacheParameter("duration", duration)] + aws.cacheParameters(in: context)
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        let text = try assertion.resolve(context, timeout: 120).reveal().trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty, text.utf8.count <= 100_000,
              text.utf8.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2b || $0 == 0x2f || $0 == 0x3d }) else {
            throw BrokerFailure(.config, "identity \"\(name)\": saml-assertion did not give a base64 SAMLResponse",
                                hint: "the command must print the base64 assertion alone (saml2aws, for instance, with its --skip-prompt print mode)")
        }
        let client = STSClient(endpoint: try aws.endpoint(in: context))
        let result = try client.assumeRoleWithSAML(roleARN: roleARN, principalARN: principalARN, samlAssertion: Secret(text),
                                                   durationSeconds: duration)
        return Credential(result, session: .role)
    }
}
