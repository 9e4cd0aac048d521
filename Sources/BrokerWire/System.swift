// Thin typed wrappers over the few syscalls the adapters and the agent share (swift-system style).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CBrokerSystem

/// An errno value with the C library's sentence for it.
public struct Errno: Error, Equatable, Sendable, CustomStringConvertible {
    public let rawValue: CInt
    public init(rawValue: CInt) { self.rawValue = rawValue }
    public static var current: Errno { Errno(rawValue: errno) }
    public var description: String { String(cString: strerror(rawValue)) }

    public static let interrupted = Errno(rawValue: EINTR)
    public static let wouldBlock = Errno(rawValue: EAGAIN)
    public static let noEntry = Errno(rawValue: ENOENT)
    public static let exists = Errno(rawValue: EEXIST)
    public static let connectionRefused = Errno(rawValue: ECONNREFUSED)
}

/// Runs one syscall through `body`; a result that `failed` turns into the thrown `Errno`.
/// With `retryOnInterrupt` (the default) an EINTR failure runs it again: the one place such loops live.
@inline(__always)
public func valueOrErrno<T>(retryOnInterrupt: Bool = true, _ body: () -> T, failed: (T) -> Bool) throws -> T {
    while true {
        let result = body()
        if failed(result) {
            if retryOnInterrupt && errno == EINTR { continue }
            throw Errno.current
        }
        return result
    }
}

/// Runs `body` until it stops failing with EINTR (`valueOrErrno` with its default).
@inline(__always)
public func retryOnInterrupt<T>(_ body: () -> T, failed: (T) -> Bool) throws -> T {
    try valueOrErrno(retryOnInterrupt: true, body, failed: failed)
}

/// A raw file descriptor. The caller owns it; `close()` or `closeAfter` releases it.
public struct FileDescriptor: RawRepresentable, Hashable, Sendable {
    public let rawValue: CInt
    public init(rawValue: CInt) { self.rawValue = rawValue }

    public static let standardInput = FileDescriptor(rawValue: 0)
    public static let standardOutput = FileDescriptor(rawValue: 1)
    public static let standardError = FileDescriptor(rawValue: 2)

    /// How a descriptor is opened: the access half of `open`'s flags.
    public enum AccessMode: Sendable {
        case readOnly, writeOnly, readWrite
        var flags: CInt {
            switch self {
            case .readOnly: return O_RDONLY
            case .writeOnly: return O_WRONLY
            case .readWrite: return O_RDWR
            }
        }
    }

    /// The rest of `open`'s flags.
    public struct OpenOptions: OptionSet, Sendable {
        public let rawValue: CInt
        public init(rawValue: CInt) { self.rawValue = rawValue }
        public static let create = OpenOptions(rawValue: O_CREAT)
        public static let exclusiveCreate = OpenOptions(rawValue: O_EXCL)
        public static let append = OpenOptions(rawValue: O_APPEND)
        public static let truncate = OpenOptions(rawValue: O_TRUNC)
        public static let noFollow = OpenOptions(rawValue: O_NOFOLLOW)
        public static let closeOnExec = OpenOptions(rawValue: O_CLOEXEC)
    }

    /// The corresponding C function is `open`. `permissions` applies only with `.create`.
    public static func open(_ path: String, _ mode: AccessMode, options: OpenOptions = [], permissions: mode_t = 0o600,
                            retryOnInterrupt: Bool = true) throws -> FileDescriptor {
        let flags = mode.flags | options.rawValue
        return FileDescriptor(rawValue: try valueOrErrno(retryOnInterrupt: retryOnInterrupt, {
            systemOpen(path, flags, permissions)
        }, failed: { $0 < 0 }))
    }

