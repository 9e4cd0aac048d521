// Fuzz target: the git-config syntax (ConfigSyntax.parse) and the model built from it (BrokerConfig.parse).

import BrokerCore
import BrokerWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    // The collecting path (validate, the broken-config fallback) reads past every error.
    let checked = BrokerConfig.build(ConfigSyntax.parseDocument(text: text, file: "fuzz"))
    _ = checked.config.gitBinding(protocol: "https", host: "example.com", path: nil)
    guard let entries = try? ConfigSyntax.parse(text: text, file: "fuzz") else { return 0 }
    for entry in entries {
        _ = try? ConfigSyntax.parseBool(entry.value, at: entry.location)
        _ = try? ConfigSyntax.parseDuration(entry.value, at: entry.location)
        _ = try? ConfigSyntax.parseInt(entry.value, at: entry.location)
    }
    guard let config = try? BrokerConfig.parse(entries) else { return 0 }
    _ = config.gitBinding(protocol: "https", host: "github.com", path: "acme/repo.git")
    _ = config.gitBinding(protocol: "https", host: "example.com", path: nil)
    _ = config.pathBoundBindingsNeedingPath(protocol: "https", host: "github.com")
    for name in config.identities.keys { _ = try? ChainResolver.chain(of: name, in: config) }
    return 0
}
