// kind = aws/ecr: an ECR registry login (user AWS, a 12-hour token) from GetAuthorizationToken, signed with the via identity's keys.

import BrokerWire
import Foundation

public struct AWSECRIdentity: ResolvedKind {
    public static let descriptor = KindDescriptor(
        name: "aws/ecr",
        summary: "an ECR registry login (user AWS and a 12-hour token) from GetAuthorizationToken",
        family: .containers,
        settings: [
            SettingSpec("registry-ids", "ID", repeatable: true, "12-digit registry (account) ids to ask for, comma-separated or repeated (default: the caller's account)",
                        details: "The registry (account) ids to ask for, as 12-digit numbers, comma-separated or with the key repeated; default the `via` identity's own account. All ids share one token."),
            ContainerKindSupport.regionSpec,
            SettingSpec("ecr-endpoint", "URL", "ECR API endpoint (default AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL, then the region's)"),
        ],
        upstream: .required, produces: .password,
        description: ["A login for an Amazon ECR registry: ecr:GetAuthorizationToken, signed (SigV4) with the `via` identity's credentials, gives user `AWS` and a token that lives 12 hours. The agent caches it until shortly before then, and concurrent requests for one region and set of registry ids make one upstream call. Bind registries to it with `[registry \"ACCOUNT.dkr.ecr.REGION.amazonaws.com\"] identity = NAME` (wildcards such as `*.dkr.ecr.eu-west-1.amazonaws.com` match too); the token is valid for every registry of the listed accounts in its region. When the registry asking is an ECR host (`ACCOUNT.dkr.ecr.REGION.amazonaws.com`), its REGION is used instead of `region`, so one wildcard binding serves every region, with one token and one upstream call per region."])

