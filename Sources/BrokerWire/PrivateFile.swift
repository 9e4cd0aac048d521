// The private store's files (cache entries, leases): read only when private, written atomically.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file only we may read and write: a regular file (not a link), owned by our uid, with no
/// group or other permission bits, and small. The rules live here once for every such file.
public enum PrivateFile {
    /// Why a file was not read: the sentence a log line ends with.
    public struct Refusal: Error, CustomStringConvertible {
        public let description: String
    }

    /// The file's bytes, or a `Refusal` when it is not a private regular file smaller than `limit`.
    public static func read(path: String, limit: Int) throws -> [UInt8] {
        let status: FileStatus
        do { status = try FileStatus(path: path, followingSymlinks: false) } catch { throw Refusal(description: "\(error)") }
        guard status.isRegularFile else { throw Refusal(description: "not a regular file") }
        guard status.ownerID == UInt32(geteuid()) else { throw Refusal(description: "owned by uid \(status.ownerID)") }
        guard status.mode & 0o077 == 0 else { throw Refusal(description: "readable by group or others") }
        let tooLarge = Refusal(description: "too large or unreadable")
        guard status.size < Int64(limit),
              let fd = try? FileDescriptor.open(path, .readOnly, options: [.closeOnExec, .noFollow]) else { throw tooLarge }
        return try fd.closeAfter {
            guard let bytes = try? fd.readAll(limit: limit - 1) else { throw tooLarge }
            return bytes
        }
    }
}

/// Writes 0600 to a temp name in the same directory, fsyncs, renames (DESIGN D5).
public func writeFileAtomically(_ path: String, bytes: [UInt8]) throws {
    let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
    let temp = "\(directory)/.tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let fd: FileDescriptor
    do {
        fd = try FileDescriptor.open(temp, .writeOnly, options: [.create, .exclusiveCreate, .closeOnExec], permissions: 0o600)
    } catch {
        throw BrokerFailure(.unavailable, "cannot write \(directory): \(error)", hint: "check free space and permissions")
    }
    do {
        try fd.closeAfter {
            try fd.writeAll(bytes)
            try fd.sync()
        }
        guard rename(temp, path) == 0 else { throw Errno.current }
    } catch {
        unlink(temp)
        throw BrokerFailure(.unavailable, "cannot write \(path): \(error)", hint: "check free space and permissions")
    }
}
