// AWS Signature Version 4 (header form), checked against AWS's published test suite and, differentially, botocore's SigV4Auth.

import BrokerWire
import Foundation

/// An access key pair, optionally with the session token of temporary credentials.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: Secret
    public var sessionToken: Secret?

    public init(accessKeyID: String, secretAccessKey: Secret, sessionToken: Secret? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// The key id is an identifier, not the secret, but people still expect it masked in logs.
    public var description: String {
        "AWSCredentials(\(Secret.masked(accessKeyID)), session token: \(sessionToken == nil ? "no" : "yes"))"
    }
}

/// An HTTP request to be signed, described by the bytes that will go on the wire.
public struct SigV4Request: Sendable {
    public var method: String
    /// `https` or `http`; decides which port is the default one left out of `Host`.
    public var scheme: String
    public var host: String
    /// `nil` (or the scheme's default port) keeps the port out of the `Host` header.
    public var port: Int?
    /// The path exactly as it appears on the request line, already percent-encoded.
    /// Build it from a decoded path with `init(method:scheme:host:port:path:...)` so that the
    /// bytes sent and the bytes signed come from the same encoder.
    public var encodedPath: String
    /// Decoded query parameters in the order they are sent; encoded once, by `AWSURIEncoding`,
    /// both for the wire and for the canonical query string.
    public var query: [(name: String, value: String)]
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    /// `path` is decoded (`/my key/a+b`); each segment is percent-encoded with '/' kept.
    public init(method: String, scheme: String = "https", host: String, port: Int? = nil, path: String = "/",
                query: [(name: String, value: String)] = [], headers: [(name: String, value: String)] = [],
                body: [UInt8] = []) {
        self.init(method: method, scheme: scheme, host: host, port: port,
                  encodedPath: AWSURIEncoding.encode(path, keepSlash: true),
                  query: query, headers: headers, body: body)
    }

    /// For a path that is already in its on-the-wire form (taken from a URL, or a test vector).
    public init(method: String, scheme: String = "https", host: String, port: Int? = nil, encodedPath: String,
                query: [(name: String, value: String)] = [], headers: [(name: String, value: String)] = [],
                body: [UInt8] = []) {
        self.method = method
        self.scheme = scheme.lowercased()
        self.host = host
        self.port = port
        // Every request line has a path; an empty one means "/" (RFC 9110 §4.2.3).
        self.encodedPath = encodedPath.hasPrefix("/") ? encodedPath : "/" + encodedPath
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// From an endpoint URL such as `AWS_ENDPOINT_URL_STS`. The URL's path is kept as written;
    /// its query is decoded and re-encoded by `AWSURIEncoding`, so what is signed is what is sent.
    public init?(method: String, url: URL, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        guard let components = URLComponents(url: url, resolvingAgainstBaseURL: false),
              let scheme = components.scheme, let host = components.host, !host.isEmpty else { return nil }
        let query = (components.queryItems ?? []).map { (name: $0.name, value: $0.value ?? "") }
        self.init(method: method, scheme: scheme, host: host, port: components.port,
                  encodedPath: components.percentEncodedPath, query: query, headers: headers, body: body)
    }

    /// The value AWS expects in `Host`: the host lower-cased, IPv6 literals bracketed, and the
    /// port only when it is not the scheme's default (what HTTP clients put on the wire too).
    public var hostHeader: String {
        var name = host.lowercased()
        if name.contains(":") && !name.hasPrefix("[") { name = "[\(name)]" }
        let defaultPort = scheme == "https" ? 443 : scheme == "http" ? 80 : nil
        if let port, port != defaultPort { name += ":\(port)" }
        return name
    }

    /// Path and query as they go on the request line.
    public var requestTarget: String {
        query.isEmpty ? encodedPath : encodedPath + "?" + AWSURIEncoding.query(query)
    }

    /// The URL to send the request to; built from the same encoded parts that were signed.
    public var urlString: String { "\(scheme)://\(hostHeader)\(requestTarget)" }
}

/// The result of signing: what to send, plus the intermediate strings for debugging.
///
/// Nothing in here prints a secret: the secret key never enters it, the session token is kept
/// in a `Secret`, and the canonical request shows the token as `<redacted>`.
public struct SignedRequest: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public let method: String
    public let urlString: String
    public let body: [UInt8]
    /// Every header to send (the caller's, then `Host`, `X-Amz-Date`, `X-Amz-Content-SHA256`
    /// when used, `Authorization`) except `X-Amz-Security-Token`, whose value is a secret.
    public let headers: [(name: String, value: String)]
    /// The session token, sent as `X-Amz-Security-Token` by `headersForSending()`.
    public let securityToken: Secret?
    public let authorization: String
    public let amzDate: String
    public let credentialScope: String
    public let signedHeaders: String
    /// The canonical request with any `x-amz-security-token` value shown as `<redacted>`;
    /// `stringToSign` carries the hash of the real one.
    public let canonicalRequest: String
    public let stringToSign: String

