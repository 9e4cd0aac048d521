// github/pat-pool leases as a specification: who gets which token, when it comes back, what survives a restart.

@testable import BrokerAgent
import BrokerCore
import BrokerWire
import Foundation
import XCTest

/// A process table the test writes: pid → start time, parent and program; a removed pid is dead.
final class FakeProcesses: @unchecked Sendable {
    struct Entry { var start: UInt64; var parent: Int32; var exe: String }
    private let lock = NSLock()
    private var entries: [Int32: Entry] = [:]
    private var nextStart: UInt64 = 1000

    @discardableResult
    func spawn(_ pid: Int32, parent: Int32 = 1, exe: String = "/usr/bin/job") -> LeaseHolder {
        lock.lock(); defer { lock.unlock() }
        nextStart += 1
        entries[pid] = Entry(start: nextStart, parent: parent, exe: exe)
        return LeaseHolder(pid: pid, startTime: nextStart)
    }

    func exit(_ pid: Int32) { lock.lock(); entries[pid] = nil; lock.unlock() }

    var table: ProcessTable {
        ProcessTable(startTime: { pid in self.lock.lock(); defer { self.lock.unlock() }; return self.entries[pid]?.start },
                     parent: { pid in self.lock.lock(); defer { self.lock.unlock() }; return self.entries[pid]?.parent },
                     executable: { pid in self.lock.lock(); defer { self.lock.unlock() }; return self.entries[pid]?.exe })
    }
}

final class TestClock: @unchecked Sendable { var now: Int64 = 1_700_000_000 }

final class LeaseManagerTests: XCTestCase {
    var directory = ""
    let clock = TestClock()
    let processes = FakeProcesses()
    var events: [LeaseEvent] = []
    let tokens = ["ghp_tokenONE", "ghp_tokenTWO", "ghp_tokenTHREE"].map(Secret.init)

    override func setUp() {
        var template = Array("/tmp/cb-lease-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) } + "/leases"
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: (directory as NSString).deletingLastPathComponent)
    }

    func manager() -> LeaseManager {
        let manager = LeaseManager(directory: directory, clock: Clock { [clock] in clock.now }, processes: processes.table, watchExits: false)
        manager.onEvent = { [weak self] in self?.events.append($0) }
        return manager
    }

    func request(ttl: Int = 3600, quarantine: Int = 600, minimumValidity: Int = 60) -> PoolRequest {
        PoolRequest(pool: "ci", tokens: tokens, leaseTTL: ttl, quarantine: quarantine, minimumValidity: minimumValidity)
    }

    func lease(_ manager: LeaseManager, _ holder: LeaseHolder, origin: PoolLease.Origin = .wrap, ancestors: [LeaseHolder] = [],
               _ request: PoolRequest? = nil) throws -> String {
        try manager.lease(request ?? self.request(), holder: holder, origin: origin, ancestors: ancestors, report: { self.events.append($0) }).token.reveal()
    }

    func exhaustion(_ manager: LeaseManager, _ holder: LeaseHolder, file: StaticString = #filePath, line: UInt = #line) -> String? {
        do {
            _ = try lease(manager, holder)
            XCTFail("expected the pool to be exhausted", file: file, line: line)
            return nil
        } catch {
            return (error as? BrokerFailure)?.message
        }
    }

    // MARK: leasing

    func testTheFirstFreeTokenIsLeasedInPoolOrder() throws {
        let leases = manager()
        XCTAssertEqual(try lease(leases, processes.spawn(10)), "ghp_tokenONE")
        XCTAssertEqual(try lease(leases, processes.spawn(11)), "ghp_tokenTWO")
        XCTAssertEqual(events.map(\.kind), [.leased, .leased])
        XCTAssertEqual(events.first?.fingerprint, TokenFingerprint.of(tokens[0]))
    }

    func testTheSameHolderAskingAgainGetsTheSameToken() throws {
        let leases = manager()
        let holder = processes.spawn(10)
        let first = try lease(leases, holder)
        XCTAssertEqual(try lease(leases, holder), first)
        XCTAssertEqual(try lease(leases, holder), first)
        XCTAssertEqual(leases.snapshot().leases.count, 1)
        XCTAssertEqual(events.filter { $0.kind == .leased }.count, 1)
    }

    func testConcurrentHoldersNeverShareAToken() throws {
        let leases = manager()
        let holders = (10..<13).map { processes.spawn(Int32($0)) }
        let given = try holders.map { try lease(leases, $0) }
        XCTAssertEqual(Set(given).count, 3)
    }

