// A CI fan-out against a warm agent: 10,000 requests from 64 clients, every one answered and audited, memory and threads bounded.

import BrokerWire
import Foundation
import XCTest

final class WarmBurstTests: XCTestCase {
    /// One client's request and the text its answer must hold.
    struct Request {
        var bytes: [UInt8]
        var expect: String
    }

    static func request(_ fields: KeyValuePairs<String, String>, expect: String) -> Request {
        var bytes = try! WireMessage(fields).encoded()
        bytes.append(10)
        return Request(bytes: bytes, expect: expect)
    }

    /// connect, send, read to end of file: what every adapter does.
    static func exchange(_ socketPath: String, _ request: Request) -> String? {
        guard let fd = try? UnixSocket.connect(path: socketPath) else { return nil }
        defer { fd.close() }
        UnixSocket.setTimeouts(fd, seconds: 20)
        guard (try? UnixSocket.sendAll(fd, request.bytes)) != nil, let answer = try? fd.readAll() else { return nil }
        return String(decoding: answer, as: UTF8.self)
    }

    /// `VmRSS` (KiB) and `Threads` of a process.
    static func usage(_ pid: Int32) -> (rss: Int, threads: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Int? {
            text.split(separator: "\n").first { $0.hasPrefix(name + ":") }
                .flatMap { Int($0.dropFirst(name.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") }
        }
        guard let rss = field("VmRSS"), let threads = field("Threads") else { return nil }
        return (rss, threads)
    }

    func testTenThousandWarmRequestsFromSixtyFourClientsAllAnsweredWithBoundedMemory() throws {
        let sandbox = Sandbox()
        let secret = sandbox.write("secret", "burst-token")
        let awsSecret = sandbox.write("aws-secret", "burst-secret-access-key")
        sandbox.writeConfig("""
            [identity "bound"]
                kind = static
                username = ci
                secret = file:\(secret)
            [git "https://bound.example"]
                identity = bound
            [identity "keys"]
                kind = aws/user
                access-key-id = AKIDBURST
                secret-access-key = file:\(awsSecret)
                long-lived-keys = true

            """)
        // An unbound URL, as git's credential-cache would hold it; this also starts the agent.
        let approve = sandbox.git(["credential", "approve"], stdin: "protocol=https\nhost=cached.example\nusername=u\npassword=cached-pw\n")
        XCTAssertEqual(approve.status, 0, approve.stderr)
        let agent = try XCTUnwrap(sandbox.agentPID)
        let socket = sandbox.paths.socketPath
        let requests = [
            Self.request(["v": "1", "op": "git.get", "adapter": "git", "protocol": "https", "host": "bound.example"], expect: "password=burst-token"),
            Self.request(["v": "1", "op": "git.get", "adapter": "git", "protocol": "https", "host": "cached.example"], expect: "password=cached-pw"),
            Self.request(["v": "1", "op": "aws.credentials", "adapter": "aws", "identity": "keys"], expect: "access_key_id=AKIDBURST"),
        ]
        for request in requests {  // warm: each answer is in memory from now on
            let answer = Self.exchange(socket, request) ?? "(no answer)"
            XCTAssertTrue(answer.contains(request.expect), answer)
        }
        let issuedBefore = sandbox.auditLines.filter { $0["event"] as? String == "issued" }.count
        usleep(1_500_000)  // an idle tick: the agent hands the warm-up's memory back
        let idle = try XCTUnwrap(Self.usage(agent))

        let total = 10_000, clients = 64
        let lock = NSLock()
        var answered = 0
        var failures: [String] = []
        var peak = idle
        let burstDone = DispatchSemaphore(value: 0)
        let sampler = Thread {
            while burstDone.wait(timeout: .now() + .milliseconds(10)) == .timedOut {
                guard let now = Self.usage(agent) else { continue }
                lock.lock()
                peak = (max(peak.rss, now.rss), max(peak.threads, now.threads))
                lock.unlock()
            }
        }
        sampler.start()
        let started = Date()
        DispatchQueue.concurrentPerform(iterations: clients) { client in
            var index = client
            while index < total {
                let request = requests[index % requests.count]
                let answer = Self.exchange(socket, request)
                lock.lock()
                if let answer, answer.contains(request.expect) {
                    answered += 1
                } else if failures.count < 5 {
                    failures.append(answer ?? "(no answer)")
                }
                lock.unlock()
                index += clients
            }
        }
        let elapsed = Date().timeIntervalSince(started)
        burstDone.signal()
        while !sampler.isFinished { usleep(1000) }

        XCTAssertEqual(answered, total, "failed answers, e.g.: \(failures)")
        XCTAssertNotNil(sandbox.agentPID, "the agent is still up")
        // Hits are served in the agent's poll loops: no thread per connection (a few are the
        // agent's own; a thread per connection would show dozens at 64 clients).
        XCTAssertLessThanOrEqual(peak.threads, idle.threads + 4, "threads: \(idle.threads) idle, \(peak.threads) at peak")
        XCTAssertLessThanOrEqual(peak.rss, idle.rss * 2, "RSS: \(idle.rss) KiB idle, \(peak.rss) KiB at peak")
        // Audit before answer: every credential handed out has its line.
        let issued = sandbox.auditLines.filter { $0["event"] as? String == "issued" }.count
        XCTAssertEqual(issued - issuedBefore, total, "one audit record per credential issued")
        print("WarmBurstTests: \(total) requests from \(clients) clients in \(String(format: "%.2f", elapsed)) s; "
              + "RSS \(idle.rss) → \(peak.rss) KiB; threads \(idle.threads) → \(peak.threads)")
    }
}
