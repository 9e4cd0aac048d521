// Linux's /proc: the one reader of other processes' facts and of the boot id (nil elsewhere, DESIGN D13).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything read from `/proc`. On other systems every answer is nil: callers then know no
/// process and no boot (the macOS seam is proc_pidinfo, for the start time, parent and path).
public enum ProcFS {
    /// `/proc/PID/stat` after the command name (which may hold spaces and parentheses): field 3
    /// (the state) is element 0, so field N is element N - 3.
    public static func statFields(of pid: Int32) -> [Substring]? {
        #if os(Linux)
        guard let bytes = readSmallFile("/proc/\(pid)/stat") else { return nil }
        let stat = String(decoding: bytes, as: UTF8.self)
        guard let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ")
        #else
        return nil
        #endif
    }

    /// The facts the agent knows a process by, from one read of `/proc/PID/stat` parsed in
    /// place (no string is made): state (field 3), parent (4) and start time (22, clock ticks
    /// after boot). A pid and its start time name one process for the life of the boot.
    public struct ProcessStat: Sendable, Equatable {
        public var state: UInt8
        public var parentPID: Int32
        public var startTime: UInt64
        /// Exited and not yet reaped (or being torn down).
        public var isGone: Bool { state == UInt8(ascii: "Z") || state == UInt8(ascii: "X") }
    }

    public static func processStat(of pid: Int32) -> ProcessStat? {
        #if os(Linux)
        guard pid > 0 else { return nil }
        var path: [CChar] = Array("/proc/\(pid)/stat".utf8CString)
        let fd = open(&path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { buffer -> ProcessStat? in
            var count = 0
            while count < buffer.count {
                let n = read(fd, buffer.baseAddress! + count, buffer.count - count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                count += n
            }
            return parseStat(UnsafeBufferPointer(rebasing: buffer[0..<count]))
        }
        #else
        return nil
        #endif
    }

    /// Fields 3, 4 and 22 of a `/proc/PID/stat` line; the command name (field 2) may hold spaces
    /// and parentheses, so fields are counted from its last `)`.
    static func parseStat(_ bytes: UnsafeBufferPointer<UInt8>) -> ProcessStat? {
        guard var i = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        i += 1
        var field = 2
        var state: UInt8 = 0
        var parent: Int64 = 0
        var start: UInt64 = 0
        var digits = 0
        while i < bytes.count {
            let byte = bytes[i]
            i += 1
            if byte == UInt8(ascii: " ") {
                if field == 22 { break }
                field += 1
                digits = 0
                continue
            }
            switch field {
            case 3: state = byte
            case 4:
                guard byte >= 48 && byte <= 57, digits < 10 else { return nil }
                parent = parent * 10 + Int64(byte - 48); digits += 1
            case 22:
                guard byte >= 48 && byte <= 57, digits < 20 else { return nil }
                start = start &* 10 &+ UInt64(byte - 48); digits += 1
            default: break
            }
        }
        guard field == 22, digits > 0, parent <= Int64(Int32.max) else { return nil }
        return ProcessStat(state: state, parentPID: Int32(parent), startTime: start)
    }

    /// Field 4 of `/proc/PID/stat`.
    public static func parentPID(of pid: Int32) -> Int32? {
        statFields(of: pid).flatMap { $0.count > 1 ? Int32($0[1]) : nil }
    }

    /// Field 22 of `/proc/PID/stat` (clock ticks after boot); nil when the process is gone or a
    /// zombie (it has exited).
    public static func startTime(of pid: Int32) -> UInt64? {
        guard let fields = statFields(of: pid), fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
        return UInt64(fields[19])
    }

    /// The target of `/proc/PID/exe`; `nil` for `pid` means this process.
    public static func executable(of pid: Int32?) -> String? {
        #if os(Linux)
        return ProcessInfoLite.readLink(pid.map { "/proc/\($0)/exe" } ?? "/proc/self/exe")
        #else
        return nil
        #endif
    }

    /// `/proc/sys/kernel/random/boot_id`, hex digits and dashes only.
    public static func bootID() -> String? {
        #if os(Linux)
        guard let bytes = readSmallFile("/proc/sys/kernel/random/boot_id", limit: 64) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).filter { $0.isHexDigit || $0 == "-" }
        return text.isEmpty ? nil : text
        #else
        return nil
        #endif
    }

    static func readSmallFile(_ path: String, limit: Int = 4096) -> [UInt8]? {
        guard let fd = try? FileDescriptor.open(path, .readOnly, options: .closeOnExec) else { return nil }
        return fd.closeAfter { try? fd.readAll(limit: limit) }
    }
}
