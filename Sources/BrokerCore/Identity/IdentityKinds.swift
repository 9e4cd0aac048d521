// The registry: every identity kind, in one list. Validation, docs, completions and hints read it.

import BrokerWire

public enum IdentityKinds {
    public static let all: [any IdentityKind.Type] = [
        StaticIdentity.self,
        ExecIdentity.self,
        AWSUserIdentity.self,
        AWSCredentialProcessIdentity.self,
        AWSAssumeRoleIdentity.self,
        AWSWebIdentity.self,
        AWSPermissionSetIdentity.self,
        AWSSAMLIdentity.self,
        GitHubAppIdentity.self,
        GitHubPATPoolIdentity.self,
        AWSECRIdentity.self,
        AWSEKSIdentity.self,
        GitHubOIDCIdentity.self,
        GitHubSTSIdentity.self,
        GCPServiceAccountKeyIdentity.self,
        GCPADCIdentity.self,
        GCPServiceAccountIdentity.self,
        GCPWorkloadIdentityFederation.self,
        GCPProjectIdentity.self,
        AzureClientSecretIdentity.self,
        AzureClientCertificateIdentity.self,
        AzureOIDCIdentity.self,
        AzureSubscriptionIdentity.self,
        AzureCLIIdentity.self,
    ]

    /// Every provider kind: `[provider "NAME"]` sections, the roots of `via = provider:NAME` chains.
    public static let providers: [any ProviderKind.Type] = [
        AWSIdentityCenterProvider.self,
        AzureDeviceCodeProvider.self,
    ]

    /// Identity and provider kinds' descriptors together, in registry order (the manual reads them).
    public static var descriptors: [KindDescriptor] { all.map { $0.descriptor } + providers.map { $0.descriptor } }

    public static func provider(named name: String) -> (any ProviderKind.Type)? {
        providers.first { $0.descriptor.name == name }
    }

    public static var providerNames: [String] { providers.map { $0.descriptor.name } }

    private static let byName: [String: any IdentityKind.Type] =
        Dictionary(all.map { ($0.descriptor.name, $0) }, uniquingKeysWith: { first, _ in first })

    public static func named(_ name: String) -> (any IdentityKind.Type)? { byName[name] }

    public static var names: [String] { all.map { $0.descriptor.name } }

    /// Kinds whose credential is of `type`, for hints such as "use an AWS kind: …".
    public static func names(producing type: CredentialType) -> [String] {
        all.filter { $0.descriptor.produces == type }.map { $0.descriptor.name }
    }

    /// Kinds whose token has `form`, for hints such as "chain from an identity of kind github/oidc".
    public static func names(producingToken form: TokenForm) -> [String] {
        all.filter { $0.descriptor.produces == .token && $0.descriptor.tokenForm == form }.map { $0.descriptor.name }
    }

    /// "a or b" lists for sentences.
    public static func sentence(_ names: [String]) -> String {
        guard names.count > 1 else { return names.first ?? "" }
        return names.dropLast().joined(separator: ", ") + " or " + names.last!
    }
}

