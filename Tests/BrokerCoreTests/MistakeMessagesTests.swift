// A newcomer's mistakes, each with the sentence that names the fix: every config error at its
// line, secret references checked before first use, and command errors that keep their words.

@testable import BrokerCore
import BrokerWire
import Foundation
import XCTest

final class MistakeMessagesTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "mistakes-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func checked(_ text: String) -> ConfigCheck {
        BrokerConfig.build(ConfigSyntax.parseDocument(text: text, file: "cfg"))
    }

    func lines(_ check: ConfigCheck) -> [Int] { check.errors.compactMap { $0.location?.line } }

    @discardableResult
    func write(_ name: String, _ text: String, mode: mode_t = 0o600) -> String {
        let path = directory + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        chmod(path, mode)
        return path
    }

    var context: ResolveContext { ResolveContext(environment: Environment(["PATH": "/usr/bin:/bin", "HOME": directory])) }

    // MARK: sections and every error

    func testAMisspeltSectionWithNoKeysIsAnErrorAtItsHeader() {
        let check = checked("[agent]\n    idle-timeout = 1m\n\n[identiy \"x\"]\n")
        XCTAssertEqual(check.errors.map(\.description),
                       ["cfg:4: unknown section [identiy \"x\"] (hint: did you mean [identity]?)"])
    }

    func testAMisspeltSectionWithKeysIsReportedOnceAtItsHeader() {
        let check = checked("[identiy \"x\"]\n    kind = static\n    username = u\n")
        XCTAssertEqual(check.errors.map(\.description), ["cfg:1: unknown section [identiy \"x\"] (hint: did you mean [identity]?)"])
    }

    func testAnIdentityHeaderWithNoKeysIsToldItLacksAKindAtTheHeader() {
        let check = checked("# comment\n[identity \"x\"]\n")
        XCTAssertEqual(check.errors.count, 1)
        XCTAssertEqual(check.errors.first?.location?.line, 2)
        XCTAssertTrue(check.errors.first?.message.contains("identity \"x\" has no kind") ?? false, "\(check.errors)")
    }

    func testEveryErrorIsReportedEachAtItsOwnLineInFileOrder() {
        let check = checked("""
            [identity "a"]
                kind = static
                usernmae = u
            [agent]
                idle-timeout = soon
                bad key here
            [identity "b"]
                kind = nosuch
            [git "https://example.com"]
                identity = ghost
            [identiy "c"]
            """)
        // The syntax error first (what follows it is uncertain), then the rest in file order.
        XCTAssertEqual(lines(check), [6, 3, 5, 8, 10, 11], check.errors.map(\.description).joined(separator: "\n"))
        XCTAssertTrue(check.errors[0].description.contains("expected '=' after key \"bad\""), check.errors[0].description)
        XCTAssertTrue(check.errors[1].description.contains("unknown key \"usernmae\""))
        XCTAssertTrue(check.errors[2].description.contains("invalid duration \"soon\""))
        XCTAssertTrue(check.errors[3].description.contains("unknown identity kind \"nosuch\""))
        XCTAssertTrue(check.errors[4].description.contains("names identity \"ghost\", which is not defined"))
        XCTAssertFalse(check.bindingsComplete, "a syntax error may hide a binding")
        // parse() still throws the first, as callers that want one error expect (without the
        // headers, an unknown section is found at its first key).
        XCTAssertThrowsError(try BrokerConfig.parse(ConfigSyntax.parse(text: "[a]\nx = 1\n[identity \"b\"]\nkind = nosuch\n", file: "cfg"))) { error in
            XCTAssertEqual((error as? ConfigError)?.location?.line, 2)
            XCTAssertEqual((error as? ConfigError)?.message, "unknown section [a]")
        }
    }

    func testABrokenIdentityAddsNoSecondErrorWhereItIsNamed() {
        let check = checked("""
            [identity "base"]
                kind = static
                username = u
            [identity "top"]
                kind = exec
                via = identity:base
                command = true
            [git "https://example.com"]
                identity = base
            """)
        XCTAssertEqual(check.errors.count, 1, check.errors.map(\.description).joined(separator: "\n"))
        XCTAssertTrue(check.errors[0].description.contains("needs secret"), check.errors[0].description)
        // Its binding is kept, so the agent knows the URL is bound and answers it with the error.
        XCTAssertEqual(check.config.gitBinding(protocol: "https", host: "example.com", path: nil)?.identity, "base")
        XCTAssertNil(check.config.gitBinding(protocol: "https", host: "other.example", path: nil))
        XCTAssertTrue(check.bindingsComplete)
        XCTAssertTrue(checked("[git \"https://x\"]\n    identity = nobody\n").bindingsComplete,
                       "a binding to an undefined identity is still a known binding")
        XCTAssertFalse(checked("[git \"https://bad host\"]\n    identity = a\n").bindingsComplete, "an unreadable URL may be any host")
        XCTAssertFalse(checked("[git \"https://x\"]\n    identiy = a\n").bindingsComplete)
    }

    func testASyntaxErrorDoesNotHideTheLinesAfterIt() {
        let check = checked("[agent]\n    idle-timeout = \"1m\n[git]\n    cache-timeout = forever\n")
        XCTAssertEqual(lines(check), [2, 4], check.errors.map(\.description).joined(separator: "\n"))
    }

    func testAMissingFileFromTheOptionDoesNotBlameBrokerConfig() {
        var paths = BrokerPaths(runtimeDirectory: directory, cacheDirectory: directory, stateDirectory: directory,
                                configFile: directory + "/nope", configFileIsExplicit: true)
        XCTAssertEqual(BrokerConfig.check(paths).errors.map(\.description),
                       ["config file \(directory)/nope (from BROKER_CONFIG) does not exist (hint: create it or unset BROKER_CONFIG)"])
        paths.configOrigin = .option
        XCTAssertEqual(BrokerConfig.check(paths).errors.map(\.description),
                       ["config file \(directory)/nope (from --config) does not exist (hint: create it or fix the --config path)"])
        XCTAssertFalse(BrokerConfig.check(paths).readable)
    }

    // MARK: secret references, checked without reading them

    func testSecretFileChecksNameTheFix() throws {
        let missing = SecretReference.file(directory + "/absent")
        XCTAssertTrue(missing.check(environment: context.environment)?.message.hasPrefix("secret file \(directory)/absent does not exist") ?? false)
        let loose = write("loose", "s3cret\n", mode: 0o644)
        let looseProblem = try XCTUnwrap(SecretReference.file(loose).check(environment: context.environment))
        XCTAssertEqual(looseProblem.message, "secret file \(loose) is readable by group or others (mode 644)")
        XCTAssertEqual(looseProblem.hint, "chmod 600 \(loose)")
        let empty = write("empty", "")
        XCTAssertEqual(SecretReference.file(empty).check(environment: context.environment)?.message, "secret file \(empty) is empty")
        let good = write("good", "s3cret\n")
        XCTAssertNil(SecretReference.file(good).check(environment: context.environment))
        XCTAssertNil(SecretReference.file("~/good").check(environment: context.environment), "~/ expands from HOME")
        if geteuid() == 0 {
            let foreign = write("foreign", "s3cret\n")
            chown(foreign, 65534, 65534)
            XCTAssertEqual(SecretReference.file(foreign).check(environment: context.environment)?.hint, "chown 0 \(foreign)")
        }
    }

    func testACommandSecretIsNotRunButItsProgramMustBeThere() {
        let script = write("show-secret", "#!/bin/sh\necho s\n", mode: 0o600)
        XCTAssertEqual(SecretReference.command(script + " --all", directory: nil).check(environment: context.environment)?.hint, "chmod +x \(script)")
        chmod(script, 0o700)
        XCTAssertNil(SecretReference.command(script + " --all", directory: nil).check(environment: context.environment))
        XCTAssertNil(SecretReference.command("./show-secret", directory: directory).check(environment: context.environment))
        XCTAssertEqual(SecretReference.command("~/absent x", directory: nil).check(environment: context.environment)?.message,
                       "secret command `cmd:~/absent` names \(directory)/absent, which does not exist")
        XCTAssertNil(SecretReference.command("pass show x", directory: nil).check(environment: context.environment),
                     "a program found on PATH is the agent's business: nothing is guessed")
    }

    func testEnvSecretCheckNamesTheVariable() {
        XCTAssertEqual(SecretReference.environment("NOPE_TOKEN").check(environment: Environment([:]))?.message,
                       "environment variable NOPE_TOKEN (env:NOPE_TOKEN) is not set")
        XCTAssertEqual(SecretReference.environment("T").check(environment: Environment(["T": ""]))?.message,
                       "environment variable T (env:T) is empty")
        XCTAssertNil(SecretReference.environment("T").check(environment: Environment(["T": "x"])))
    }

    func testAnEmptySecretIsRefusedByNameNeverServed() throws {
        XCTAssertThrowsError(try SecretReference.command("true", directory: nil).resolve(context, timeout: 5)) { error in
            XCTAssertEqual("\(error)", "secret command `cmd:true` printed nothing (hint: a secret reference must yield the secret itself; an empty one is never served)")
        }
        let empty = write("empty", "\n")
        XCTAssertThrowsError(try SecretReference.file(empty).resolve(context, timeout: 5)) { error in
            XCTAssertTrue("\(error)".hasPrefix("secret file \(empty) (file:\(empty)) is empty"), "\(error)")
        }
        XCTAssertThrowsError(try SecretReference.environment("E").resolve(
            ResolveContext(environment: Environment(["E": ""])), timeout: 5)) { error in
            XCTAssertTrue("\(error)".hasPrefix("environment variable E (env:E) is empty"), "\(error)")
        }
        let identity = try BrokerConfig.parse(ConfigSyntax.parse(text: "[identity \"bot\"]\nkind = static\nusername = u\nsecret = cmd:true\n", file: "cfg"))
        XCTAssertThrowsError(try (identity.kinds["bot"] as! StaticIdentity).obtain(upstream: nil, context: context))
    }

    // MARK: command output kept whole

    func testExcerptKeepsTheWholeFirstLineUpToItsBound() {
        XCTAssertEqual(WireCodec.excerpt("\n  sh: 1: /tmp/x/mint-token: Permission denied\nsecond line\n"),
                       "sh: 1: /tmp/x/mint-token: Permission denied")
        XCTAssertNil(WireCodec.excerpt(" \n\t\n"))
        let words = (0..<100).map { "word\($0)" }.joined(separator: " ")
        let cut = try! XCTUnwrap(WireCodec.excerpt(words))
        XCTAssertTrue(cut.hasSuffix("…"), cut)
        XCTAssertLessThanOrEqual(cut.count, 301)
        XCTAssertGreaterThan(cut.count, 250)
        let kept = String(cut.dropLast())
        XCTAssertTrue(words.hasPrefix(kept + " "), "cut at a word boundary: \(cut)")
        XCTAssertEqual(WireCodec.excerpt("a\u{1b}[2Jb"), "a\\x1b[2Jb")
        XCTAssertEqual(WireCodec.printable(String(repeating: "x", count: 70)), String(repeating: "x", count: 64) + "…")
    }

    func exec(_ command: String, timeout: String? = nil) throws -> ExecIdentity {
        let config = try BrokerConfig.parse(ConfigSyntax.parse(text: "[identity \"e\"]\nkind = exec\ncommand = \(command)\n"
                                                               + (timeout.map { "timeout = \($0)\n" } ?? ""), file: "cfg"))
        return config.kinds["e"] as! ExecIdentity
    }

    func testAnExecCommandThatIsNotExecutableKeepsItsWholeReason() throws {
        let script = write("mint-token-with-a-rather-long-name-so-the-line-passes-sixty-four", "#!/bin/sh\necho x\n", mode: 0o600)
        XCTAssertThrowsError(try exec(script).obtain(upstream: nil, context: context)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("\(script): Permission denied"), text)
            XCTAssertTrue(text.contains("exited with status 126"), text)
        }
    }

    func testAnExecTimeoutNamesTheLimitAndTheKey() throws {
        XCTAssertThrowsError(try exec("sleep 5", timeout: "1").obtain(upstream: nil, context: context)) { error in
            XCTAssertEqual("\(error)", "exec command `sleep` timed out after 1 s (hint: let it run longer with `timeout = DURATION` in the identity's section (it has 1 s))")
        }
    }

    func testExecGarbageSaysWhichLinesWereExpected() throws {
        for output in ["echo hello world", "echo user=x", "printf 'username=u\\npassword=t\\npassword_expiry_utc=soon\\n'"] {
            XCTAssertThrowsError(try exec(output).obtain(upstream: nil, context: context), output) { error in
                let hint = (error as? BrokerFailure)?.hint ?? ""
                for key in ["username=", "password=", "password_expiry_utc="] {
                    XCTAssertTrue(hint.contains(key), "\(output): \(error)")
                }
            }
        }
    }
}
