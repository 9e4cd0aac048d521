// Fuzz target: the loopback endpoint's request head parser and its answer. The
// bytes "TOKEN" in the input stand for the one granted token, so the accepted path is reachable.

@testable import BrokerAgent
import BrokerWire

// The reply is made per call: a global enum holding objects hides its pointers from LeakSanitizer (spare bits).
private let endpoint = try! LoopbackEndpoint(routes: [AWSCredentialsRoute(keys: { _ in
    LoopbackReply(status: 200, body: .object([("AccessKeyId", .string("AKIDFUZZ"))]))
})], log: { _ in })
private let token = Array(endpoint.grant(identity: "fuzz", pid: 4242, route: AWSCredentialsRoute.name).token.reveal().utf8)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let placeholder = Array("TOKEN".utf8)
    var i = 0
    while i + placeholder.count <= bytes.count {
        if bytes[i..<(i + placeholder.count)].elementsEqual(placeholder) {
            bytes.replaceSubrange(i..<(i + placeholder.count), with: token)
            i += token.count
        } else {
            i += 1
        }
    }
    _ = bytes.headEnd
    switch HTTPRequestHead.parse(bytes) {
    case .success(let head):
        // The fuzz route's answer never waits: anything thrown is a bug.
        let reply = try! endpoint.respond(to: head)
        if reply.status == 200 && (head.method != "GET" || head.target != "\(AWSCredentialsRoute.path)") {
            fatalError("endpoint-http: answered \(head.method) \(head.target)")
        }
        _ = LoopbackEndpoint.reason(reply.status)
        _ = LoopbackEndpoint.encoded(reply)
    case .failure(let reply):
        guard reply.status == 400 else { fatalError("endpoint-http: a parse failure with status \(reply.status)") }
    }
    return 0
}
