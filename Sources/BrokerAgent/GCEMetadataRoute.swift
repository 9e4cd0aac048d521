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
    static let prefix = "/computeMetadata/v1/"

    /// The answer for a live grant: `path` after /computeMetadata/v1/ (nil for the ping at the
    /// root), and the query's parameters.
    let answerRequest: @Sendable (_ path: String?, _ query: [String: String], LoopbackEndpoint.Grant) -> LoopbackReply

    var name: String { Self.name }
    var replyHeaders: [(String, String)] { [("Metadata-Flavor", "Google")] }

    /// `127.0.0.1:PORT/SECRET`: what GCE_METADATA_HOST and GCE_METADATA_IP hold.
    static func host(_ endpoint: LoopbackEndpoint, secret: Secret) -> String {
        "127.0.0.1:\(endpoint.port)/\(secret.reveal())"
    }

    /// Splits `/SECRET[/computeMetadata/v1/PATH][?QUERY]`; nil when the target has no first
    /// segment. Any other path after the secret is kept whole, to be refused (after the secret
    /// check, so a caller without it learns nothing from 404s). Works on the target's UTF-8 bytes
    /// and builds each part from its bytes: every request is split twice, and slicing the
    /// String itself (each index rounded to a Character boundary) cost this route 5 µs a split,
    /// more than the AWS route's whole check of its secret.
    static func split(_ target: String) -> (secret: String, path: String?, query: String)? {
        var target = target
        return target.withUTF8(split(bytes:))
    }

    /// Reads the target's own storage (no copy of it into an array first).
    private static func split(bytes: UnsafeBufferPointer<UInt8>) -> (secret: String, path: String?, query: String)? {
        guard bytes.first == UInt8(ascii: "/") else { return nil }
        let queryMark = bytes.firstIndex(of: UInt8(ascii: "?"))
        let pathEnd = queryMark ?? bytes.endIndex
        let query = queryMark.map { String(decoding: bytes[($0 + 1)...], as: UTF8.self) } ?? ""
        let secretEnd = bytes[1..<pathEnd].firstIndex(of: UInt8(ascii: "/")) ?? pathEnd
        guard 1 < secretEnd else { return nil }
        let secret = String(decoding: bytes[1..<secretEnd], as: UTF8.self)
        let tail = bytes[secretEnd..<pathEnd]
        if tail.isEmpty || (tail.count == 1 && tail.first == UInt8(ascii: "/")) { return (secret, nil, query) }
        guard tail.starts(with: prefixBytes) else { return (secret, "\u{0}" + String(decoding: tail, as: UTF8.self), query) }
        return (secret, String(decoding: tail.dropFirst(prefixBytes.count), as: UTF8.self), query)
    }

    /// `split(target)?.secret` without building the path and query, which only a request whose
    /// secret is good needs.
    static func firstSegment(_ target: String) -> String? {
        var target = target
        return target.withUTF8 { bytes in
            guard bytes.first == UInt8(ascii: "/") else { return nil }
            var end = 1
            while end < bytes.count, bytes[end] != UInt8(ascii: "/"), bytes[end] != UInt8(ascii: "?") { end += 1 }
            return end > 1 ? String(decoding: bytes[1..<end], as: UTF8.self) : nil
        }
    }

    private static let prefixBytes = Array(prefix.utf8)

    /// Only targets whose first segment has the shape of a grant's secret (64 hex digits): any
    /// other path stays the other routes' (or a 404), as before this route existed. Every
    /// request to the endpoint asks this (the routes after this one too), so it reads bytes only.
    func matches(_ head: HTTPRequestHead) -> Bool {
        let utf8 = head.target.utf8
        guard utf8.count > 64, utf8.first == UInt8(ascii: "/") else { return false }
        var index = utf8.index(after: utf8.startIndex)
        for _ in 0..<64 {
            let byte = utf8[index]
            guard (byte >= 48 && byte <= 57) || (byte >= 97 && byte <= 102) else { return false }
            utf8.formIndex(after: &index)
        }
        return index == utf8.endIndex || utf8[index] == UInt8(ascii: "/") || utf8[index] == UInt8(ascii: "?")
    }

    func presentedSecret(in head: HTTPRequestHead) -> Result<Secret, LoopbackReply> {
        guard head.value(of: "metadata-flavor") == "Google" else {
            return .failure(.error(403, "AccessDenied", "missing Metadata-Flavor: Google header"))
        }
        if head.value(of: "x-forwarded-for") != nil {
            return .failure(.error(403, "AccessDenied", "requests relayed by a proxy (X-Forwarded-For) are refused"))
        }
        guard let secret = Self.firstSegment(head.target) else { return .failure(.error(404, "NotFound", "not a metadata path")) }
        return .success(Secret(secret))
    }

    func answer(_ head: HTTPRequestHead, grant: LoopbackEndpoint.Grant) -> LoopbackReply {
        guard let parts = Self.split(head.target) else { return .error(404, "NotFound", "not a metadata path") }
        return answerRequest(parts.path, parts.query.isEmpty ? [:] : Self.queryParameters(parts.query), grant)
    }

    static func queryParameters(_ query: String) -> [String: String] {
        var values: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let fields = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (text: Substring) in String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncodingLite }
            values[decode(fields[0])] = fields.count > 1 ? decode(fields[1]) : ""
        }
        return values
    }
}

extension String {
    /// Percent-decoding without Foundation; invalid escapes stay as written.
    var removingPercentEncodingLite: String {
        var bytes: [UInt8] = []
        let utf8 = Array(self.utf8)
        var i = 0
        while i < utf8.count {
            if utf8[i] == UInt8(ascii: "%"), i + 2 < utf8.count, let value = UInt8(String(decoding: utf8[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) {
                bytes.append(value)
                i += 3
            } else {
                bytes.append(utf8[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
