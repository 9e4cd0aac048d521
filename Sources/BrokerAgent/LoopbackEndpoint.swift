// The per-run loopback endpoint on 127.0.0.1: cloud SDKs in wrapped commands fetch credentials
// here, each cloud through its own route (AWSCredentialsRoute.swift, ...).

import BrokerCore
import BrokerWire
import Foundation

/// One way an SDK asks the endpoint for credentials: which requests it owns, where their per-run
/// secret rides (a header, a path segment), and what it answers once the secret is known good.
/// A secret granted for one route opens no other.
protocol LoopbackRoute: Sendable {
    /// The name grants are bound to (`aws-credentials`, `gce-metadata`, ...).
    var name: String { get }
    /// Whether the request's target is this route's (decided before any secret is looked at).
    func matches(_ head: HTTPRequestHead) -> Bool
    /// The secret the request presents, or the refusal when it presents none this route takes.
    func presentedSecret(in head: HTTPRequestHead) -> Result<Secret, LoopbackReply>
    /// The answer to a request whose secret belongs to a live grant of this route. Throws only
    /// `MustWait`: on the accept loop, when the answer needs a credential that is not cached.
    func answer(_ head: HTTPRequestHead, grant: LoopbackEndpoint.Grant) throws -> LoopbackReply
    /// Headers every answer of this route carries, refusals included (SDKs that sniff for a
    /// server, like google-auth's metadata ping, look at them).
    var replyHeaders: [(String, String)] { get }
}

extension LoopbackRoute {
    var replyHeaders: [(String, String)] { [] }
}

/// An answer: JSON by default, or plain text (the metadata server's scalar values).
struct LoopbackReply: Equatable, Error {
    var status: Int
    var body: JSONValue
    var text: String?
    var headers: [(String, String)] = []

    init(status: Int, body: JSONValue) {
        self.status = status
        self.body = body
    }

    init(status: Int, text: String) {
        self.status = status
        self.body = .null
        self.text = text
    }

    static func == (a: LoopbackReply, b: LoopbackReply) -> Bool {
        a.status == b.status && a.body == b.body && a.text == b.text && a.headers.map { "\($0.0):\($0.1)" } == b.headers.map { "\($0.0):\($0.1)" }
    }

    static func error(_ status: Int, _ code: String, _ message: String) -> LoopbackReply {
        LoopbackReply(status: status, body: .object([("code", .string(code)), ("message", .string(message))]))
    }

    var contentType: String { text == nil ? "application/json" : "application/text" }
    var encodedBody: [UInt8] { text.map { Array($0.utf8) } ?? body.encodedBytes() }
}

/// A small HTTP/1.1 server for GET requests without bodies. One request per connection, heads
/// bounded to 8 KiB and 2 s from accept (read in the accept loop's poll, so slow clients hold no
/// thread; a cached credential is answered there too), Host must be loopback, no Origin (no web
/// pages). Each wrapped command gets its own
/// random secret per route, which dies with the command; what a route answers is its own.
final class LoopbackEndpoint: @unchecked Sendable {
    /// One wrapped command's right to one identity's credentials through one route.
    struct Grant: Sendable {
        let id: UInt64
        let token: Secret
        let identity: String
        let pid: Int32
        let route: String
    }

    typealias Reply = LoopbackReply

    static let maxHeadBytes = 8192
    static let maxConnections = 64

    let port: UInt16
    /// The port as the Host header writes it, read on every request.
    private let portDigits: [UInt8]
    let routes: [any LoopbackRoute]
    private let listener: FileDescriptor
    private let log: @Sendable (String) -> Void
    private let lock = NSLock()
    private var grants: [Grant] = []
    private var nextID: UInt64 = 1
    private var connections = 0
    private var stopped = false