    /// All headers including the session token: the one place the token leaves its box.
    public func headersForSending() -> [(name: String, value: String)] {
        guard let securityToken else { return headers }
        var all = headers
        let at = all.firstIndex { $0.name == "Authorization" } ?? all.endIndex
        all.insert((name: "X-Amz-Security-Token", value: securityToken.reveal()), at: at)
        return all
    }

    public var description: String {
        "SignedRequest(\(method) \(urlString), scope \(credentialScope), signed headers \(signedHeaders))"
    }

    public var debugDescription: String {
        "\(description)\n--- canonical request ---\n\(canonicalRequest)\n--- string to sign ---\n\(stringToSign)"
    }
}

/// Signs requests for one service in one region.
public struct SigV4Signer: Sendable {
    /// How the request path becomes the canonical URI.
    public enum PathCanonicalization: Sendable {
        /// Remove `.`/`..` segments and empty segments, then percent-encode the (already encoded)
        /// path once more: what every service except S3 expects, and what botocore does for STS.
        case normalizedAndEncodedAgain
        /// Sign the path exactly as sent: S3 object keys may legitimately hold `//` and `..`.
        case asSent
    }

    public let service: String
    public let region: String
    public var pathCanonicalization: PathCanonicalization
    /// Whether to send and sign `X-Amz-Content-SHA256`; S3 requires it, other services ignore it.
    public var sendsContentSHA256: Bool

    public init(service: String, region: String) {
        self.service = service
        self.region = region
        let isS3 = service == "s3"
        pathCanonicalization = isS3 ? .asSent : .normalizedAndEncodedAgain
        sendsContentSHA256 = isS3
    }

    /// Headers a proxy or HTTP library may add, drop or rewrite in transit; signing them would
    /// make a correct signature fail. Same list as botocore.
    static let unsignedHeaderNames: Set<String> = [
        "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
    ]

    public func sign(_ request: SigV4Request, credentials: AWSCredentials, date: Date) -> SignedRequest {
        let amzDate = Self.amzDate(date)
        let scope = Self.credentialScope(day: String(amzDate.prefix(8)), region: region, service: service)

        // Anything the caller set that signing owns is replaced, so a retried request is re-signed cleanly.
        var owned: Set<String> = ["authorization", "x-amz-date"]
        if credentials.sessionToken != nil { owned.insert("x-amz-security-token") }
        var headers = request.headers.filter { !owned.contains($0.name.lowercased()) }

        if !headers.contains(where: { $0.name.lowercased() == "host" }) {
            headers.append((name: "Host", value: request.hostHeader))
        }
        headers.append((name: "X-Amz-Date", value: amzDate))
        // A caller-supplied X-Amz-Content-SHA256 (e.g. UNSIGNED-PAYLOAD) stands in for the body hash.
        let payloadHash: String
        if let given = headers.first(where: { $0.name.lowercased() == "x-amz-content-sha256" }) {
            payloadHash = given.value
        } else {
            payloadHash = SHA256.hash(request.body).hexString
            if sendsContentSHA256 { headers.append((name: "X-Amz-Content-SHA256", value: payloadHash)) }
        }

        var signedEntries = headers
        if let token = credentials.sessionToken {
            signedEntries.append((name: "X-Amz-Security-Token", value: token.reveal()))
        }
        let canonical = Self.canonicalHeaders(signedEntries)
        let signedHeaders = canonical.map(\.name).joined(separator: ";")

        func canonicalRequest(redactingToken: Bool) -> String {
            let headerLines = canonical.map { entry in
                let value = redactingToken && entry.name == "x-amz-security-token" ? "<redacted>" : entry.value
                return "\(entry.name):\(value)\n"
            }.joined()
            return [
                request.method.uppercased(),
                canonicalURI(request.encodedPath),
                AWSURIEncoding.canonicalQuery(request.query),
                headerLines,
                signedHeaders,
                payloadHash,
            ].joined(separator: "\n")
        }

        let stringToSign = [
            "AWS4-HMAC-SHA256", amzDate, scope, SHA256.hash(canonicalRequest(redactingToken: false)).hexString,
        ].joined(separator: "\n")
        let signature = HMACSHA256.authenticate(
            message: stringToSign,
            key: Self.signingKey(secret: credentials.secretAccessKey, day: String(amzDate.prefix(8)),
                                 region: region, service: service)
        ).hexString
        let authorization = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
        headers.append((name: "Authorization", value: authorization))

        return SignedRequest(
            method: request.method, urlString: request.urlString, body: request.body, headers: headers,
            securityToken: credentials.sessionToken, authorization: authorization, amzDate: amzDate,
            credentialScope: scope, signedHeaders: signedHeaders,
            canonicalRequest: canonicalRequest(redactingToken: true), stringToSign: stringToSign)
    }

