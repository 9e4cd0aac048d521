// The agent's socket loop: accept, check the peer, hand each connection to its own thread.

import BrokerCore
import BrokerFrontends
import BrokerWire
import CBrokerSystem
import Foundation

nonisolated(unsafe) private var terminationRequested: sig_atomic_t = 0

public final class AgentServer: @unchecked Sendable {
    public struct Options: Sendable {
        public var spawned = false
        public var idleTimeoutOverride: Int?
        public init() {}
    }

    let paths: BrokerPaths
    let options: Options
    let service: AgentService
    let lock = NSLock()
    var activeConnections = 0
    /// The socket file we created (device, inode), so shutdown removes only our own.
    var socketIdentity: (UInt64, UInt64)?
    var lastActivity: Double
    let log: @Sendable (String) -> Void

    public init(paths: BrokerPaths, options: Options, environment: Environment, log: @escaping @Sendable (String) -> Void) {
        self.paths = paths
        self.options = options
        self.log = log
        service = AgentService(paths: paths, environment: environment, log: log)
        lastActivity = monotonicSeconds()
    }

    /// Prepares directories and the socket. Returns false when another live agent already
    /// owns the socket (the caller reports "running" and exits 0).
    public func prepare() throws -> FileDescriptor? {
        for dir in [paths.runtimeDirectory, paths.cacheDirectory, paths.cacheEntriesDirectory, paths.stateDirectory] {
            try ensurePrivateDirectory(dir)
        }
        if let st = try? FileStatus(path: paths.socketPath, followingSymlinks: false) {
            guard st.mode & UInt32(S_IFMT) == UInt32(S_IFSOCK) else {
                throw BrokerFailure(.config, "\(paths.socketPath) exists and is not a socket", hint: "remove it")
            }
            if let live = try? UnixSocket.connect(path: paths.socketPath) {
                live.close()
                return nil
            }
            // Nobody answers: a killed agent's leftover. Replace it.
            log("replacing stale socket \(paths.socketPath)")
            unlink(paths.socketPath)
        }
        do {
            let listener = try UnixSocket.listen(path: paths.socketPath)
            if let made = try? FileStatus(path: paths.socketPath, followingSymlinks: false) { socketIdentity = (made.device, made.inode) }
            return listener
        } catch let error as Errno where error.rawValue == EADDRINUSE {
            return nil
        }
    }

    /// Serves until SIGTERM, `op=stop`, or the idle timeout with nothing left in memory.
    public func serve(listener: FileDescriptor) {
        signal(SIGTERM) { _ in terminationRequested = 1 }
        signal(SIGINT) { _ in terminationRequested = 1 }
        signal(SIGPIPE, SIG_IGN)
        // A file-size limit (ulimit -f) must turn a cache or log write into EFBIG, not kill us.
        signal(SIGXFSZ, SIG_IGN)
        service.resolver.cache.loadFromDisk(now: service.clock.instant())
        service.startLeases()
        var sweepCountdown = 0
        // Connections that have not sent a byte yet wait here, in the poll loop, holding no
        // thread and no max-connections slot: a flood of silent clients cannot lock anyone out
        // (git credential-cache's daemon is a poll loop over such a flat list, too).
        var waiting: [WaitingConnection] = []
        while terminationRequested == 0 && !service.stopRequested {
            var pollers = [pollfd(fd: listener.rawValue, events: Int16(POLLIN), revents: 0)]
                + waiting.map { pollfd(fd: $0.fd.rawValue, events: Int16(POLLIN), revents: 0) }
            let ready = (try? Poll.wait(&pollers, timeoutMilliseconds: 250, retryOnInterrupt: false)) ?? -1
            if ready > 0 {
                var stillWaiting: [WaitingConnection] = []
                for (index, connection) in waiting.enumerated() {
                    if pollers[index + 1].revents != 0 { admit(connection.fd, peer: connection.peer) } else { stillWaiting.append(connection) }
                }
                waiting = stillWaiting
                if pollers[0].revents != 0, let connection = try? UnixSocket.accept(listener),
                   let peer = checkedPeer(connection) {
                    if waiting.count >= Self.maxWaiting {
                        waiting.removeFirst().fd.close()  // the longest-silent one goes first
                    }
                    waiting.append(WaitingConnection(fd: connection, peer: peer, since: monotonicSeconds()))
                }
                continue
            }
            let requestTimeout = Double((try? service.configStore.config().get())?.agent.requestTimeout ?? 10)
            let now = monotonicSeconds()
            waiting.removeAll { connection in
                guard now - connection.since >= requestTimeout else { return false }
                connection.fd.close()
                return true
            }
            sweepCountdown -= 1
            if sweepCountdown <= 0 {
                sweepCountdown = 40
                service.resolver.cache.sweep(now: service.clock.instant())
                service.leases.sweep()
                if let agent = (try? service.configStore.config().get())?.agent {
                    service.limiter.sweep(settings: RateSettings(agent))
                }
            }
            if waiting.isEmpty && idleExpired() { log("idle; exiting"); break }
            if sweepCountdown == 39 { cbroker_release_free_memory() }  // hand memory from a burst back to the OS
        }
        waiting.forEach { $0.fd.close() }
        shutdown(listener: listener)
    }

