// kind = aws/permission-set: role credentials from the IAM Identity Center portal, with the session of its provider.

import BrokerWire
import Foundation

public struct AWSPermissionSetIdentity: AWSIdentityKind {
    public static let descriptor = KindDescriptor(
        name: "aws/permission-set",
        summary: "role credentials of a permission set in an account, from an IAM Identity Center session",
        family: .aws,
        settings: [
            SettingSpec("account-id", "ACCOUNT", required: true, "the 12-digit AWS account id"),
            SettingSpec("permission-set", "NAME", required: true, "the permission set (the role name the portal shows)",
                        details: "The permission set, as the portal's role name (`AdministratorAccess`)."),
        ] + AWSSettings.specs,
        upstream: .provider, produces: .aws,
        description: ["Short-lived role credentials from the IAM Identity Center portal's GetRoleCredentials, with the session of the provider named by `via = provider:NAME` (required; a provider of kind aws/iam-identity-center). They are cached like any AWS credential and chain onward: an aws/assume-role identity may name this one as its `via`."])

    public let name: String
    public let accountID: String
    public let permissionSet: String
    public let aws: AWSSettings

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        let (account, accountLocation) = try definition.require("account-id")
        guard account.count == 12, account.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw ConfigError("account-id \"\(WireCodec.printable(account))\" is not a 12-digit AWS account id", at: accountLocation)
        }
        accountID = account
        let (role, roleLocation) = try definition.require("permission-set")
        guard role.count <= 64, role.allSatisfy(AWSNames.isNameCharacter) else {
            throw ConfigError("permission-set \"\(WireCodec.printable(role))\" is not a role name (up to 64 of letters, digits and +=,.@_-)", at: roleLocation)
        }
        permissionSet = role
        aws = try AWSSettings(definition)
    }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        [CacheParameter("account", accountID), CacheParameter("permission-set", permissionSet)] + aws.cacheParameters(in: context)
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        guard let provider = context.upstreamProvider as? AWSIdentityCenterProvider, let upstream else {
            throw BrokerFailure(.config, "identity \"\(name)\" needs via = provider:NAME naming a provider of kind \(AWSIdentityCenterProvider.descriptor.name)")
        }
        let result = try provider.roleCredentials(accountID: accountID, roleName: permissionSet, session: upstream, context: context)
        return Credential(result, session: .role)
    }
}