    /// Where routes hang their paths: `http://127.0.0.1:PORT`.
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Listens on an ephemeral loopback port and starts the accept thread.
    init(routes: [any LoopbackRoute], log: @escaping @Sendable (String) -> Void) throws {
        self.routes = routes
        self.log = log
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BrokerFailure(.unavailable, "cannot open the credentials endpoint's socket: \(Errno.current)") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")  // loopback only, never 0.0.0.0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 512) == 0 else {
            let error = Errno.current
            close(fd)
            throw BrokerFailure(.unavailable, "cannot listen on 127.0.0.1 for the credentials endpoint: \(error)")
        }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        port = UInt16(bigEndian: address.sin_port)
        portDigits = Array(String(port).utf8)
        listener = FileDescriptor(rawValue: fd)
        let thread = Thread { [self] in acceptLoop() }
        thread.stackSize = 256 * 1024
        thread.start()
    }

    /// A new random token for `identity` through `route`, valid until `revoke`.
    func grant(identity: String, pid: Int32, route: String) -> Grant {
        var generator = SystemRandomNumberGenerator()
        let hex = (0..<32).map { _ in
            let byte = UInt8.random(in: 0...255, using: &generator)
            return (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined()
        lock.lock(); defer { lock.unlock() }
        let grant = Grant(id: nextID, token: Secret(hex), identity: identity, pid: pid, route: route)
        nextID += 1
        grants.append(grant)
        return grant
    }

    func revoke(pid: Int32) {
        lock.lock(); grants.removeAll { $0.pid == pid }; lock.unlock()
    }

    var grantCount: Int {
        lock.lock(); defer { lock.unlock() }
        return grants.count
    }

    func stop() {
        lock.lock()
        let wasStopped = stopped
        stopped = true
        grants.removeAll()
        lock.unlock()
        if !wasStopped { listener.close() }
    }

    /// A connection whose request head is still arriving. It waits in the accept loop's poll,
    /// holding no thread and no slot, until its head is complete, too large, or too late: slow
    /// clients cannot occupy what real requests need.
    private struct PendingHead {
        let fd: FileDescriptor
        let deadline: Double
        var bytes: [UInt8] = []
    }

    /// The whole head must arrive within this many seconds of accept (not per read).
    static let headDeadlineSeconds = 2.0
    /// Heads arriving at once; past it the oldest is dropped.
    static let maxPending = 1024

    private func acceptLoop() {
        var pending: [PendingHead] = []
        var chunk = [UInt8](repeating: 0, count: 2048)
        while true {
            lock.lock(); let done = stopped; lock.unlock()
            if done { pending.forEach { $0.fd.close() }; return }
            var pollers = [pollfd(fd: listener.rawValue, events: Int16(POLLIN), revents: 0)]
                + pending.map { pollfd(fd: $0.fd.rawValue, events: Int16(POLLIN), revents: 0) }
            let ready = (try? Poll.wait(&pollers, timeoutMilliseconds: 100, retryOnInterrupt: false)) ?? 0
            let now = monotonicSeconds()
            var still: [PendingHead] = []
            for (index, var head) in pending.enumerated() {
                if ready > 0 && pollers[index + 1].revents != 0 {
                    let n = chunk.withUnsafeMutableBytes { recv(head.fd.rawValue, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    if n > 0 { head.bytes += chunk[0..<n] }
                    let finished = n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)
                    // A bare-LF blank line will never become a valid head: answer its 400 now.
                    let bareBlankLine = n > 0 && head.bytes.hasBareBlankLine
                    if finished || bareBlankLine || head.bytes.headEnd != nil || head.bytes.count > Self.maxHeadBytes {
                        answer(head.fd, head.bytes)
                        continue
                    }
                }
                if now >= head.deadline { head.fd.close(); continue }  // too slow: no answer, no thread
                still.append(head)
            }
            pending = still
            if ready > 0 && pollers[0].revents != 0, let connection = try? UnixSocket.accept(listener) {
                if pending.count >= Self.maxPending { pending.removeFirst().fd.close() }
                pending.append(PendingHead(fd: connection, deadline: now + Self.headDeadlineSeconds))
            }
        }
    }

    /// Answers a complete (or refused) head here on the accept loop when that needs no waiting —
    /// a cached credential, a refusal — as the agent's own socket does; a thread per request had
    /// cost each answer more than everything else it did. An answer that needs an upstream
    /// call (or another request's) goes to a thread of its own.
    private func answer(_ connection: FileDescriptor, _ bytes: [UInt8]) {
        let reply: Reply? = ServingThread.withoutWaiting {
            switch Self.head(of: bytes) {
            case .failure(let problem): return problem
            case .success(let head):
                do { return try respond(to: head) } catch is MustWait { return nil } catch { return Self.unavailable(error) }
            }
        }
        guard let reply else { dispatch(connection, bytes); return }
        let out = Self.encoded(reply)
        // A fresh connection's send buffer takes a whole answer; should it not, a thread finishes.
        guard let sent = try? out.withUnsafeBytes({ try UnixSocket.sendSome(connection, $0) }), sent < out.count
        else { connection.close(); return }
        let rest = Array(out[sent...])
        onThread(connection) { _ = try? $0.writeAll(rest) }
    }

    static func unavailable(_ error: Error) -> Reply { .error(502, "CredentialsUnavailable", "\(error)".onOneLine) }

    /// Answers a complete (or refused) head on a thread of its own, within max-connections.
    private func dispatch(_ connection: FileDescriptor, _ bytes: [UInt8]) {
        onThread(connection) { [self] connection in serve(connection, bytes) }
    }

    /// Runs `body` on a thread of its own within max-connections (else drops the connection),
    /// then closes the connection.
    private func onThread(_ connection: FileDescriptor, _ body: @escaping @Sendable (FileDescriptor) -> Void) {
        lock.lock()
        let admitted = connections < Self.maxConnections
        if admitted { connections += 1 }
        lock.unlock()
        guard admitted else { connection.close(); return }
        let thread = Thread { [self] in
            defer {
                connection.close()
                lock.lock(); connections -= 1; lock.unlock()
            }
            UnixSocket.setTimeouts(connection, seconds: 2)
            body(connection)
        }
        thread.stackSize = 256 * 1024
        thread.start()
    }

    private func serve(_ connection: FileDescriptor, _ bytes: [UInt8]) {
        let reply: Reply
        switch Self.head(of: bytes) {
        case .success(let head):
            do { reply = try respond(to: head) } catch { reply = Self.unavailable(error) }
        case .failure(let problem): reply = problem
        }
        _ = try? connection.writeAll(Self.encoded(reply))
    }

    /// The reply's bytes, written once into memory sized for them (the answer is one `write`).
    static func encoded(_ reply: Reply) -> [UInt8] {
        let body = reply.encodedBody
        let reason = reason(reply.status)
        let contentType = reply.contentType
        let capacity = 160 + reason.utf8.count + contentType.utf8.count + body.count
            + reply.headers.reduce(0) { $0 + $1.0.utf8.count + $1.1.utf8.count + 4 }
        return [UInt8](capacity: capacity) { out in
            out.literal("HTTP/1.1 ")
            out.decimal(Int64(reply.status))
            out.byte(UInt8(ascii: " "))
            out.utf8(reason)
            out.literal("\r\nContent-Type: ")
            out.utf8(contentType)
            out.literal("\r\n")
            for (name, value) in reply.headers {
                out.utf8(name)
                out.literal(": ")
                out.utf8(value)
                out.literal("\r\n")
            }
            out.literal("Content-Length: ")
            out.decimal(Int64(body.count))
            out.literal("\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n")
            body.withUnsafeBytes { if let start = $0.baseAddress { out.bytes(start, $0.count) } }
        }
    }

    static func head(of bytes: [UInt8]) -> Result<HTTPRequestHead, Reply> {
        let end = bytes.headEnd
        if (end.map { $0 + 4 } ?? bytes.count) > maxHeadBytes {
            return .failure(.error(431, "BadRequest", "request head larger than \(maxHeadBytes) bytes"))
        }
        guard let end else { return .failure(.error(400, "BadRequest", "incomplete request")) }
        return HTTPRequestHead.parse(bytes, end: end)
    }

    /// Decides the answer for a parsed request. Wrong and dead tokens get the same reply, so a
    /// caller cannot tell a token that never existed from one whose command has exited.
    func respond(to head: HTTPRequestHead) throws -> Reply {
        guard head.method == "GET" else { return .error(405, "MethodNotAllowed", "only GET is served") }
        guard let route = routes.first(where: { $0.matches(head) }) else {
            return .error(404, "NotFound", "no credentials live at this path")
        }
        var reply = try authorize(head, route: route)
        let always = route.replyHeaders
        if !always.isEmpty { reply.headers = reply.headers.isEmpty ? always : always + reply.headers }
        return reply
    }

    private func authorize(_ head: HTTPRequestHead, route: any LoopbackRoute) throws -> Reply {
        // A web page can reach loopback through a browser (a cross-origin fetch, DNS rebinding):
        // browsers always send Origin on such requests and the page's own name as Host.
        if head.value(of: "origin") != nil {
            return .error(403, "AccessDenied", "requests from web pages (with an Origin header) are refused")
        }
        guard head.hostIsLoopback(port: portDigits) else {
            return .error(421, "MisdirectedRequest", "the Host header must be 127.0.0.1:\(port) or localhost:\(port)")
        }
        let token: Secret
        switch route.presentedSecret(in: head) {
        case .success(let presented): token = presented
        case .failure(let refusal): return refusal
        }
        lock.lock()
        var match: Grant?
        // Compare against every grant, in constant time each, whatever matched first.
        for grant in grants where grant.token.constantTimeEquals(token) && match == nil && grant.route == route.name { match = grant }
        lock.unlock()
        guard let grant = match else {
            log("endpoint: refused a \(route.name) request with an unknown or expired token")
            return .error(403, "AccessDenied", "the authorization token is unknown or its wrapped command has exited")
        }
        return try route.answer(head, grant: grant)
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 421: return "Misdirected Request"
        case 431: return "Request Header Fields Too Large"
        case 502: return "Bad Gateway"
        default: return "Error"
        }
    }
}

/// A request line and headers, parsed strictly: CRLF line ends, token header names, no folded
/// lines, no control characters, no body.
///
/// The headers stay where they arrived: the head's bytes and each header's name and value as
/// ranges in them. A request carries a dozen headers and the routes read two or three, so a
/// header becomes a String only when looked up (a String per name and value, made for every
/// header of every request, was most of the parse's cost and grew with the head). The target
/// too: the routes read it as bytes, and a cloud SDK's long target would otherwise be a String
/// allocated for every request before any route looked at it.
struct HTTPRequestHead: Equatable {
    var method: String
    private var bytes: [UInt8]
    private var targetRange: Range<Int>
    private var fields: [(name: Range<Int>, value: Range<Int>)]

    /// The request target as a String (for messages and tests; routes use `withTarget`).
    var target: String { String(decoding: bytes[targetRange], as: UTF8.self) }

    /// The target's bytes, valid inside `body`.
    func withTarget<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try bytes.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[targetRange])) }
    }

    init(method: String, target: String, headers: [(String, String)]) {
        self.method = method
        bytes = Array(target.utf8)
        targetRange = 0..<bytes.count
        fields = []
        for (name, value) in headers {
            let nameStart = bytes.count
            bytes += name.utf8
            let valueStart = bytes.count
            bytes += value.utf8
            fields.append((nameStart..<valueStart, valueStart..<bytes.count))
        }
    }

    private init(method: String, target: Range<Int>, bytes: [UInt8], fields: [(name: Range<Int>, value: Range<Int>)]) {
        self.method = method
        targetRange = target
        self.bytes = bytes
        self.fields = fields
    }

    /// Every header, in order, as Strings (tests, comparisons).
    var headers: [(String, String)] {
        fields.map { (String(decoding: bytes[$0.name], as: UTF8.self), String(decoding: bytes[$0.value], as: UTF8.self)) }
    }

    static func == (a: HTTPRequestHead, b: HTTPRequestHead) -> Bool {
        a.method == b.method && a.target == b.target && a.headers.map { "\($0.0):\($0.1)" } == b.headers.map { "\($0.0):\($0.1)" }
    }

    /// The value of a header (name compared case-insensitively); nil when absent. `name` is
    /// lower case.
    func value(of name: StaticString) -> String? {
        guard let field = fields.first(where: { isNamed($0.name, name) }) else { return nil }
        return String(decoding: bytes[field.value], as: UTF8.self)
    }

    /// Whether the first header of that name (lower case) has exactly the value `expected`
    /// (compared as bytes, without making a String of it).
    func value(of name: StaticString, is expected: StaticString) -> Bool {
        guard let field = fields.first(where: { isNamed($0.name, name) }) else { return false }
        return bytes.withUnsafeBufferPointer { $0.holds(expected, in: field.value) }
    }

    /// Whether the (first) Host header names this endpoint: `127.0.0.1:PORT` or `localhost:PORT`
    /// in any case, PORT being `port`'s digits. Compared in place: a lower-cased copy and two
    /// interpolated Strings had cost every request some 1 500 instructions.
    func hostIsLoopback(port: [UInt8]) -> Bool {
        guard let field = fields.first(where: { isNamed($0.name, "host") }) else { return false }
        return bytes.withUnsafeBufferPointer { head in
            let value = UnsafeBufferPointer(rebasing: head[field.value])
            let colon = value.count - port.count - 1
            guard colon > 0, value[colon] == UInt8(ascii: ":"),
                  port.withUnsafeBufferPointer({ value.holds($0, in: (colon + 1)..<value.count) }) else { return false }
            let name = UnsafeBufferPointer(rebasing: value[..<colon])
            return name.isExactly("127.0.0.1") || equalIgnoringASCIICase(name, "localhost".utf8)
        }
    }

    /// Every header of that name (lower case), for routes that refuse repeats.
    func count(of name: StaticString) -> Int {
        fields.reduce(0) { $0 + (isNamed($1.name, name) ? 1 : 0) }
    }

    /// The header's value when it is sent once; `.repeated` when more than once. One scan where
    /// `value(of:)` and `count(of:)` took two.
    enum Single: Equatable { case absent, one(String), repeated }
    func single(_ name: StaticString) -> Single {
        var found: (name: Range<Int>, value: Range<Int>)?
        for field in fields where isNamed(field.name, name) {
            if found != nil { return .repeated }
            found = field
        }
        return found.map { .one(String(decoding: bytes[$0.value], as: UTF8.self)) } ?? .absent
    }

    /// Header names are ASCII tokens (checked when parsed): folding A-Z is all there is to case.
    fileprivate func isNamed(_ range: Range<Int>, _ lowercased: StaticString) -> Bool {
        guard range.count == lowercased.utf8CodeUnitCount else { return false }
        let name = lowercased.utf8Start
        return bytes.withUnsafeBufferPointer { head in
            for k in 0..<range.count where head[range.lowerBound &+ k].asciiLowercased != name[k] { return false }
            return true
        }
    }

    static func parse(_ bytes: [UInt8]) -> Result<HTTPRequestHead, LoopbackReply> {
        guard let end = bytes.headEnd else { return .failure(.error(400, "BadRequest", "incomplete request")) }
        return parse(bytes, end: end)
    }

    /// `end` is where the head's CRLFCRLF starts. Walks the bytes through one buffer pointer:
    /// first the line ends (a stray CR or LF anywhere is refused before anything else is read),
    /// then each line once. Line ends and colons are found with `memchr` and bytes are classed
    /// by a table: a per-byte `switch` made the parse cost ~28 instructions a byte, so a cloud
    /// SDK's longer request paid for its length before any route code ran.
    static func parse(_ bytes: [UInt8], end: Int) -> Result<HTTPRequestHead, LoopbackReply> {
        func bad(_ why: String) -> Result<HTTPRequestHead, LoopbackReply> { .failure(.error(400, "BadRequest", why)) }
        return bytes.withUnsafeBufferPointer { buffer -> Result<HTTPRequestHead, LoopbackReply> in
            let base = buffer.baseAddress!  // the head ends in CRLFCRLF: never empty
            let limit = end + 2  // the last line's CRLF included
            /// The first `byte` in `from..<to`, or `to`.
            func find(_ byte: UInt8, _ from: Int, _ to: Int) -> Int {
                guard from < to, let hit = memchr(base + from, Int32(byte), to - from) else { return to }
                return UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
            }
            // Every CR is followed by LF and every LF follows a CR (buffer[limit] exists: the
            // blank line's CR).
            var at = find(13, 0, limit)
            while at < limit {
                if buffer[at + 1] != 10 { return bad("line ends must be CRLF") }
                at = find(13, at + 2, limit)
            }
            at = find(10, 0, limit)
            while at < limit {
                if at == 0 || buffer[at - 1] != 13 { return bad("line ends must be CRLF") }
                at = find(10, at + 1, limit)
            }
            // The request line: METHOD SP TARGET SP VERSION, split as bytes.
            let firstEnd = find(13, 0, limit)
            let line = UnsafeBufferPointer(rebasing: buffer[0..<firstEnd])
            guard line.isASCII || String(validating: line, as: UTF8.self) != nil else { return bad("no request line") }
            guard let space1 = line.firstIndex(of: 32, in: 0..<firstEnd),
                  let space2 = line.firstIndex(of: 32, in: (space1 + 1)..<firstEnd) else { return bad("malformed request line") }
            let method = line[0..<space1], target = line[(space1 + 1)..<space2], version = line[(space2 + 1)...]
            guard !method.isEmpty, method.allSatisfy({ $0 >= 65 && $0 <= 90 }), target.first == UInt8(ascii: "/"),
                  !version.contains(32), version.elementsEqual("HTTP/1.1".utf8) || version.elementsEqual("HTTP/1.0".utf8) else {
                return bad("malformed request line")
            }
            var fields: [(name: Range<Int>, value: Range<Int>)] = []
            fields.reserveCapacity(16)
            let failure: Result<HTTPRequestHead, LoopbackReply>? = byteClasses.withUnsafeBufferPointer { classes in
                var start = firstEnd + 2
                while start < limit {
                    let stop = find(13, start, limit)
                    defer { start = stop + 2 }
                    let first = buffer[start]
                    if start == stop { return bad("malformed header line") }
                    if first == 32 || first == 9 { return bad("folded header lines are not accepted") }
                    let colon = find(58, start, stop)
                    guard colon < stop, colon > start else { return bad("malformed header line") }
                    for k in start..<colon where classes[Int(buffer[k])] & Self.token == 0 { return bad("malformed header name") }
                    var valueStart = colon + 1, valueEnd = stop
                    while valueStart < valueEnd, buffer[valueStart] == 32 || buffer[valueStart] == 9 { valueStart += 1 }
                    while valueEnd > valueStart, buffer[valueEnd - 1] == 32 || buffer[valueEnd - 1] == 9 { valueEnd -= 1 }
                    var seen: UInt8 = 0
                    for k in valueStart..<valueEnd { seen |= classes[Int(buffer[k])] }
                    if seen & Self.control != 0 { return bad("control character in a header") }
                    if seen & Self.high != 0, String(validating: UnsafeBufferPointer(rebasing: buffer[valueStart..<valueEnd]), as: UTF8.self) == nil {
                        return bad("control character in a header")
                    }
                    fields.append((start..<colon, valueStart..<valueEnd))
                    if fields.count > 64 { return bad("too many headers") }
                }
                return nil
            }
            if let failure { return failure }
            let head = HTTPRequestHead(method: String(decoding: method, as: UTF8.self), target: (space1 + 1)..<space2,
                                       bytes: bytes, fields: fields)
            // One pass over the names for the four rules every request is held to.
            var authorizations = 0, hosts = 0, body = false
            for field in fields {
                switch field.name.count {
                case 4 where head.isNamed(field.name, "host"): hosts += 1
                case 13 where head.isNamed(field.name, "authorization"): authorizations += 1
                case 17 where head.isNamed(field.name, "transfer-encoding"): body = true
                case 14 where head.isNamed(field.name, "content-length"):
                    if !(field.value.count == 1 && buffer[field.value.lowerBound] == UInt8(ascii: "0")) { body = true }
                default: break
                }
            }
            if authorizations > 1 { return bad("more than one Authorization header") }
            if hosts > 1 { return bad("more than one Host header") }
            if body { return bad("a request body is not accepted") }
            return .success(head)
        }
    }

    /// Bits of `byteClasses`: a token character (RFC 9110: header names), a control character a
    /// header value may not hold (all below 0x20 but tab, and DEL), a byte of a multi-byte character.
    static let token: UInt8 = 1, control: UInt8 = 2, high: UInt8 = 4
    static let byteClasses: [UInt8] = (0...255).map { (value: Int) -> UInt8 in
        let byte = UInt8(value)
        var bits: UInt8 = isTokenByte(byte) ? token : 0
        if (byte < 32 && byte != 9) || byte == 127 { bits |= control }
        if byte >= 0x80 { bits |= high }
        return bits
    }

    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case 48...57, 65...90, 97...122: return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): return true
        default: return false
        }
    }
}

extension Array where Element == UInt8 {
    /// Two LFs in a row: a blank line without CR.
    var hasBareBlankLine: Bool {
        withUnsafeBufferPointer { bytes in
            guard bytes.count >= 2, let base = bytes.baseAddress else { return false }
            var from = 1
            while from < bytes.count, let hit = memchr(base + from, 10, bytes.count - from) {
                let at = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
                if bytes[at - 1] == 10 { return true }
                from = at + 1
            }
            return false
        }
    }

    /// Index of the CRLFCRLF that ends a request head: found from its last LF (`memchr`), since
    /// the accept loop asks this of every chunk that arrives.
    var headEnd: Int? {
        withUnsafeBufferPointer { bytes in
            guard bytes.count >= 4, let base = bytes.baseAddress else { return nil }
            var from = 3
            while from < bytes.count, let hit = memchr(base + from, 10, bytes.count - from) {
                let at = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
                if bytes[at - 1] == 13 && bytes[at - 2] == 10 && bytes[at - 3] == 13 { return at - 3 }
                from = at + 1
            }
            return nil
        }
    }
}
