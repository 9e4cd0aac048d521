// kind = gcp/workload-identity-federation: an OIDC token or an AWS identity exchanged at Google's STS.

import BrokerWire
import Foundation

/// Keyless: the subject token is an OIDC ID token (from `via`, or `subject-token = file:/cmd:`),
/// or, when `via` gives AWS keys, a signed GetCallerIdentity request serialized the way
/// google-auth's `aws.Credentials` does, which Google replays to AWS to learn who is calling.
public struct GCPWorkloadIdentityFederation: ResolvedKind {
    public static let descriptor = KindDescriptor(
        name: "gcp/workload-identity-federation",
        summary: "Google Cloud access through workload identity federation (OIDC or AWS), no key",
        family: .gcp,
        settings: [
            SettingSpec("audience", "RESOURCE", required: true, "the pool provider's resource name (//iam.googleapis.com/projects/N/locations/global/... /providers/PROVIDER)"),
            SettingSpec("subject-token", "REFERENCE", .secretReference, "where the OIDC token is read (file:, cmd:) when via is not set"),
            SettingSpec("subject-token-type", "URN", "the subject token's type (default urn:ietf:params:oauth:token-type:jwt)"),
            SettingSpec("service-account", "EMAIL", "impersonate this service account with the federated token"),
            SettingSpec("aws-region", "REGION", "the region of the signed GetCallerIdentity request (default AWS_REGION, else us-east-1)"),
            SettingSpec("sts-endpoint", "URL", "Google's Security Token Service (default https://sts.googleapis.com)"),
            SettingSpec("iam-endpoint", "URL", "the IAM Credentials API, for service-account (default https://iamcredentials.googleapis.com)"),
            GCPScopes.spec,
        ] + GCPDelivery.specs,
        upstream: .optional, produces: .password, upstreamToken: .idToken, upstreamValidity: 60,
        description: ["An STS token exchange (`urn:ietf:params:oauth:grant-type:token-exchange`) of a subject token for a federated access token, then, with `service-account`, IAM Credentials `generateAccessToken` for that account. The subject token comes from the identity named by `via`: one that gives an OIDC token (github/oidc), or one that gives AWS keys (any aws/ kind), whose keys sign an STS GetCallerIdentity request for `sts.REGION.amazonaws.com` that Google replays to AWS (`subject_token_type` `urn:ietf:params:aws:token-type:aws4_request`), so an AWS chain reaches Google Cloud with no key at all. Without `via`, `subject-token` names a file or command giving the OIDC token."])

    public let name: String
    public let audience: String
    public let subjectToken: SecretReference?
    public let subjectTokenType: String?
    public let serviceAccount: String?
    public let awsRegion: String?
    public let stsEndpoint: String
    public let iamEndpoint: String
    public let scopes: [String]
    public let gcp: GCPDelivery
    /// Set on the variant that makes ID tokens for this audience (`idTokenSource`), never by a setting.
    public internal(set) var idTokenAudience: String?

