// Which STS endpoint to call and which region to sign for: config override, AWS_ENDPOINT_URL*, or the region's own endpoint.

import BrokerWire
import Foundation

/// Where STS requests go, and the region their signatures are scoped to.
public struct STSEndpoint: Sendable, Equatable {
    /// Scheme, host, optional port and optional path, without a trailing '/':
    /// `https://sts.eu-west-1.amazonaws.com` or `http://127.0.0.1:5000`.
    public var url: String
    /// The signing region.
    public var region: String

    public init(url: String, region: String) {
        self.url = url
        self.region = region
    }

    /// Explicit override (config key) wins, then `AWS_ENDPOINT_URL_STS`, then `AWS_ENDPOINT_URL`,
    /// then the regional endpoint of the region's partition. `region` nil → `AWS_REGION`, then
    /// `AWS_DEFAULT_REGION`, then `us-east-1`. A URL that is not a usable endpoint is a config error
    /// naming where it came from.
    public static func resolve(region: String?, override: String?, environment: Environment) throws -> STSEndpoint {
        let region = try validRegion(region ?? environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1")
        let candidates: [(source: String, value: String?)] = [
            ("the STS endpoint setting", override.flatMap { $0.isEmpty ? nil : $0 }),
            ("AWS_ENDPOINT_URL_STS", environment["AWS_ENDPOINT_URL_STS"]),
            ("AWS_ENDPOINT_URL", environment["AWS_ENDPOINT_URL"]),
        ]
        for candidate in candidates {
            guard let value = candidate.value else { continue }
            return STSEndpoint(url: try validURL(value, source: candidate.source), region: region)
        }
        return STSEndpoint(url: regionalURL(region), region: region)
    }

    /// `aws`, `aws-cn` (`cn-*`) or `aws-us-gov` (`us-gov-*`).
    public static func partition(of region: String) -> String {
        if region.hasPrefix("cn-") { return "aws-cn" }
        if region.hasPrefix("us-gov-") { return "aws-us-gov" }
        return "aws"
    }

    /// The regional STS endpoint, what current SDKs use by default (the global one is legacy).
    public static func regionalURL(_ region: String) -> String {
        switch partition(of: region) {
        case "aws-cn": return "https://sts.\(region).amazonaws.com.cn"
        default: return "https://sts.\(region).amazonaws.com"
        }
    }

    /// A region becomes part of a host name and of the signing scope: letters, digits and '-' only.
    static func validRegion(_ region: String) throws -> String {
        let allowed = region.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "-")
        }
        guard !region.isEmpty, region.utf8.count <= 64, allowed,
              !region.hasPrefix("-"), !region.hasSuffix("-") else {
            throw BrokerFailure(.config, "\"\(printable(region))\" is not an AWS region",
                                hint: "use a region name such as us-east-1 or eu-west-1")
        }
        return region
    }

    /// http(s), a host, no user info, query or fragment. Plain http only to a loopback address:
    /// STS answers carry secrets, which must not cross a network in clear text.
    static func validURL(_ text: String, source: String) throws -> String {
        let hint = "\(source) must look like https://sts.eu-west-1.amazonaws.com (plain http only for 127.0.0.1, ::1 or localhost)"
        func invalid(_ why: String) -> BrokerFailure {
            BrokerFailure(.config, "\(source) \"\(printable(text))\" is not a usable STS endpoint: \(why)", hint: hint)
        }
        guard text.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7f }) else { throw invalid("it holds spaces or control characters") }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw invalid("it is not a URL")
        }
        guard scheme == "https" || scheme == "http" else { throw invalid("the scheme must be https or http") }
        guard let host = components.host, !host.isEmpty else { throw invalid("it has no host") }
        guard components.user == nil && components.password == nil else { throw invalid("it must not hold a user name or password") }
        guard components.query == nil && components.fragment == nil else { throw invalid("it must not have a query or fragment") }
        if let port = components.port, !(1...65535).contains(port) { throw invalid("the port is out of range") }
        if scheme == "http" && !isLoopback(host) { throw invalid("plain http is allowed only to a loopback address") }

        var url = text
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    static func isLoopback(_ host: String) -> Bool {
        let name = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return name == "localhost" || name == "::1" || name.hasPrefix("127.")
            && name.split(separator: ".").count == 4 && name.split(separator: ".").allSatisfy { UInt8($0) != nil }
    }

    /// At most 100 printable ASCII characters of something a person typed, for an error message.
    static func printable(_ text: String) -> String {
        let kept = text.unicodeScalars.prefix(100).map { $0.isASCII && $0.value >= 0x20 && $0.value != 0x7f ? Character($0) : "?" }
        return String(kept) + (text.unicodeScalars.count > 100 ? "…" : "")
    }
}
