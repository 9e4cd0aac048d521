// Fuzz target: the Azure parsers of outside input — token endpoint answers (success and error),
// device authorizations, az CLI output, the managed-identity endpoint's query and JWT expiry.

@testable import BrokerAgent
@testable import BrokerCore
import BrokerWire

private let secret = "fuzz-client-secret-value"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = Array(UnsafeBufferPointer(start: data, count: size))
    let status = [200, 400, 401, 500][size % 4]
    do {
        let token = try AzureTokenEndpoint.token(status: status, body: body, purpose: "fuzz", secrets: [secret], now: 1_800_000_000)
        if status != 200 { fatalError("azure-token: a token from an HTTP \(status) answer") }
        if token.expiresAt <= 1_800_000_000 || token.expiresAt > 1_800_000_000 + 86400 { fatalError("azure-token: expiry out of range") }
    } catch let failure as BrokerFailure {
        // The service may echo the request; our sentence never carries the secret.
        if failure.message.contains(secret) || (failure.hint ?? "").contains(secret) { fatalError("azure-token: a message carries the secret") }
    } catch {
        fatalError("azure-token: untyped error \(error)")
    }
    _ = try? AzureDeviceCodeProvider.DeviceFlow.authorization(status: status, body: body, purpose: "fuzz", now: 1_800_000_000)
    _ = try? AzureCLIIdentity.token(fromOutput: body, identity: "fuzz")
    let text = String(decoding: body, as: UTF8.self)
    _ = unverifiedJWTExpiry(Secret(text))
    _ = AzureApplication.normalizedResource(text)
    if case .success(let query) = AzureManagedIdentityRoute.query(of: "/msi/token?" + text) {
        if AzureApplication.normalizedResource(query.resource) != query.resource { fatalError("azure-token: a resource not normalized") }
    }
    return 0
}
