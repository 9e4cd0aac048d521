// Fuzz target: what docker's helpers and client-go hand the container adapters (JSON on stdin or in KUBERNETES_EXEC_INFO, server URLs), read or refused.

import BrokerCore
import BrokerFrontends
import BrokerWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let value = try? JSONValue.parse(bytes) {
        // What we read, we write back and read again as the same value.
        guard let again = try? JSONValue.parse(value.encoded()), again == value else {
            fatalError("container-input: a parsed JSON value did not survive encoding")
        }
    }
    for action in [DockerCredentialFrontend.Action.get, .store, .erase] {
        if let request = try? DockerCredentialFrontend.agentRequest(action, input: bytes) {
            // A request is always a valid wire message: no value may carry a line break or NUL.
            guard (try? request.encoded()) != nil else { fatalError("container-input: a request the wire refuses") }
        }
    }
    let text = String(decoding: bytes, as: UTF8.self)
    _ = try? KubeCredentialFrontend.apiVersion(execInfo: text)
    let registry = RegistryPattern.normalize(text)
    if registry.contains("/") { fatalError("container-input: a normalised registry kept a path") }
    if let pattern = try? RegistryPattern(text, at: nil) { _ = pattern.specificity(registry) }
    return 0
}