    func canonicalURI(_ encodedPath: String) -> String {
        switch pathCanonicalization {
        case .asSent:
            return encodedPath
        case .normalizedAndEncodedAgain:
            // The second encoding turns each '%' of the wire form into "%25": AWS's rule for non-S3 services.
            return AWSURIEncoding.encode(AWSURIEncoding.normalizedPath(encodedPath), keepSlash: true)
        }
    }

    /// Lower-cased names, sorted; values trimmed with inner whitespace runs collapsed to one space;
    /// repeated headers joined with ',' in the order they were given.
    static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> [(name: String, value: String)] {
        var valuesByName: [String: [String]] = [:]
        for header in headers {
            let name = header.name.lowercased()
            if unsignedHeaderNames.contains(name) { continue }
            valuesByName[name, default: []].append(collapsingWhitespace(header.value))
        }
        return valuesByName.keys
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            .map { (name: $0, value: valuesByName[$0]!.joined(separator: ",")) }
    }

    static func collapsingWhitespace(_ value: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count)
        var pendingSpace = false
        for byte in value.utf8 {
            // SP, HTAB, LF, VT, FF, CR and 0x1C–0x1F: the ASCII characters Python's str.split()
            // (botocore's trim) treats as whitespace, so both collapse the same runs.
            if byte == 0x20 || (0x09...0x0d).contains(byte) || (0x1c...0x1f).contains(byte) {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(0x20) }
                pendingSpace = false
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func credentialScope(day: String, region: String, service: String) -> String {
        "\(day)/\(region)/\(service)/aws4_request"
    }

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service), "aws4_request").
    static func signingKey(secret: Secret, day: String, region: String, service: String) -> [UInt8] {
        var key = Array("AWS4\(secret.reveal())".utf8)
        for part in [day, region, service, "aws4_request"] {
            key = HMACSHA256.authenticate(message: part, key: key)
        }
        return key
    }
}

// MARK: - Time: the x-amz-date format, the server's Date header, clock skew and scope checks

extension SigV4Signer {
    /// How far our clock may be from the server's before we warn. AWS itself refuses at 15 minutes;
    /// warning at 5 tells a person about a drifting clock before requests start failing.
    public static let maximumClockSkew: TimeInterval = 5 * 60

    public static func isClockSkewed(serverDate: Date, localDate: Date) -> Bool {
        abs(serverDate.timeIntervalSince(localDate)) > maximumClockSkew
    }

    /// `YYYYMMDD'T'HHMMSS'Z'` in UTC, fractions of a second dropped. Computed by hand rather than
    /// with DateFormatter, whose locale and calendar settings have produced wrong digits before.
    public static func amzDate(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let (days, secondOfDay) = seconds.quotientAndRemainder(dividingBy: 86_400)
        let (dayNumber, second) = secondOfDay < 0 ? (days - 1, secondOfDay + 86_400) : (days, secondOfDay)
        let (year, month, day) = civilDate(daysSinceEpoch: dayNumber)
        func pad(_ n: Int, _ width: Int) -> String {
            let digits = String(n)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(year, 4) + pad(month, 2) + pad(day, 2) + "T"
            + pad(second / 3600, 2) + pad(second / 60 % 60, 2) + pad(second % 60, 2) + "Z"
    }

    /// Parses an HTTP `Date` header in IMF-fixdate form (`Sun, 06 Nov 1994 08:49:37 GMT`), the
    /// form RFC 9110 requires servers to send; feed the result to `isClockSkewed`.
    public static func parseHTTPDate(_ text: String) -> Date? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT",
              let day = Int(parts[1]), (1...31).contains(day),
              let month = monthNames.firstIndex(of: String(parts[2])),
              let year = Int(parts[3]) else { return nil }
        let clock = parts[4].split(separator: ":").compactMap { Int($0) }
        guard clock.count == 3, (0...23).contains(clock[0]), (0...59).contains(clock[1]),
              (0...60).contains(clock[2]) else { return nil }
        let days = daysSinceEpoch(year: year, month: month + 1, day: day)
        return Date(timeIntervalSince1970: TimeInterval(days * 86_400 + clock[0] * 3600 + clock[1] * 60 + clock[2]))
    }

