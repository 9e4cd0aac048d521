// Fuzz target: PEM private keys (RSAPrivateKey(pem:)), signing with whatever parses.

import BrokerCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let pem = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let key = try? RSAPrivateKey(pem: pem) {
        _ = try? key.signPKCS1v15SHA256(Array("fuzz".utf8))
    }
    return 0
}
