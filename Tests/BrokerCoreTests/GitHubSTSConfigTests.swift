// github/sts settings: revoke (off by default) and the api-url a revoke goes to.

@testable import BrokerCore
import XCTest

final class GitHubSTSConfigTests: XCTestCase {
    func parse(_ body: String) throws -> BrokerConfig {
        try BrokerConfig.parse(ConfigSyntax.parse(text: """
            [identity "job"]
            kind = github/oidc
            [identity "repo"]
            kind = github/sts
            via = identity:job
            scope = acme/app
            policy = ci

            """ + body, file: "cfg"))
    }

    func kind(_ body: String) throws -> any ResolvedKind {
        guard case .resolved(let kind)? = try parse(body).kind("repo")?.acquisition else { throw XCTSkip("not a resolved kind") }
        return kind
    }

    func testRevokeIsOffByDefaultAndGoesToGitHubDotCom() throws {
        XCTAssertFalse(try kind("").revokesAfterWrap)
        XCTAssertEqual((try kind("") as? GitHubSTSIdentity)?.apiURL, "https://api.github.com")
        XCTAssertTrue(try kind("revoke = true\n").revokesAfterWrap)
        XCTAssertEqual((try kind("revoke = true\napi-url = https://ghe.example/api/v3/\n") as? GitHubSTSIdentity)?.apiURL, "https://ghe.example/api/v3")
    }

    func testABadRevokeOrAPIURLIsAnErrorAtItsLine() {
        XCTAssertThrowsError(try parse("revoke = sometimes\n")) { error in
            XCTAssertEqual((error as? ConfigError)?.location?.line, 8, "\(error)")
        }
        XCTAssertThrowsError(try parse("api-url = http://api.example\n")) { error in
            XCTAssertTrue("\(error)".contains("plain http is allowed only to a loopback address"), "\(error)")
        }
    }

    func testOtherKindsRevokeNothing() throws {
        let config = try parse("")
        guard case .resolved(let oidc)? = config.kind("job")?.acquisition else { return XCTFail("job") }
        XCTAssertFalse(oidc.revokesAfterWrap)
    }
}
