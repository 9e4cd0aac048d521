// Runs a configured command (`cmd:` secrets, `exec` identities) with a deadline and bounded output.

import BrokerWire
import CBrokerSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct CommandResult: Sendable {
    public var status: Int32
    public var signal: Int32?
    public var timedOut: Bool
    public var stdout: String
    public var stderr: String
    /// The deadline it ran under, in seconds, for "timed out after N s".
    public var timeoutSeconds: Int = 0

    /// The signal that ended the command, whether it hit our `/bin/sh` or the program the shell
    /// ran (the shell then exits 128+N, the convention every shell follows).
    public var crashSignal: Int32? {
        if let signal { return signal }
        return status > 128 && status <= 128 + 64 ? status - 128 : nil
    }

    /// The first line of standard error for a message (whole up to 300 characters), or nil.
    public var stderrExcerpt: String? { WireCodec.excerpt(stderr) }

    /// "exited with status 3", "was killed by signal 9", "timed out".
    public var statusDescription: String {
        if timedOut { return "timed out after \(timeoutSeconds) s" }
        if let crashSignal { return "was killed by signal \(crashSignal)" }
        return "exited with status \(status)"
    }
}

public struct CommandRunner: Sendable {
    public var maxOutputBytes: Int

    public init(maxOutputBytes: Int = 1 << 20) { self.maxOutputBytes = maxOutputBytes }

    /// Runs `/bin/sh -c command` in its own process group; on timeout the whole group is killed.
    /// Only for a command line the user wrote (`cmd:`, exec `command`, credential_process): text
    /// from anywhere else goes through `run(arguments:)`, never through a shell (D14).
    /// `directory` is where it starts: the config file's directory, so relative paths in it mean
    /// the same whichever client started the agent.
    public func run(_ command: String, input: [UInt8] = [], timeout: Int, environment: Environment,
                    directory: String? = nil) throws -> CommandResult {
        try run(arguments: ["/bin/sh", "-c", command], input: input, timeout: timeout, environment: environment,
                directory: directory)
    }

    /// Runs a program with exactly these arguments, no shell; a name without '/' is looked up in
    /// `environment`'s PATH.
    public func run(arguments argv: [String], input: [UInt8] = [], timeout: Int, environment: Environment,
                    directory: String? = nil) throws -> CommandResult {
        guard let name = argv.first, let program = Self.locate(name, environment) else {
            throw BrokerFailure(.unavailable, "cannot find \(argv.first.map { WireCodec.printable($0) } ?? "a program") on PATH")
        }
        var inPipe: [CInt] = [0, 0], outPipe: [CInt] = [0, 0], errPipe: [CInt] = [0, 0]
        guard pipe(&inPipe) == 0, pipe(&outPipe) == 0, pipe(&errPipe) == 0 else { throw Errno.current }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        for fd in inPipe + outPipe + errPipe { posix_spawn_file_actions_addclose(&actions, fd) }
        _ = cbroker_spawn_close_from(&actions, 3)
        if let directory {
            let rc = cbroker_spawn_chdir(&actions, directory)
            guard rc == 0 else {
                (inPipe + outPipe + errPipe).forEach { close($0) }
                throw BrokerFailure(.internal, "cannot start a command in \(directory): \(Errno(rawValue: rc))")
            }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)

        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var cEnv: [UnsafeMutablePointer<CChar>?] = environment.values.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { cArgs.forEach { free($0) }; cEnv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, program, &actions, &attributes, &cArgs, &cEnv)
        close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
        guard rc == 0 else {
            close(inPipe[1]); close(outPipe[0]); close(errPipe[0])
            throw BrokerFailure(.internal, "cannot run \(program): \(Errno(rawValue: rc))")
        }
        // Write stdin, ignoring EPIPE from a command that does not read it.
        signal(SIGPIPE, SIG_IGN)
        _ = try? FileDescriptor(rawValue: inPipe[1]).writeAll(input)
        close(inPipe[1])

        let deadline = monotonicMilliseconds() + Int64(timeout) * 1000
        var out: [UInt8] = [], err: [UInt8] = []
        var open: [CInt] = [outPipe[0], errPipe[0]]
        var timedOut = false
        var chunk = [UInt8](repeating: 0, count: 8192)
        while !open.isEmpty {
            let left = deadline - monotonicMilliseconds()
            if left <= 0 { timedOut = true; break }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            // Not retried here: an interrupted wait comes round the loop and recomputes the deadline.
            guard (try? Poll.wait(&fds, timeoutMilliseconds: Int32(min(left, 1000)), retryOnInterrupt: false)) != nil else { continue }
            for p in fds where p.revents != 0 {
                let n = (try? chunk.withUnsafeMutableBytes { try FileDescriptor(rawValue: p.fd).read(into: $0) }) ?? -1
                if n <= 0 {
                    close(p.fd)
                    open.removeAll { $0 == p.fd }
                } else if p.fd == outPipe[0] {
                    if out.count < maxOutputBytes { out += chunk[0..<n] }
                } else if err.count < maxOutputBytes {
                    err += chunk[0..<n]
                }
            }
        }
        if timedOut {
            kill(-pid, SIGKILL)
            open.forEach { close($0) }
        }
        let status = (try? ChildProcess.wait(pid))?.status ?? 0
        let exited = (status & 0x7f) == 0
        return CommandResult(
            status: exited ? (status >> 8) & 0xff : -1,
            signal: exited || timedOut ? nil : status & 0x7f,
            timedOut: timedOut,
            stdout: String(decoding: out, as: UTF8.self),
            stderr: String(decoding: err, as: UTF8.self),
            timeoutSeconds: timeout)
    }
}

extension CommandRunner {
    public static func locate(_ name: String, _ environment: Environment) -> String? {
        if name.contains("/") { return name }
        for directory in (environment.values["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}

func monotonicMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