    struct WaitingConnection {
        var fd: FileDescriptor
        var peer: UnixSocket.PeerCredentials
        var since: Double
    }

    /// Silent connections held at once; past it the longest-silent is dropped. Far above any
    /// honest burst, and bounded by what poll handles in one call.
    static let maxWaiting = 4096

    /// The peer, if it is our own user; another user's connection is closed without a word (D6).
    func checkedPeer(_ connection: FileDescriptor) -> UnixSocket.PeerCredentials? {
        guard let peer = try? UnixSocket.peerCredentials(connection), peer.uid == ProcessInfoLite.userID else {
            log("refused a connection from another uid")
            connection.close()
            return nil
        }
        lock.lock(); lastActivity = monotonicSeconds(); lock.unlock()
        return peer
    }

    func idleExpired() -> Bool {
        let config = try? service.configStore.config().get()
        let limit = options.idleTimeoutOverride ?? config?.agent.idleTimeout ?? 900
        lock.lock()
        let idle = activeConnections == 0 && monotonicSeconds() - lastActivity >= Double(limit)
        lock.unlock()
        // Like credential-cache's daemon: stay while approved git credentials are held in memory,
        // and while wrapped commands may still fetch from the credentials endpoint.
        return idle && service.gitStore.count == 0 && service.registryStore.count == 0 && service.envWrap.activeLeases == 0
    }

    /// Hands a connection that has started talking to a thread of its own, within max-connections.
    func admit(_ connection: FileDescriptor, peer: UnixSocket.PeerCredentials) {
        let config = try? service.configStore.config().get()
        let maxConnections = config?.agent.maxConnections ?? 128
        let timeout = Double(config?.agent.requestTimeout ?? 10)
        lock.lock()
        lastActivity = monotonicSeconds()
        let admitted = activeConnections < maxConnections
        if admitted { activeConnections += 1 }
        lock.unlock()
        guard admitted else {
            UnixSocket.setTimeouts(connection, seconds: 1)
            let busy = AgentService.errorAnswer(BrokerFailure(.unavailable, "broker-agent is serving \(maxConnections) connections; try again",
                                                               hint: "raise [agent] max-connections"))
            _ = try? connection.writeAll((try? busy.encoded()) ?? [])
            connection.close()
            return
        }
        let thread = Thread { [self] in
            defer {
                connection.close()
                lock.lock()
                activeConnections -= 1
                lastActivity = monotonicSeconds()
                lock.unlock()
            }
            serveConnection(connection, peer: peer, timeout: timeout)
        }
        thread.stackSize = 512 * 1024
        thread.start()
    }

    /// One request, one answer. The whole request must arrive within `timeout` of the
    /// connection being served (not per read: a client dribbling a byte a second is cut off
    /// too), and it is bounded in size by the codec's limits.
    func serveConnection(_ connection: FileDescriptor, peer: UnixSocket.PeerCredentials, timeout: Double) {
        UnixSocket.setTimeouts(connection, seconds: timeout)
        let deadline = RequestDeadline()
        // Settled before the caller closes the descriptor, so a late timer never touches a
        // number the kernel has handed to another connection.
        defer { _ = deadline.finish() }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
            // Ends any read still waiting; the descriptor stays ours to close.
            deadline.expire { UnixSocket.shutdownReading(connection) }
        }
        let answer: WireMessage
        do {
            let request = try readWireMessage(from: connection, requireBlankLine: true)
            guard deadline.finish() else { return }  // the deadline passed mid-request
            answer = service.handle(request, caller: Caller.describe(peer))
        } catch let error as Errno where error == .wouldBlock {
            return  // timed out waiting for the request
        } catch {
            answer = AgentService.errorAnswer(BrokerFailure(.input, "bad request: \(error)"))
        }
        var bytes = (try? answer.encoded()) ?? (try! AgentService.errorAnswer(BrokerFailure(.internal, "answer could not be encoded")).encoded())
        bytes.append(10)
        _ = try? connection.writeAll(bytes)
    }

    /// Whichever comes first of "the request arrived" and "its time ran out" wins, once.
    final class RequestDeadline: @unchecked Sendable {
        private let lock = NSLock()
        private var settled = false
        /// Runs `action` when the request has not arrived yet, under the lock `finish` takes.
        func expire(_ action: () -> Void) { lock.lock(); defer { lock.unlock() }; if !settled { settled = true; action() } }
        /// True when the request arrived in time.
        func finish() -> Bool { lock.lock(); defer { lock.unlock() }; if settled { return false }; settled = true; return true }
    }

    func shutdown(listener: FileDescriptor) {
        // Remove the socket only if it is still ours (a newer agent may have replaced it).
        if let socketIdentity, let onDisk = try? FileStatus(path: paths.socketPath, followingSymlinks: false),
           (onDisk.device, onDisk.inode) == socketIdentity {
            unlink(paths.socketPath)
        }
        listener.close()
        service.envWrap.stop()
        // Give in-flight connections a moment to finish their answers.
        for _ in 0..<40 {
            lock.lock(); let active = activeConnections; lock.unlock()
            if active == 0 { break }
            usleep(50_000)
        }
        log("stopped")
    }
}