    public let name: String
    public let registryIDs: [String]
    public private(set) var region: String?
    public let endpointOverride: String?

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        var ids: [String] = []
        for entry in definition.settings["registry-ids"] ?? [] {
            for part in (entry.value ?? "").split(separator: ",") {
                let id = part.trimmingCharacters(in: .whitespaces)
                guard id.count == 12, id.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                    throw ConfigError("registry-ids must be 12-digit account ids, not \"\(WireCodec.printable(id))\"", at: entry.location)
                }
                if !ids.contains(id) { ids.append(id) }
            }
        }
        registryIDs = ids
        region = definition.value("region")
        endpointOverride = definition.value("ecr-endpoint")
    }

    /// The ECR API endpoint: the setting, `AWS_ENDPOINT_URL_ECR`, `AWS_ENDPOINT_URL`, or the region's.
    func endpoint(in context: ResolveContext) throws -> STSEndpoint {
        let region = try ContainerKindSupport.region(region, in: context)
        for (source, value) in [("the ecr-endpoint setting", endpointOverride), ("AWS_ENDPOINT_URL_ECR", context.environment["AWS_ENDPOINT_URL_ECR"]),
                                ("AWS_ENDPOINT_URL", context.environment["AWS_ENDPOINT_URL"])] {
            guard let value, !value.isEmpty else { continue }
            return STSEndpoint(url: try STSEndpoint.validURL(value, source: source), region: region)
        }
        let suffix = STSEndpoint.partition(of: region) == "aws-cn" ? "amazonaws.com.cn" : "amazonaws.com"
        return STSEndpoint(url: "https://api.ecr.\(region).\(suffix)", region: region)
    }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        let resolved = (try? endpoint(in: context)).map { "\($0.url)|\($0.region)" } ?? "unresolved"
        return [CacheParameter("ecr", resolved)] + registryIDs.map { CacheParameter("registry-id", $0) }
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        guard let upstream else { throw BrokerFailure(.config, "identity \"\(name)\" needs a via identity") }
        let keys = try upstream.awsCredentials(for: name)
        let endpoint = try endpoint(in: context)
        let login = try Self.getAuthorizationToken(keys, endpoint: endpoint, registryIDs: registryIDs, now: context.clock.now())
        return Credential(.password(username: login.username, password: login.password), expiresAt: login.expiresAt,
                          persistable: upstream.persistable)
    }

    /// Upstream calls made (every attempt), for tests and stats.
    public static var requestCount: Int { requests.value }
    private static let requests = Counter()

    /// One GetAuthorizationToken call (JSON 1.1 protocol).
    static func getAuthorizationToken(_ keys: AWSCredentials, endpoint: STSEndpoint, registryIDs: [String], now: Int64)
        throws -> (username: String, password: Secret, expiresAt: Int64) {
        let body = Array(JSONValue.object(registryIDs.isEmpty ? [] : [("registryIds", .array(registryIDs.map { .string($0) }))]).encoded().utf8)
        let hasPath = !(URLComponents(string: endpoint.url)?.percentEncodedPath.isEmpty ?? true)
        guard let url = URL(string: hasPath ? endpoint.url : endpoint.url + "/"),
              let unsigned = SigV4Request(method: "POST", url: url, headers: [
                  (name: "Content-Type", value: "application/x-amz-json-1.1"),
                  (name: "X-Amz-Target", value: "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"),
              ], body: body) else {
            throw BrokerFailure(.config, "the ECR endpoint \"\(STSEndpoint.printable(endpoint.url))\" is not a URL")
        }
        let signed = SigV4Signer(service: "ecr", region: endpoint.region).sign(unsigned, credentials: keys, date: Date(timeIntervalSince1970: TimeInterval(now)))
        requests.increment()
        let where_ = "ecr GetAuthorizationToken at \(STSEndpoint.printable(endpoint.url)) with access key \(Secret.masked(keys.accessKeyID))"
        switch HTTPExchange.post(url: url, headers: signed.headersForSending(), body: body, timeout: 10) {
        case .transport(let problem):
            throw BrokerFailure(.unavailable, "cannot reach ECR: \(where_): \(problem.reason)",
                                hint: "check the network and the ECR endpoint (ecr-endpoint, AWS_ENDPOINT_URL_ECR or AWS_ENDPOINT_URL)")
        case .response(let status, let answer):
            guard (200..<300).contains(status) else {
                let code = ContainerKindSupport.errorCode(answer, removing: [keys.secretAccessKey.reveal()])
                throw BrokerFailure(.upstream, "\(where_) failed: \(code) (HTTP \(status))",
                                    hint: code.contains("AccessDenied") ? "allow ecr:GetAuthorizationToken in the via identity's IAM policy" : nil)
            }
            let document = (try? JSONSerialization.jsonObject(with: Data(answer))) as? [String: Any]
            guard let data = (document?["authorizationData"] as? [[String: Any]])?.first,
                  let encoded = data["authorizationToken"] as? String,
                  let decoded = Data(base64Encoded: encoded), let pair = String(data: decoded, encoding: .utf8),
                  let colon = pair.firstIndex(of: ":") else {
                throw BrokerFailure(.upstream, "\(where_) answered without a usable authorizationToken")
            }
            guard let seconds = (data["expiresAt"] as? NSNumber)?.doubleValue, seconds.isFinite, seconds > 0, seconds < 1e11 else {
                throw BrokerFailure(.upstream, "\(where_) answered without an expiresAt")
            }
            return (String(pair[..<colon]), Secret(String(pair[pair.index(after: colon)...])), Int64(seconds))
        }
    }

    /// `ACCOUNT.dkr.ecr[-fips].REGION.amazonaws.com[.cn]` → REGION.
    static func region(ofRegistry registry: String) -> String? {
        let host = registry.split(separator: ":").first.map(String.init) ?? registry
        let labels = host.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard labels.count >= 6, labels[0].count == 12, labels[0].allSatisfy({ $0.isASCII && $0.isNumber }), labels[1] == "dkr",
              labels[2] == "ecr" || labels[2] == "ecr-fips",
              labels[4...].joined(separator: ".") == "amazonaws.com" || labels[4...].joined(separator: ".") == "amazonaws.com.cn",
              (try? STSEndpoint.validRegion(labels[3])) != nil else { return nil }
        return labels[3]
    }

    private final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        var value: Int { lock.lock(); defer { lock.unlock() }; return count }
        func increment() { lock.lock(); count += 1; lock.unlock() }
    }
}

extension AWSECRIdentity: RegistryScopedKind {
    public func scoped(to registry: String) -> (any ResolvedKind)? {
        guard let hostRegion = Self.region(ofRegistry: registry), hostRegion != region else { return nil }
        var copy = self
        copy.region = hostRegion
        return copy
    }
}
