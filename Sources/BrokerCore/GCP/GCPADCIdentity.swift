// kind = gcp/adc: the user's Application Default Credentials file → an access token.

import BrokerWire
import Foundation

/// What `gcloud auth application-default login` leaves (`authorized_user`: a refresh token) or a
/// service-account key placed there. Read from the agent's environment: `file`, else
/// GOOGLE_APPLICATION_CREDENTIALS, else ~/.config/gcloud/application_default_credentials.json.
public struct GCPADCIdentity: ResolvedKind {
    public static let descriptor = KindDescriptor(
        name: "gcp/adc",
        summary: "the Application Default Credentials file (a user's refresh token or a service-account key)",
        family: .gcp,
        settings: [
            SettingSpec("file", "PATH", "the ADC file (default GOOGLE_APPLICATION_CREDENTIALS, then ~/.config/gcloud/application_default_credentials.json)"),
            SettingSpec("token-uri", "URL", "the OAuth token endpoint for a refresh token (default https://oauth2.googleapis.com/token)"),
            GCPScopes.spec,
        ] + GCPDelivery.specs,
        upstream: .none, produces: .password,
        description: ["An `authorized_user` file is exchanged with the refresh-token grant (`client_id`, `client_secret`, `refresh_token`); the user name is empty, since the token speaks for a person. A `service_account` file is used as gcp/service-account-key uses its key. The file is read each time a token is made; edit it and the next token follows."])

    public let name: String
    public let file: String?
    public let tokenURI: String
    public let scopes: [String]
    public let gcp: GCPDelivery
    /// Set on the variant that makes ID tokens for this audience (`idTokenSource`), never by a setting.
    public internal(set) var idTokenAudience: String?

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        file = definition.value("file")
        tokenURI = try GCPEndpoint.url(definition, key: "token-uri", default: GCPServiceAccountKey.defaultTokenURI)
        scopes = GCPScopes.of(definition)
        gcp = try GCPDelivery(definition)
    }

    public var delivery: DeliverySettings { DeliverySettings(gcp: gcp) }

    func path(_ context: ResolveContext) -> String {
        file ?? context.environment["GOOGLE_APPLICATION_CREDENTIALS"]
            ?? (context.environment["HOME"] ?? "") + "/.config/gcloud/application_default_credentials.json"
    }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        [CacheParameter("file", path(context)), CacheParameter("token-uri", tokenURI), CacheParameter("scopes", scopes.joined(separator: " "))]
            + (idTokenAudience.map { [CacheParameter("id-token-audience", $0)] } ?? [])
    }

    /// A service_account file makes ID tokens as a key does; a user's login cannot (found when
    /// the file is read, since it may change between requests).
    public func idTokenSource(audience: String) throws -> IDTokenSource {
        var variant = self
        variant.idTokenAudience = audience
        return .kind(variant)
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        let path = path(context)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BrokerFailure(.config, "cannot read the Application Default Credentials file \(path)",
                                hint: "run `gcloud auth application-default login`, or set file = PATH")
        }
        let text = Secret(String(decoding: data, as: UTF8.self))
        let now = context.clock.now()
        let object = try GCPJSON.object(text.reveal(), what: "the ADC file \(path)", hint: "run `gcloud auth application-default login` again")
        switch object[member: "type"]?.stringValue {
        case "authorized_user":
            if idTokenAudience != nil {
                throw BrokerFailure(.config, "the ADC file \(path) holds a person's login (authorized_user), which cannot make ID tokens for an audience",
                                    hint: "impersonate a service account: an identity of the impersonation kind with via = this one")
            }
            var form: [(String, String)] = [("grant_type", "refresh_token")]
            for field in ["client_id", "client_secret", "refresh_token"] {
                guard let value = object[member: field]?.stringValue, !value.isEmpty else {
                    throw BrokerFailure(.config, "the ADC file \(path) has no \"\(field)\"", hint: "run `gcloud auth application-default login` again")
                }
                form.append((field, value))
            }
            let answer = try GCPClient.tokenRequest(tokenURI, form: form, what: "Google's token endpoint", now: now)
            guard let token = answer.accessToken else { throw BrokerFailure(.upstream, "Google's token endpoint answered without an access_token") }
            return GCPCredential.make(email: nil, token: token, expiresAt: answer.expiresAt)
        case "service_account":
            return try GCPServiceAccountKey.parse(object, source: path).obtain(scopes: scopes, idTokenAudience: idTokenAudience, now: now)
        case let other:
            throw BrokerFailure(.config, "the ADC file \(path) is of type \"\(WireCodec.printable(other ?? "none", limit: 40))\"",
                                hint: "gcp/adc reads authorized_user and service_account files; a workload identity configuration is kind gcp/workload-identity-federation")
        }
    }
}
