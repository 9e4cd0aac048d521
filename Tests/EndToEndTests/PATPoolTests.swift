// github/pat-pool end to end: wrapped jobs and real git against a loopback git server that accepts
// only the pool's tokens; exhaustion, hand-over on exit, 401 → quarantine, and kill -9 of the agent.

import BrokerWire
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class PATPoolTests: XCTestCase {
    let wrap = Sandbox.executable("broker-env-wrap")

    /// A sandbox with pool "ci" of three random tokens bound to a git server that accepts exactly
    /// those (Fixtures/git_http_server.py --tokens-file); tokens are never printed, only counted.
    struct World {
        let sandbox: Sandbox
        let server: GitHTTPTestServer
        let tokens: [String]
        let serverTokensPath: String

        /// Takes `token` off the server's accepted list, as revoking a PAT on GitHub would.
        func revoke(_ token: String) { writeServerTokens(tokens.filter { $0 != token }) }

        func writeServerTokens(_ accepted: [String]) {
            let temp = serverTokensPath + ".new"
            FileManager.default.createFile(atPath: temp, contents: Data(accepted.map { "\($0) 4102444800\n" }.joined().utf8))
            rename(temp, serverTokensPath)
        }

        var url: String { server.repoURL }

        /// Lines of the audit log for pool "ci" with this event.
        func audit(_ event: String) -> [[String: Any]] {
            sandbox.auditLines.filter { ($0["event"] as? String) == event && ($0["identity"] as? String) == "ci" }
        }

        /// The token fingerprint of each record, as the agent computes it: never the token.
        func fingerprint(_ token: String) -> String {
            let digest = sandbox.run("/bin/sh", ["-c", "printf %s \"$T\" | sha256sum"], extraEnvironment: ["T": token]).stdout
            return String(digest.prefix(12))
        }

        /// Nothing the broker wrote may contain a token.
        func assertNoTokenWrittenAnywhere(file: StaticString = #filePath, line: UInt = #line) {
            var texts = [sandbox.read(sandbox.paths.auditLogPath), sandbox.read(sandbox.paths.agentLogPath)]
            let leases = sandbox.paths.stateDirectory + "/leases"
            for name in (try? FileManager.default.contentsOfDirectory(atPath: leases)) ?? [] { texts.append(sandbox.read(leases + "/" + name)) }
            for token in tokens {
                XCTAssertFalse(texts.contains { $0.contains(token) }, "a token reached a file the broker wrote", file: file, line: line)
            }
        }
    }

    func world() throws -> World {
        let sandbox = Sandbox()
        let tokens = (1...3).map { _ in "ghp_pool" + String(UInt64.random(in: 0...UInt64.max), radix: 36) }
        let serverTokens = sandbox.root + "/srv-tokens"
        let server = try GitHTTPTestServer(sandbox: sandbox, user: "unused", password: "unused", lifetime: 120,
                                           extraArguments: ["--tokens-file", serverTokens])
        let world = World(sandbox: sandbox, server: server, tokens: tokens, serverTokensPath: serverTokens)
        world.writeServerTokens(tokens)
        let poolFile = sandbox.write("secrets/ci-tokens", "# the CI pool\n\(tokens[0])\n\n\(tokens[1])\n\(tokens[2])\n", mode: 0o600)
        sandbox.writeConfig("""
            [identity "ci"]
                kind = github/pat-pool
                tokens = file:\(poolFile)
                env = GH_TOKEN
            [git "\(server.baseURL)"]
                identity = ci

            """)
        return world
    }

    /// A wrapped job that runs a real `git ls-remote` through the helper, says "ready", then
    /// waits (bounded) for `release` to exist.
    func jobArguments(_ world: World, release: String) -> [String] {
        [wrap, "--identity", "ci", "--", "sh", "-c",
         "git ls-remote \(world.url) refs/heads/main >/dev/null || exit 3; test -n \"$GH_TOKEN\" || exit 4; echo ready; "
         + "i=0; while [ ! -e \(release) ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done"]
    }

    func startJob(_ world: World, release: String) throws -> StartedProcess {
        let args = jobArguments(world, release: release)
        return try StartedProcess(args[0], Array(args.dropFirst()), environment: world.sandbox.environment)
    }

    func touch(_ path: String) { FileManager.default.createFile(atPath: path, contents: Data()) }

    /// Three wrapped jobs that each hold a token until `release-N` appears (the caller's defer
    /// releases them all).
    func startThreeHeldJobs(_ world: World) throws -> [StartedProcess] {
        let jobs = try (0..<3).map { try startJob(world, release: world.sandbox.root + "/release-\($0)") }
        for job in jobs { XCTAssertEqual(job.readLine(timeout: 20), "ready") }
        return jobs
    }

    func releaseAll(_ world: World) { for i in 0..<3 { touch(world.sandbox.root + "/release-\(i)") } }

    /// The fingerprint leased to a holder pid, from the audit log.
    func leasedToken(_ world: World, holder pid: Int32) -> String? {
        world.audit("leased").first { (($0["holder"] as? [String: Any])?["pid"] as? Int) == Int(pid) }?["token"] as? String
    }

    // MARK: tests

    func testFiveConcurrentWrappedJobsThreeRunAndTwoAreToldThePoolIsExhausted() throws {
        let world = try world()
        let sandbox = world.sandbox
        defer { AgentProcessKit.stopAgents(sandbox); world.server.stop() }
        let release = sandbox.root + "/release-all"
        let args = jobArguments(world, release: release)
        var statusWhileHeld: ProcessResult?
        let results = AgentProcessKit.runConcurrently(sandbox, count: 5, executable: args[0], arguments: Array(args.dropFirst()),
                                                      stdin: "", timeout: 60, afterLaunch: {
            // Hold the three that got a token until the other two have been refused.
            AgentProcessKit.waitUntil(30) { world.audit("denied").count >= 2 }
            statusWhileHeld = sandbox.broker("brokerctl", ["status", "--format", "json"])
            self.touch(release)
        })
        let ran = results.filter { $0.status == 0 }
        let refused = results.filter { $0.status != 0 }
        XCTAssertEqual(ran.count, 3, results.map { "\($0.status): \($0.stderr)" }.joined(separator: "\n"))
        // brokerctl status listed the three leases while they were held: fingerprints, never tokens.
        let status = try XCTUnwrap(statusWhileHeld)
        XCTAssertEqual(status.status, 0, status.stderr)
        let held = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["leases"] as? [[String: Any]])
        XCTAssertEqual(held.count, 3, status.stdout)
        XCTAssertEqual(Set(held.compactMap { $0["token"] as? String }), Set(world.audit("leased").compactMap { $0["token"] as? String }))
        XCTAssertTrue(held.allSatisfy { $0["pool"] as? String == "ci" && (($0["expires_in"] as? Int) ?? 0) > 0 }, status.stdout)
        XCTAssertFalse(world.tokens.contains { status.stdout.contains($0) }, "a token in brokerctl status")
        XCTAssertEqual(ran.map(\.stdout), Array(repeating: "ready\n", count: 3))
        XCTAssertEqual(refused.count, 2)
        for result in refused {
            XCTAssertTrue(result.stderr.hasPrefix("broker-env-wrap: "), result.stderr)
            XCTAssertTrue(result.stderr.contains("pool \"ci\" exhausted: 3/3 leased"), result.stderr)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, "one line: \(result.stderr)")
            XCTAssertEqual(result.stdout, "", "the refused command never ran")
        }

        // Three leases, three distinct tokens, each one of the pool's.
        let leased = world.audit("leased")
        let fingerprints = Set(world.tokens.map(world.fingerprint))
        XCTAssertEqual(leased.count, 3)
        XCTAssertEqual(Set(leased.compactMap { $0["token"] as? String }).count, 3)
        XCTAssertTrue(Set(leased.compactMap { $0["token"] as? String }).isSubset(of: fingerprints))
        // git in each job was given its job's token: the holder of the git answer is the wrapped process.
        let issuedToGit = world.audit("issued").filter { ($0["adapter"] as? String) == "git" }
        XCTAssertEqual(issuedToGit.count, 3)
        for record in issuedToGit {
            let holder = (record["holder"] as? [String: Any])?["pid"] as? Int
            let lease = leased.first { (($0["holder"] as? [String: Any])?["pid"] as? Int) == holder }
            XCTAssertNotNil(lease, "git's token belongs to a lease of its job: \(record)")
            XCTAssertEqual(lease?["token"] as? String, record["token"] as? String)
        }
        XCTAssertEqual(world.server.requests.filter { $0.hasPrefix("GET ") && $0.hasSuffix(" 200") }.count, 3, "\(world.server.requests)")
        // The jobs have exited: every lease ends, and says why.
        XCTAssertTrue(AgentProcessKit.waitUntil(10) { world.audit("released").count == 3 }, "\(world.audit("released"))")
        XCTAssertTrue(world.audit("released").allSatisfy { ($0["reason"] as? String) == "holder exited" })
        world.assertNoTokenWrittenAnywhere()
    }

    func testWhenAJobExitsItsTokenIsLeasedToTheNext() throws {
        let world = try world()
        let sandbox = world.sandbox
        defer { AgentProcessKit.stopAgents(sandbox); world.server.stop() }
        defer { releaseAll(world) }
        let jobs = try startThreeHeldJobs(world)

        let fourth = sandbox.run(wrap, ["--identity", "ci", "--", "true"])
        XCTAssertNotEqual(fourth.status, 0)
        XCTAssertTrue(fourth.stderr.contains("pool \"ci\" exhausted: 3/3 leased"), fourth.stderr)

        let firstToken = try XCTUnwrap(leasedToken(world, holder: jobs[0].pid))
        touch(sandbox.root + "/release-0")
        XCTAssertEqual(jobs[0].wait().0, 0)

        let next = sandbox.run(wrap, ["--identity", "ci", "--", "sh", "-c", "git ls-remote \(world.url) refs/heads/main"])
        XCTAssertEqual(next.status, 0, next.stderr)
        XCTAssertTrue(next.stdout.contains("refs/heads/main"), next.stdout)
        XCTAssertEqual(world.audit("leased").last?["token"] as? String, firstToken, "the freed token went to the next job")
        XCTAssertEqual(Set(world.audit("leased").compactMap { $0["token"] as? String }).count, 3)
        world.assertNoTokenWrittenAnywhere()
    }

    func testAGitRejectionQuarantinesTheTokenAndTheNextGetLeasesAnother() throws {
        let world = try world()
        let sandbox = world.sandbox
        defer { AgentProcessKit.stopAgents(sandbox); world.server.stop() }

        // Plain git, no wrap: the git command holds the lease while it runs.
        let first = sandbox.git(["ls-remote", world.url, "refs/heads/main"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let issued = world.audit("issued")
        XCTAssertEqual(issued.count, 1)
        let firstToken = try XCTUnwrap(issued.first?["token"] as? String)
        XCTAssertEqual(firstToken, world.fingerprint(world.tokens[0]), "the pool's first free token, in file order")
        XCTAssertTrue(((issued.first?["holder"] as? [String: Any])?["exe"] as? String)?.hasSuffix("/git") == true,
                      "the top-level git holds it: \(issued.first ?? [:])")

        // The server stops accepting it: git gets a 401 with it, erases, fails without prompting.
        world.revoke(world.tokens[0])
        let rejected = sandbox.git(["ls-remote", world.url, "refs/heads/main"])
        XCTAssertNotEqual(rejected.status, 0)
        XCTAssertFalse(rejected.stderr.contains("askpass:"), rejected.stderr)
        let quarantined = world.audit("quarantined")
        XCTAssertEqual(quarantined.count, 1, "\(sandbox.auditLines)")
        XCTAssertEqual(quarantined.first?["token"] as? String, firstToken)
        let status = sandbox.broker("brokerctl", ["status"])
        XCTAssertTrue(status.stdout.contains("POOL") && status.stdout.contains(firstToken) && status.stdout.contains("quarantined"),
                      status.stdout)

        // The next get leases another token, and it works.
        let recovered = sandbox.git(["ls-remote", world.url, "refs/heads/main"])
        XCTAssertEqual(recovered.status, 0, recovered.stderr)
        XCTAssertTrue(recovered.stdout.contains("refs/heads/main"))
        let lastIssued = try XCTUnwrap(world.audit("issued").last?["token"] as? String)
        XCTAssertEqual(lastIssued, world.fingerprint(world.tokens[1]))
        world.assertNoTokenWrittenAnywhere()
    }

    func testAWrappedJobWhoseTokenIsRejectedGetsAnotherWhenGitRetries() throws {
        let world = try world()
        let sandbox = world.sandbox
        defer { AgentProcessKit.stopAgents(sandbox); world.server.stop() }
        world.revoke(world.tokens[0])
        let ls = "git ls-remote \(world.url) refs/heads/main"
        let result = sandbox.run(wrap, ["--identity", "ci", "--", "sh", "-c", "\(ls) >/dev/null 2>&1 && echo first-worked; \(ls)"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertFalse(result.stdout.contains("first-worked"))
        XCTAssertTrue(result.stdout.contains("refs/heads/main"), result.stdout)
        let leased = world.audit("leased").compactMap { $0["token"] as? String }
        XCTAssertEqual(leased, [world.fingerprint(world.tokens[0]), world.fingerprint(world.tokens[1])])
        XCTAssertEqual(world.audit("quarantined").compactMap { $0["token"] as? String }, [world.fingerprint(world.tokens[0])])
    }

    func testKillingTheAgentAndRestartingItKeepsLiveLeases() throws {
        let world = try world()
        let sandbox = world.sandbox
        defer { AgentProcessKit.stopAgents(sandbox); world.server.stop() }
        defer { releaseAll(world) }
        let jobs = try startThreeHeldJobs(world)
        let oldAgent = try XCTUnwrap(sandbox.agentPID)

        AgentProcessKit.killHard(oldAgent)
        XCTAssertFalse(AgentProcessKit.isAlive(oldAgent))

        // The next wrap starts a new agent, which reads the leases back: all three holders live.
        let fourth = sandbox.run(wrap, ["--identity", "ci", "--", "true"])
        XCTAssertNotEqual(fourth.status, 0)
        XCTAssertTrue(fourth.stderr.contains("pool \"ci\" exhausted: 3/3 leased"), fourth.stderr)
        XCTAssertNotEqual(sandbox.agentPID, oldAgent)

        // The new agent watches the holders it inherited: one exits, its token is free again.
        let firstToken = try XCTUnwrap(leasedToken(world, holder: jobs[0].pid))
        touch(sandbox.root + "/release-0")
        XCTAssertEqual(jobs[0].wait().0, 0)
        XCTAssertTrue(AgentProcessKit.waitUntil(10) {
            world.audit("released").contains { ($0["token"] as? String) == firstToken }
        }, "\(sandbox.auditLines)")
        let fifth = sandbox.run(wrap, ["--identity", "ci", "--", "sh", "-c", "git ls-remote \(world.url) refs/heads/main"])
        XCTAssertEqual(fifth.status, 0, fifth.stderr)
        XCTAssertEqual(world.audit("leased").last?["token"] as? String, firstToken)
        XCTAssertEqual(Set(world.audit("leased").compactMap { $0["token"] as? String }).count, 3, "never more than the pool's three")
        world.assertNoTokenWrittenAnywhere()
    }
}
