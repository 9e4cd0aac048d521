// Unix-domain stream sockets: connect, listen, accept and the peer-credential check (DESIGN D6).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CBrokerSystem

public enum UnixSocket {
    /// sun_path holds 108 bytes on Linux, 104 on macOS, including the NUL.
    public static var maxPathBytes: Int {
        MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1
    }

    static func withAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) throws -> R {
        let bytes = Array(path.utf8)
        guard bytes.count <= maxPathBytes else {
            throw BrokerFailure(.config, "socket path is \(bytes.count) bytes, longer than the \(maxPathBytes) a Unix socket allows: \(path)",
                                hint: "set BROKER_SOCKET_DIR (or XDG_RUNTIME_DIR) to a shorter directory")
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return try withUnsafePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                try body($0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }

    static func makeSocket() throws -> FileDescriptor {
        #if os(Linux)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Errno.current }
        #if canImport(Darwin)
        // macOS has no MSG_NOSIGNAL: a write to a closed peer must be EPIPE, not SIGPIPE.
        var on: CInt = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, socklen_t(MemoryLayout<CInt>.size))
        #endif
        return FileDescriptor(rawValue: fd)
    }

    /// Writes every byte; a peer that hung up is an `Errno` (EPIPE), never a SIGPIPE that kills
    /// the process without a word. The corresponding C function is `send` (MSG_NOSIGNAL on
    /// Linux; SO_NOSIGPIPE, set when the socket is made, on macOS).
    public static func sendAll(_ fd: FileDescriptor, _ bytes: [UInt8]) throws {
        #if os(Linux)
        let flags = Int32(MSG_NOSIGNAL)
        #else
        let flags: Int32 = 0
        #endif
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                offset += try retryOnInterrupt({ send(fd.rawValue, raw.baseAddress! + offset, raw.count - offset, flags) }, failed: { $0 < 0 })
            }
        }
    }

    /// Sends one datagram to the Unix datagram socket at `path` (a syslog socket such as
    /// /dev/log). Throws `Errno`: ENOENT or ECONNREFUSED when nobody listens there.
    public static func sendDatagram(_ bytes: [UInt8], to path: String) throws {
        #if os(Linux)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let flags = Int32(MSG_NOSIGNAL)
        #else
        let fd = socket(AF_UNIX, SOCK_DGRAM, 0)
        let flags: Int32 = 0
        #endif
        guard fd >= 0 else { throw Errno.current }
        defer { close(fd) }
        try withAddress(path) { address, length in
            _ = try bytes.withUnsafeBytes { raw in
                try retryOnInterrupt({ sendto(fd, raw.baseAddress, raw.count, flags, address, length) }, failed: { $0 < 0 })
            }
        }
    }

    /// Connects to a listening socket. Throws `Errno` (ENOENT, ECONNREFUSED) so callers can tell
    /// "no agent" from other failures.
    public static func connect(path: String) throws -> FileDescriptor {
        let fd = try makeSocket()
        do {
            try withAddress(path) { address, length in
                _ = try retryOnInterrupt({ Glibc_connect(fd.rawValue, address, length) }, failed: { $0 != 0 })
            }
        } catch {
            fd.close()
            throw error
        }
        return fd
    }

    /// Binds and listens. The caller has already decided the path is free.
    public static func listen(path: String, backlog: Int32 = 128) throws -> FileDescriptor {
        let fd = try makeSocket()
        do {
            try withAddress(path) { address, length in
                // umask 077 around bind: the socket file is created 0600 at bind time, not after.
                let old = umask(0o077)
                defer { umask(old) }
                if bind(fd.rawValue, address, length) != 0 { throw Errno.current }
            }
            if Glibc_listen(fd.rawValue, backlog) != 0 { throw Errno.current }
        } catch {
            fd.close()
            throw error
        }
        return fd
    }

    public static func accept(_ listener: FileDescriptor) throws -> FileDescriptor {
        let fd = try retryOnInterrupt({ cbroker_accept_cloexec(listener.rawValue) }, failed: { $0 < 0 })
        return FileDescriptor(rawValue: fd)
    }

    /// Accepts one waiting connection, its descriptor non-blocking; nil when none is waiting
    /// (EAGAIN on a non-blocking listener). The corresponding C function is `accept4`.
    public static func acceptNonBlocking(_ listener: FileDescriptor) throws -> FileDescriptor? {
        while true {
            let fd = cbroker_accept_nonblocking_cloexec(listener.rawValue)
            if fd >= 0 { return FileDescriptor(rawValue: fd) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return nil
            // The peer gave up between connect and accept: nothing to serve, try the next.
            case ECONNABORTED: continue
            default: throw Errno.current
            }
        }
    }

    /// Sets or clears O_NONBLOCK. The corresponding C function is `fcntl(F_SETFL)`.
    public static func setNonBlocking(_ fd: FileDescriptor, _ on: Bool = true) throws {
        guard cbroker_set_nonblocking(fd.rawValue, on ? 1 : 0) == 0 else { throw Errno.current }
    }

    /// One `send` that does not wait: returns the bytes taken (0 when the socket's buffer is
    /// full). A peer that hung up is an `Errno` (EPIPE), never a SIGPIPE.
    public static func sendSome(_ fd: FileDescriptor, _ bytes: UnsafeRawBufferPointer) throws -> Int {
        #if os(Linux)
        let flags = Int32(MSG_NOSIGNAL | MSG_DONTWAIT)
        #else
        let flags = Int32(MSG_DONTWAIT)
        #endif
        while true {
            let n = send(fd.rawValue, bytes.baseAddress, bytes.count, flags)
            if n >= 0 { return n }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return 0
            default: throw Errno.current
            }
        }
    }

    /// One `read` that does not wait on a non-blocking socket: the bytes read, 0 at end of
    /// file, nil when nothing is there yet (EAGAIN).
    public static func receiveSome(_ fd: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        while true {
            let n = read(fd.rawValue, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return nil
            default: throw Errno.current
            }
        }
    }

    public struct PeerCredentials: Equatable, Sendable {
        public var pid: Int32
        public var uid: UInt32
        public var gid: UInt32
    }

    /// Who is on the other end. The corresponding C call is `getsockopt(SO_PEERCRED)` on Linux and
    /// `getpeereid` on macOS (where the pid is unknown: -1).
    public static func peerCredentials(_ fd: FileDescriptor) throws -> PeerCredentials {
        var pid = pid_t(), uid = uid_t(), gid = gid_t()
        guard cbroker_peer_credentials(fd.rawValue, &pid, &uid, &gid) == 0 else { throw Errno.current }
        return PeerCredentials(pid: pid, uid: uid, gid: gid)
    }

    /// Bounds how long a read or write on this socket may block.
    public static func setTimeouts(_ fd: FileDescriptor, seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: .init((seconds - Double(Int(seconds))) * 1_000_000))
        _ = setsockopt(fd.rawValue, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd.rawValue, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Ends reading: a read blocked on `fd` returns at once with end of file. The corresponding
    /// C function is `shutdown(fd, SHUT_RD)`.
    public static func shutdownReading(_ fd: FileDescriptor) {
        _ = shutdown(fd.rawValue, Int32(SHUT_RD))
    }
}

@inline(__always) private func Glibc_connect(_ fd: CInt, _ a: UnsafePointer<sockaddr>, _ l: socklen_t) -> CInt { connect(fd, a, l) }
@inline(__always) private func Glibc_listen(_ fd: CInt, _ backlog: CInt) -> CInt { listen(fd, backlog) }