    func testAFourthHolderIsToldThePoolIsExhausted() throws {
        let leases = manager()
        for pid in 10..<13 { _ = try lease(leases, processes.spawn(Int32(pid))) }
        XCTAssertEqual(exhaustion(leases, processes.spawn(13)), "pool \"ci\" exhausted: 3/3 leased")
        XCTAssertEqual(events.last?.kind, .exhausted)
    }

    func testExhaustionCountsQuarantinedTokens() throws {
        let leases = manager()
        _ = try lease(leases, processes.spawn(10))
        _ = try lease(leases, processes.spawn(11))
        leases.quarantine(pool: "ci", fingerprint: fingerprint(2), seconds: 600, known: allFingerprints)
        XCTAssertEqual(exhaustion(leases, processes.spawn(12)), "pool \"ci\" exhausted: 2/3 leased, 1 quarantined")
    }

    func testAProcessBelowALeaseHolderSharesItsToken() throws {
        let leases = manager()
        let job = processes.spawn(10)
        let token = try lease(leases, job)
        let git = processes.spawn(20, parent: 10, exe: "/usr/bin/git")
        XCTAssertEqual(try lease(leases, git, origin: .git, ancestors: [job]), token)
        XCTAssertEqual(leases.snapshot().leases.map(\.holder), [job], "git borrowed the job's lease; it holds none of its own")
    }

    // MARK: ending

    func testAnExitedHolderReleasesItsTokenToTheNext() throws {
        let leases = manager()
        let first = processes.spawn(10)
        for pid in 11..<13 { _ = try lease(leases, processes.spawn(Int32(pid))) }
        let token = try lease(leases, first)
        processes.exit(10)
        leases.holderExited(10)
        XCTAssertEqual(events.last?.kind, .released)
        XCTAssertEqual(events.last?.reason, "holder exited")
        XCTAssertEqual(try lease(leases, processes.spawn(13)), token)
    }

    func testARecycledPidDoesNotKeepItsPredecessorsLease() throws {
        let leases = manager()
        for pid in 10..<13 { _ = try lease(leases, processes.spawn(Int32(pid))) }
        // pid 10 exits and a new process gets the same pid before anyone notices.
        processes.exit(10)
        let impostor = processes.spawn(10)
        XCTAssertEqual(try lease(leases, impostor), "ghp_tokenONE", "a new process: the old lease ended, the token is free again")
        XCTAssertEqual(events.filter { $0.kind == .released }.count, 1)
    }

    func testALeaseEndsAfterItsTTL() throws {
        let leases = manager()
        for pid in 10..<13 { _ = try lease(leases, processes.spawn(Int32(pid)), request(ttl: 600)) }
        clock.now += 599
        XCTAssertNotNil(exhaustion(leases, processes.spawn(13)))
        clock.now += 1
        leases.sweep()
        XCTAssertEqual(events.filter { $0.kind == .released }.map(\.reason), Array(repeating: "lease-ttl passed", count: 3))
        XCTAssertEqual(try lease(leases, processes.spawn(14), request(ttl: 600)), "ghp_tokenONE")
    }

    func testAHolderAskingNearTheEndOfItsLeaseHasItRenewed() throws {
        let leases = manager()
        let holder = processes.spawn(10)
        let token = try lease(leases, holder, request(ttl: 600))
        clock.now += 550
        let grant = try leases.lease(request(ttl: 600), holder: holder, origin: .wrap)
        XCTAssertEqual(grant.token.reveal(), token)
        XCTAssertEqual(grant.expiresAt, clock.now + 600)
    }

    // MARK: quarantine

    var allFingerprints: [String] { tokens.map(TokenFingerprint.of) }
    func fingerprint(_ index: Int) -> String { allFingerprints[index] }

    func testARejectedTokenIsQuarantinedItsGitLeaseEndsAndTheNextGetLeasesAnother() throws {
        let leases = manager()
        let git = processes.spawn(10, exe: "/usr/bin/git")
        XCTAssertEqual(try lease(leases, git, origin: .git), "ghp_tokenONE")
        XCTAssertTrue(leases.quarantine(pool: "ci", fingerprint: fingerprint(0), seconds: 600, known: allFingerprints))
        XCTAssertEqual(events.suffix(2).map(\.kind), [.quarantined, .released])
        XCTAssertTrue(leases.snapshot().leases.isEmpty)
        XCTAssertEqual(try lease(leases, processes.spawn(11, exe: "/usr/bin/git"), origin: .git), "ghp_tokenTWO")
    }

