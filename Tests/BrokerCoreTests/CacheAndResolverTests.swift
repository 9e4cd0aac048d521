// The cache on disk, single-flight, chains and refresh-ahead, driven through the exec kind.

@testable import BrokerCore
import BrokerWire
import Foundation
import XCTest

final class CacheAndResolverTests: XCTestCase {
    var directory = ""

    override func setUp() {
        directory = NSTemporaryDirectory() + "cache-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try! ensurePrivateDirectory(directory + "/entries")
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    var entries: String { directory + "/entries" }

    final class Box<T>: @unchecked Sendable {
        var value: T
        init(_ value: T) { self.value = value }
    }

    func cache() -> CredentialCache { CredentialCache(directory: entries, log: { _ in }) }

    func key(_ name: String = "bot") -> CacheKey { CacheKey(identity: name, kind: "exec", digest: "0123456789abcdef") }

    /// Starts `count` threads that all call `body` at once (a pool the size of the core count
    /// would run them in waves and hide a missing single-flight).
    func runConcurrently(_ count: Int, _ body: @escaping () -> Void) {
        let start = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        for _ in 0..<count {
            group.enter()
            Thread {
                start.wait()
                body()
                group.leave()
            }.start()
        }
        for _ in 0..<count { start.signal() }
        group.wait()
    }

    func testKeyRoundTripsThroughItsFileName() {
        let key = CacheKey(identity: "team.bot/ci", kind: "aws/assume-role", digest: "0123456789abcdef")
        XCTAssertEqual(CacheKey(fileName: key.description), key)
    }

    func testExpiringCredentialIsWritten0600AndReloaded() throws {
        let credential = Credential(username: "u", password: Secret("p"), expiresAt: 2_000_000_000)
        try cache().store(credential, for: key(), obtainedAt: 1)
        var st = stat()
        XCTAssertEqual(stat(entries + "/\(key()).cred", &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        let reloaded = cache()
        reloaded.loadFromDisk(now: .init(wall: 1_000_000_000, elapsed: 1_000_000_000))
        let entry = reloaded.lookup(key())
        XCTAssertEqual(entry?.credential, credential)
        XCTAssertEqual(entry?.tier, .disk)
        XCTAssertEqual(reloaded.lookup(key())?.tier, .memory)
    }

    func testLongLivedCredentialNeverTouchesDisk() throws {
        try cache().store(Credential(username: "u", password: Secret("p")), for: key(), obtainedAt: 1)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: entries), [])
    }

    func testCorruptForeignAndExpiredEntriesAreRemovedAtLoad() throws {
        let good = Credential(username: "u", password: Secret("p"), expiresAt: 2_000_000_000)
        try cache().store(good, for: key("good"), obtainedAt: 1)
        try cache().store(Credential(username: "u", password: Secret("p"), expiresAt: 1_000), for: key("expired"), obtainedAt: 1)
        FileManager.default.createFile(atPath: entries + "/garbage.exec.0123456789abcdef.cred", contents: Data([0xff, 0, 1, 2]), attributes: [.posixPermissions: 0o600])
        FileManager.default.createFile(atPath: entries + "/loose.exec.0123456789abcdef.cred",
                                       contents: try Data(contentsOf: URL(fileURLWithPath: entries + "/\(key("good")).cred")),
                                       attributes: [.posixPermissions: 0o644])
        FileManager.default.createFile(atPath: entries + "/\(key("renamed")).cred",
                                       contents: try Data(contentsOf: URL(fileURLWithPath: entries + "/\(key("good")).cred")),
                                       attributes: [.posixPermissions: 0o600])
        FileManager.default.createFile(atPath: entries + "/.tmp-1-2", contents: Data("half".utf8))
        let logged = Box<[String]>([])
        let reloaded = CredentialCache(directory: entries, log: { logged.value.append($0) })
        reloaded.loadFromDisk(now: .init(wall: 1_500_000_000, elapsed: 1_500_000_000))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: entries), ["\(key("good")).cred"])
        XCTAssertNotNil(reloaded.lookup(key("good")))
        XCTAssertEqual(logged.value.count, 3)
        XCTAssertFalse(logged.value.joined().contains("password"))
    }

    func testRemoveDropsMemoryAndDisk() throws {
        let c = cache()
        try c.store(Credential(username: "u", password: Secret("p"), expiresAt: 2_000_000_000), for: key(), obtainedAt: 1)
        XCTAssertEqual(c.remove(identity: "bot"), 1)
        XCTAssertNil(c.lookup(key()))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: entries), [])
    }

    func testSingleFlightRunsOnceForConcurrentCallers() throws {
        let flight = SingleFlight<String, Int>()
        let runs = Box(0)
        let lock = NSLock()
        runConcurrently(16) {
            let result = try? flight.run("k") {
                lock.lock(); runs.value += 1; lock.unlock()
                usleep(200_000)
                return 42
            }
            XCTAssertEqual(result?.value, 42)
        }
        XCTAssertEqual(runs.value, 1)
    }

    func testSingleFlightSharesErrors() {
        struct Boom: Error {}
        let flight = SingleFlight<String, Int>()
        XCTAssertThrowsError(try flight.run("k") { throw Boom() })
        XCTAssertEqual(try flight.run("k") { 1 }.value, 1)  // a failed call is not remembered
    }

    // MARK: resolver through the exec kind

    func resolver(clock: Clock = .system) -> ChainResolver {
        ChainResolver(cache: cache(), context: ResolveContext(environment: Environment(["PATH": "/usr/bin:/bin"]), clock: clock))
    }

    func config(_ text: String) throws -> BrokerConfig { try BrokerConfig.parse(ConfigSyntax.parse(text: text, file: "cfg")) }

    func counterScript(expiresIn: Int, name: String = "mint") -> (command: String, runs: () -> Int) {
        let counter = directory + "/\(name).count"
        let command = "echo run >> \(counter); echo username=u; echo password=token-$(wc -l < \(counter) | tr -d ' '); echo password_expiry_utc=$(( $(date +%s) + \(expiresIn) ))"
        return (command, { ((try? String(contentsOfFile: counter, encoding: .utf8)) ?? "").split(separator: "\n").count })
    }

    func testEditingACmdSecretServesTheNewSecret() throws {
        // Both references show as `cmd:echo` to people; the cache key must hold the whole command.
        let r = resolver()
        let first = try config("[identity \"bot\"]\nkind = static\nusername = u\nsecret = cmd:echo first\n")
        let second = try config("[identity \"bot\"]\nkind = static\nusername = u\nsecret = cmd:echo second\n")
        XCTAssertEqual(try r.resolve("bot", in: first, minimumValidity: 60).credential.password?.password.reveal(), "first")
        XCTAssertEqual(try r.resolve("bot", in: second, minimumValidity: 60).credential.password?.password.reveal(), "second")
        XCTAssertEqual(try r.resolve("bot", in: second, minimumValidity: 60).tier, .memory)
    }

    func testCacheParametersCannotImitateEachOther() throws {
        // "a" = "b\nc" and "a\nb" = "c" joined by newlines would be one key.
        XCTAssertNotEqual(CacheParameter("a", "b\nc").material, CacheParameter("a\nb", "c").material)
    }

    func testSecondResolveIsServedFromMemory() throws {
        let script = counterScript(expiresIn: 3600)
        let c = try config("[identity \"bot\"]\nkind = exec\ncommand = \"\(script.command.replacingOccurrences(of: "\"", with: "\\\""))\"\n")
        let r = resolver()
        XCTAssertEqual(try r.resolve("bot", in: c, minimumValidity: 60).tier, .upstream)
        XCTAssertEqual(try r.resolve("bot", in: c, minimumValidity: 60).tier, .memory)
        XCTAssertEqual(script.runs(), 1)
    }

    func testConcurrentColdResolvesMakeOneUpstreamCall() throws {
        let script = counterScript(expiresIn: 3600)
        let c = try config("[identity \"bot\"]\nkind = exec\ncommand = \"sleep 0.3; \(script.command.replacingOccurrences(of: "\"", with: "\\\""))\"\n")
        let r = resolver()
        runConcurrently(12) {
            XCTAssertEqual(try? r.resolve("bot", in: c, minimumValidity: 60).credential.password?.password.reveal(), "token-1")
        }
        XCTAssertEqual(script.runs(), 1)
    }

    func testCredentialUnderMinimumValidityIsRefreshed() throws {
        let script = counterScript(expiresIn: 100)
        let c = try config("[identity \"bot\"]\nkind = exec\ncommand = \"\(script.command.replacingOccurrences(of: "\"", with: "\\\""))\"\n")
        let r = resolver()
        _ = try r.resolve("bot", in: c, minimumValidity: 60)
        // Asking for more validity than the cached token has forces a fresh one; the upstream
        // still issues 100 s, so the resolver says so instead of handing out a dying token.
        XCTAssertThrowsError(try r.resolve("bot", in: c, minimumValidity: 200)) { error in
            XCTAssertTrue("\(error)".contains("less than the 200 s required"))
        }
        XCTAssertEqual(script.runs(), 2)
    }

    func testRefreshAheadServesCachedValueAndRefreshesInBackground() throws {
        let script = counterScript(expiresIn: 400)
        let c = try config("[identity \"bot\"]\nkind = exec\ncommand = \"\(script.command.replacingOccurrences(of: "\"", with: "\\\""))\"\n")
        let r = resolver()
        r.refreshAhead = 600
        let refreshed = expectation(description: "background refresh")
        r.onBackgroundRefresh = { identity, error in
            XCTAssertEqual(identity, "bot")
            XCTAssertNil(error)
            refreshed.fulfill()
        }
        XCTAssertEqual(try r.resolve("bot", in: c, minimumValidity: 60).credential.password?.password.reveal(), "token-1")
        XCTAssertEqual(try r.resolve("bot", in: c, minimumValidity: 60).credential.password?.password.reveal(), "token-1")
        wait(for: [refreshed], timeout: 10)
        XCTAssertEqual(try r.resolve("bot", in: c, minimumValidity: 60).credential.password?.password.reveal(), "token-2")
    }

    func testChainFeedsUpstreamCredentialOnStdin() throws {
        let secretFile = directory + "/secret"
        FileManager.default.createFile(atPath: secretFile, contents: Data("base-pass\n".utf8), attributes: [.posixPermissions: 0o600])
        let c = try config("""
            [identity "base"]
            kind = static
            username = base-user
            secret = file:\(secretFile)
            [identity "derived"]
            kind = exec
            via = identity:base
            command = "read_all=$(cat); echo username=derived; echo password=from-$(echo \\"$read_all\\" | grep '^password=' | cut -d= -f2); echo password_expiry_utc=$(( $(date +%s) + 3600 ))"
            """)
        let resolution = try resolver().resolve("derived", in: c, minimumValidity: 60)
        XCTAssertEqual(resolution.credential.password?.password.reveal(), "from-base-pass")
    }

    func testCacheKeyCoversTheWholeChain() throws {
        let a = try config("[identity \"base\"]\nkind = static\nusername = a\nsecret = env:X\n[identity \"d\"]\nkind = exec\nvia = identity:base\ncommand = true\n")
        let b = try config("[identity \"base\"]\nkind = static\nusername = b\nsecret = env:X\n[identity \"d\"]\nkind = exec\nvia = identity:base\ncommand = true\n")
        let context = ResolveContext(environment: Environment([:]))
        XCTAssertNotEqual(ChainResolver.key(for: try ChainResolver.chain(of: "d", in: a)[...], context: context),
                          ChainResolver.key(for: try ChainResolver.chain(of: "d", in: b)[...], context: context))
    }
}

