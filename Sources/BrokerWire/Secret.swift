// A secret value that cannot be printed by accident (DESIGN D11).

/// Holds a secret's bytes. `description`, `debugDescription`, string interpolation and `dump`
/// all show `<redacted>`; the only way out is `reveal()`, which the final write of an adapter,
/// the agent's socket reply and the cache file writer call.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let value: String

    public init(_ value: String) { self.value = value }

    /// The secret's text. Grep for this name to audit every place a secret leaves its box.
    public func reveal() -> String { value }

    public var isEmpty: Bool { value.isEmpty }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [:], displayStyle: .struct) }

    /// Equality that takes the same time wherever the inputs differ.
    public func constantTimeEquals(_ other: Secret) -> Bool {
        let a = Array(value.utf8), b = Array(other.value.utf8)
        var diff = UInt8(a.count == b.count ? 0 : 1)
        let n = max(a.count, b.count)
        for i in 0..<n {
            diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return diff == 0
    }

    /// `****************ABCD`-style hint for people (aws-vault's habit), only for identifiers
    /// that are not themselves the secret, such as access key ids.
    public static func masked(_ identifier: String, visible: Int = 4) -> String {
        let tail = identifier.suffix(visible)
        return String(repeating: "*", count: max(0, identifier.count - tail.count)) + tail
    }
}