    func testAQuarantinedTokenReturnsWhenItsQuarantineIsOver() throws {
        let leases = manager()
        leases.quarantine(pool: "ci", fingerprint: fingerprint(0), seconds: 600, known: allFingerprints)
        XCTAssertEqual(try lease(leases, processes.spawn(10)), "ghp_tokenTWO")
        clock.now += 600
        XCTAssertEqual(try lease(leases, processes.spawn(11)), "ghp_tokenONE")
    }

    func testAWrappedJobWhoseTokenWasRejectedGetsAnotherAndStaysTheHolder() throws {
        let leases = manager()
        let job = processes.spawn(10)
        XCTAssertEqual(try lease(leases, job), "ghp_tokenONE")
        leases.quarantine(pool: "ci", fingerprint: fingerprint(0), seconds: 600, known: allFingerprints)
        // git in the job retries: its helper's ancestry leads to the job.
        let git = processes.spawn(20, parent: 10, exe: "/usr/bin/git")
        XCTAssertEqual(try lease(leases, git, origin: .git, ancestors: [job]), "ghp_tokenTWO")
        XCTAssertEqual(leases.snapshot().leases.map(\.holder), [job])
        XCTAssertEqual(leases.snapshot().leases.first?.origin, .wrap)
    }

    func testAnUnknownFingerprintQuarantinesNothing() {
        let leases = manager()
        XCTAssertFalse(leases.quarantine(pool: "ci", fingerprint: "000000000000", seconds: 600, known: allFingerprints))
        XCTAssertTrue(leases.snapshot().quarantined.isEmpty)
    }

    // MARK: persistence

    func testARestartKeepsLiveHoldersLeasesAndDropsTheRest() throws {
        let before = manager()
        let live = [processes.spawn(10), processes.spawn(11)]
        let doomed = processes.spawn(12)
        for holder in live + [doomed] { _ = try lease(before, holder) }
        before.quarantine(pool: "ci", fingerprint: fingerprint(2), seconds: 600, known: allFingerprints)
        processes.exit(12)  // exits while no agent is running

        events = []
        let after = manager()
        after.load()
        XCTAssertEqual(Set(after.snapshot().leases.map(\.holder)), Set(live))
        XCTAssertEqual(events.map(\.kind), [.released])
        XCTAssertEqual(events.first?.reason, "holder exited while broker-agent was stopped")
        // Two live holders and one quarantined token: nothing is free.
        XCTAssertEqual(exhaustion(after, processes.spawn(13)), "pool \"ci\" exhausted: 2/3 leased, 1 quarantined")
        XCTAssertEqual(try lease(after, live[0]), "ghp_tokenONE", "a live holder keeps its token across the restart")
    }

    func testARecycledPidAfterARestartDoesNotInheritTheLease() throws {
        _ = try lease(manager(), processes.spawn(10))
        processes.exit(10)
        processes.spawn(10)  // same pid, another process
        let after = manager()
        after.load()
        XCTAssertTrue(after.snapshot().leases.isEmpty)
    }

    // MARK: clocks

    /// A manager whose wall clock the test can step apart from its elapsed clock.
    func steppedManager(wall: TestClock, elapsed: TestClock, bootID: String? = "boot-a") -> LeaseManager {
        let manager = LeaseManager(directory: directory, clock: Clock(now: { [wall] in wall.now }, elapsed: { [elapsed] in elapsed.now }),
                                   processes: processes.table, watchExits: false, bootID: bootID)
        manager.onEvent = { [weak self] in self?.events.append($0) }
        return manager
    }

    func testAWallClockSteppedForwardDoesNotEndALeaseEarly() throws {
        let wall = TestClock(), elapsed = TestClock()
        elapsed.now = 5_000
        let leases = steppedManager(wall: wall, elapsed: elapsed)
        let holder = processes.spawn(10)
        let grant = try leases.lease(request(ttl: 3600), holder: holder, origin: .wrap)
        XCTAssertEqual(grant.expiresAt, wall.now + 3600, "git is told the expiry on the wall clock")
        wall.now += 7200          // NTP steps the clock two hours on
        leases.sweep()
        XCTAssertEqual(leases.snapshot().leases.count, 1, "the job still holds its token")
        XCTAssertEqual(try lease(leases, processes.spawn(12)), "ghp_tokenTWO", "the held token is not handed out again")
        elapsed.now += 3600       // an hour really passes
        leases.sweep()
        XCTAssertEqual(leases.snapshot().leases.filter { $0.holder == holder }.count, 0)
    }

