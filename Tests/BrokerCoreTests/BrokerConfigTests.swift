// The configuration model: what validates, and the file:line sentence for what does not.

@testable import BrokerCore
import BrokerWire
import XCTest

final class BrokerConfigTests: XCTestCase {
    func config(_ text: String) throws -> BrokerConfig {
        try BrokerConfig.parse(ConfigSyntax.parse(text: text, file: "cfg"))
    }

    func error(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> ConfigError? {
        do {
            _ = try config(text)
            XCTFail("expected a config error", file: file, line: line)
            return nil
        } catch let error as ConfigError {
            return error
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
            return nil
        }
    }

    func testEmptyConfigIsValid() throws {
        let c = try config("")
        XCTAssertTrue(c.identities.isEmpty)
        XCTAssertEqual(c.git.cacheTimeout, 900)
    }

    func testStaticIdentityAndBinding() throws {
        let c = try config("""
            [identity "bot"]
                kind = static
                username = x-access-token
                secret = env:TOKEN
            [git "https://github.com/acme"]
                identity = bot
            """)
        XCTAssertEqual(c.identityOrder, ["bot"])
        XCTAssertEqual(c.gitBinding(protocol: "https", host: "github.com", path: "acme/repo.git")?.identity, "bot")
        XCTAssertNil(c.gitBinding(protocol: "https", host: "github.com", path: "other/repo.git"))
    }

    func testAgentAndGitSettingsTakeDurations() throws {
        let c = try config("[agent]\nidle-timeout = 1h\nmax-connections = 8\n[git]\ncache-timeout = 15m\n")
        XCTAssertEqual(c.agent.idleTimeout, 3600)
        XCTAssertEqual(c.agent.maxConnections, 8)
        XCTAssertEqual(c.git.cacheTimeout, 900)
    }

    func testAuditSizeAndKeep() throws {
        let defaults = try config("")
        XCTAssertEqual(defaults.audit.maxSize, 10 << 20)
        XCTAssertEqual(defaults.audit.keep, 5)
        let c = try config("[audit]\nmax-size = 2m\nkeep = 3\n")
        XCTAssertEqual(c.audit.maxSize, 2 << 20)
        XCTAssertEqual(c.audit.keep, 3)
        XCTAssertEqual(error("[audit]\nkeep = 0\n")?.message, "keep must be greater than zero")
        XCTAssertEqual(error("[audit]\nmax-sise = 1m\n")?.hint, "did you mean \"max-size\"?")
    }

    func testUnknownSectionSuggestsTheClosest() {
        let e = error("[identty \"x\"]\nkind = static\n")
        XCTAssertEqual(e?.location, SourceLocation(file: "cfg", line: 2))
        XCTAssertEqual(e?.hint, "did you mean [identity]?")
    }

    func testUnknownKeySuggestsTheClosest() {
        let e = error("[identity \"x\"]\nkind = static\nusername = u\nsecret = env:A\nusernme = v\n")
        XCTAssertEqual(e?.message, "unknown key \"usernme\" in [identity \"x\"] (kind static)")
        XCTAssertEqual(e?.location.map(\.line), 5)
        XCTAssertEqual(e?.hint, "did you mean \"username\"?")
    }

    func testUnknownKindSuggestsTheClosest() {
        XCTAssertEqual(error("[identity \"x\"]\nkind = statik\n")?.hint, "did you mean \"static\"?")
    }

    func testMissingRequiredFieldNamesIt() {
        let e = error("[identity \"x\"]\nkind = static\nusername = u\n")
        XCTAssertEqual(e?.message, "identity \"x\" (kind static) needs secret")
    }

    func testInlineSecretIsRefusedWithoutEchoingIt() {
        let e = error("[identity \"x\"]\nkind = static\nusername = u\nsecret = ghp_hunter2\n")
        XCTAssertEqual(e?.location?.line, 4)
        XCTAssertFalse(e!.description.contains("hunter2"))
    }

    func testDanglingViaCitesTheViaLine() {
        let e = error("[identity \"a\"]\nkind = exec\ncommand = true\nvia = identity:nope\n")
        XCTAssertEqual(e?.location?.line, 4)
        XCTAssertTrue(e!.message.contains("identity:nope"))
    }

    func testCycleIsSpelledOut() {
        let e = error("""
            [identity "a"]
            kind = exec
            command = true
            via = identity:b
            [identity "b"]
            kind = exec
            command = true
            via = identity:a
            """)
        XCTAssertEqual(e?.message, "identity chain has a cycle: a → b → a")
    }

    func testSelfCycle() {
        XCTAssertEqual(error("[identity \"a\"]\nkind = exec\ncommand = true\nvia = identity:a\n")?.message,
                       "identity chain has a cycle: a → a")
    }

    func testStaticTakesNoVia() {
        XCTAssertNotNil(error("[identity \"b\"]\nkind = exec\ncommand = true\n[identity \"a\"]\nkind = static\nusername = u\nsecret = env:X\nvia = identity:b\n"))
    }

    func testBindingToUndefinedIdentity() {
        let e = error("[identity \"bot\"]\nkind = exec\ncommand = true\n[git \"https://h\"]\nidentity = bto\n")
        XCTAssertEqual(e?.hint, "did you mean \"bot\"?")
        XCTAssertEqual(e?.location?.line, 5)
    }

    func testBindingThatIsNotAURL() {
        XCTAssertNotNil(error("[identity \"bot\"]\nkind = exec\ncommand = true\n[git \"github.com\"]\nidentity = bot\n"))
    }

    func testBadDurationCitesTheLine() {
        XCTAssertEqual(error("[agent]\n\nidle-timeout = soon\n")?.location?.line, 3)
    }

    func testChainDepthAnyLength() throws {
        var text = "[identity \"i0\"]\nkind = exec\ncommand = true\n"
        for i in 1..<30 { text += "[identity \"i\(i)\"]\nkind = exec\ncommand = true\nvia = identity:i\(i - 1)\n" }
        let c = try config(text)
        XCTAssertEqual(try ChainResolver.chain(of: "i29", in: c).count, 30)
    }
}

final class GitURLPatternTests: XCTestCase {
    func pattern(_ text: String) throws -> GitURLPattern { try GitURLPattern(text, at: SourceLocation(file: "t", line: 1)) }

