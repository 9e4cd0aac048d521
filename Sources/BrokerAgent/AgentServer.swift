// The agent's socket loops: accept, check the peer, read requests in poll, answer cache hits at once.

import BrokerCore
import BrokerFrontends
import BrokerWire
import CBrokerSystem
import Foundation

nonisolated(unsafe) private var terminationRequested: sig_atomic_t = 0

/// How the agent serves its socket, like git's credential-cache daemon: a poll loop over a flat
/// list of connections. A connection waits in the loop, holding no thread, until its whole
/// request has arrived; the loop then answers it at once when that needs no waiting — a cached
/// credential, a git credential-cache entry, a plan made of cached credentials — and the audit
/// record is written before the answer. A request that must wait (an upstream call, another
/// request's single-flight, a rate-limit pause, a lease, a command) is handed to a thread of its
/// own, within `[agent] max-connections`, which answers it from the start.
public final class AgentServer: @unchecked Sendable {
    public struct Options: Sendable {
        public var spawned = false
        public var idleTimeoutOverride: Int?
        /// Poll loops sharing the listener (one: measured on 2 cores, a second loop served no
        /// more requests and spent more CPU on both waking for every connection).
        public var loops: Int?
        public init() {}
    }

    let paths: BrokerPaths
    let options: Options
    let service: AgentService
    let lock = NSLock()
    /// Threads serving requests that may wait (or finishing a long answer).
    var activeConnections = 0
    /// Connections held by the loops, waiting for their requests.
    var loopPending: [Int] = []
    /// The socket file we created (device, inode), so shutdown removes only our own.
    var socketIdentity: (UInt64, UInt64)?
    var lastActivity: Double
    /// Set when the first loop leaves; the others follow.
    var stopping = false
    let log: @Sendable (String) -> Void
    let ownUID = ProcessInfoLite.userID

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
            // A deep backlog: a burst of a thousand clients connecting at once waits in the
            // kernel for the loops rather than being refused.
            let listener = try UnixSocket.listen(path: paths.socketPath, backlog: 1024)
            if let made = try? FileStatus(path: paths.socketPath, followingSymlinks: false) { socketIdentity = (made.device, made.inode) }
            return listener
        } catch let error as Errno where error.rawValue == EADDRINUSE {
            return nil
        }
    }

    var running: Bool {
        guard terminationRequested == 0 && !service.stopRequested else { return false }
        lock.lock(); defer { lock.unlock() }
        return !stopping
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
        do { try UnixSocket.setNonBlocking(listener) } catch { log("cannot make the listener non-blocking: \(error)") }
        let count = max(1, options.loops ?? 1)
        loopPending = Array(repeating: 0, count: count)
        let finished = DispatchGroup()
        for index in 1..<count {
            finished.enter()
            let thread = Thread { [self] in
                ServingLoop(server: self, listener: listener, index: index).run()
                finished.leave()
            }
            thread.stackSize = 512 * 1024
            thread.start()
        }
        ServingLoop(server: self, listener: listener, index: 0).run()
        lock.lock(); stopping = true; lock.unlock()
        _ = finished.wait(timeout: .now() + 2)
        shutdown(listener: listener)
    }

    /// Silent connections one loop holds at once; past it the longest-silent is dropped. Far
    /// above any honest burst, and bounded by what poll handles in one call.
    static let maxWaiting = 4096
    /// Bytes of one request a loop buffers; a longer request (only a hand-made one is) is read
    /// on by a thread of its own, within max-connections, so the loops' memory stays bounded.
    static let loopRequestBytes = 16 * 1024

    /// The peer, if it is our own user; another user's connection is closed without a word (D6).
    func checkedPeer(_ connection: FileDescriptor) -> UnixSocket.PeerCredentials? {
        guard let peer = try? UnixSocket.peerCredentials(connection), peer.uid == ownUID else {
            log("refused a connection from another uid")
            connection.close()
            return nil
        }
        return peer
    }

    func idleExpired() -> Bool {
        let limit = options.idleTimeoutOverride ?? service.configStore.agentSettings.idleTimeout
        lock.lock()
        let idle = activeConnections == 0 && loopPending.allSatisfy { $0 == 0 } && monotonicSeconds() - lastActivity >= Double(limit)
        lock.unlock()
        // Like credential-cache's daemon: stay while approved git credentials are held in memory,
        // and while wrapped commands may still fetch from the credentials endpoint.
        return idle && !service.gitStore.keepsAgentAlive && service.registryStore.count == 0 && service.envWrap.activeLeases == 0
    }

    /// Takes a max-connections slot for a thread, or answers "busy" and closes the connection.
    func reserveThread(for connection: FileDescriptor) -> Bool {
        let maxConnections = service.configStore.agentSettings.maxConnections
        lock.lock()
        lastActivity = monotonicSeconds()
        let admitted = activeConnections < maxConnections
        if admitted { activeConnections += 1 }
        lock.unlock()
        guard admitted else {
            let busy = AgentService.errorAnswer(BrokerFailure(.unavailable, "broker-agent is serving \(maxConnections) connections; try again",
                                                               hint: "raise [agent] max-connections"))
            let bytes = (try? busy.encoded(blankLine: true)) ?? [10]
            _ = try? bytes.withUnsafeBytes { try UnixSocket.sendSome(connection, $0) }
            connection.close()
            return false
        }
        return true
    }

    /// Runs `body` on a thread of its own (a slot already reserved), then closes the connection.
    func onThread(_ connection: FileDescriptor, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread { [self] in
            defer {
                connection.close()
                lock.lock()
                activeConnections -= 1
                lastActivity = monotonicSeconds()
                lock.unlock()
            }
            body()
        }
        thread.stackSize = 512 * 1024
        thread.start()
    }

    /// A request that must wait: answered from the start on a thread, within max-connections.
    func answerOnThread(_ connection: FileDescriptor, request: WireMessage, caller: Caller, timeout: Double) {
        guard reserveThread(for: connection) else { return }
        onThread(connection) { [self] in
            try? UnixSocket.setNonBlocking(connection, false)
            UnixSocket.setTimeouts(connection, seconds: timeout)
            Self.send(service.handle(request, caller: caller), to: connection)
        }
    }

    /// A request longer than a loop buffers: read on to its end on a thread, within the time
    /// left of its whole-request deadline (not per read: a client dribbling a byte a second is
    /// cut off too), then answered there.
    func readOnThread(_ connection: FileDescriptor, reader: WireMessageReader, peer: UnixSocket.PeerCredentials, timeLeft: Double, timeout: Double) {
        guard reserveThread(for: connection) else { return }
        onThread(connection) { [self] in
            try? UnixSocket.setNonBlocking(connection, false)
            UnixSocket.setTimeouts(connection, seconds: max(timeLeft, 0.001))
            let deadline = RequestDeadline()
            // Settled before the descriptor is closed, so a late timer never touches a number
            // the kernel has handed to another connection.
            defer { _ = deadline.finish() }
            DispatchQueue.global().asyncAfter(deadline: .now() + max(timeLeft, 0)) {
                // Ends any read still waiting; the descriptor stays ours to close.
                deadline.expire { UnixSocket.shutdownReading(connection) }
            }
            var reader = reader
            let answer: WireMessage
            do {
                var chunk = [UInt8](repeating: 0, count: 8192)
                var request: WireMessage?
                while request == nil {
                    let n = try chunk.withUnsafeMutableBytes { try connection.read(into: $0) }
                    if n == 0 { request = try reader.finishAtEndOfInput(requireBlankLine: true) } else if try reader.feed(chunk[0..<n]) { request = reader.message }
                }
                guard deadline.finish() else { return }  // the deadline passed mid-request
                UnixSocket.setTimeouts(connection, seconds: timeout)
                answer = service.handle(request!, caller: Caller.describe(peer))
            } catch let error as Errno where error == .wouldBlock {
                return  // timed out waiting for the request
            } catch {
                guard deadline.finish() else { return }
                answer = AgentService.errorAnswer(BrokerFailure(.input, "bad request: \(error)"))
            }
            Self.send(answer, to: connection)
        }
    }

    /// The bytes of an answer: its fields and the blank line that ends it.
    static func bytes(of answer: WireMessage) -> [UInt8] {
        (try? answer.encoded(blankLine: true))
            ?? (try! AgentService.errorAnswer(BrokerFailure(.internal, "answer could not be encoded")).encoded(blankLine: true))
    }

    /// Writes a whole answer on a blocking descriptor (a thread's).
    static func send(_ answer: WireMessage, to connection: FileDescriptor) {
        _ = try? UnixSocket.sendAll(connection, bytes(of: answer))
    }

    /// Writes an answer from a loop without waiting, encoded in the loop's `scratch`; what the
    /// socket's buffer cannot take at once (only a huge status answer to a slow reader) is
    /// finished by a thread. Closes.
    func sendFromLoop(_ answer: WireMessage, to connection: FileDescriptor, timeout: Double, scratch: ByteScratch) {
        let rest: [UInt8]?
        do {
            rest = try scratch.write(capacity: answer.encodedCount(blankLine: true), { try answer.encode(blankLine: true, into: &$0) }) {
                Self.unsent($0, on: connection)
            }
        } catch {
            rest = Self.unsent(Self.bytes(of: answer), on: connection)  // the encoding error's own answer
        }
        finish(rest, on: connection, timeout: timeout)
    }

    /// `sendFromLoop` for an answer already encoded.
    func sendFromLoop(_ bytes: [UInt8], to connection: FileDescriptor, timeout: Double) {
        finish(Self.unsent(bytes, on: connection), on: connection, timeout: timeout)
    }

    /// Closes the connection, or hands what is left of its answer to a thread.
    private func finish(_ rest: [UInt8]?, on connection: FileDescriptor, timeout: Double) {
        guard let rest else { connection.close(); return }
        // The answer is made: finish it even past max-connections rather than drop it.
        lock.lock(); activeConnections += 1; lock.unlock()
        onThread(connection) {
            try? UnixSocket.setNonBlocking(connection, false)
            UnixSocket.setTimeouts(connection, seconds: timeout)
            _ = try? UnixSocket.sendAll(connection, rest)
        }
    }

    /// What a non-blocking send of `bytes` left over; nil when all went (or the peer is gone).
    static func unsent(_ bytes: UnsafeRawBufferPointer, on connection: FileDescriptor) -> [UInt8]? {
        let sent = (try? UnixSocket.sendSome(connection, bytes)) ?? bytes.count
        return sent < bytes.count ? Array(bytes[sent...]) : nil
    }

    static func unsent(_ bytes: [UInt8], on connection: FileDescriptor) -> [UInt8]? {
        bytes.withUnsafeBytes { unsent($0, on: connection) }
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

/// One poll loop over the listener and the connections it accepted whose requests have not
/// arrived in full. Everything it does per request is bounded and waits on nothing.
final class ServingLoop {
    let server: AgentServer
    let listener: FileDescriptor
    let index: Int
    var service: AgentService { server.service }

    struct Pending {
        var fd: FileDescriptor
        var peer: UnixSocket.PeerCredentials
        /// When the whole-request deadline started: at accept, again at the first byte.
        var since: Double
        var reader = WireMessageReader()
    }

    var pending: [Pending] = []
    var pollers: [pollfd] = []
    var buffer = [UInt8](repeating: 0, count: 16 * 1024)
    /// Where answers are encoded before they are sent.
    let scratch = ByteScratch()
    /// Answers this loop may give again as they are (WarmAnswers), and what answering one did.
    let warm = WarmAnswers()
    let recorder = WarmRecorder()
    var recentCaller: (caller: Caller, at: Double)?
    var recentCallerAudited: [UInt8]?
    /// Settings read once per tick.
    var requestTimeout = 10.0
    var configChecked = false
    var servedSinceTrim = 0
    var nextExpiryCheck = 0.0
    var nextSweep = 0.0
    var publishedPending = 0
    var publishedReplayed = 0

    init(server: AgentServer, listener: FileDescriptor, index: Int) {
        self.server = server
        self.listener = listener
        self.index = index
    }

    /// Loop 0 also keeps house: sweeps of the cache, leases and rate buckets, the idle exit.
    var keepsHouse: Bool { index == 0 }

    func run() {
        nextSweep = monotonicSeconds() + 10
        while server.running {
            pollers.removeAll(keepingCapacity: true)
            pollers.append(pollfd(fd: listener.rawValue, events: Int16(POLLIN), revents: 0))
            for connection in pending { pollers.append(pollfd(fd: connection.fd.rawValue, events: Int16(POLLIN), revents: 0)) }
            let ready = (try? Poll.wait(&pollers, timeoutMilliseconds: 250, retryOnInterrupt: false)) ?? -1
            configChecked = false
            requestTimeout = Double(service.configStore.agentSettings.requestTimeout)
            var accepted = false
            if ready > 0 {
                // Connections already waiting first (in their order), then the new ones.
                var index = pending.count
                while index > 0 {
                    index -= 1
                    if pollers[index + 1].revents != 0 && progress(index) { pending.remove(at: index) }
                }
                if pollers[0].revents != 0 { accepted = acceptWaiting() }
            }
            let now = monotonicSeconds()
            if accepted {
                server.lock.lock(); server.lastActivity = now; server.lock.unlock()
            }
            if now >= nextExpiryCheck { expire(now) }
            publishPending()
            if warm.replayed != publishedReplayed {
                service.countReplayed(warm.replayed - publishedReplayed)
                publishedReplayed = warm.replayed
            }
            if ready == 0 { idleTick(now) } else if keepsHouse && now >= nextSweep { sweep(now) }
            if keepsHouse && ready == 0 && pending.isEmpty && server.idleExpired() {
                server.log("idle; exiting")
                break
            }
        }
        pending.forEach { $0.fd.close() }
        pending.removeAll()
        publishPending()
    }

    /// Accepts what the backlog holds (a bounded batch per tick, so waiting connections get
    /// their turn) and serves each whose request is already there.
    func acceptWaiting() -> Bool {
        var any = false
        for _ in 0..<64 {
            guard let connection = (try? UnixSocket.acceptNonBlocking(listener)) ?? nil else { break }
            guard let peer = server.checkedPeer(connection) else { continue }
            any = true
            if pending.count >= AgentServer.maxWaiting {
                pending.removeFirst().fd.close()  // the longest-silent one goes first
            }
            pending.append(Pending(fd: connection, peer: peer, since: monotonicSeconds()))
            if progress(pending.count - 1) { pending.removeLast() }
        }
        return any
    }

    /// Reads what connection `index` has sent; true when it is done with (answered, handed to
    /// a thread, or closed) and leaves the list.
    func progress(_ index: Int) -> Bool {
        let fd = pending[index].fd
        while true {
            let n: Int?
            do {
                n = try buffer.withUnsafeMutableBytes { try UnixSocket.receiveSome(fd, into: $0) }
            } catch {
                fd.close()
                return true
            }
            guard let n else { return false }  // nothing more yet
            // A whole request in its first read: the bytes of a warm one answered before.
            let first = pending[index].reader.bytesRead == 0
            if first, n > 0, n <= WarmAnswers.maxRequest, !warm.entries.isEmpty, replayWarm(pending[index], count: n) { return true }
            do {
                if n == 0 {
                    // The client closed its side without ending its request.
                    let request = try pending[index].reader.finishAtEndOfInput(requireBlankLine: true)
                    serve(pending[index], request)
                    return true
                }
                if pending[index].reader.bytesRead == 0 { pending[index].since = monotonicSeconds() }
                if try pending[index].reader.feed(buffer[0..<n]) {
                    serve(pending[index], pending[index].reader.message, bytes: first && n <= WarmAnswers.maxRequest ? buffer[0..<n] : nil)
                    return true
                }
            } catch {
                server.sendFromLoop(AgentService.errorAnswer(BrokerFailure(.input, "bad request: \(error)")), to: fd, timeout: requestTimeout,
                                  scratch: scratch)
                return true
            }
            if pending[index].reader.bytesRead > AgentServer.loopRequestBytes {
                let connection = pending[index]
                let left = connection.since + requestTimeout - monotonicSeconds()
                server.readOnThread(fd, reader: connection.reader, peer: connection.peer, timeLeft: left, timeout: requestTimeout)
                return true
            }
        }
    }

    /// One stat of the config per tick that serves anything: a request accepted after an edit
    /// was saved sees the edit (and a reload bumps `StateGeneration`, so no warm answer outlives it).
    func checkConfig() {
        guard !configChecked else { return }
        service.configStore.refresh()
        configChecked = true
    }

    /// Answers a whole request: here when that needs no waiting, else on a thread. `bytes`: the
    /// request as read, when it came in one read, so that its answer may be remembered.
    func serve(_ connection: Pending, _ request: WireMessage, bytes: ArraySlice<UInt8>? = nil) {
        checkConfig()
        servedSinceTrim += 1
        let caller = caller(of: connection.peer)
        let generation = StateGeneration.current
        let instant = bytes == nil ? nil : service.clock.instant()
        recorder.reset()
        guard let answer = ServingThread.withoutWaiting(recording: bytes == nil ? nil : recorder, {
            service.answerWithoutWaiting(request, caller: caller)
        }) else {
            server.answerOnThread(connection.fd, request: request, caller: caller, timeout: requestTimeout)
            return
        }
        // Remembered only when nothing it read changed while it was made, in the same second.
        if let bytes, let body = recorder.body(for: caller), generation == StateGeneration.current, instant == service.clock.instant() {
            let encoded = AgentServer.bytes(of: answer)
            if encoded.count <= WarmAnswers.maxAnswer {
                warm.remember(.init(request: Array(bytes), answer: encoded, auditBody: body), generation: generation, at: instant!)
            }
            server.sendFromLoop(encoded, to: connection.fd, timeout: requestTimeout)
            return
        }
        server.sendFromLoop(answer, to: connection.fd, timeout: requestTimeout, scratch: scratch)
    }

    /// Gives a remembered answer again for the same request bytes (WarmAnswers): its audit line
    /// for this caller first, then the answer. False when there is none to give.
    func replayWarm(_ connection: Pending, count: Int) -> Bool {
        checkConfig()
        let found = buffer.withUnsafeBufferPointer {
            warm.lookup(UnsafeBufferPointer(rebasing: $0[0..<count]), generation: StateGeneration.current, at: service.clock.instant())
        }
        guard let found else { return false }
        servedSinceTrim += 1
        service.audit.replay(body: warm.entries[found].auditBody, caller: auditedCaller(of: connection.peer))
        server.sendFromLoop(warm.entries[found].answer, to: connection.fd, timeout: requestTimeout)
        return true
    }

    /// The peer as a `Caller`: the last connection's when it came from the same process within
    /// the time `ProcessNames` trusts what it read of one (a burst comes from few processes), so
    /// its names are looked up once for all of them rather than once per request.
    func caller(of peer: UnixSocket.PeerCredentials) -> Caller {
        let now = monotonicSeconds()
        if let recent = recentCaller, recent.caller.pid == peer.pid, recent.caller.uid == peer.uid,
           now - recent.at < ProcessNames.shared.trusted {
            return recent.caller
        }
        let caller = Caller.describe(peer)
        recentCaller = (caller, now)
        recentCallerAudited = nil
        return caller
    }

    /// The peer's members of an audit line (`AuditLine.caller`), made once per `recentCaller`.
    func auditedCaller(of peer: UnixSocket.PeerCredentials) -> [UInt8] {
        let caller = caller(of: peer)
        if let recentCallerAudited { return recentCallerAudited }
        let audited = AuditLine.caller(caller)
        recentCallerAudited = audited
        return audited
    }

    /// Closes connections whose whole request did not arrive within `[agent] request-timeout`.
    func expire(_ now: Double) {
        nextExpiryCheck = now + 0.1
        pending.removeAll { connection in
            guard now - connection.since >= requestTimeout else { return false }
            connection.fd.close()
            return true
        }
    }

    func publishPending() {
        guard pending.count != publishedPending else { return }
        publishedPending = pending.count
        server.lock.lock(); server.loopPending[index] = pending.count; server.lock.unlock()
    }

    /// Nothing happened for a whole poll timeout.
    func idleTick(_ now: Double) {
        if keepsHouse && now >= nextSweep { sweep(now) }
        warm.forget()  // no answer (no secret) stays in the loop's memory past a quiet moment
        // Hand memory from a burst back to the OS once it is over.
        if servedSinceTrim > 0 && pending.isEmpty {
            servedSinceTrim = 0
            cbroker_release_free_memory()
        }
    }

    func sweep(_ now: Double) {
        nextSweep = now + 10
        service.resolver.cache.sweep(now: service.clock.instant())
        service.leases.sweep()
        if let agent = (try? service.configStore.config().get())?.agent {
            service.limiter.sweep(settings: RateSettings(agent))
        }
    }
}

/// Marks the loops' threads: on them, a request is answered only if that needs no waiting, and
/// whatever would wait throws `MustWait` before it has changed or audited anything.
enum ServingThread {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()
    private static let marker = UnsafeMutableRawPointer(bitPattern: 1)
    private static let recorderKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Runs `body` with waiting forbidden on this thread, telling `recorder` what the answer did.
    static func withoutWaiting<R>(recording recorder: WarmRecorder? = nil, _ body: () -> R) -> R {
        pthread_setspecific(key, marker)
        if let recorder { pthread_setspecific(recorderKey, Unmanaged.passUnretained(recorder).toOpaque()) }
        defer {
            pthread_setspecific(key, nil)
            if recorder != nil { pthread_setspecific(recorderKey, nil) }
        }
        return body()
    }

    /// The recorder of the answer being made on this loop, if its answer may be remembered.
    static var recorder: WarmRecorder? {
        pthread_getspecific(recorderKey).map { Unmanaged<WarmRecorder>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Said by a handler whose answer is a function of the request's bytes, the agent's state
    /// and the clock's second alone (the caller only in its one audit record): a loop may give
    /// it again as it is (WarmAnswers).
    static func answerMayRepeat() { recorder?.repeatable = true }

    /// Said where an answer must be made afresh every time, whatever else said it may repeat.
    static func answerMustNotRepeat() { recorder?.vetoed = true }

    /// False while a loop is answering.
    static var mayWait: Bool { pthread_getspecific(key) == nil }

    /// Throws `MustWait` on a loop: put before anything that may block (an upstream call, a
    /// command, a lease, disk work beyond one append).
    static func permitWaiting() throws {
        if !mayWait { throw MustWait() }
    }
}

/// The request must be answered on a thread that may wait; thrown before anything changed.
struct MustWait: Error {}

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
            case "--profile":
                // Its spawner's profile, whatever BROKER_PROFILE it inherited; empty means none.
                guard let name = args.popFirst() else { printError(usage); return ExitStatus.usage }
                env.values["BROKER_PROFILE"] = name
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
        // The loops answer most requests; threads serve only those that wait: two malloc arenas
        // are plenty, and glibc's default (8 per core) only keeps freed memory resident.
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