final class SecretReferenceTests: XCTestCase {
    let context = ResolveContext(environment: Environment(["PATH": "/usr/bin:/bin", "TOKEN": "t0k"]))
    let here = SourceLocation(file: "cfg", line: 7)

    func testEnvironmentReadsTheAgentsEnvironment() throws {
        XCTAssertEqual(try SecretReference("env:TOKEN", at: here).resolve(context, timeout: 5).reveal(), "t0k")
    }

    func testMissingEnvironmentVariableSaysWhoseEnvironment() {
        XCTAssertThrowsError(try SecretReference("env:NOPE", at: here).resolve(context, timeout: 5)) { error in
            XCTAssertTrue("\(error)".contains("broker-agent's environment"))
            XCTAssertTrue("\(error)".contains("brokerctl stop"))
        }
    }

    func testLooseSecretFileIsRefusedWithChmodHint() throws {
        let path = NSTemporaryDirectory() + "secret-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(path) }
        FileManager.default.createFile(atPath: path, contents: Data("s\n".utf8), attributes: [.posixPermissions: 0o644])
        XCTAssertThrowsError(try SecretReference("file:\(path)", at: here).resolve(context, timeout: 5)) { error in
            XCTAssertEqual((error as? BrokerFailure)?.hint, "chmod 600 \(path)")
        }
        chmod(path, 0o600)
        XCTAssertEqual(try SecretReference("file:\(path)", at: here).resolve(context, timeout: 5).reveal(), "s")
    }

    func testFailingCommandReportsStatusAndFirstStderrLineButNeverStdout() {
        XCTAssertThrowsError(try SecretReference("cmd:echo CANARY-OUT; echo first >&2; echo second >&2; exit 3", at: here).resolve(context, timeout: 5)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("exited with status 3: first"), text)
            XCTAssertFalse(text.contains("CANARY"))
            XCTAssertFalse(text.contains("second"))
        }
    }

    func testSlowCommandTimesOut() {
        let start = Date()
        XCTAssertThrowsError(try SecretReference("cmd:sleep 30", at: here).resolve(context, timeout: 1)) { error in
            XCTAssertTrue("\(error)".contains("timed out"))
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
    }

    func testCommandOutputLosesOnlyTheTrailingNewline() throws {
        XCTAssertEqual(try SecretReference("cmd:printf 'a b\\n'", at: here).resolve(context, timeout: 5).reveal(), "a b")
    }

    func testInlineValueIsRefused() {
        XCTAssertThrowsError(try SecretReference("hunter2", at: here)) { XCTAssertFalse("\($0)".contains("hunter2")) }
    }
}
