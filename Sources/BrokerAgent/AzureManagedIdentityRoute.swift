// The Azure managed-identity route of the loopback endpoint: App Service's `IDENTITY_ENDPOINT`,
// which azure-identity's ManagedIdentityCredential (through MSAL) asks for tokens.

import BrokerCore
import BrokerWire
import Foundation

/// MSAL sends `GET IDENTITY_ENDPOINT?api-version=2019-08-01&resource=R[&client_id=C]` with the
/// per-run secret in `X-IDENTITY-HEADER` (copied from `IDENTITY_HEADER`), and reads
/// `{"access_token", "expires_on", "resource", "token_type"}`, `expires_on` being Unix seconds
/// (App Service sends them as a string; MSAL takes `int()` of either).
struct AzureManagedIdentityRoute: LoopbackRoute {
    static let name = "azure-managed-identity"
    static let path: StaticString = "/msi/token"
    static let apiVersion = "2019-08-01"

    /// What a request asks for, once its query has been read.
    struct Query: Equatable {
        var resource: String
        var clientID: String?
    }

    /// The identity's token for a live grant and a well-formed query (AzureHandler.endpointReply).
    let token: @Sendable (Query, LoopbackEndpoint.Grant) throws -> LoopbackReply
    /// The last target read and what its query said: an SDK asks the same URL at every refresh,
    /// so the strict read (decoding, resource normalization) runs once per URL, not per request.
    private let lastQuery = QueryMemo()

    init(token: @escaping @Sendable (Query, LoopbackEndpoint.Grant) throws -> LoopbackReply) {
        self.token = token
    }

    final class QueryMemo: @unchecked Sendable {
        private let lock = NSLock()
        private var target: [UInt8] = []
        private var result: Result<Query, LoopbackReply>?

        func read(_ target: UnsafeBufferPointer<UInt8>, _ make: (UnsafeBufferPointer<UInt8>) -> Result<Query, LoopbackReply>) -> Result<Query, LoopbackReply> {
            lock.lock()
            if let result, same(target) { lock.unlock(); return result }
            lock.unlock()
            let made = make(target)
            lock.lock(); (self.target, result) = (Array(target), made); lock.unlock()
            return made
        }

        /// One `memcmp` (a generic `elementsEqual` over the two buffers cost 2 000 instructions).
        private func same(_ other: UnsafeBufferPointer<UInt8>) -> Bool {
            target.count == other.count && target.withUnsafeBufferPointer { mine in
                mine.count == 0 || memcmp(mine.baseAddress!, other.baseAddress!, mine.count) == 0
            }
        }
    }

    var name: String { Self.name }

    static func url(_ endpoint: LoopbackEndpoint) -> String { endpoint.baseURL + "\(path)" }

    /// `/msi/token` or `/msi/token/`, with or without a query; read as bytes, since every
    /// request to the endpoint that no earlier route took asks this.
    func matches(_ head: HTTPRequestHead) -> Bool {
        head.withTarget { bytes in
            guard bytes.has(Self.path, at: 0) else { return false }
            var end = Self.path.utf8CodeUnitCount
            if end < bytes.count, bytes[end] == UInt8(ascii: "/") { end += 1 }
            return end == bytes.count || bytes[end] == UInt8(ascii: "?")
        }
    }

    func presentedSecret(in head: HTTPRequestHead) -> Result<Secret, LoopbackReply> {
        switch head.single("x-identity-header") {
        case .one(let presented) where !presented.isEmpty: return .success(Secret(presented))
        case .repeated: return .failure(Self.error(400, "more than one X-IDENTITY-HEADER header"))
        default: return .failure(Self.error(401, "the X-IDENTITY-HEADER header is missing (set IDENTITY_HEADER)"))
        }
    }

    func answer(_ head: HTTPRequestHead, grant: LoopbackEndpoint.Grant) throws -> LoopbackReply {
        switch head.withTarget({ lastQuery.read($0, Self.query(bytes:)) }) {
        case .failure(let refusal): return refusal
        case .success(let query): return try token(query, grant)
        }
    }

    /// App Service's error shape, which MSAL folds into its error description.
    static func error(_ status: Int, _ message: String) -> LoopbackReply {
        LoopbackReply(status: status, body: .object([("statusCode", .int(Int64(status))), ("message", .string(message))]))
    }

    /// Reads the query strictly: known parameters once each, valid %-escapes, the one
    /// api-version MSAL sends, a resource; `object_id` and `mi_res_id` name identities a wrap
    /// does not have.
    static func query(of target: String) -> Result<Query, LoopbackReply> {
        var target = target
        return target.withUTF8(query(bytes:))
    }

