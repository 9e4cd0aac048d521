// kind = azure/cli: the access token of an existing `az login`, for the ambient developer case.

import BrokerWire
import Foundation

/// Runs `az account get-access-token --resource R --output json` (no secret on the command
/// line: the az CLI reads its own token cache) and hands the token on. The az CLI refreshes its
/// own session; when that is gone, the error says to run `az login`.
public struct AzureCLIIdentity: ResolvedKind {
    public static let descriptor = KindDescriptor(
        name: "azure/cli",
        summary: "the access token of an existing az login (az account get-access-token)",
        family: .azure,
        settings: [
            AzureApplication.resourceSpec,
            SettingSpec("tenant-id", "TENANT", "ask az for a token in this tenant (--tenant)"),
            SettingSpec("subscription-id", "GUID", "ask az for a token for this subscription (--subscription) and announce it"),
            SettingSpec("az", "PATH", "the az program (default: az on the agent's PATH)"),
        ],
        upstream: .none, produces: .token, tokenForm: .accessToken,
        description: ["Reuses the az CLI's login: the agent runs `az account get-access-token --resource RESOURCE --output json` (adding `--tenant` and `--subscription` when set) and hands out the token it prints until its `expires_on`. No secret passes on the command line, and the token stays in the agent's memory: the az CLI keeps its own refresh token. When the az session has ended, the error says to run `az login`."])

    public let name: String
    public let resource: String
    public let tenant: String?
    public let subscription: String?
    public let program: String

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        resource = try AzureApplication.resource(definition)
        tenant = try AzureApplication.optionalTenant(definition)
        subscription = try AzureApplication.optionalSubscription(definition)
        program = definition.value("az") ?? "az"
    }

    public var delivery: DeliverySettings {
        DeliverySettings(azure: AzureDelivery(tenant: tenant, resource: resource, subscription: subscription))
    }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        [CacheParameter("resource", resource), CacheParameter("tenant-id", tenant), CacheParameter("subscription-id", subscription),
         CacheParameter("az", program)]
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        var arguments = [program, "account", "get-access-token", "--resource", resource, "--output", "json"]
        if let tenant { arguments += ["--tenant", tenant] }
        if let subscription { arguments += ["--subscription", subscription] }
        let result = try context.commandRunner.run(arguments: arguments, timeout: 60, environment: context.environment)
        guard result.status == 0, !result.timedOut else {
            let said = result.stderrExcerpt.map { ": \($0)" } ?? ""
            throw BrokerFailure(.unavailable, "identity \"\(name)\": az account get-access-token \(result.statusDescription)\(said)",
                                hint: "run az login (as the user the agent runs as), then try again")
        }
        var credential = try Self.token(fromOutput: Array(result.stdout.utf8), identity: name)
        credential.persistable = false
        return credential
    }

    /// Reads az's JSON: `accessToken` and `expires_on` (Unix seconds, az ≥ 2.54), else
    /// `expiresOn` in local time. Public for the fuzz target.
    public static func token(fromOutput output: [UInt8], identity: String) throws -> Credential {
        func invalid(_ why: String) -> BrokerFailure {
            BrokerFailure(.upstream, "identity \"\(identity)\": the output of az account get-access-token could not be used: \(why)",
                          hint: "check that az is the Azure CLI (az version)")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(output))) as? [String: Any] else { throw invalid("it is not a JSON object") }
        guard let token = object["accessToken"] as? String, !token.isEmpty, token.utf8.count <= 16384,
              token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { throw invalid("it has no printable accessToken") }
        let expiry: Int64
        if let seconds = AzureTokenEndpoint.seconds(object["expires_on"]), seconds > 0 {
            expiry = seconds
        } else if let text = object["expiresOn"] as? String, let seconds = localTime(text) {
            expiry = seconds
        } else {
            throw invalid("it has no expires_on or expiresOn")
        }
        return Credential(.token(Secret(token), scheme: "Bearer"), expiresAt: expiry)
    }

    /// `2026-12-06 01:02:03.000000`, local time, as older az versions print it.
    static func localTime(_ text: String) -> Int64? {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "-" || $0 == ":" || $0 == "." }).map { Int($0) }
        guard parts.count >= 6, parts.allSatisfy({ $0 != nil }) else { return nil }
        var fields = tm()
        fields.tm_year = Int32(clamping: parts[0]! - 1900)
        fields.tm_mon = Int32(clamping: parts[1]! - 1)
        fields.tm_mday = Int32(clamping: parts[2]!)
        fields.tm_hour = Int32(clamping: parts[3]!)
        fields.tm_min = Int32(clamping: parts[4]!)
        fields.tm_sec = Int32(clamping: parts[5]!)
        fields.tm_isdst = -1
        guard (1...12).contains(parts[1]!), (1...31).contains(parts[2]!), parts[3]! < 24, parts[4]! < 60, parts[5]! < 61 else { return nil }
        let seconds = mktime(&fields)
        return seconds == -1 ? nil : Int64(seconds)
    }
}
