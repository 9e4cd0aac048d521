// kind = azure/client-certificate: an app registration's certificate signs a client assertion for a token.

import BrokerWire

/// The client-credentials grant with a client assertion: a JWT signed RS256 with the
/// certificate's key, whose `x5t#S256` header names the certificate (base64url SHA-256 of its
/// DER). The key is read from its reference on every token request and never kept.
public struct AzureClientCertificateIdentity: ResolvedKind {
    public static let descriptor = KindDescriptor(
        name: "azure/client-certificate",
        summary: "an Azure access token from an app registration's certificate (a signed client assertion)",
        family: .azure,
        settings: AzureApplication.specs + [
            SettingSpec("certificate", "REFERENCE", .secretReference, required: true,
                        "reference to a PEM holding the certificate and its RSA private key: env:NAME, file:PATH, cmd:COMMAND or keyring:NAME",
                        details: "Where a PEM bundle with the certificate (`BEGIN CERTIFICATE`) and its unencrypted RSA private key (`BEGIN PRIVATE KEY` or `BEGIN RSA PRIVATE KEY`) is read from, as `az ad sp create-for-rbac --create-cert` writes it. Errors name the reference, never the key."),
        ],
        upstream: .none, produces: .token, tokenForm: .accessToken,
        description: ["The client-credentials grant of the Microsoft identity platform with a certificate: for each token the agent reads the PEM, signs a client assertion (RS256, `x5t#S256` = the certificate's SHA-256 thumbprint, `aud` the token endpoint, valid 10 minutes) and trades it for an access token. The token is cached; the key never is."])

    public let name: String
    public let application: AzureApplication
    public let certificate: SecretReference

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        application = try AzureApplication(definition)
        let (text, location) = try definition.require("certificate")
        certificate = try SecretReference(text, at: location)
    }

    public var delivery: DeliverySettings { DeliverySettings(azure: application.delivery) }
    public var secretReferences: [SecretReference] { [certificate] }
    public func upstreams(in context: ResolveContext) -> [UpstreamService] { application.upstreams }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        application.cacheParameters + [CacheParameter("certificate", certificate)]
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        let pem = try certificate.resolve(context, timeout: 30)
        let assertion: Secret
        do {
            let (der, key) = try AzureClientAssertion.certificateAndKey(pem: pem.reveal())
            assertion = try AzureClientAssertion.make(clientID: application.clientID, audience: application.tokenURL, key: key,
                                                      certificateDER: der, now: context.clock.now())
        } catch let error as RSAKeyError {
            throw BrokerFailure(.config, "certificate \(certificate) cannot be used: \(error.message)", hint: error.hint)
        }
        let form = application.assertionGrant(assertion)
        return try application.endpoint.request(form, purpose: "identity \"\(name)\"", secrets: [assertion.reveal()], now: context.clock.now()).credential
    }
}