    /// The corresponding C function is `read`. Returns 0 at end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, retryOnInterrupt: Bool = true) throws -> Int {
        try valueOrErrno(retryOnInterrupt: retryOnInterrupt, { systemRead(rawValue, buffer.baseAddress, buffer.count) }, failed: { $0 < 0 })
    }

    /// One `write`, which may be short. The corresponding C function is `write`.
    public func write(_ buffer: UnsafeRawBufferPointer, retryOnInterrupt: Bool = true) throws -> Int {
        try valueOrErrno(retryOnInterrupt: retryOnInterrupt, { systemWrite(rawValue, buffer.baseAddress, buffer.count) }, failed: { $0 < 0 })
    }

    /// The corresponding C function is `fstat`.
    public func status() throws -> FileStatus {
        var st = stat()
        _ = try valueOrErrno({ fstat(rawValue, &st) }, failed: { $0 != 0 })
        return FileStatus(st)
    }

    /// The corresponding C function is `ftruncate`.
    public func truncate(to size: Int64) throws {
        _ = try valueOrErrno({ ftruncate(rawValue, off_t(size)) }, failed: { $0 != 0 })
    }

    /// The corresponding C function is `fsync`.
    public func sync() throws {
        _ = try valueOrErrno({ fsync(rawValue) }, failed: { $0 != 0 })
    }

    /// Writes every byte, looping over short writes. The corresponding C function is `write`.
    public func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeAll($0) }
    }

    public func writeAll(_ raw: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < raw.count {
            let n = try retryOnInterrupt({ systemWrite(rawValue, raw.baseAddress! + offset, raw.count - offset) }, failed: { $0 < 0 })
            offset += n
        }
    }

    public func writeAll(_ text: String) throws { try writeAll(Array(text.utf8)) }

    /// Reads to end of file, refusing more than `limit` bytes.
    public func readAll(limit: Int = 1 << 20) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try read(into: $0) }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
            if out.count > limit { throw WireError("input larger than \(limit) bytes") }
        }
    }

    public func close() { _ = systemClose(rawValue) }

    /// Runs `body`, always closes, and rethrows the body's error first.
    public func closeAfter<R>(_ body: () throws -> R) rethrows -> R {
        defer { close() }
        return try body()
    }
}

@inline(__always) func systemOpen(_ path: String, _ flags: CInt, _ mode: mode_t) -> CInt { open(path, flags, mode) }
@inline(__always) func systemRead(_ fd: CInt, _ buf: UnsafeMutableRawPointer?, _ n: Int) -> Int { read(fd, buf, n) }
@inline(__always) func systemWrite(_ fd: CInt, _ buf: UnsafeRawPointer?, _ n: Int) -> Int { write(fd, buf, n) }
@inline(__always) func systemClose(_ fd: CInt) -> CInt { close(fd) }

/// What `stat` says about a file, the same on every platform: the one place that knows where
/// Linux and Darwin keep each field (`st_mtim` there, `st_mtimespec` here).
public struct FileStatus: Sendable, Equatable {
    public struct Timestamp: Sendable, Equatable {
        public var seconds: Int64
        public var nanoseconds: Int64
    }

    public var device: UInt64
    public var inode: UInt64
    /// File type and permission bits, as `st_mode`.
    public var mode: UInt32
    public var ownerID: UInt32
    public var size: Int64
    public var modified: Timestamp

    init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        mode = UInt32(st.st_mode)
        ownerID = UInt32(st.st_uid)
        size = Int64(st.st_size)
        #if os(Linux)
        modified = Timestamp(seconds: Int64(st.st_mtim.tv_sec), nanoseconds: Int64(st.st_mtim.tv_nsec))
        #else
        modified = Timestamp(seconds: Int64(st.st_mtimespec.tv_sec), nanoseconds: Int64(st.st_mtimespec.tv_nsec))
        #endif
    }

    /// The corresponding C functions are `stat`, and `lstat` when `followingSymlinks` is false.
    public init(path: String, followingSymlinks: Bool = true) throws {
        var st = stat()
        _ = try valueOrErrno({ followingSymlinks ? stat(path, &st) : lstat(path, &st) }, failed: { $0 != 0 })
        self.init(st)
    }

    public var isRegularFile: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFREG) }
    public var isDirectory: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFDIR) }
    public var isSymbolicLink: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFLNK) }
    /// The permission bits (`mode & 0o7777`).
    public var permissions: UInt32 { mode & 0o7777 }
}

