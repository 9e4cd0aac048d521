// A warm answer given again from the agent's memory is never one a change has made stale, and is audited like any other.

import BrokerWire
import Foundation
import XCTest

final class WarmAnswerTests: XCTestCase {
    typealias Request = WarmBurstTests.Request

    func ask(_ sandbox: Sandbox, _ fields: KeyValuePairs<String, String>) -> String {
        WarmBurstTests.exchange(sandbox.paths.socketPath, WarmBurstTests.request(fields, expect: "")) ?? "(no answer)"
    }

    /// How many answers the agent has given again from memory (`op=status`).
    func replayed(_ sandbox: Sandbox) -> Int {
        let status = ask(sandbox, ["v": "1", "op": "status"])
        let line = status.split(separator: "\n").first { $0.hasPrefix("warm_answers_replayed=") }
        return line.flatMap { Int($0.dropFirst("warm_answers_replayed=".count)) } ?? -1
    }

    let get: KeyValuePairs<String, String> = ["v": "1", "op": "git.get", "adapter": "git", "protocol": "https", "host": "cached.example"]

    func testRepeatedRequestsAreAnsweredFromMemoryAndEachIsAuditedForItsCaller() throws {
        let sandbox = Sandbox()
        let approve = sandbox.git(["credential", "approve"], stdin: "protocol=https\nhost=cached.example\nusername=u\npassword=cached-pw\n")
        XCTAssertEqual(approve.status, 0, approve.stderr)
        let before = sandbox.auditLines.count
        for _ in 0..<300 { XCTAssertTrue(ask(sandbox, get).contains("password=cached-pw\n")) }
        XCTAssertGreaterThan(replayed(sandbox), 0, "300 identical requests in a few hundred ms: most come from memory")
        let status = sandbox.broker("brokerctl", ["status", "--format", "json"])
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any], status.stdout + status.stderr)
        XCTAssertGreaterThan(object["warm_answers_replayed"] as? Int ?? 0, 0, "brokerctl status shows the count")
        let lines = sandbox.auditLines.dropFirst(before)
        XCTAssertEqual(lines.count, 300, "audit before answer: a line for every answer, remembered or not")
        for line in lines {
            XCTAssertEqual(line["event"] as? String, "issued")
            XCTAssertEqual(line["target"] as? String, "https://cached.example")
            XCTAssertEqual((line["caller"] as? [String: Any])?["pid"] as? Int, Int(getpid()), "the caller of this request")
        }
        // Through real git: each fill is a helper process of its own, and its line names it.
        var helpers = Set<Int>()
        for _ in 0..<4 {
            let fill = sandbox.git(["credential", "fill"], stdin: "protocol=https\nhost=cached.example\n")
            XCTAssertTrue(fill.stdout.contains("password=cached-pw"), fill.stdout + fill.stderr)
            let caller = try XCTUnwrap(sandbox.auditLines.last?["caller"] as? [String: Any])
            XCTAssertTrue((caller["exe"] as? String ?? "").hasSuffix("git-credential-broker"), "\(caller)")
            helpers.insert(try XCTUnwrap(caller["pid"] as? Int))
        }
        XCTAssertEqual(helpers.count, 4, "four helper processes, four callers")
    }

    /// git's own cycle, faster than a second: a rejected or replaced password is never answered again.
    func testNoRememberedGitAnswerOutlivesAStoreOrAnErase() {
        let sandbox = Sandbox()
        XCTAssertEqual(sandbox.git(["credential", "approve"], stdin: "protocol=https\nhost=cached.example\nusername=u\npassword=start\n").status, 0)
        for round in 0..<40 {
            let password = "pw-\(round)"
            XCTAssertTrue(ask(sandbox, ["v": "1", "op": "git.store", "adapter": "git", "protocol": "https", "host": "cached.example",
                                        "username": "u", "password": password]).hasPrefix("status=ok"))
            for _ in 0..<3 { XCTAssertTrue(ask(sandbox, get).contains("password=\(password)\n"), "round \(round): the stored password") }
            XCTAssertTrue(ask(sandbox, ["v": "1", "op": "git.erase", "adapter": "git", "protocol": "https", "host": "cached.example",
                                        "username": "u", "password": password]).hasPrefix("status=ok"))
            let after = ask(sandbox, get)
            XCTAssertFalse(after.contains("password="), "round \(round): erased, yet answered: \(after)")
        }
        XCTAssertGreaterThan(replayed(sandbox), 0, "the rounds did answer from memory between changes")
        // And through real git, which rejects after a 401.
        XCTAssertEqual(sandbox.git(["credential", "approve"], stdin: "protocol=https\nhost=cached.example\nusername=u\npassword=real\n").status, 0)
        for _ in 0..<2 { XCTAssertTrue(sandbox.git(["credential", "fill"], stdin: "protocol=https\nhost=cached.example\n").stdout.contains("password=real")) }
        XCTAssertEqual(sandbox.git(["credential", "reject"], stdin: "protocol=https\nhost=cached.example\nusername=u\npassword=real\n").status, 0)
        let fill = sandbox.git(["credential", "fill"], stdin: "protocol=https\nhost=cached.example\n")
        XCTAssertFalse(fill.stdout.contains("password=real"), fill.stdout)
    }

    /// An edit to the configuration applies to the very next request, remembered answers or not.
    func testAConfigurationEditAppliesToTheNextRequest() {
        let sandbox = Sandbox()
        let first = sandbox.write("first", "first-token"), second = sandbox.write("second", "second-token")
        let awsSecret = sandbox.write("aws-secret", "warm-secret-access-key")
        func config(bound identity: String, key: String) -> String {
            """
            [identity "first"]
                kind = static
                username = ci
                secret = file:\(first)
            [identity "second"]
                kind = static
                username = ci
                secret = file:\(second)
            [git "https://bound.example"]
                identity = \(identity)
            [identity "keys"]
                kind = aws/user
                access-key-id = \(key)
                secret-access-key = file:\(awsSecret)
                long-lived-keys = true

            """
        }
        let bound: KeyValuePairs<String, String> = ["v": "1", "op": "git.get", "adapter": "git", "protocol": "https", "host": "bound.example"]
        let keys: KeyValuePairs<String, String> = ["v": "1", "op": "aws.credentials", "adapter": "aws", "identity": "keys"]
        sandbox.writeConfig(config(bound: "first", key: "AKIDWARMFIRST"))
        // Through real git, which also starts the agent.
        XCTAssertTrue(sandbox.git(["credential", "fill"], stdin: "protocol=https\nhost=bound.example\n").stdout.contains("password=first-token"))
        for round in 0..<6 {
            let (identity, token, key) = round % 2 == 0 ? ("first", "first-token", "AKIDWARMFIRST") : ("second", "second-token", "AKIDWARMSECOND")
            if round > 0 { sandbox.writeConfig(config(bound: identity, key: key)) }
            for _ in 0..<5 {
                let git = ask(sandbox, bound), aws = ask(sandbox, keys)
                XCTAssertTrue(git.contains("password=\(token)\n"), "round \(round): \(git)")
                XCTAssertTrue(aws.contains("access_key_id=\(key)\n"), "round \(round): \(aws)")
            }
        }
        XCTAssertGreaterThan(replayed(sandbox), 0)
    }
}
