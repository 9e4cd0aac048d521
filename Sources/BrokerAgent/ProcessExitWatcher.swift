// Tells the agent when a wrapped process exits, so its endpoint token and files die with it.

import BrokerWire
import Foundation

/// One thread watches every registered process. On Linux it polls pidfds (pidfd_open, 5.3+),
/// which name one process for good: a recycled pid cannot keep a dead wrap's token alive.
/// Elsewhere, or where the kernel refuses pidfd_open (before 5.3, or a container's seccomp
/// profile that answers ENOSYS or EPERM for calls it does not know), it falls back to asking
/// `kill(pid, 0)` twice a second (DESIGN D13: on macOS this is the seam where kqueue's
/// EVFILT_PROC belongs).
final class ProcessExitWatcher: @unchecked Sendable {
    enum Mechanism: Sendable { case pidfd, polling }

    let mechanism: Mechanism
    private let onExit: @Sendable (Int32) -> Void
    private let lock = NSLock()
    /// pid → its pidfd, or -1 when polling.
    private var watched: [Int32: CInt] = [:]
    private var wakeRead: CInt = -1
    private var wakeWrite: CInt = -1
    private var running = false

    /// pidfd_open, or nil for none (tests hand in one that fails as a sandbox's would).
    private let pidfdOpen: (@convention(c) (pid_t, UInt32) -> CInt)?

    init(mechanism: Mechanism? = nil, pidfdOpen: (@convention(c) (pid_t, UInt32) -> CInt)? = ProcessExitWatcher.systemPidfdOpen,
         onExit: @escaping @Sendable (Int32) -> Void) {
        self.onExit = onExit
        self.pidfdOpen = pidfdOpen
        self.mechanism = mechanism ?? (pidfdOpen == nil ? .polling : .pidfd)
        var fds: [CInt] = [0, 0]
        if pipe(&fds) == 0 {
            (wakeRead, wakeWrite) = (fds[0], fds[1])
            _ = fcntl(wakeRead, F_SETFD, FD_CLOEXEC)
            _ = fcntl(wakeWrite, F_SETFD, FD_CLOEXEC)
            _ = fcntl(wakeWrite, F_SETFL, O_NONBLOCK)
        }
    }

    /// glibc 2.36's wrapper, looked up at run time: Swift cannot call the variadic `syscall`, and
    /// an older libc simply means polling.
    static let systemPidfdOpen: (@convention(c) (pid_t, UInt32) -> CInt)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pidfd_open") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (pid_t, UInt32) -> CInt).self)
    }()

    var count: Int {
        lock.lock(); defer { lock.unlock() }
        return watched.count
    }

    /// Starts watching `pid`. Throws when the process is already gone, so no lease outlives it.
    func watch(_ pid: Int32) throws {
        var fd: CInt = -1
        if mechanism == .pidfd, let open = pidfdOpen {
            fd = open(pid, 0)
            if fd >= 0 {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            } else {
                let error = Errno.current
                // The kernel or a sandbox refuses the call itself: watch this one by polling.
                guard error.rawValue == ENOSYS || error.rawValue == EPERM else {
                    throw BrokerFailure(.input, "process \(pid) is not running (\(error))")
                }
            }
        }
        if fd < 0 && kill(pid, 0) != 0 && errno == ESRCH {
            throw BrokerFailure(.input, "process \(pid) is not running")
        }
        lock.lock()
        // Already watched (a wrap that exec'd another wrap keeps its pid): keep the first
        // descriptor, which the watching thread may be polling right now.
        if watched[pid] != nil {
            if fd >= 0 { close(fd) }
        } else {
            watched[pid] = fd
        }
        let start = !running
        running = true
        lock.unlock()
        if start {
            let thread = Thread { [self] in loop() }
            thread.stackSize = 256 * 1024
            thread.start()
        } else {
            wake()
        }
    }

    private func wake() {
        var one: UInt8 = 1
        _ = withUnsafeBytes(of: &one) { try? FileDescriptor(rawValue: wakeWrite).write($0, retryOnInterrupt: false) }
    }

    private func loop() {
        while true {
            lock.lock()
            let entries = watched
            if entries.isEmpty { running = false; lock.unlock(); return }
            lock.unlock()
            // Processes with a pidfd wake the poll; the others (-1) are asked with kill.
            let order = entries.compactMap { $0.value >= 0 ? (pid: $0.key, fd: $0.value) : nil }
            let polled = entries.compactMap { $0.value < 0 ? $0.key : nil }
            var fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            fds += order.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            var exited: [Int32] = []
            if (try? Poll.wait(&fds, timeoutMilliseconds: polled.isEmpty ? 1000 : 500, retryOnInterrupt: false)) ?? 0 > 0 {
                if fds[0].revents != 0 { drainWake() }
                for (i, entry) in order.enumerated() where fds[i + 1].revents != 0 { exited.append(entry.pid) }
            }
            exited += polled.filter { kill($0, 0) != 0 && errno == ESRCH }
            for pid in exited {
                lock.lock()
                if let fd = watched.removeValue(forKey: pid), fd >= 0 { close(fd) }
                lock.unlock()
                onExit(pid)
            }
        }
    }

    private func drainWake() {
        var buffer = [UInt8](repeating: 0, count: 64)
        _ = try? buffer.withUnsafeMutableBytes { try FileDescriptor(rawValue: wakeRead).read(into: $0, retryOnInterrupt: false) }
    }
}