/// Waiting on descriptors.
public enum Poll {
    /// The corresponding C function is `poll`. Returns how many descriptors have events (0 on
    /// timeout). A retried call starts its timeout again; loops with a deadline pass
    /// `retryOnInterrupt: false` and recompute it.
    public static func wait(_ fds: inout [pollfd], timeoutMilliseconds: Int32, retryOnInterrupt: Bool = true) throws -> Int {
        let count = nfds_t(fds.count)
        return Int(try fds.withUnsafeMutableBufferPointer { buffer in
            try valueOrErrno(retryOnInterrupt: retryOnInterrupt, { poll(buffer.baseAddress, count, timeoutMilliseconds) }, failed: { $0 < 0 })
        })
    }
}

/// Child processes.
public enum ChildProcess {
    /// The corresponding C function is `waitpid`. Returns the pid reaped (0 under `WNOHANG` when
    /// the child is still running) and its raw status.
    @discardableResult
    public static func wait(_ pid: pid_t, options: CInt = 0, retryOnInterrupt: Bool = true) throws -> (pid: pid_t, status: CInt) {
        var status: CInt = 0
        let reaped = try valueOrErrno(retryOnInterrupt: retryOnInterrupt, { waitpid(pid, &status, options) }, failed: { $0 < 0 })
        return (reaped, status)
    }
}

/// Replacing this process with another program.
public enum ProcessImage {
    /// Runs `arguments[0]` in place of this process, looked up on `environment`'s PATH the way a
    /// shell looks it up (a name with a slash is used as it is; a file without `#!` runs under
    /// `/bin/sh`). The corresponding C function is `execvp`. Returns only on failure, with why.
    public static func replace(arguments: [String], environment: [String]) -> Errno {
        guard let file = arguments.first else { return Errno.noEntry }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        return Errno(rawValue: cbroker_exec_searching_path(file, &argv, &envp))
    }
}

/// Reads one wire message (to a blank line or EOF) from a descriptor, enforcing the limits while
/// reading so an endless line is cut off early.
///
/// `requireBlankLine`: on the agent socket a message must end with its blank line (D2), so a
/// client that died mid-write never has half a `git.store` or `git.erase` carried out. git's
/// stdin may end at EOF, as git itself allows.
public func readWireMessage(from fd: FileDescriptor, limits: WireLimits = .standard, requireBlankLine: Bool = false) throws -> WireMessage {
    var reader = WireMessageReader(limits: limits)
    var chunk = [UInt8](repeating: 0, count: 8192)
    while true {
        let n = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
        if n == 0 { return try reader.finishAtEndOfInput(requireBlankLine: requireBlankLine) }
        if try reader.feed(chunk[0..<n]) { return reader.message }
    }
}

/// The process environment, read through one seam so tests and the agent can substitute it.
public struct Environment: Sendable {
    public var values: [String: String]

    public init(_ values: [String: String]) { self.values = values }

    /// This process's environment.
    public static var current: Environment {
        var values: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") {
                values[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            pointer += 1
        }
        return Environment(values)
    }

    public subscript(name: String) -> String? {
        guard let value = values[name], !value.isEmpty else { return nil }
        return value
    }
}

public enum ProcessInfoLite {
    public static var userID: UInt32 { UInt32(geteuid()) }
    public static var processID: Int32 { getpid() }

    /// The absolute path of the running executable.
    public static func executablePath() -> String? {
        #if os(Linux)
        return ProcFS.executable(of: nil)
        #else
        return CommandLine.arguments.first
        #endif
    }

    /// The directory of the running executable, where the programs installed beside it live.
    public static func executableDirectory() -> String? {
        executablePath().map { String($0[..<($0.lastIndex(of: "/") ?? $0.startIndex)]) }
    }

    public static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4097)
        let n = readlink(path, &buffer, 4096)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func isExecutable(_ path: String) -> Bool { access(path, X_OK) == 0 }
}

/// Writes a line to stderr; the adapters' only diagnostic channel.
public func printError(_ text: String) {
    try? FileDescriptor.standardError.writeAll(text.hasSuffix("\n") ? text : text + "\n")
}