    func testSchemeMustMatch() throws {
        XCTAssertNil(try pattern("https://h").specificity(scheme: "http", host: "h", path: nil))
    }

    func testHostIsCaseInsensitiveAndExact() throws {
        XCTAssertNotNil(try pattern("https://GitHub.com").specificity(scheme: "https", host: "github.com", path: nil))
        XCTAssertNil(try pattern("https://github.com").specificity(scheme: "https", host: "gist.github.com", path: nil))
    }

    func testWildcardMatchesExactlyOneLabel() throws {
        let p = try pattern("https://*.example.com")
        XCTAssertNotNil(p.specificity(scheme: "https", host: "git.example.com", path: nil))
        XCTAssertNil(p.specificity(scheme: "https", host: "a.b.example.com", path: nil))
        XCTAssertNil(p.specificity(scheme: "https", host: "example.com", path: nil))
    }

    func testWildcardDoesNotMatchAnEmptyFirstLabel() throws {
        let p = try pattern("https://*.corp.example")
        XCTAssertNil(p.specificity(scheme: "https", host: ".corp.example", path: nil))
        XCTAssertNotNil(p.specificity(scheme: "https", host: "git.corp.example", path: nil))
    }

    func testPatternThatIsNotAURLIsRejected() throws {
        for text in ["https://x';id>pwned;'.example.com/acme", "https://a b.example.com", "https://\"h\".example.com",
                     "https://a;b.example.com", "https://*.*.example.com", "https://-bad.example.com", "https://a..b.example",
                     "https://h:99999", "ht tp://h", "https://h/acme/../evil", "https://h/a'b", "https://h/a b"] {
            XCTAssertThrowsError(try pattern(text), text)
        }
        for text in ["https://github.com/acme", "https://*.example.com:8443/a/b", "http://127.0.0.1:8080", "https://[::1]:8443/x",
                     "ssh://git-server.internal/repo.git", "https://h/a%20b"] {
            XCTAssertNoThrow(try pattern(text), text)
        }
    }

