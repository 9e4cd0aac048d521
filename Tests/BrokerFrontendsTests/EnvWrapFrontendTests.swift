// broker-env-wrap's pure parts: applying a plan, reading it off the wire, and --print's formats.

@testable import BrokerFrontends
import BrokerWire
import Foundation
import XCTest

final class EnvWrapFrontendTests: XCTestCase {
    /// Values chosen to break naive quoting in every format.
    static let awkward = "it's a \"quoted\" $HOME `cmd` \\back\\slash; * ünïcode #hash"

    let plan = EnvPlan([
        .unset("AWS_PROFILE"),
        .unset("AWS_ACCESS_KEY_ID"),
        .set("AWS_REGION", "eu-west-1", secret: false),
        .set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "0123abcd", secret: true),
        .set("WEIRD", awkward, secret: true),
        .gitConfig(key: "credential.https://example.com/org.helper", value: ""),
        .gitConfig(key: "credential.https://example.com/org.helper", value: "/opt/broker/bin/git-credential-broker"),
    ])

    let caller = ["PATH": "/usr/bin:/bin", "HOME": "/home/me", "AWS_PROFILE": "prod", "AWS_ACCESS_KEY_ID": "AKIAOLD",
                  "AWS_REGION": "us-east-1", "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "user.name", "GIT_CONFIG_VALUE_0": "Me"]

    // MARK: Applying a plan

    func testAppliedPlanSetsAndUnsetsAndLeavesEverythingElseAlone() throws {
        let after = try plan.applied(to: caller)
        XCTAssertNil(after["AWS_PROFILE"])
        XCTAssertNil(after["AWS_ACCESS_KEY_ID"])
        XCTAssertEqual(after["AWS_REGION"], "eu-west-1")
        XCTAssertEqual(after["WEIRD"], Self.awkward)
        XCTAssertEqual(after["PATH"], "/usr/bin:/bin")
        XCTAssertEqual(after["HOME"], "/home/me")
    }

    func testGitConfigEntriesAreAppendedAfterTheCallersOwn() throws {
        let after = try plan.applied(to: caller)
        XCTAssertEqual(after["GIT_CONFIG_COUNT"], "3")
        XCTAssertEqual(after["GIT_CONFIG_KEY_0"], "user.name")
        XCTAssertEqual(after["GIT_CONFIG_VALUE_0"], "Me")
        XCTAssertEqual(after["GIT_CONFIG_KEY_1"], "credential.https://example.com/org.helper")
        XCTAssertEqual(after["GIT_CONFIG_VALUE_1"], "")
        XCTAssertEqual(after["GIT_CONFIG_VALUE_2"], "/opt/broker/bin/git-credential-broker")
    }

    func testGitConfigStartsAtZeroWithoutACount() throws {
        let after = try EnvPlan([.gitConfig(key: "a.b", value: "c")]).applied(to: [:])
        XCTAssertEqual(after, ["GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "a.b", "GIT_CONFIG_VALUE_0": "c"])
    }

    func testABogusGitConfigCountIsRefusedAsGitWouldRefuseIt() {
        XCTAssertThrowsError(try plan.applied(to: ["GIT_CONFIG_COUNT": "many"])) { error in
            XCTAssertTrue("\(error)".contains("GIT_CONFIG_COUNT"), "\(error)")
        }
    }

    func testApplyingIsPureTheSameInputGivesTheSameOutput() throws {
        XCTAssertEqual(try plan.applied(to: caller), try plan.applied(to: caller))
        XCTAssertEqual(try EnvPlan().applied(to: caller), caller)
    }

    // MARK: The wire

    func testAPlanSurvivesTheWire() throws {
        var answer = WireMessage([.init("status", "ok")])
        answer.fields += plan.fields
        let bytes = try answer.encoded()
        XCTAssertEqual(try EnvPlan(answer: WireCodec.decode(bytes)), plan)
    }

    func testAPlanWithABadVariableNameIsRefused() {
        for field in [WireMessage.Field("set", "1BAD=x"), .init("unset", "A-B"), .init("secret", "NOEQUALS"), .init("git_value", "orphan")] {
            XCTAssertThrowsError(try EnvPlan(answer: WireMessage([field])), "\(field)")
        }
    }

    // MARK: Arguments

    func testTheFirstWordThatIsNotAnOptionStartsTheCommand() throws {
        let options = try EnvWrapFrontend.parse(["--identity", "a", "--identity=b", "terraform", "apply", "--auto-approve"])
        XCTAssertEqual(options.identities, ["a", "b"])
        XCTAssertEqual(options.command, ["terraform", "apply", "--auto-approve"])
    }

    func testDoubleDashEndsTheOptions() throws {
        XCTAssertEqual(try EnvWrapFrontend.parse(["--delivery", "env", "--", "--weird-command"]).command, ["--weird-command"])
        XCTAssertEqual(try EnvWrapFrontend.parse(["--delivery", "env", "--", "x"]).delivery, .env)
    }

    func testUsageErrors() {
        for arguments in [[], ["--identity"], ["--delivery", "carrier-pigeon", "x"], ["--print", "true"], ["--format", "json", "true"],
                          ["--print", "--format", "xml"], ["--bogus", "true"]] {
            XCTAssertThrowsError(try EnvWrapFrontend.parse(arguments), "\(arguments)") { error in
                XCTAssertEqual((error as? BrokerFailure)?.kind, .usage, "\(arguments)")
            }
        }
    }

    // MARK: --print round trips: each format, read back by its own reader, gives the plan's environment

    var expected: [String: String] { (try? plan.applied(to: caller)) ?? [:] }

    func testBashOutputEvaluatedByBashGivesThePlannedEnvironment() throws {
        let script = try plan.changes(from: caller).rendered(.bash)
        let after = try environmentAfter(shell: "/bin/bash", ["-c", "eval \"$1\"; env -0", "bash", script], start: caller)
        XCTAssertEqual(after, expected)
    }

    func testBashOutputIsAlsoPOSIXShell() throws {
        let script = try plan.changes(from: caller).rendered(.bash)
        let after = try environmentAfter(shell: "/bin/sh", ["-c", "eval \"$1\"; env -0", "sh", script], start: caller)
        XCTAssertEqual(after, expected)
    }

    func testFishOutputSourcedByFishGivesThePlannedEnvironment() throws {
        guard let fish = ["/usr/bin/fish", "/usr/local/bin/fish"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("fish is not installed")
        }
        let script = try plan.changes(from: caller).rendered(.fish)
        let after = try environmentAfter(shell: fish, ["-c", "eval $argv[1]; env -0", script], start: caller)
        XCTAssertEqual(after, expected)
    }

    func testJSONOutputParsedAndAppliedGivesThePlannedEnvironment() throws {
        let text = try plan.changes(from: caller).rendered(.json)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        var after = caller
        for name in object["unset"] as? [String] ?? [] { after.removeValue(forKey: name) }
        for (name, value) in object["set"] as? [String: String] ?? [:] { after[name] = value }
        XCTAssertEqual(after, expected)
        XCTAssertEqual(text.filter { $0 == "\n" }.count, 1, "one line")
    }

    func testDotenvOutputParsedByPythonDotenvGivesThePlannedValues() throws {
        let text = try plan.changes(from: caller).rendered(.dotenv)
        XCTAssertTrue(text.contains("# unset AWS_PROFILE\n"))
        let parsed: [String: String]
        if let viaPython = try? parseWithPythonDotenv(text) {
            parsed = viaPython
        } else {
            parsed = Self.parseDotenv(text)
        }
        var after = caller
        for name in try plan.changes(from: caller).unset { after.removeValue(forKey: name) }
        after.merge(parsed) { $1 }
        XCTAssertEqual(after, expected)
    }

    func testGitHubOutputUsesHeredocsAndMasksOnlySecrets() throws {
        let changes = try plan.changes(from: caller)
        let text = changes.rendered(.github, delimiter: "ghadelimiter_test")
        var parsed: [String: String] = [:]
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)[...]
        while let header = lines.popFirst(), !header.isEmpty {
            let parts = header.components(separatedBy: "<<")
            XCTAssertEqual(parts.count, 2, String(header))
            var value: [Substring] = []
            while let line = lines.popFirst(), line != Substring(parts[1]) { value.append(line) }
            parsed[parts[0]] = value.joined(separator: "\n")
        }
        XCTAssertEqual(parsed["WEIRD"], Self.awkward)
        XCTAssertEqual(parsed["AWS_PROFILE"], "", "GitHub cannot unset: the variable is emptied")
        XCTAssertEqual(changes.githubMasks, "::add-mask::0123abcd\n::add-mask::\(Self.awkward)\n")
    }

    func testChangesNameOnlyWhatDiffers() throws {
        let changes = try plan.changes(from: caller)
        XCTAssertEqual(changes.unset, ["AWS_ACCESS_KEY_ID", "AWS_PROFILE"])
        XCTAssertFalse(changes.set.contains { $0.name == "PATH" || $0.name == "GIT_CONFIG_KEY_0" })
        XCTAssertEqual(changes.set.filter(\.secret).map(\.name), ["AWS_CONTAINER_AUTHORIZATION_TOKEN", "WEIRD"])
    }

    // MARK: Helpers

    /// Runs a shell with exactly `start` as its environment; returns what `env -0` then prints.
    func environmentAfter(shell: String, _ arguments: [String], start: [String: String]) throws -> [String: String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: shell)
        process.arguments = arguments
        process.environment = start
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        var env: [String: String] = [:]
        for entry in data.split(separator: 0) {
            let text = String(decoding: entry, as: UTF8.self)
            guard let eq = text.firstIndex(of: "=") else { continue }
            env[String(text[..<eq])] = String(text[text.index(after: eq)...])
        }
        // What the shell adds on its own, not the plan's business.
        for name in ["PWD", "SHLVL", "_", "OLDPWD", "USER", "LC_CTYPE"] where start[name] == nil { env.removeValue(forKey: name) }
        return env
    }

    func parseWithPythonDotenv(_ text: String) throws -> [String: String] {
        let python = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
            .map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/python3"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", "import sys, json, io, dotenv; print(json.dumps(dotenv.dotenv_values(stream=io.StringIO(sys.stdin.read()))))"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let parsed = try JSONSerialization.jsonObject(with: data) as? [String: String] else {
            throw XCTSkip("python-dotenv is not installed")
        }
        return parsed
    }

    /// The dotenv rules we write to: single quotes literal; double quotes with \\ and \" escapes.
    static func parseDotenv(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            let name = String(line[..<eq])
            var raw = line[line.index(after: eq)...]
            if raw.first == "'" {
                out[name] = String(raw.dropFirst().dropLast())
            } else {
                raw = raw.dropFirst().dropLast()
                var value = ""
                var escaped = false
                for c in raw {
                    if escaped { value.append(c); escaped = false } else if c == "\\" { escaped = true } else { value.append(c) }
                }
                out[name] = value
            }
        }
        return out
    }
}
