// `[registry "HOST[:PORT]"]` patterns and the server-URL normalisation docker applies before matching them.

import BrokerWire

/// A registry as docker names it: `host[:port]`, lower-cased. `*` stands for any run of
/// characters within one DNS label, so `*.dkr.ecr.*.amazonaws.com` matches every ECR registry
/// and `*.example.com` matches `r.example.com` but not `a.r.example.com`. A pattern with a port
/// matches that port only; one without matches registries named without a port.
public struct RegistryPattern: Sendable, Equatable {
    public let text: String

    public init(_ text: String, at location: SourceLocation?) throws {
        let lowered = text.lowercased()
        func fail(_ why: String) -> ConfigError {
            ConfigError("[registry \"\(WireCodec.printable(text))\"] \(why)", at: location,
                        hint: "name a registry as docker does: HOST or HOST:PORT, e.g. [registry \"ghcr.io\"] or [registry \"*.dkr.ecr.*.amazonaws.com\"]")
        }
        guard !lowered.isEmpty else { throw fail("names no registry") }
        if lowered.contains("://") || lowered.contains("/") { throw fail("must be a host, not a URL with a scheme or path") }
        let allowed = lowered.utf8.allSatisfy { b in
            (0x61...0x7a).contains(b) || (0x30...0x39).contains(b) || [UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "*"),
                                                                      UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "_")].contains(b)
        }
        guard allowed else { throw fail("holds characters a registry host cannot") }
        guard !lowered.hasPrefix(".") && !lowered.hasSuffix(".") && !lowered.contains("..") else { throw fail("has an empty DNS label") }
        self.text = lowered
    }

    /// nil when `registry` (already normalised) does not match; otherwise how specific the match
    /// is: an exact pattern beats every wildcard, and more literal characters beat fewer.
    public func specificity(_ registry: String) -> Int? {
        if !text.contains("*") { return text == registry ? Int.max : nil }
        return Self.matches(Array(text.utf8)[...], Array(registry.utf8)[...]) ? text.utf8.filter { $0 != UInt8(ascii: "*") }.count : nil
    }

    private static func matches(_ pattern: ArraySlice<UInt8>, _ name: ArraySlice<UInt8>) -> Bool {
        guard let p = pattern.first else { return name.isEmpty }
        if p == UInt8(ascii: "*") {
            // Any run within the label: never across '.' or into the port.
            var rest = name[...]
            while true {
                if matches(pattern.dropFirst(), rest) { return true }
                guard let c = rest.first, c != UInt8(ascii: "."), c != UInt8(ascii: ":") else { return false }
                rest = rest.dropFirst()
            }
        }
        guard let c = name.first, c == p else { return false }
        return matches(pattern.dropFirst(), name.dropFirst())
    }

    /// What docker's CLI does to a server address before it looks up `credHelpers`
    /// (`ConvertToHostname`): drop an `http://` or `https://` scheme and everything from the
    /// first `/`; keep the port. Lower-cased, since host names are; a query or fragment goes too.
    public static func normalize(_ serverURL: String) -> String {
        var text = Substring(serverURL.trimmingWhitespace)
        for scheme in ["https://", "http://"] where text.lowercased().hasPrefix(scheme) {
            text = text.dropFirst(scheme.count)
            break
        }
        if let cut = text.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { text = text[..<cut] }
        // Userinfo never names a registry (`user@host`); what follows '@' does.
        if let at = text.lastIndex(of: "@") { text = text[text.index(after: at)...] }
        return text.lowercased()
    }
}

extension String {
    fileprivate var trimmingWhitespace: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return self[start...end]
    }
}
