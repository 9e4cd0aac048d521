// Thin typed wrappers over the few syscalls the adapters and the agent share (swift-system style).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

/// Runs `body` until it stops failing with EINTR. The one place such loops live.
@inline(__always)
public func retryOnInterrupt<T>(_ body: () -> T, failed: (T) -> Bool) throws -> T {
    while true {
        let result = body()
        if failed(result) {
            if errno == EINTR { continue }
            throw Errno.current
        }
        return result
    }
}

/// A raw file descriptor. The caller owns it; `close()` or `closeAfter` releases it.
public struct FileDescriptor: RawRepresentable, Hashable, Sendable {
    public let rawValue: CInt
    public init(rawValue: CInt) { self.rawValue = rawValue }

    public static let standardInput = FileDescriptor(rawValue: 0)
    public static let standardOutput = FileDescriptor(rawValue: 1)
    public static let standardError = FileDescriptor(rawValue: 2)

    /// The corresponding C function is `read`. Returns 0 at end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try retryOnInterrupt({ systemRead(rawValue, buffer.baseAddress, buffer.count) }, failed: { $0 < 0 })
    }

    /// Writes every byte, looping over short writes. The corresponding C function is `write`.
    public func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = try retryOnInterrupt({ systemWrite(rawValue, raw.baseAddress! + offset, raw.count - offset) }, failed: { $0 < 0 })
                offset += n
            }
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

@inline(__always) func systemRead(_ fd: CInt, _ buf: UnsafeMutableRawPointer?, _ n: Int) -> Int { read(fd, buf, n) }
@inline(__always) func systemWrite(_ fd: CInt, _ buf: UnsafeRawPointer?, _ n: Int) -> Int { write(fd, buf, n) }
@inline(__always) func systemClose(_ fd: CInt) -> CInt { close(fd) }

/// Reads one wire message (to a blank line or EOF) from a descriptor, enforcing the limits while
/// reading so an endless line is cut off early.
///
/// `requireBlankLine`: on the agent socket a message must end with its blank line (D2), so a
/// client that died mid-write never has half a `git.store` or `git.erase` carried out. git's
/// stdin may end at EOF, as git itself allows.
public func readWireMessage(from fd: FileDescriptor, limits: WireLimits = .standard, requireBlankLine: Bool = false) throws -> WireMessage {
    var splitter = LineSplitter(limits: limits)
    var message = WireMessage()
    var done = false
    var chunk = [UInt8](repeating: 0, count: 8192)
    while !done {
        let n = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
        if n == 0 { break }
        try splitter.feed(chunk[0..<n]) { line in
            if line.isEmpty { done = true; return false }
            try message.fields.append(WireCodec.parseLine(line, limits: limits, count: message.fields.count))
            return true
        }
    }
    if !done && requireBlankLine {
        throw WireError("request ended before its blank line (the client closed the connection mid-request)")
    }
    if !done, let last = try splitter.finish(), !last.isEmpty {
        try message.fields.append(WireCodec.parseLine(last, limits: limits, count: message.fields.count))
    }
    return message
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
        return readLink("/proc/self/exe")
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
