// Fuzz target: STS answers (XMLText) read into credentials, a caller identity or an error sentence.

@testable import BrokerCore
import BrokerWire

private let endpoint = STSEndpoint(url: "https://sts.us-east-1.amazonaws.com", region: "us-east-1")
private let keys = AWSCredentials(accessKeyID: "AKIDFUZZEXAMPLE", secretAccessKey: Secret("fuzz-secret-key"), sessionToken: Secret("fuzz-token"))
private let calls = [
    STSClient.Call(action: "AssumeRole", target: "arn:aws:iam::123456789012:role/fuzz", credentials: keys),
    STSClient.Call(action: "GetSessionToken", target: nil, credentials: keys),
    STSClient.Call(action: "AssumeRoleWithWebIdentity", target: "arn:aws:iam::123456789012:role/web", credentials: nil),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = Array(UnsafeBufferPointer(start: data, count: size))
    let call = calls[Int(size % calls.count)]
    _ = try? STSClient.credentials(in: body, call: call, endpoint: endpoint)
    _ = try? STSClient.callerIdentity(in: body, call: calls[1], endpoint: endpoint)
    let error = STSClient.error(status: 400, body: body, call: call, endpoint: endpoint)
    // The server may echo anything; our sentence never carries the caller's secrets.
    if error.message.contains("fuzz-secret-key") || error.message.contains("fuzz-token") {
        fatalError("sts-xml: an error message carries a secret")
    }
    let document = XMLText(bytes: body)
    _ = document.text
    _ = document.element(path: ["Error", "Code"])?.text
    return 0
}
