// Fuzz target: the Google Cloud parsers — service-account key JSON, token-endpoint and IAM
// Credentials answers, and the metadata route's target splitting. None may crash, and a refused
// input must never be quoted back in the error (it may hold a key).

@testable import BrokerAgent
@testable import BrokerCore
import BrokerWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    do {
        _ = try GCPServiceAccountKey.parse(Secret(text), source: "fuzz")
    } catch let error as BrokerFailure {
        if text.count > 40, error.message.contains(text) { fatalError("gcp-parsers: a key file was quoted in its error") }
    } catch {}
    for status in [200, 400, 403] {
        _ = try? GCPClient.parseTokenAnswer(status: status, body: bytes, what: "fuzz", now: 1_000_000)
        _ = try? GCPImpersonation.parseAccessToken(status: status, body: bytes)
        _ = try? GCPImpersonation.parseIDToken(status: status, body: bytes, now: 1_000_000)
    }
    if let parts = GCEMetadataRoute.split("/" + text) {
        if parts.secret.isEmpty || parts.secret.contains("/") { fatalError("gcp-parsers: split gave a bad secret") }
        _ = GCEMetadataRoute.queryParameters(parts.query)
    }
    return 0
}
