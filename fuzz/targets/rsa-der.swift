// Fuzz target: DER private keys, PKCS#1 and PKCS#8 (the DER reader and the key checks), signing with whatever parses.

import BrokerCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let der = Array(UnsafeBufferPointer(start: data, count: size))
    for key in [try? RSAPrivateKey(pkcs1DER: der), try? RSAPrivateKey(pkcs8DER: der)] {
        _ = try? key?.signPKCS1v15SHA256(Array("fuzz".utf8))
    }
    return 0
}
