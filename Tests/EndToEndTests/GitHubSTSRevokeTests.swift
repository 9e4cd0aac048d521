// github/sts `revoke = true`: the token a broker-env-wrap run used is revoked at GitHub (the fake
// GitHub API, which the fake octo-sts mints through) once the wrap exits; a failed revoke is audited
// and never fails the wrap.

import Foundation
import XCTest
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

final class GitHubSTSRevokeTests: XCTestCase {
    typealias Kit = AgentProcessKit

    struct World {
        let sandbox: Sandbox
        let github: GitHubAPIFake
        let oidc: ActionsOIDCServer
        let exchange: PythonFixture
        let git: GitHTTPTestServer
    }

    func world(revoke: Bool = true) throws -> World {
        let sandbox = Sandbox()
        let github = try GitHubAPIFake(sandbox: sandbox, key: try GitHubAppKey.generate(in: sandbox))
        let oidc = try ActionsOIDCServer()
        let exchange = try PythonFixture("sts_exchange.py", [
            "--jwks-url", oidc.jwksURL, "--issuer", oidc.issuer, "--audience", "octo-sts.test", "--scope", "acme/app",
            "--policy", "ci", "--subject-pattern", "repo:acme/app:ref:refs/heads/.*", "--mint-url", github.apiURL + "/__issue",
        ])
        // The git server accepts exactly the tokens the GitHub fake holds live.
        let git = try GitHTTPTestServer(sandbox: sandbox, user: "x-access-token", password: "unused",
                                        extraArguments: ["--tokens-file", github.tokensPath])
        sandbox.environment["ACTIONS_ID_TOKEN_REQUEST_URL"] = oidc.tokenURL
        sandbox.environment["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = oidc.requestToken
        sandbox.writeConfig("""
            [identity "job"]
                kind = github/oidc
                audience = octo-sts.test
            [identity "repo"]
                kind = github/sts
                via = identity:job
                url = http://127.0.0.1:\(exchange.port)
                scope = acme/app
                policy = ci
                revoke = \(revoke)
                api-url = \(github.apiURL)
                env = GH_TOKEN
            [git "\(git.baseURL)"]
                identity = repo
            """)
        return World(sandbox: sandbox, github: github, oidc: oidc, exchange: exchange, git: git)
    }

    /// GitHub's answer to a call made with `token` itself.
    func statusOfCall(with token: String, _ github: GitHubAPIFake) -> Int {
        var request = URLRequest(url: URL(string: github.apiURL + "/installation/repositories")!, timeoutInterval: 10)
        for (name, value) in [("Authorization", "Bearer " + token), ("Accept", "application/vnd.github+json"),
                              ("X-GitHub-Api-Version", "2022-11-28"), ("User-Agent", "test")] {
            request.setValue(value, forHTTPHeaderField: name)
        }
        let done = DispatchSemaphore(value: 0)
        let box = StatusBox()
        URLSession.shared.dataTask(with: request) { _, response, _ in
            box.status = (response as? HTTPURLResponse)?.statusCode ?? -1
            done.signal()
        }.resume()
        _ = done.wait(timeout: .now() + 15)
        return box.status
    }

    final class StatusBox: @unchecked Sendable { var status = -1 }

    /// Runs a wrapped shell script with the `repo` identity; its stdout is the token it was given.
    func wrap(_ w: World, _ script: String) -> ProcessResult {
        w.sandbox.broker("broker-env-wrap", ["--identity", "repo", "--", "/bin/sh", "-c", script])
    }

    func auditRecords(_ w: World, event: String) -> [[String: Any]] {
        w.sandbox.auditLines.filter { $0["event"] as? String == event }
    }

    func testTheTokenAWrapUsedIsRevokedWhenTheWrapExits() throws {
        let w = try world()
        defer { Kit.stopAgents(w.sandbox); w.git.stop() }
        let run = wrap(w, "git clone -q \(w.git.repoURL) work && printf %s \"$GH_TOKEN\"")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(w.sandbox.read(w.sandbox.root + "/work/README"), "seed\n", "git in the wrap used the exchanged token")
        let token = run.stdout
        XCTAssertTrue(token.hasPrefix("ghs_"), token)

        XCTAssertTrue(Kit.waitUntil(20) { w.github.counts()["revoked"] == 1 }, "revoked after the wrap: \(w.github.counts())")
        XCTAssertEqual(statusOfCall(with: token, w.github), 401, "GitHub refuses the token once the wrap has exited")
        XCTAssertFalse(w.github.liveTokens.contains(token))
        XCTAssertTrue(Kit.waitUntil(10) { !self.auditRecords(w, event: "revoked").isEmpty })
        let record = try XCTUnwrap(auditRecords(w, event: "revoked").first)
        XCTAssertEqual(record["outcome"] as? String, "ok")
        XCTAssertEqual(record["identity"] as? String, "repo")

        // The agent dropped it: the next wrap exchanges a new token, which works.
        let again = wrap(w, "git -C work fetch -q && printf %s \"$GH_TOKEN\"")
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertNotEqual(again.stdout, token)
        XCTAssertEqual(w.exchange.get("/__count")["exchanged"] as? Int, 2)
        for path in [w.sandbox.paths.auditLogPath, w.sandbox.paths.agentLogPath] {
            XCTAssertFalse(w.sandbox.read(path).contains(token), path)
        }
    }

    func testATokenIsRevokedOnlyWhenTheLastWrapHoldingItEnds() throws {
        let w = try world()
        defer { Kit.stopAgents(w.sandbox); w.git.stop() }
        // The outer wrap holds the token while an inner one, handed the same token, exits.
        let gate = w.sandbox.root + "/inner-done"
        let inner = "\(Sandbox.executable("broker-env-wrap")) --nested --identity repo -- /bin/sh -c 'printf %s \"$GH_TOKEN\"' > \(gate)"
        let run = wrap(w, "\(inner) && sleep 1 && git clone -q \(w.git.repoURL) work && printf %s \"$GH_TOKEN\"")
        XCTAssertEqual(run.status, 0, "the outer wrap's git still works after the inner wrap ended: \(run.stderr)")
        XCTAssertEqual(w.sandbox.read(gate), run.stdout, "both wraps were handed the same token")
        XCTAssertTrue(Kit.waitUntil(20) { w.github.counts()["revoked"] == 1 }, "\(w.github.counts())")
        XCTAssertEqual(statusOfCall(with: run.stdout, w.github), 401)
    }

    func testAFailedRevokeIsAuditedAndNeverFailsTheWrap() throws {
        let w = try world()
        defer { Kit.stopAgents(w.sandbox); w.git.stop() }
        // GitHub answers the revoke with an error (GitHub's own shape, so it is not retried).
        w.github.fail(next: 1, status: 404)
        let run = wrap(w, "printf %s \"$GH_TOKEN\"")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stderr, "")
        XCTAssertTrue(Kit.waitUntil(20) { !self.auditRecords(w, event: "revoked").isEmpty })
        let record = try XCTUnwrap(auditRecords(w, event: "revoked").first)
        XCTAssertEqual(record["outcome"] as? String, "error")
        let reason = record["reason"] as? String ?? ""
        XCTAssertTrue(reason.contains("revoke failed, the token stays valid until it expires") && reason.contains("HTTP 404"), reason)
        XCTAssertFalse(reason.contains(run.stdout))
        XCTAssertEqual(statusOfCall(with: run.stdout, w.github), 200, "not revoked: it lives out its hour")
        XCTAssertNotNil(w.sandbox.agentPID, "the agent stays up")
    }

    func testWithoutRevokeTheTokenOutlivesTheWrap() throws {
        let w = try world(revoke: false)
        defer { Kit.stopAgents(w.sandbox); w.git.stop() }
        let run = wrap(w, "printf %s \"$GH_TOKEN\"")
        XCTAssertEqual(run.status, 0, run.stderr)
        // Ask the agent something else after the wrap's exit, so its exit has been seen.
        XCTAssertEqual(w.sandbox.broker("brokerctl", ["status"]).status, 0)
        XCTAssertEqual(statusOfCall(with: run.stdout, w.github), 200)
        XCTAssertEqual(w.github.counts()["revoked"], 0)
    }
}