    /// The parameters a query may name, each a bit of the set of those seen.
    private static let parameters: [(name: [UInt8], bit: UInt8)] = [
        (Array("api-version".utf8), 1), (Array("resource".utf8), 2), (Array("client_id".utf8), 4),
        (Array("object_id".utf8), 8), (Array("mi_res_id".utf8), 16), (Array("principal_id".utf8), 32),
    ]

    /// One pass over the target's bytes. Every token request reads this, and the values MSAL
    /// sends are mostly plain ASCII: a part without `%` or `+` is its own decoding, so it is
    /// compared in place and only the resource and client_id become Strings (a copy of the
    /// target, its split, a decoded String per part and a Dictionary had cost this route 10 µs).
    static func query(bytes: UnsafeBufferPointer<UInt8>) -> Result<Query, LoopbackReply> {
        guard let mark = bytes.firstIndex(of: UInt8(ascii: "?")), mark + 1 != bytes.endIndex else {
            return .failure(error(400, "the query must name api-version and resource"))
        }
        var seen: UInt8 = 0
        var apiVersionOK = false
        var resource: String?
        var clientID: String?
        var start = mark + 1
        while start <= bytes.endIndex {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "&")) ?? bytes.endIndex
            let pair = UnsafeBufferPointer(rebasing: bytes[start..<end])
            start = end + 1
            guard let equals = pair.firstIndex(of: UInt8(ascii: "=")) else {
                return .failure(error(400, "the query is not name=value pairs with valid %-escapes"))
            }
            let rawName = UnsafeBufferPointer(rebasing: pair[..<equals]), rawValue = UnsafeBufferPointer(rebasing: pair[(equals + 1)...])
            guard let name = Part(rawName), let value = Part(rawValue) else {
                return .failure(error(400, "the query is not name=value pairs with valid %-escapes"))
            }
            guard let bit = parameters.first(where: { name.equals($0.name) })?.bit else {
                return .failure(error(400, "unknown query parameter \(WireCodec.printable(name.string, limit: 40))"))
            }
            guard seen & bit == 0 else { return .failure(error(400, "\(name.string) is given twice")) }
            seen |= bit
            switch bit {
            case 1: apiVersionOK = value.equals(apiVersionBytes)
            case 2: resource = value.string
            case 4: clientID = value.string
            default: break
            }
        }
        guard apiVersionOK else {
            return .failure(error(400, "api-version must be \(apiVersion) (App Service's managed identity protocol)"))
        }
        guard let text = resource, let normalized = AzureApplication.normalizedResource(text) else {
            return .failure(error(400, "resource must be a URI such as https://management.azure.com"))
        }
        if seen & (8 | 16 | 32) != 0 {
            return .failure(error(400, "this endpoint serves one identity, named by client_id only"))
        }
        return .success(Query(resource: normalized, clientID: clientID))
    }

    private static let apiVersionBytes = Array(apiVersion.utf8)

    /// A name or value of the query: its own bytes when they are printable ASCII without `%` or
    /// `+` (nothing to decode, nothing to refuse), else its decoding; nil when that is invalid.
    private enum Part {
        case plain(UnsafeBufferPointer<UInt8>)
        case decoded(String)

        init?(_ raw: UnsafeBufferPointer<UInt8>) {
            if raw.allSatisfy({ $0 >= 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "%") && $0 != UInt8(ascii: "+") }) {
                self = .plain(raw)
            } else if let decoded = AzureManagedIdentityRoute.percentDecoded(raw) {
                self = .decoded(decoded)
            } else {
                return nil
            }
        }

        func equals(_ expected: [UInt8]) -> Bool {
            switch self {
            case .plain(let raw): return raw.elementsEqual(expected)
            case .decoded(let text): return text.utf8.elementsEqual(expected)
            }
        }

        var string: String {
            switch self {
            case .plain(let raw): return String(decoding: raw, as: UTF8.self)
            case .decoded(let text): return text
            }
        }
    }

    static func percentDecoded(_ text: UnsafeBufferPointer<UInt8>) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            switch text[i] {
            case UInt8(ascii: "%"):
                guard i + 2 < text.count, let high = hexValue(text[i + 1]), let low = hexValue(text[i + 2]) else { return nil }
                bytes.append(high << 4 | low)
                i += 3
                continue
            case UInt8(ascii: "+"): bytes.append(0x20)
            case let byte: bytes.append(byte)
            }
            i += 1
        }
        // In UTF-8 a control character is its own byte: no need to walk the decoded scalars.
        guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x7f }) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }
}