    public static let awsSubjectTokenType = "urn:ietf:params:aws:token-type:aws4_request"

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        let (value, location) = try definition.require("audience")
        guard value.hasPrefix("//iam.googleapis.com/") || value.hasPrefix("https://iam.googleapis.com/") || value.hasPrefix("//") else {
            throw ConfigError("audience must be the pool provider's resource name", at: location,
                              hint: "//iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER")
        }
        audience = value
        subjectToken = try definition.entry("subject-token").map { try SecretReference($0.value ?? "", at: $0.location) }
        if definition.via != nil, let entry = definition.entry("subject-token") {
            throw ConfigError("with via, the subject token comes from that identity: drop subject-token", at: entry.location)
        }
        if definition.via == nil && subjectToken == nil {
            throw ConfigError("gcp/workload-identity-federation needs via (an OIDC or AWS identity) or subject-token", at: definition.location)
        }
        subjectTokenType = definition.value("subject-token-type")
        if let entry = definition.entry("service-account") { try GCPNames.checkEmail(entry.value ?? "", at: entry.location) }
        serviceAccount = definition.value("service-account")
        awsRegion = try definition.entry("aws-region").map { entry in
            do { return try STSEndpoint.validRegion(entry.value ?? "") } catch let error as BrokerFailure { throw ConfigError(error.message, at: entry.location) }
        }
        stsEndpoint = try GCPEndpoint.url(definition, key: "sts-endpoint", default: "https://sts.googleapis.com")
        iamEndpoint = try GCPEndpoint.url(definition, key: "iam-endpoint", default: "https://iamcredentials.googleapis.com")
        scopes = GCPScopes.of(definition)
        gcp = try GCPDelivery(definition)
    }

    public var delivery: DeliverySettings { DeliverySettings(gcp: gcp) }
    public var secretReferences: [SecretReference] { subjectToken.map { [$0] } ?? [] }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        [CacheParameter("audience", audience), CacheParameter("subject-token", subjectToken), CacheParameter("subject-token-type", subjectTokenType),
         CacheParameter("service-account", serviceAccount), CacheParameter("aws-region", region(context)),
         CacheParameter("sts-endpoint", stsEndpoint), CacheParameter("iam-endpoint", iamEndpoint), CacheParameter("scopes", scopes.joined(separator: " "))]
            + (idTokenAudience.map { [CacheParameter("id-token-audience", $0)] } ?? [])
    }

    /// A federated token cannot ask for ID tokens; the service account it impersonates can.
    public func idTokenSource(audience: String) throws -> IDTokenSource {
        guard serviceAccount != nil else {
            throw BrokerFailure(.config, "a federated token without service-account impersonation cannot make ID tokens",
                                hint: "set service-account = EMAIL on the identity (generateIdToken needs a service account)")
        }
        var variant = self
        variant.idTokenAudience = audience
        return .kind(variant)
    }

    func region(_ context: ResolveContext) -> String {
        awsRegion ?? context.environment["AWS_REGION"] ?? context.environment["AWS_DEFAULT_REGION"] ?? "us-east-1"
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        let now = context.clock.now()
        let subject: Secret
        let type: String
        if let keys = upstream?.aws {
            subject = GCPAWSSubjectToken.make(credentials: keys, region: region(context), targetResource: audience, date: Date(timeIntervalSince1970: Double(now)))
            type = Self.awsSubjectTokenType
        } else if let upstream {
            guard let token = upstream.token?.token ?? upstream.password?.password else {
                throw BrokerFailure(.config, "identity \"\(name)\" needs an OIDC token or AWS keys from its via identity")
            }
            subject = token
            type = subjectTokenType ?? "urn:ietf:params:oauth:token-type:jwt"
        } else if let subjectToken {
            let text = try subjectToken.resolve(context, timeout: 30).reveal().trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { throw BrokerFailure(.config, "the subject token from \(subjectToken) is empty") }
            subject = Secret(text)
            type = subjectTokenType ?? "urn:ietf:params:oauth:token-type:jwt"
        } else {
            throw BrokerFailure(.internal, "gcp/workload-identity-federation without a subject token (a configuration check missed it)")
        }
        let base = stsEndpoint.hasSuffix("/") ? String(stsEndpoint.dropLast()) : stsEndpoint
        let answer = try GCPClient.tokenRequest(base + "/v1/token", form: [
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
            ("audience", audience),
            ("scope", scopes.joined(separator: " ")),
            ("requested_token_type", "urn:ietf:params:oauth:token-type:access_token"),
            ("subject_token", subject.reveal()),
            ("subject_token_type", type),
        ], what: "Google's STS token exchange", now: now)
        guard let federated = answer.accessToken else { throw BrokerFailure(.upstream, "Google's STS answered without an access_token") }
        // Ambient material (a CI job's token, a role's session) makes credentials that stay in memory.
        let persistable = upstream?.persistable ?? false
        guard let serviceAccount else {
            return GCPCredential.make(email: nil, token: federated, expiresAt: answer.expiresAt, persistable: persistable)
        }
        let impersonated = try GCPImpersonation(iamEndpoint: iamEndpoint, serviceAccount: serviceAccount, delegates: [])
            .token(caller: federated, scopes: scopes, lifetime: 3600, audience: idTokenAudience, now: now)
        return GCPCredential.make(email: serviceAccount, token: impersonated.token, expiresAt: impersonated.expiresAt, persistable: persistable)
    }
}

/// google-auth's AWS subject token (`google/auth/aws.py`, `retrieve_subject_token`): a SigV4-signed
/// `POST https://sts.REGION.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15` with an
/// empty body, signing host, x-amz-date (and x-amz-security-token), then the unsigned
/// `x-goog-cloud-target-resource` header added; serialized as compact JSON with sorted keys and
/// percent-encoded (Python's `urllib.parse.quote`, `/` kept).
public enum GCPAWSSubjectToken {
    public static func make(credentials: AWSCredentials, region: String, targetResource: String, date: Date) -> Secret {
        let host = "sts.\(region).amazonaws.com"
        let url = "https://\(host)?Action=GetCallerIdentity&Version=2011-06-15"
        let request = SigV4Request(method: "POST", host: host, path: "/",
                                   query: [(name: "Action", value: "GetCallerIdentity"), (name: "Version", value: "2011-06-15")],
                                   headers: [(name: "host", value: host)])
        let signed = SigV4Signer(service: "sts", region: region).sign(request, credentials: credentials, date: date)
        // google-auth's header order: Authorization, host, x-amz-date, x-amz-security-token, then the target.
        var headers: [(String, String)] = [("Authorization", signed.authorization), ("host", host), ("x-amz-date", signed.amzDate)]
        if let token = credentials.sessionToken { headers.append(("x-amz-security-token", token.reveal())) }
        headers.append(("x-goog-cloud-target-resource", targetResource))
        let document = JSONValue.object([
            ("headers", .array(headers.map { .object([("key", .string($0.0)), ("value", .string($0.1))]) })),
            ("method", .string("POST")),
            ("url", .string(url)),
        ])
        return Secret(quote(document.encoded()))
    }

    /// Python's `urllib.parse.quote(text)`: unreserved characters and `/` stay, the rest is %XX.
    static func quote(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
