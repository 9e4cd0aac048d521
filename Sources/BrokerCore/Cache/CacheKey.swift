// Structured cache keys: readable (identity, kind) plus a digest of everything that shapes the result.

import BrokerWire

/// `<identity>.<kind>.<16 hex digits>` — parseable without reading the entry, so `status` and
/// `logout` work on names alone (aws-vault's habit), and safe as a file name.
public struct CacheKey: Hashable, Sendable, CustomStringConvertible {
    public let identity: String
    public let kind: String
    public let digest: String

    public var description: String { "\(identity.replacingSlashes).\(kind.replacingSlashes).\(digest)" }

    public init(identity: String, kind: String, digest: String) {
        self.identity = identity
        self.kind = kind
        self.digest = digest
    }

    /// The key of an identity given its resolved chain (self first, then each upstream hop): the
    /// whole chain shapes the result, so it all goes into the digest.
    /// `provider`: the root of the chain when its last hop has `via = provider:NAME`.
    public init(chain: [(name: String, kind: any ResolvedKind)],
                provider: (name: String, kind: String, parameters: [CacheParameter])? = nil, context: ResolveContext) {
        var material = "v2"
        for hop in chain {
            material += "\n" + hop.name + "\n" + hop.kind.kindName
            for parameter in hop.kind.cacheParameters(in: context) { material += "\n" + parameter.material }
        }
        if let provider {
            material += "\nprovider\n" + provider.name + "\n" + provider.kind
            for parameter in provider.parameters { material += "\n" + parameter.material }
        }
        identity = chain[0].name
        kind = chain[0].kind.kindName
        digest = String(SHA256.hash(material).hexString.prefix(16))
    }

    /// The digest alone: it is taken over the identity and kind names among the rest, so it
    /// tells keys apart as well as all three would, for a third of the hashing per lookup.
    public func hash(into hasher: inout Hasher) { hasher.combine(digest) }

    /// Parses a file name written by `description`.
    public init?(fileName: String) {
        let parts = fileName.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3, let digest = parts.last, digest.count == 16,
              digest.allSatisfy({ $0.isHexDigit }) else { return nil }
        self.digest = String(digest)
        self.kind = String(parts[parts.count - 2]).restoringSlashes
        self.identity = parts.dropLast(2).joined(separator: ".").restoringSlashes
    }
}

private extension String {
    var replacingSlashes: String { replacingOccurrences(of: "/", with: "~") }
    var restoringSlashes: String { replacingOccurrences(of: "~", with: "/") }
}

import Foundation
