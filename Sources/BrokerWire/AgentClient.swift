// The adapters' side of the agent socket: send one request, read one answer, start the agent if
// none is running (spawn lock + one-line readiness handshake, git credential-cache style).

import CBrokerSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct AgentClient: Sendable {
    public var paths: BrokerPaths
    public var environment: Environment
    /// Bounds every read and write on the socket so a wedged agent cannot hang git.
    public var timeoutSeconds: Double
    /// BROKER_TRACE steps and the slow-answer status line; silent unless a front end sets it.
    public var feedback: ClientFeedback

    public init(paths: BrokerPaths, environment: Environment = .current, timeoutSeconds: Double = 30,
                feedback: ClientFeedback = .silent) {
        self.paths = paths
        self.environment = environment
        self.timeoutSeconds = timeoutSeconds
        self.feedback = feedback
    }

    /// Sends `request` (the `v=1` line is added here) and returns the agent's answer with its
    /// `status` checked: an error answer is thrown as a `BrokerFailure`.
    /// With `startAgent`, a missing agent is started; without, `nil` means "no agent running".
    public func send(_ request: WireMessage, startAgent: Bool = true) throws -> WireMessage? {
        guard let fd = try connect(startAgent: startAgent) else { return nil }
        return try fd.closeAfter {
            UnixSocket.setTimeouts(fd, seconds: timeoutSeconds)
            var message = WireMessage([WireMessage.Field("v", "1")])
            message.fields += request.fields
            var bytes = try message.encoded()
            bytes.append(10)  // blank line ends the request
            // An agent may refuse and hang up before reading everything (a limit, a denial):
            // the write then fails with EPIPE, never SIGPIPE, and its reason is still read.
            var sendFailure: Errno?
            do {
                try UnixSocket.sendAll(fd, bytes)
                feedback.step("sent \(ClientFeedback.summary(request))")
            } catch let error as Errno where error.rawValue == EPIPE || error.rawValue == ECONNRESET {
                sendFailure = error
            } catch let error as Errno {
                throw BrokerFailure(.unavailable, "lost the connection to broker-agent: \(error)", hint: "see \(paths.agentLogPath)")
            }
            do {
                let statusLine = sendFailure == nil ? waitShowingProgress(fd, for: request) : false
                let answer = try readWireMessage(from: fd)
                if statusLine { try? FileDescriptor.standardError.writeAll("\r\u{1b}[K") }  // erase it
                feedback.step("received \(ClientFeedback.summary(answer))")
                if answer.fields.isEmpty {
                    if let sendFailure { throw sendFailure }
                    // End of file before a single line: the agent died (kill -9, crash) or
                    // dropped us. Say so, rather than blaming a malformed answer.
                    throw BrokerFailure(.unavailable, "broker-agent closed the connection without answering",
                                        hint: "it may have been stopped or crashed; see \(paths.agentLogPath)")
                }
                return try Self.checkStatus(answer)
            } catch let error as Errno {
                throw BrokerFailure(.unavailable, "lost the connection to broker-agent: \(sendFailure ?? error)",
                                    hint: "see \(paths.agentLogPath)")
            }
        }
    }

    /// Waits for the answer to start; past the feedback's delay, on a terminal, shows one status
    /// line saying what it waits for. Returns whether it showed one (the caller erases it).
    func waitShowingProgress(_ fd: FileDescriptor, for request: WireMessage) -> Bool {
        guard feedback.progress else { return false }
        var poller = [pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)]
        guard (try? Poll.wait(&poller, timeoutMilliseconds: feedback.progressDelayMilliseconds)) == 0 else { return false }
        let line = "\(feedback.program): waiting for broker-agent to obtain \(ClientFeedback.waitingFor(request))…"
        try? FileDescriptor.standardError.writeAll("\r" + WireCodec.printable(line, limit: nil))
        return true
    }

    static func checkStatus(_ answer: WireMessage) throws -> WireMessage {
        switch answer["status"] {
        case "ok":
            return answer
        case "error":
            let kind = answer["kind"].flatMap(BrokerFailure.Kind.init(rawValue:)) ?? .upstream
            var failure = BrokerFailure(kind, answer["error"] ?? "broker-agent reported an error", hint: answer["hint"])
            failure.login = answer[WireKey.loginIdentity].map { LoginNeeded(identity: $0, prompt: answer[WireKey.loginPrompt] ?? "code") }
            throw failure
        default:
            throw BrokerFailure(.internal, "broker-agent sent an answer without a status line")
        }
    }

    func connect(startAgent: Bool) throws -> FileDescriptor? {
        if let fd = try connectIfRunning() {
            feedback.step("found broker-agent at \(paths.socketPath)")
            return fd
        }
        guard startAgent else {
            feedback.step("no broker-agent at \(paths.socketPath); not starting one")
            return nil
        }
        feedback.step("no broker-agent at \(paths.socketPath); starting one")
        try ensurePrivateDirectory(paths.runtimeDirectory)
        // One spawner at a time: whoever holds the lock re-checks, then starts the agent and
        // waits for its "ok". Everyone else finds it running once they get the lock.
        let lockFile: FileDescriptor
        do {
            lockFile = try FileDescriptor.open(paths.spawnLockPath, .readWrite, options: [.create, .closeOnExec], permissions: 0o600)
        } catch {
            throw BrokerFailure(.unavailable, "cannot open \(paths.spawnLockPath): \(error)")
        }
        defer { lockFile.close() }
        _ = try retryOnInterrupt({ flock(lockFile.rawValue, LOCK_EX) }, failed: { $0 != 0 })
        if let fd = try connectIfRunning() { return fd }
        try AgentSpawner(paths: paths, environment: environment).spawnAndWait()
        feedback.step("started broker-agent; it is ready")
        guard let fd = try connectIfRunning() else {
            throw BrokerFailure(.unavailable, "broker-agent said it was ready but its socket does not answer",
                                hint: "see \(paths.agentLogPath)")
        }
        return fd
    }

    /// A connection, or nil when nobody is listening (no socket directory or file, or a stale
    /// socket left by a killed agent: the agent replaces it when it starts). Trust runs both ways
    /// (DESIGN D14): the directory must be ours and private before we connect, and the listener
    /// must run as us before a byte is sent.
    func connectIfRunning() throws -> FileDescriptor? {
        guard try checkSocketDirectory(paths.runtimeDirectory, environment: environment) else { return nil }
        let fd: FileDescriptor
        do {
            fd = try UnixSocket.connect(path: paths.socketPath)
        } catch let error as Errno where error == .noEntry || error == .connectionRefused {
            return nil
        } catch let error as Errno {
            throw BrokerFailure(.unavailable, "cannot connect to \(paths.socketPath): \(error)")
        }
        do {
            try Self.checkListener(fd, socketPath: paths.socketPath)
        } catch {
            fd.close()
            throw error
        }
        return fd
    }

    /// The listener must be our own user's process (SO_PEERCRED / getpeereid).
    static func checkListener(_ fd: FileDescriptor, socketPath: String) throws {
        let me = ProcessInfoLite.userID
        let peer: UnixSocket.PeerCredentials
        do {
            peer = try UnixSocket.peerCredentials(fd)
        } catch {
            throw BrokerFailure(.permission, "cannot tell who listens on \(socketPath): \(error); refusing to talk to it")
        }
        guard peer.uid == me else {
            throw BrokerFailure(.permission, "the process listening on \(socketPath) runs as uid \(peer.uid), not as you (uid \(me)); refusing to talk to it",
                                hint: "stop that process, then rm \(socketPath)")
        }
    }
}

