// The GCE metadata server route of the loopback endpoint: google-auth, gcloud and the Google
// client libraries find it through GCE_METADATA_HOST and ask it for tokens.

import BrokerCore
import BrokerWire

/// The SDKs build every metadata URL as `http://` + GCE_METADATA_HOST + `/computeMetadata/v1/...`
/// and ping `http://` + GCE_METADATA_IP, concatenating whatever the variables hold; they send no
/// header we could make secret. So the per-run secret rides as the first path segment:
/// `GCE_METADATA_HOST=127.0.0.1:PORT/SECRET`. Like the real server, every answer carries
/// `Metadata-Flavor: Google` and every request must send it (no plain browser fetches), and a
/// request with `X-Forwarded-For` (a proxy relaying for someone else) is refused.
///
/// Threat model: the secret is as private as the wrapped process's environment (readable by the
/// same user through /proc, like AWS_CONTAINER_AUTHORIZATION_TOKEN); other users' processes and
/// processes of the same user that were not given it find the port but get 403. It appears in
/// URLs, so an SDK that logs failing metadata URLs at debug level prints it: it dies with the run.
struct GCEMetadataRoute: LoopbackRoute {
    static let name = "gce-metadata"
    static let prefix: StaticString = "/computeMetadata/v1/"

    /// The answer for a live grant: what the target asks for (nil for the ping at the root), and
    /// its query as sent (read by the few paths that take parameters).
    let answerRequest: @Sendable (_ path: MetadataPath?, _ query: String, LoopbackEndpoint.Grant) throws -> LoopbackReply

    var name: String { Self.name }
    var replyHeaders: [(String, String)] { Self.flavor }
    private static let flavor = [("Metadata-Flavor", "Google")]

    /// `127.0.0.1:PORT/SECRET`: what GCE_METADATA_HOST and GCE_METADATA_IP hold.
    static func host(_ endpoint: LoopbackEndpoint, secret: Secret) -> String {
        "127.0.0.1:\(endpoint.port)/\(secret.reveal())"
    }

    /// Splits `/SECRET[/computeMetadata/v1/PATH][?QUERY]`; nil when the target has no first
    /// segment. Any other path after the secret is kept whole, to be refused (after the secret
    /// check, so a caller without it learns nothing from 404s). The parts as Strings, for tests;
    /// requests are read as bytes (`parts(of:)`): slicing the String itself (each index rounded
    /// to a Character boundary) cost this route 5 µs a split, more than the AWS route's whole
    /// check of its secret.
    static func split(_ target: String) -> (secret: String, path: String?, query: String)? {
        var target = target
        return target.withUTF8(split(bytes:))
    }

    /// Reads the target's own storage (no copy of it into an array first).
    private static func split(bytes: UnsafeBufferPointer<UInt8>) -> (secret: String, path: String?, query: String)? {
        guard let parts = parts(of: bytes) else { return nil }
        let secret = String(decoding: bytes[parts.secret], as: UTF8.self)
        let query = String(decoding: bytes[parts.query], as: UTF8.self)
        guard let path = parts.path else { return (secret, nil, query) }
        return (secret, (parts.inV1 ? "" : "\u{0}") + String(decoding: bytes[path], as: UTF8.self), query)
    }

    /// Where the secret, the path (after `/computeMetadata/v1/` when `inV1`; nil for the root)
    /// and the query lie in a target.
    private static func parts(of bytes: UnsafeBufferPointer<UInt8>) -> (secret: Range<Int>, path: Range<Int>?, inV1: Bool, query: Range<Int>)? {
        guard bytes.first == UInt8(ascii: "/") else { return nil }
        let queryMark = bytes.firstIndex(of: UInt8(ascii: "?"), in: 0..<bytes.count)
        let pathEnd = queryMark ?? bytes.count
        let query = queryMark.map { ($0 + 1)..<bytes.count } ?? bytes.count..<bytes.count
        let secretEnd = bytes.firstIndex(of: UInt8(ascii: "/"), in: 1..<pathEnd) ?? pathEnd
        guard 1 < secretEnd else { return nil }
        if pathEnd - secretEnd <= 1 { return (1..<secretEnd, nil, true, query) }  // "" or "/": the root
        guard pathEnd - secretEnd >= prefix.utf8CodeUnitCount, bytes.has(prefix, at: secretEnd) else {
            return (1..<secretEnd, secretEnd..<pathEnd, false, query)
        }
        return (1..<secretEnd, (secretEnd + prefix.utf8CodeUnitCount)..<pathEnd, true, query)
    }

    /// `split(target)?.secret` without building the path and query, which only a request whose
    /// secret is good needs.
    static func firstSegment(_ target: String) -> String? {
        var target = target
        return target.withUTF8(firstSegment(bytes:))
    }

    static func firstSegment(bytes: UnsafeBufferPointer<UInt8>) -> String? {
        guard bytes.first == UInt8(ascii: "/") else { return nil }
        let pathEnd = bytes.firstIndex(of: UInt8(ascii: "?"), in: 1..<bytes.count) ?? bytes.count
        let end = bytes.firstIndex(of: UInt8(ascii: "/"), in: 1..<pathEnd) ?? pathEnd
        return end > 1 ? String(decoding: bytes[1..<end], as: UTF8.self) : nil
    }

