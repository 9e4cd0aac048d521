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
