// `default = true` on one identity: what whoami means when none is named; a second default is an error at its line.

@testable import BrokerCore
import BrokerWire
import XCTest

final class DefaultIdentityTests: XCTestCase {
    func config(_ text: String) throws -> BrokerConfig {
        try BrokerConfig.parse(ConfigSyntax.parse(text: text, file: "cfg"))
    }

    func testTheIdentityMarkedDefaultIsTheDefault() throws {
        let c = try config("""
            [identity "a"]
                kind = static
                username = u
                secret = env:A
            [identity "b"]
                kind = exec
                command = true
                default = true
            """)
        XCTAssertEqual(c.defaultIdentity, "b")
    }

    func testNoDefaultWhenNoneIsMarkedOrItIsFalse() throws {
        let c = try config("""
            [identity "a"]
                kind = static
                username = u
                secret = env:A
                default = false
            """)
        XCTAssertNil(c.defaultIdentity)
    }

    func testTwoDefaultsAreAnErrorAtTheSecondOnesLine() {
        XCTAssertThrowsError(try config("""
            [identity "a"]
                kind = static
                username = u
                secret = env:A
                default = true
            [identity "b"]
                kind = exec
                command = true
                default = yes
            """)) { error in
            let configError = error as? ConfigError
            XCTAssertEqual(configError?.location?.line, 9, "\(error)")
            XCTAssertEqual(configError?.message, "identities \"a\" and \"b\" are both marked default = true; at most one identity may be the default")
            XCTAssertEqual(configError?.hint, "remove `default = true` from one of them")
        }
    }

    func testDefaultMustBeABoolean() {
        XCTAssertThrowsError(try config("""
            [identity "a"]
                kind = static
                username = u
                secret = env:A
                default = maybe
            """)) { error in
            XCTAssertEqual((error as? ConfigError)?.location?.line, 5, "\(error)")
        }
    }

    func testHTTPDateHeaderIsReadAsUTC() {
        XCTAssertEqual(UpstreamProbe.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT")?.timeIntervalSince1970, 784_111_777)
        XCTAssertNil(UpstreamProbe.parseHTTPDate("yesterday"))
        // Two Date headers (a proxy's and the server's) arrive joined; the first is read.
        XCTAssertEqual(UpstreamProbe.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:38 GMT")?.timeIntervalSince1970, 784_111_777)
    }

    func testAWSKindsNameTheirSTSEndpointAsUpstreamAndStaticNamesNone() throws {
        let c = try config("""
            [identity "dev"]
                kind = aws/user
                access-key-id = AKIDEXAMPLE
                secret-access-key = env:S
                sts-endpoint = http://127.0.0.1:5999
            [identity "bot"]
                kind = static
                username = u
                secret = env:A
            """)
        let context = ResolveContext(environment: Environment([:]))
        XCTAssertEqual(c.kinds["dev"]?.upstreams(in: context), [UpstreamService(name: "AWS STS", url: "http://127.0.0.1:5999")])
        XCTAssertEqual(c.kinds["bot"]?.upstreams(in: context), [])
    }

    func testGitHubAppsNameTheirAPIAsUpstream() throws {
        let c = try config("""
            [identity "app"]
                kind = github/app
                app-id = 12345
                installation-id = 6789
                private-key = file:/nonexistent/key.pem
                api-url = http://127.0.0.1:5998/api/v3/
            [identity "public"]
                kind = github/app
                app-id = 12345
                owner = acme
                private-key = env:KEY
            """)
        let context = ResolveContext(environment: Environment([:]))
        XCTAssertEqual(c.kinds["app"]?.upstreams(in: context), [UpstreamService(name: "GitHub API", url: "http://127.0.0.1:5998/api/v3")])
        XCTAssertEqual(c.kinds["public"]?.upstreams(in: context), [UpstreamService(name: "GitHub API", url: "https://api.github.com")])
    }
}