    /// Only targets whose first segment has the shape of a grant's secret (64 hex digits): any
    /// other path stays the other routes' (or a 404), as before this route existed. Every
    /// request to the endpoint asks this (the routes after this one too), so it reads bytes only.
    func matches(_ head: HTTPRequestHead) -> Bool {
        head.withTarget { bytes in
            guard bytes.count > 64, bytes[0] == UInt8(ascii: "/"),
                  bytes.count == 65 || bytes[65] == UInt8(ascii: "/") || bytes[65] == UInt8(ascii: "?") else { return false }
            return Self.lowerHexDigits.withUnsafeBufferPointer { digit in
                var all: UInt8 = 1
                for i in 1...64 { all &= digit[Int(bytes[i])] }
                return all == 1
            }
        }
    }

    /// 1 for 0-9 and a-f, 0 for every other byte: the secret's 64 digits checked without a branch each.
    private static let lowerHexDigits: [UInt8] = (0...255).map { (48...57).contains($0) || (97...102).contains($0) ? 1 : 0 }

    func presentedSecret(in head: HTTPRequestHead) -> Result<Secret, LoopbackReply> {
        guard head.value(of: "metadata-flavor", is: "Google") else {
            return .failure(.error(403, "AccessDenied", "missing Metadata-Flavor: Google header"))
        }
        if head.value(of: "x-forwarded-for") != nil {
            return .failure(.error(403, "AccessDenied", "requests relayed by a proxy (X-Forwarded-For) are refused"))
        }
        guard let secret = head.withTarget(Self.firstSegment(bytes:)) else { return .failure(.error(404, "NotFound", "not a metadata path")) }
        return .success(Secret(secret))
    }

    func answer(_ head: HTTPRequestHead, grant: LoopbackEndpoint.Grant) throws -> LoopbackReply {
        try head.withTarget { bytes in
            guard let parts = Self.parts(of: bytes) else { return .error(404, "NotFound", "not a metadata path") }
            let path = parts.path.map { parts.inV1 ? MetadataPath(bytes: UnsafeBufferPointer(rebasing: bytes[$0])) : .other }
            return try answerRequest(path, String(decoding: bytes[parts.query], as: UTF8.self), grant)
        }
    }

    /// `name=value&...`, decoded (`+` is a space); a name given twice keeps its last value, an
    /// invalid escape stays as written.
    static func queryParameters(_ query: String) -> [String: String] {
        var values: [String: String] = [:]
        for pair in query.utf8.split(separator: UInt8(ascii: "&")) {
            let equals = pair.firstIndex(of: UInt8(ascii: "=")) ?? pair.endIndex
            let value = equals == pair.endIndex ? "" : formDecoded(pair[pair.index(after: equals)...])
            values[formDecoded(pair[..<equals])] = value
        }
        return values
    }

    static func formDecoded(_ text: Substring.UTF8View) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count)
        var i = text.startIndex
        while i < text.endIndex {
            let byte = text[i]
            if byte == UInt8(ascii: "%"), let high = text.index(i, offsetBy: 1, limitedBy: text.endIndex), high < text.endIndex,
               let low = text.index(high, offsetBy: 1, limitedBy: text.endIndex), low < text.endIndex,
               let h = AzureManagedIdentityRoute.hexValue(text[high]), let l = AzureManagedIdentityRoute.hexValue(text[low]) {
                bytes.append(h << 4 | l)
                i = text.index(after: low)
                continue
            }
            bytes.append(byte == UInt8(ascii: "+") ? 0x20 : byte)
            i = text.index(after: i)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// What a metadata request asks for: the paths google-auth, gcloud and the client libraries read,
/// told apart once from the target's bytes (the handler then switches on a value, instead of
/// comparing, slicing and splitting Strings by Character on every token request).
enum MetadataPath: Equatable {
    case projectID, numericProjectID, universeDomain, zone
    /// `instance/service-accounts/` (the list of accounts).
    case serviceAccounts
    /// `instance/service-accounts/ACCOUNT[/LEAF]`.
    case serviceAccount(String, Leaf)
    /// Anything else: answered 404.
    case other

    enum Leaf: Equatable { case directory, email, scopes, aliases, token, identity, other }

    /// `path` is what follows `/computeMetadata/v1/` (a leading NUL marks a target outside it).
    init(_ path: String) {
        var path = path
        self = path.withUTF8(MetadataPath.init(bytes:))
    }

    init(bytes: UnsafeBufferPointer<UInt8>) {
        func equals(_ literal: StaticString) -> Bool { bytes.isExactly(literal) }
        if equals("project/project-id") { self = .projectID; return }
        if equals("project/numeric-project-id") { self = .numericProjectID; return }
        if equals("universe/universe-domain") { self = .universeDomain; return }
        if equals("instance/zone") { self = .zone; return }
        let accounts: StaticString = "instance/service-accounts/"
        let prefix = accounts.utf8CodeUnitCount
        guard bytes.has(accounts, at: 0) else { self = .other; return }
        let rest = UnsafeBufferPointer(rebasing: bytes[prefix...])
        if rest.isEmpty { self = .serviceAccounts; return }
        let slash = rest.firstIndex(of: UInt8(ascii: "/"), in: 0..<rest.count) ?? rest.endIndex
        let account = String(decoding: rest[..<slash], as: UTF8.self)
        let leaf = slash == rest.endIndex ? UnsafeBufferPointer(rebasing: rest[slash...]) : UnsafeBufferPointer(rebasing: rest[(slash + 1)...])
        func leafIs(_ literal: StaticString) -> Bool { leaf.isExactly(literal) }
        let kind: Leaf = leaf.isEmpty ? .directory : leafIs("token") ? .token : leafIs("identity") ? .identity : leafIs("email") ? .email
            : leafIs("scopes") ? .scopes : leafIs("aliases") ? .aliases : .other
        self = .serviceAccount(account, kind)
    }
}
