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
    /// check, so a caller without it learns nothing from 404s). Works on the UTF-8 bytes and
    /// slices: every request is split more than once, and Character-wise string work (grapheme
    /// breaking) once cost this route more than the AWS route's whole answer.
    static func split(_ target: String) -> (secret: Substring, path: String?, query: Substring)? {
        let utf8 = target.utf8
        guard utf8.first == UInt8(ascii: "/") else { return nil }
        let queryMark = utf8.firstIndex(of: UInt8(ascii: "?"))
        let pathEnd = queryMark ?? utf8.endIndex
        let query = queryMark.map { target[utf8.index(after: $0)...] } ?? ""
        let secretStart = utf8.index(after: utf8.startIndex)
        let secretEnd = utf8[secretStart..<pathEnd].firstIndex(of: UInt8(ascii: "/")) ?? pathEnd
        guard secretStart < secretEnd else { return nil }
        let secret = target[secretStart..<secretEnd]
        let tail = utf8[secretEnd..<pathEnd]
        if tail.isEmpty || tail.elementsEqual([UInt8(ascii: "/")]) { return (secret, nil, query) }
        guard tail.starts(with: prefix.utf8) else { return (secret, "\u{0}" + target[secretEnd..<pathEnd], query) }
        return (secret, String(target[utf8.index(secretEnd, offsetBy: prefix.utf8.count)..<pathEnd]), query)
    }

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
        guard let parts = Self.split(head.target) else { return .failure(.error(404, "NotFound", "not a metadata path")) }
        return .success(Secret(String(parts.secret)))
    }

    func answer(_ head: HTTPRequestHead, grant: LoopbackEndpoint.Grant) -> LoopbackReply {
        guard let parts = Self.split(head.target) else { return .error(404, "NotFound", "not a metadata path") }
        return answerRequest(parts.path, parts.query.isEmpty ? [:] : Self.queryParameters(parts.query), grant)
    }

    static func queryParameters(_ query: Substring) -> [String: String] {
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