/// Starts broker-agent detached and waits for its one-line readiness answer on a pipe.
struct AgentSpawner {
    var paths: BrokerPaths
    var environment: Environment

    func agentExecutable() throws -> String {
        if let explicit = environment["BROKER_AGENT"] { return explicit }
        if let directory = ProcessInfoLite.executableDirectory() {
            let sibling = directory + "/broker-agent"
            if ProcessInfoLite.isExecutable(sibling) { return sibling }
        }
        for dir in (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/broker-agent"
            if ProcessInfoLite.isExecutable(candidate) { return candidate }
        }
        throw BrokerFailure(.unavailable, "cannot find the broker-agent executable",
                            hint: "install it next to this program or on PATH, or set BROKER_AGENT")
    }

    func spawnAndWait(timeoutMilliseconds: Int32 = 15_000) throws {
        let executable = try agentExecutable()
        var fds: [CInt] = [0, 0]
        guard pipe(&fds) == 0 else { throw Errno.current }
        let readEnd = FileDescriptor(rawValue: fds[0]), writeEnd = fds[1]
        defer { readEnd.close() }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addclose(&actions, writeEnd)
        _ = cbroker_spawn_close_from(&actions, 3)

        // The configuration and profile go by argument: the agent must serve what this client
        // asked for, whatever BROKER_CONFIG or BROKER_PROFILE its inherited environment holds
        // (brokerctl --config, --profile).
        let argv = [executable, "--spawned", "--socket-dir", paths.runtimeDirectory]
            + (paths.configFileIsExplicit ? ["--config", paths.configFile] : [])
            + ["--profile", paths.profile ?? ""]
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, &cArgs, environ)
        close(writeEnd)
        guard rc == 0 else {
            throw BrokerFailure(.unavailable, "cannot start \(executable): \(Errno(rawValue: rc))")
        }
        // The agent daemonizes itself (setsid) and stays running; reap nothing here. Its first
        // line is "ok" once it listens, or an error sentence if it could not start.
        var line: [UInt8] = []
        var poller = [pollfd(fd: readEnd.rawValue, events: Int16(POLLIN), revents: 0)]
        var buffer = [UInt8](repeating: 0, count: 512)
        while !line.contains(10) {
            let ready = (try? Poll.wait(&poller, timeoutMilliseconds: timeoutMilliseconds)) ?? -1
            if ready <= 0 {
                throw BrokerFailure(.unavailable, "broker-agent did not become ready within \(timeoutMilliseconds / 1000) s",
                                    hint: "see \(paths.agentLogPath)")
            }
            let n = try buffer.withUnsafeMutableBytes { try readEnd.read(into: $0) }
            if n == 0 { break }
            line += buffer[0..<n]
        }
        // Reap the child if it already exited (startup failure) so no zombie lingers.
        _ = try? ChildProcess.wait(pid, options: WNOHANG)
        let text = String(decoding: line.prefix { $0 != 10 }, as: UTF8.self)
        if text == "ok" || text == "running" { return }
        throw BrokerFailure(.unavailable, text.isEmpty ? "broker-agent exited before it was ready" : "broker-agent: \(text)",
                            hint: "see \(paths.agentLogPath)")
    }
}