/// Fractional seconds: whole seconds would let an idle timeout of N s fire after only N-1 s and a bit.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1_000_000_000
}

func currentDirectory() -> String? {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    guard getcwd(&buffer, buffer.count) != nil else { return nil }
    return String(cString: buffer)
}

/// The whole broker-agent program, so its main file stays a page of argument handling.
public enum AgentFrontend {
    public static var usage: String { CommandCatalog.usage(of: CommandCatalog.brokerAgent) }

    public static func run(arguments: [String], environment: Environment = .current) -> Int32 {
        var options = AgentServer.Options()
        var env = environment
        var args = arguments[...]
        while let arg = args.popFirst() {
            switch arg {
            case "--spawned": options.spawned = true
            case "--foreground": options.spawned = false
            case "--socket-dir":
                guard let dir = args.popFirst() else { printError(usage); return ExitStatus.usage }
                env.values["BROKER_SOCKET_DIR"] = dir
            case "--config":
                // One agent per configuration: this agent serves FILE on its own socket.
                guard let file = args.popFirst() else { printError(usage); return ExitStatus.usage }
                env.values["BROKER_CONFIG"] = file
            case "--idle-timeout":
                guard let text = args.popFirst(), let seconds = try? ConfigSyntax.parseDuration(text, at: SourceLocation(file: "--idle-timeout", line: 0)) else {
                    printError(usage); return ExitStatus.usage
                }
                options.idleTimeoutOverride = seconds
            case "-h", "--help":
                print(usage); return ExitStatus.success
            default:
                printError("broker-agent: unknown argument \(WireCodec.printable(arg))")
                printError(usage)
                return ExitStatus.usage
            }
        }
        // One agent serves short requests from short-lived threads: two malloc arenas are plenty,
        // and glibc's default (8 per core) only keeps freed memory resident.
        cbroker_limit_malloc_arenas(2)
        // Each waiting client is a descriptor; the usual soft limit of 1024 is lower than the hard one.
        cbroker_raise_open_file_limit()
        let ready = FileDescriptor.standardOutput
        func fail(_ text: String) -> Int32 {
            printError("broker-agent: \(text)")
            try? ready.writeAll(text + "\n")
            return ExitStatus.failure
        }
        // It holds secrets in memory: no core file, no same-user debugger reading them out.
        _ = cbroker_forbid_core_dumps()
        var paths: BrokerPaths
        do { paths = try BrokerPaths.resolve(env) } catch { return fail("\(error)") }
        // A relative BROKER_CONFIG means the spawner's directory; pin it before leaving it. The
        // agent then holds no directory busy (an unmountable disk, a deleted checkout).
        if !paths.configFile.hasPrefix("/"), let cwd = currentDirectory() {
            paths.configFile = cwd + "/" + paths.configFile
        }
        _ = chdir("/")
        if options.spawned {
            // Whatever the spawner's ancestors left open (git's pipes, a test's sockets) must
            // not be held for the agent's lifetime: their readers would never see EOF.
            cbroker_close_from(3)
            _ = cbroker_setsid()
            if (try? ensurePrivateDirectory(paths.stateDirectory)) != nil {
                if let logFD = try? FileDescriptor.open(paths.agentLogPath, .writeOnly, options: [.append, .create, .closeOnExec], permissions: 0o600) {
                    dup2(logFD.rawValue, 2); logFD.close()
                }
            }
        }
        let log: @Sendable (String) -> Void = { text in
            printError("\(rfc3339UTC(currentUnixTime())) broker-agent[\(getpid())]: \(text)")
        }
        let server = AgentServer(paths: paths, options: options, environment: env, log: log)
        let listener: FileDescriptor
        do {
            guard let fd = try server.prepare() else {
                try? ready.writeAll("running\n")
                return ExitStatus.success
            }
            listener = fd
        } catch {
            return fail("\(error)")
        }
        log("listening on \(paths.socketPath)")
        try? ready.writeAll("ok\n")
        if options.spawned {
            // The spawner waits for EOF-or-line on this pipe; hand it EOF now.
            let devNull = (try? FileDescriptor.open("/dev/null", .writeOnly))?.rawValue ?? -1
            dup2(devNull, 1)
            close(devNull)
        }
        server.serve(listener: listener)
        return ExitStatus.success
    }
}
