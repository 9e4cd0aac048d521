// An STS outage seen through the real agent and aws-credential-process, with moto behind the
// fault-injecting proxy — 500s, throttling, garbage: bounded retries, the cached role still served
// while botocore can use it, callers right after a failure not kept waiting, and a clear error
// once it is too short. (Timeouts and redirects: STSClientTests.)

import Foundation
import XCTest

final class UpstreamOutageTests: MotoTestCase {
    typealias Kit = AgentProcessKit

    override func tearDown() {
        startedMoto?.injectFaults(status: 503, count: 0, code: "none")
    }

    func testOutageServesTheCachedRoleAboveBotocoresFloorThenSaysWhy() throws {
        let sandbox = Sandbox()
        defer { Kit.stopAgents(sandbox) }
        guard let clock = FakeWallClock(sandbox) else { return }
        let secretFile = sandbox.write("secrets/dev", moto.secretAccessKey + "\n")
        // A minimum validity just under the role's hour, so that ten real seconds put the cached
        // role below it: the state every cached role reaches 20 minutes before it expires.
        sandbox.writeConfig("""
            [agent]
                refresh-ahead = 0
            [aws]
                minimum-validity = 3590s
            [identity "dev"]
                kind = aws/user
                access-key-id = \(moto.accessKeyID)
                secret-access-key = file:\(secretFile)
                sts-endpoint = \(moto.endpoint)
            [identity "first"]
                kind = aws/assume-role
                via = identity:dev
                role-arn = \(moto.firstRoleARN)
                session-name = \(moto.chainSessionName)
                sts-endpoint = \(moto.endpoint)
            [identity "throttled"]
                kind = aws/assume-role
                via = identity:dev
                role-arn = \(moto.firstRoleARN)
                session-name = outage-throttled
                sts-endpoint = \(moto.endpoint)

            """)
        func fetch(_ identity: String = "first") -> ProcessResult { clock.run("aws-credential-process", ["--identity", identity]) }

        let throttledKeyID = try XCTUnwrap(document(fetch("throttled"))["AccessKeyId"] as? String)
        let first = document(fetch())
        let keyID = try XCTUnwrap(first["AccessKeyId"] as? String)
        let expiration = try XCTUnwrap((first["Expiration"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) })
        let expiresAt = Int64(expiration.timeIntervalSince1970)
        XCTAssertGreaterThanOrEqual(expiresAt - FakeWallClock.realNow, 3590)

        // STS answers 500 to everything from now on.
        moto.injectFaults(status: 500, count: 10_000, code: "InternalFailure")
        moto.resetCounts()
        while FakeWallClock.realNow < expiresAt - 3588 { usleep(100_000) }

        let during = fetch()
        let served = document(during)
        XCTAssertEqual(during.stderr, "", "the host is not bothered with the outage")
        XCTAssertEqual(served["AccessKeyId"] as? String, keyID, "the cached role, still good for ~an hour, is served")
        XCTAssertEqual(served["Expiration"] as? String, first["Expiration"] as? String)
        XCTAssertEqual(moto.counts()["AssumeRole"], 4, "one refresh, retried to the policy's 4 attempts and no more")
        let audit = sandbox.auditLines.last { ($0["reason"] as? String)?.contains("served the cached credential") == true }
        XCTAssertEqual(audit?["identity"] as? String, "first")
        XCTAssertEqual(audit?["outcome"] as? String, "error")
        XCTAssertTrue((audit?["reason"] as? String)?.contains("InternalFailure") == true, "\(audit ?? [:])")

        // Throttling, for the other role: retried as often, then its cached keys are served.
        moto.injectFaults(status: 400, count: 10_000, code: "Throttling")
        moto.resetCounts()
        let throttled = fetch("throttled")
        XCTAssertEqual(document(throttled)["AccessKeyId"] as? String, throttledKeyID)
        XCTAssertEqual(throttled.stderr, "")
        XCTAssertEqual(moto.counts()["AssumeRole"], 4)
        XCTAssertTrue(sandbox.auditLines.contains {
            $0["identity"] as? String == "throttled" && ($0["reason"] as? String)?.contains("Throttling") == true
        }, "\(sandbox.auditLines.suffix(3))")

        // Garbage now, and callers right after the failure: served at once, STS not asked.
        moto.injectFaults(status: 200, count: 10_000, code: "none", body: "<html><body>upstream proxy error</body></html>")
        moto.resetCounts()
        for _ in 0..<3 {
            XCTAssertEqual(document(fetch())["AccessKeyId"] as? String, keyID)
        }
        XCTAssertEqual(moto.counts()["__total"] ?? 0, 0)

        // Fifty minutes on (the wall clock stepped; the role has < 15 minutes left): below what
        // botocore can use, so the caller gets the upstream's failure, named, and no keys.
        clock.step("+50m")
        let after = fetch()
        XCTAssertNotEqual(after.status, 0)
        XCTAssertEqual(after.stdout, "", "a failing credential_process prints nothing botocore could parse")
        XCTAssertEqual(after.stderr.split(separator: "\n").count, 1, after.stderr)
        XCTAssertTrue(after.stderr.hasPrefix("aws-credential-process: identity \"first\""), after.stderr)
        XCTAssertTrue(after.stderr.contains("STS"), after.stderr)
        XCTAssertFalse(after.stderr.contains(moto.secretAccessKey), "no secret in the error")
        XCTAssertLessThanOrEqual(moto.counts()["__total"] ?? 0, 4, "retries stay bounded")

        // The clock is put right: the refusal cost nothing, the cached role is served again —
        // at once, since STS failed moments ago (a background refresh retries it later; the
        // resolver's unit tests follow that through to a fresh credential).
        moto.injectFaults(status: 503, count: 0, code: "none")
        moto.resetCounts()
        clock.step("+0")
        XCTAssertEqual(document(fetch())["AccessKeyId"] as? String, keyID)
        XCTAssertEqual(moto.counts()["__total"] ?? 0, 0)
        XCTAssertEqual(sandbox.agentPID.map { Kit.isAlive($0) }, true, "one agent throughout")
    }
}