    func testALeaseFileOfAnotherBootHoldsNothing() throws {
        let wall = TestClock(), elapsed = TestClock()
        elapsed.now = 5_000
        let holder = processes.spawn(10)
        _ = try lease(steppedManager(wall: wall, elapsed: elapsed, bootID: "boot-a"), holder)
        let restarted = steppedManager(wall: wall, elapsed: elapsed, bootID: "boot-b")
        restarted.load()
        XCTAssertTrue(restarted.snapshot().leases.isEmpty)
        let same = steppedManager(wall: wall, elapsed: elapsed, bootID: "boot-a")
        _ = try lease(same, holder)
        let again = steppedManager(wall: wall, elapsed: elapsed, bootID: "boot-a")
        again.load()
        XCTAssertEqual(again.snapshot().leases.map(\.holder), [holder])
    }

    func testALeaseFileWithWallClockTimesIsReadAsSuch() throws {
        // Files written before leases moved to the elapsed clock hold wall-clock times.
        let wall = TestClock(), elapsed = TestClock()
        elapsed.now = 5_000
        let holder = processes.spawn(10)
        try ensurePrivateDirectory(directory)
        let fingerprint = TokenFingerprint.of(tokens[0])
        let text = "v=1\npool=ci\nlease[]=\(fingerprint) \(holder.pid) \(holder.startTime) wrap \(wall.now - 60) \(wall.now + 600)\n"
        try writeFileAtomically(directory + "/ci.leases", bytes: Array(text.utf8))
        let leases = steppedManager(wall: wall, elapsed: elapsed)
        leases.load()
        XCTAssertEqual(leases.snapshot().leases.first?.expiresAt, wall.now + 600)
        elapsed.now += 601
        leases.sweep()
        XCTAssertTrue(leases.snapshot().leases.isEmpty)
    }

    func testLeaseFilesArePrivateAndHoldFingerprintsNeverTokens() throws {
        let leases = manager()
        _ = try lease(leases, processes.spawn(10))
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
        XCTAssertEqual(files, ["ci.leases"])
        var st = stat()
        XCTAssertEqual(stat(directory + "/ci.leases", &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        let text = try String(contentsOfFile: directory + "/ci.leases", encoding: .utf8)
        XCTAssertTrue(text.contains(fingerprint(0)))
        XCTAssertFalse(text.contains("ghp_"))
    }

    func testPoolNamesWithSlashesMapToOneFile() {
        XCTAssertEqual((manager().path(for: "team/ci.pool") as NSString).lastPathComponent, "team%2Fci%2Epool.leases")
    }

    func testAnEmptyPoolLeavesNoFile() throws {
        let leases = manager()
        _ = try lease(leases, processes.spawn(10))
        processes.exit(10)
        leases.holderExited(10)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [])
    }

    func testADamagedLeaseFileIsRemovedNotTrusted() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: directory + "/ci.leases", contents: Data("v=1\npool=ci\nlease[]=garbage\n".utf8),
                                       attributes: [.posixPermissions: 0o600])
        let leases = manager()
        leases.load()
        XCTAssertTrue(leases.snapshot().leases.isEmpty)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/ci.leases"))
    }
}

/// Which process holds the lease when git runs the helper.
final class GitLeaseHolderTests: XCTestCase {
    let processes = FakeProcesses()

    /// Spawns a parent → child line of processes, outermost first; returns the last pid.
    func line(_ programs: [String]) -> Int32 {
        var parent: Int32 = 1
        for (index, exe) in programs.enumerated() {
            let pid = Int32(50 + 10 * index)
            processes.spawn(pid, parent: parent, exe: exe)
            parent = pid
        }
        return parent
    }

    func testCloneHelperIsHeldByTheTopLevelGitAboveGitRemoteHTTPS() {
        let helper = line(["/usr/bin/runner", "/usr/bin/bash", "/usr/bin/git", "/usr/lib/git-core/git-remote-https",
                           "/usr/local/bin/git-credential-broker"])
        XCTAssertEqual(processes.table.gitLeaseHolder(helper: helper), 70)
    }

