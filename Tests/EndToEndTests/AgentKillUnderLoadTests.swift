// kill -9 of the agent at random moments while git, aws-credential-process and broker-env-wrap
// clients are in flight, cold and warm: every client either gets a correct answer or one clear
// line of error, no cache file is ever torn, and the next call of each kind succeeds.

import BrokerWire
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class AgentKillUnderLoadTests: XCTestCase {
    typealias Kit = AgentProcessKit

    struct Client {
        var name: String
        var executable: String
        var arguments: [String]
        var stdin: String
        /// Checks a successful run's stdout.
        var answered: (String) -> Bool
    }

    struct Outcome {
        var client: Client
        var result: ProcessResult
    }

    /// A small, seeded generator so that a failing round can be replayed (BROKER_KILL_SEED).
    struct Lehmer {
        var state: UInt64
        mutating func next(below bound: UInt64) -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (state >> 33) % bound
        }
    }

    func sandbox() -> Sandbox {
        let sandbox = Sandbox()
        let mint = Kit.mintScript(sandbox, name: "kill-mint", sleep: 0.2, password: "tok-kill")
        // Marks that an upstream call is under way, so a cold round can kill in the middle of one.
        let marked = sandbox.write("bin/marked-mint", "#!/bin/sh\ntouch \(sandbox.root)/upstream-started\nexec \(mint.script)\n", mode: 0o755)
        let keys = sandbox.write("bin/keys", """
            #!/bin/sh
            touch \(sandbox.root)/upstream-started
            sleep 0.2
            printf '{"Version": 1, "AccessKeyId": "AKIDKILLTEST", "SecretAccessKey": "kill-secret", "SessionToken": "kill-session", "Expiration": "%s"}\\n' "$(date -u -d @$(( $(date +%s) + 3600 )) +%Y-%m-%dT%H:%M:%SZ)"

            """, mode: 0o755)
        sandbox.writeConfig("""
            [agent]
            \trate-limits = false
            [identity "tok"]
            \tkind = exec
            \tcommand = \(marked)
            [git "https://kill.example"]
            \tidentity = tok
            [identity "keys"]
            \tkind = aws/credentials
            \tcommand = \(keys)
            \tdelivery = env

            """)
        return sandbox
    }

    var clients: [Client] {
        let git = Client(name: "git", executable: Sandbox.executable("git-credential-broker"), arguments: ["get"],
                         stdin: Kit.getInput(host: "kill.example")) {
            $0.contains("username=minted-user\n") && $0.contains("password=tok-kill\n")
        }
        let aws = Client(name: "aws", executable: Sandbox.executable("aws-credential-process"), arguments: ["--identity", "keys"],
                         stdin: "") {
            $0.contains("\"AccessKeyId\":\"AKIDKILLTEST\"") || $0.contains("\"AccessKeyId\": \"AKIDKILLTEST\"")
        }
        let env = Client(name: "env", executable: Sandbox.executable("broker-env-wrap"),
                         arguments: ["--identity", "keys", "--", "sh", "-c",
                                     "[ \"$AWS_ACCESS_KEY_ID\" = AKIDKILLTEST ] && [ \"$AWS_SECRET_ACCESS_KEY\" = kill-secret ] && echo wrapped"],
                         stdin: "") { $0 == "wrapped\n" }
        return Array(repeating: [git, aws, env], count: 8).flatMap { $0 }
    }

    /// Starts every client at once; `afterLaunch` runs while they are in flight.
    func launch(_ sandbox: Sandbox, _ clients: [Client], afterLaunch: () -> Void) -> [Outcome] {
        let commands = clients.map { Kit.Command(executable: $0.executable, arguments: $0.arguments, stdin: $0.stdin) }
        return withoutActuallyEscaping(afterLaunch) { afterLaunch in
            zip(clients, Kit.runConcurrently(sandbox, commands, timeout: 60, afterLaunch: afterLaunch)).map(Outcome.init)
        }
    }

    func testKillNineAtRandomMomentsUnderMixedLoad() throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["BROKER_KILL_SEED"] ?? "") ?? UInt64(time(nil))
        var random = Lehmer(state: seed)
        var answeredInAll = 0, refusedInAll = 0
        for round in 0..<5 {
            let sandbox = sandbox()
            defer { Kit.stopAgents(sandbox) }
            // Odd rounds start warm: the agent already holds both credentials in memory and on disk.
            let warm = round % 2 == 1
            if warm {
                for client in clients.prefix(3) {
                    let r = sandbox.run(client.executable, client.arguments, stdin: client.stdin)
                    XCTAssertEqual(r.status, 0, "\(client.name): \(r.stderr)")
                }
            }
            // Warm rounds kill at a random moment after launch. Cold rounds kill at a random moment
            // of the first upstream call (each takes ≥ 0.2 s), so that some clients are always
            // waiting on it.
            let delay = random.next(below: 150)
            let context = "round \(round) (\(warm ? "warm" : "cold")), kill after \(delay) ms, BROKER_KILL_SEED=\(seed)"
            var killed: Int32?
            let outcomes = launch(sandbox, clients) {
                if !warm { Kit.waitUntil(10) { Kit.fileExists(sandbox.root + "/upstream-started") } }
                Kit.waitUntil(10) { !Kit.agentPIDs(socketDirectory: sandbox.paths.runtimeDirectory).isEmpty }
                usleep(useconds_t(delay) * 1000)
                killed = Kit.agentPIDs(socketDirectory: sandbox.paths.runtimeDirectory).first
                if let killed { kill(killed, SIGKILL) }
            }
            XCTAssertNotNil(killed, context)

            for outcome in outcomes {
                let (client, r) = (outcome.client, outcome.result)
                let program = (client.executable as NSString).lastPathComponent
                if r.status == 0 {
                    answeredInAll += 1
                    XCTAssertTrue(client.answered(r.stdout), "\(context): \(client.name) answered wrongly: \(r.stdout)")
                    XCTAssertEqual(r.stderr, "", "\(context): \(client.name)")
                } else {
                    refusedInAll += 1
                    // Nothing a host could mistake for an answer, and one line that says what happened.
                    XCTAssertEqual(r.stdout, "", "\(context): \(client.name) printed on failure")
                    XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(context): \(client.name): \(r.stderr)")
                    XCTAssertTrue(r.stderr.hasPrefix("\(program): "), "\(context): \(r.stderr)")
                    XCTAssertTrue(r.stderr.contains("broker-agent"), "\(context): \(client.name): \(r.stderr)")
                }
            }

            // Late clients may have started another agent: kill that too, mid-life, then look.
            for pid in Kit.agentPIDs(socketDirectory: sandbox.paths.runtimeDirectory) { Kit.killHard(pid) }
            let entries = sandbox.paths.cacheEntriesDirectory
            for name in Kit.cacheFiles(sandbox) where !name.hasPrefix(".tmp-") {
                guard let data = FileManager.default.contents(atPath: entries + "/" + name),
                      let message = try? WireCodec.decode(Array(data)) else {
                    XCTFail("\(context): cache file \(name) is torn"); continue
                }
                XCTAssertEqual(message["v"], "1", context)
                XCTAssertEqual(message["key"].map { $0 + ".cred" }, name, context)
                XCTAssertNotNil(message["expires"], context)
                let secret = message["secret.password"] ?? message["secret.secret_access_key"]
                XCTAssertTrue(secret == "tok-kill" || secret == "kill-secret", "\(context): \(name)")
                XCTAssertEqual(Kit.mode(entries + "/" + name), 0o600, context)
            }

            // The next call of each kind starts a fresh agent, which tidies up and serves.
            for client in clients.prefix(3) {
                let r = sandbox.run(client.executable, client.arguments, stdin: client.stdin)
                XCTAssertEqual(r.status, 0, "\(context): next \(client.name): \(r.stderr)")
                XCTAssertTrue(client.answered(r.stdout), "\(context): next \(client.name): \(r.stdout)")
            }
            XCTAssertFalse(Kit.cacheFiles(sandbox).contains { $0.hasPrefix(".tmp-") }, "\(context): \(Kit.cacheFiles(sandbox))")
        }
        print("AgentKillUnderLoadTests: \(answeredInAll) answered, \(refusedInAll) refused with a clear error, BROKER_KILL_SEED=\(seed)")
        // Both outcomes happened (the cold rounds guarantee refusals), or the kills missed the load.
        XCTAssertGreaterThan(refusedInAll, 0, "BROKER_KILL_SEED=\(seed)")
        XCTAssertGreaterThan(answeredInAll, 0, "BROKER_KILL_SEED=\(seed)")
    }
}