    func testPortMustMatchWithDefaultsApplied() throws {
        XCTAssertNotNil(try pattern("http://127.0.0.1:8080").specificity(scheme: "http", host: "127.0.0.1:8080", path: nil))
        XCTAssertNil(try pattern("http://127.0.0.1").specificity(scheme: "http", host: "127.0.0.1:8080", path: nil))
        XCTAssertNotNil(try pattern("https://h:443").specificity(scheme: "https", host: "h", path: nil))
    }

    func testPathMatchesOnSegmentBoundaries() throws {
        let p = try pattern("https://github.com/acme")
        XCTAssertNotNil(p.specificity(scheme: "https", host: "github.com", path: "acme/repo.git"))
        XCTAssertNil(p.specificity(scheme: "https", host: "github.com", path: "acmecorp/repo.git"))
        XCTAssertNil(p.specificity(scheme: "https", host: "github.com", path: nil))
    }

    func testDotSegmentsAreResolvedBeforeMatching() throws {
        let p = try pattern("https://github.com/acme")
        for path in ["acme/../evil/repo.git", "acme/%2e%2e/evil/repo.git", "acme/%2E%2E/evil/repo.git", "acme/./../evil/repo.git"] {
            XCTAssertNil(p.specificity(scheme: "https", host: "github.com", path: path), path)
        }
        XCTAssertNotNil(p.specificity(scheme: "https", host: "github.com", path: "acme/./tools/../repo.git"))
        XCTAssertNotNil(p.specificity(scheme: "https", host: "github.com", path: "evil/../acme/repo.git"))
        XCTAssertNil(p.specificity(scheme: "https", host: "github.com", path: "../acme/repo.git"), "climbing above the root")
    }

    func testEncodedSlashIsNotASeparator() throws {
        let p = try pattern("https://github.com/acme")
        XCTAssertNil(p.specificity(scheme: "https", host: "github.com", path: "acme%2fevil/repo.git"))
        XCTAssertNil(p.specificity(scheme: "https", host: "github.com", path: "acme%2Fevil"))
        XCTAssertNotNil(p.specificity(scheme: "https", host: "github.com", path: "acme/evil"))
    }

    func testRepoPatternMatchesWithOrWithoutDotGit() throws {
        XCTAssertNotNil(try pattern("https://h/acme/repo").specificity(scheme: "https", host: "h", path: "acme/repo.git"))
    }

    func testMostSpecificWins() throws {
        let c = try BrokerConfig.parse(ConfigSyntax.parse(text: """
            [identity "host"]
            kind = exec
            command = true
            [identity "org"]
            kind = exec
            command = true
            [identity "wild"]
            kind = exec
            command = true
            [git "https://*.example.com"]
            identity = wild
            [git "https://git.example.com"]
            identity = host
            [git "https://git.example.com/acme"]
            identity = org
            """, file: "t"))
        XCTAssertEqual(c.gitBinding(protocol: "https", host: "git.example.com", path: "acme/x.git")?.identity, "org")
        XCTAssertEqual(c.gitBinding(protocol: "https", host: "git.example.com", path: "other/x.git")?.identity, "host")
        XCTAssertEqual(c.gitBinding(protocol: "https", host: "git.example.com", path: nil)?.identity, "host")
        XCTAssertEqual(c.gitBinding(protocol: "https", host: "www.example.com", path: nil)?.identity, "wild")
    }
}