    func testAShellBetweenTwoGitsLeadsToTheOuterGit() {
        // A git alias `!sh -c 'git fetch'`: the outer git is the command the person ran.
        let helper = line(["/usr/bin/runner", "/usr/bin/git", "/usr/bin/dash", "/usr/bin/git", "/usr/local/bin/git-credential-broker"])
        XCTAssertEqual(processes.table.gitLeaseHolder(helper: helper), 60)
    }

    func testWithoutGitAboveTheHelperItsParentHolds() {
        let helper = line(["/usr/bin/runner", "/usr/bin/dash", "/usr/local/bin/git-credential-broker"])
        XCTAssertEqual(processes.table.gitLeaseHolder(helper: helper), 60)
    }
}

/// The kind's settings and how it reads its tokens.
final class GitHubPATPoolIdentityTests: XCTestCase {
    func pool(_ body: String) throws -> GitHubPATPoolIdentity {
        let config = try BrokerConfig.parse(ConfigSyntax.parse(text: "[identity \"ci\"]\nkind = github/pat-pool\n" + body, file: "cfg"))
        return try GitHubPATPoolIdentity(config.identities["ci"]!)
    }

    func testTokensComeFromAFileAndRepeatedKeysInFileOrderWithoutCommentsOrDuplicates() throws {
        var template = Array("/tmp/cb-pool-XXXXXX".utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: dir + "/tokens", contents: Data("# ci tokens\nghp_a\n\n  ghp_b  \nghp_a\n".utf8),
                                       attributes: [.posixPermissions: 0o600])
        let identity = try pool("tokens = file:\(dir)/tokens\ntoken = env:EXTRA\n")
        let context = ResolveContext(environment: Environment(["EXTRA": "ghp_c"]))
        XCTAssertEqual(try identity.tokens(context, timeout: 30).map { $0.reveal() }, ["ghp_a", "ghp_b", "ghp_c"])
        XCTAssertEqual(identity.username, "x-access-token")
        XCTAssertEqual(identity.leaseTTL, 3600)
        XCTAssertEqual(identity.quarantine, 3600)
    }

    func testALineWithASpaceIsRefusedWithoutEchoingIt() throws {
        let identity = try pool("token = env:T\n")
        let context = ResolveContext(environment: Environment(["T": "ghp_secret trailing-comment"]))
        XCTAssertThrowsError(try identity.tokens(context, timeout: 30)) { error in
            XCTAssertFalse("\(error)".contains("ghp_secret"))
            XCTAssertTrue("\(error)".contains("env:T"), "\(error)")
        }
    }

    func testAPoolWithoutTokensIsAConfigErrorWithAHint() {
        XCTAssertThrowsError(try pool("username = bot\n")) { error in
            XCTAssertTrue("\(error)".contains("needs tokens or token"), "\(error)")
        }
    }

    func testDurationsAndUsernameAreRead() throws {
        let identity = try pool("token = env:T\nusername = bot\nlease-ttl = 2h\nquarantine = 15m\nenv = GH_TOKEN\n")
        XCTAssertEqual(identity.username, "bot")
        XCTAssertEqual(identity.leaseTTL, 7200)
        XCTAssertEqual(identity.quarantine, 900)
        XCTAssertEqual(identity.exports.names, ["GH_TOKEN"])
    }

    func testAFingerprintIsTwelveHexDigitsOfTheTokensSHA256() {
        // `printf ghp_example | sha256sum | cut -c1-12`
        XCTAssertEqual(TokenFingerprint.of(Secret("ghp_example")), "c4855f54c3fc")
    }

    func testAPoolIsNeverResolvedThroughTheChainResolver() throws {
        let config = try BrokerConfig.parse(ConfigSyntax.parse(
            text: "[identity \"ci\"]\nkind = github/pat-pool\ntoken = env:T\n[identity \"minted\"]\nkind = exec\nvia = identity:ci\ncommand = true\n",
            file: "cfg"))
        guard case .leased = config.kinds["ci"]!.acquisition else { return XCTFail("a pool is leased") }
        XCTAssertThrowsError(try ChainResolver.chain(of: "ci", in: config)) { error in
            XCTAssertTrue("\(error)".contains("leases its tokens to one process at a time"), "\(error)")
        }
        XCTAssertThrowsError(try ChainResolver.chain(of: "minted", in: config)) { error in
            XCTAssertTrue("\(error)".contains("as the upstream of \"minted\""), "\(error)")
        }
    }
}
