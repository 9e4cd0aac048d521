// Fuzz target: a credential_process's stdout (Version 1 JSON) read into a credential or refused.

import BrokerCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let stdout = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let credential = try AWSCredentialProcessIdentity.credential(fromOutput: stdout, program: "credential_process `fuzz`",
                                                                     now: 1_700_000_000)
        if let expiry = credential.expiresAt, expiry <= 1_700_000_000 { fatalError("credential-process: accepted an expired credential") }
    } catch {
        // Refusals never quote stdout, which may hold the secret.
        let output = Array(stdout.utf8), message = Array("\(error)".utf8)
        if output.count >= 12, (0...(max(0, message.count - output.count))).contains(where: { message[$0...].starts(with: output) }) {
            fatalError("credential-process: an error quoted the output")
        }
    }
    return 0
}