    private static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Proleptic Gregorian calendar arithmetic (H. Hinnant's days_from_civil / civil_from_days).
    static func civilDate(daysSinceEpoch: Int) -> (year: Int, month: Int, day: Int) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Whether an Authorization header was made for this signer's region and service on the UTC
    /// day of `date`: what AWS checks and moto_server does not, so tests check it here.
    public func scopeMatches(_ authorization: SigV4Authorization, at date: Date) -> Bool {
        authorization.region == region && authorization.service == service
            && authorization.day == String(Self.amzDate(date).prefix(8))
    }
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header.
public struct SigV4Authorization: Sendable, Equatable {
    public let accessKeyID: String
    /// `YYYYMMDD`.
    public let day: String
    public let region: String
    public let service: String
    public let signedHeaders: [String]
    public let signature: String

    public init?(header: String) {
        let prefix = "AWS4-HMAC-SHA256 "
        guard header.hasPrefix(prefix) else { return nil }
        var fields: [String: String] = [:]
        for field in header.dropFirst(prefix.count).split(separator: ",") {
            let trimmed = field.trimmingCharacters(in: .whitespaces)
            guard let equals = trimmed.firstIndex(of: "=") else { return nil }
            fields[String(trimmed[..<equals])] = String(trimmed[trimmed.index(after: equals)...])
        }
        // The access key id cannot hold '/', so the credential splits into exactly five parts.
        guard let credential = fields["Credential"], let signedHeaders = fields["SignedHeaders"],
              let signature = fields["Signature"] else { return nil }
        let scope = credential.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard scope.count == 5, scope[4] == "aws4_request", scope[1].count == 8 else { return nil }
        accessKeyID = scope[0]
        day = scope[1]
        region = scope[2]
        service = scope[3]
        self.signedHeaders = signedHeaders.split(separator: ";").map(String.init)
        self.signature = signature
    }
}

/// The one RFC 3986 percent-encoder, used for the bytes sent and for the canonical request alike,
/// so the two can never disagree.
public enum AWSURIEncoding {
    /// Keeps A–Z a–z 0–9 `-` `_` `.` `~` (and '/' when `keepSlash`); every other UTF-8 byte
    /// becomes `%XX` with upper-case hex. A space is `%20`, never `+`.
    public static func encode(_ string: String, keepSlash: Bool) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(string.utf8.count)
        for byte in string.utf8 {
            if isUnreserved(byte) || (keepSlash && byte == UInt8(ascii: "/")) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0f)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// `name=value&…` in the given order, for a query string.
    public static func query(_ items: [(name: String, value: String)]) -> String {
        items.map { encode($0.name, keepSlash: false) + "=" + encode($0.value, keepSlash: false) }
            .joined(separator: "&")
    }

    /// An `application/x-www-form-urlencoded` body (STS's POST form). Same encoder as the query, so
    /// a space is `%20`, which every form decoder accepts.
    public static func formBody(_ params: [(name: String, value: String)]) -> String {
        query(params)
    }

    /// Encoded pairs sorted by encoded name, then by encoded value, byte-wise.
    public static func canonicalQuery(_ items: [(name: String, value: String)]) -> String {
        items.map { (name: encode($0.name, keepSlash: false), value: encode($0.value, keepSlash: false)) }
            .sorted { a, b in
                a.name == b.name ? a.value.utf8.lexicographicallyPrecedes(b.value.utf8)
                                 : a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
            }
            .map { "\($0.name)=\($0.value)" }
            .joined(separator: "&")
    }

    /// RFC 3986 §5.2.4 dot-segment removal, plus dropping empty segments (AWS folds `//` into `/`).
    /// A trailing '/' survives unless nothing else does; the result of an empty path is "/".
    public static func normalizedPath(_ path: String) -> String {
        guard !path.isEmpty else { return "/" }
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..": _ = segments.popLast()
            default: segments.append(segment)
            }
        }
        let leading = path.hasPrefix("/") ? "/" : ""
        let trailing = path.hasSuffix("/") && !segments.isEmpty ? "/" : ""
        return leading + segments.joined(separator: "/") + trailing
    }
}
