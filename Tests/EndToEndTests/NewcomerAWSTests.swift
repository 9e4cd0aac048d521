// A newcomer's setup against moto: doctor on a healthy installation (all ok), doctor's clock check
// under a stepped clock, and broker-env-wrap asking for an MFA code on a terminal (never elsewhere).

import BrokerWire
import Foundation
import XCTest

final class NewcomerAWSTests: MotoTestCase {
    /// Everything set up as install.sh, git-setup and the README would: programs on PATH, git's
    /// helper and useHttpPath, a credential_process profile, private secrets, a reachable STS.
    func healthySandbox() -> Sandbox {
        let sandbox = Sandbox()
        sandbox.environment["PATH"] = Sandbox.binDirectory + ":" + (sandbox.environment["PATH"] ?? "/usr/bin:/bin")
        let token = sandbox.write("secrets/token", "CANARY-healthy-token\n")
        let secret = sandbox.write("secrets/dev", moto.secretAccessKey + "\n")
        sandbox.writeConfig("""
            [identity "bot"]
                kind = static
                username = x-access-token
                secret = file:\(token)
            [identity "dev"]
                kind = aws/user
                access-key-id = \(moto.accessKeyID)
                secret-access-key = file:\(secret)
                sts-endpoint = \(moto.endpoint)
                long-lived-keys = true
            [git "https://git.example.com/acme"]
                identity = bot
            """)
        sandbox.gitConfigGlobal("credential.helper", Sandbox.executable("git-credential-broker"))
        sandbox.gitConfigGlobal("credential.https://git.example.com.useHttpPath", "true")
        sandbox.write("home/.aws/config", "[profile dev]\ncredential_process = aws-credential-process --identity dev\n")
        return sandbox
    }

    func testDoctorOnAHealthySetupIsAllOk() throws {
        let sandbox = healthySandbox()
        let aws = sandbox.run("/usr/bin/env", ["aws-credential-process", "--identity", "dev"])  // starts the agent
        XCTAssertEqual(aws.status, 0, aws.stderr)
        let result = sandbox.broker("brokerctl", ["doctor"])
        XCTAssertEqual(result.status, 0, result.stdout)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.dropLast().allSatisfy { $0.hasPrefix("ok    ") }, result.stdout)
        for expected in [
            "ok    git: credential.helper = \(Sandbox.executable("git-credential-broker")) runs ",
            "ok    git: credential.useHttpPath is on for https://git.example.com",
            "ok    aws: [profile dev] credential_process (\(sandbox.root)/home/.aws/config:2) runs ",
            "ok    agent: broker-agent pid \(sandbox.agentPID ?? 0), version ",
            "ok    secret: identity \"bot\" file:\(sandbox.root)/secrets/token: exists, yours, private, not empty",
            "ok    upstream: AWS STS \(moto.endpoint) (\"dev\"): answered HTTP ",
            "ok    clock: within ",
            "ok    cache: ", "ok    audit: ",
        ] {
            XCTAssertTrue(lines.contains { $0.hasPrefix(expected) }, "missing \(expected) in\n\(result.stdout)")
        }
        XCTAssertTrue(lines.last?.hasSuffix(" ok, 0 warnings, 0 failures") == true, result.stdout)
        XCTAssertFalse(result.stdout.contains("CANARY") || result.stdout.contains(moto.secretAccessKey))
        // Nothing secret went upstream: the probe was one unsigned GET.
        let probes = moto.requests().filter { $0["method"] as? String == "GET" }
        XCTAssertFalse(probes.contains { ($0["authorization"] as? String)?.isEmpty == false }, "\(probes)")
    }

    func testDoctorFailsAClockFiveMinutesOffTheUpstreams() throws {
        let sandbox = healthySandbox()
        guard let clock = FakeWallClock(sandbox) else { return }
        clock.step("+10m")
        let result = clock.run("brokerctl", ["doctor"])
        XCTAssertEqual(result.status, 1, result.stdout + result.stderr)
        XCTAssertTrue(result.stdout.range(of: #"fail  clock: this machine's clock is (59\d|60\d) s ahead of AWS STS \S+; signed requests are refused beyond 5 minutes \(fix: sync the clock"#,
                                          options: .regularExpression) != nil, result.stdout)
    }

    func testTraceOfAWSAdaptersNamesKeysButNeverShowsThem() throws {
        let sandbox = healthySandbox()
        sandbox.environment["BROKER_TRACE"] = "1"
        let aws = sandbox.broker("aws-credential-process", ["--identity", "dev"])
        XCTAssertEqual(aws.status, 0, aws.stderr)
        XCTAssertTrue(aws.stderr.contains("trace: aws-credential-process: sent op=aws.credentials adapter=aws identity=dev\n"), aws.stderr)
        XCTAssertTrue(aws.stderr.contains("trace: aws-credential-process: received status=ok tier=upstream (withheld: access_key_id, secret_access_key)\n"), aws.stderr)
        let wrap = sandbox.broker("broker-env-wrap", ["--identity", "dev", "--delivery", "env", "--print"])
        XCTAssertEqual(wrap.status, 0, wrap.stderr)
        XCTAssertTrue(wrap.stderr.contains("trace: broker-env-wrap: sent op=env.plan adapter=env-wrap identity[]=dev delivery=env pid="), wrap.stderr)
        XCTAssertTrue(wrap.stderr.contains("trace: broker-env-wrap: received status=ok"), wrap.stderr)
        for stderr in [aws.stderr, wrap.stderr] {
            XCTAssertFalse(stderr.contains(moto.secretAccessKey), "the secret key leaked into the trace: \(stderr)")
            XCTAssertFalse(stderr.contains(moto.accessKeyID), "the access key id is withheld too: \(stderr)")
        }
        XCTAssertTrue(wrap.stdout.contains(moto.secretAccessKey), "the plan itself is the delivery")
    }

    func mfaSandbox() -> Sandbox {
        let sandbox = Sandbox()
        let secret = sandbox.write("secrets/dev", moto.secretAccessKey + "\n")
        sandbox.writeConfig("""
            [identity "mfa"]
                kind = aws/user
                access-key-id = \(moto.accessKeyID)
                secret-access-key = file:\(secret)
                mfa-serial = arn:aws:iam::\(moto.account):mfa/dev
                sts-endpoint = \(moto.endpoint)
            """)
        return sandbox
    }

    func testEnvWrapOnATerminalAsksForTheMFACodeAndRunsTheCommand() {
        let sandbox = mfaSandbox()
        moto.resetCounts()
        let run = sandbox.onTerminal(Sandbox.executable("broker-env-wrap"),
                                     ["--identity", "mfa", "--delivery", "env", "--", "/bin/sh", "-c", "test -n \"$AWS_SESSION_TOKEN\" && echo wrapped"],
                                     ttyStdin: true, replies: [("(identity \"mfa\"): ", "123456\n")])
        XCTAssertEqual(run.status, 0, run.tty)
        XCTAssertEqual(run.stdout, "wrapped\n")
        XCTAssertTrue(run.tty.hasPrefix("MFA code for arn:aws:iam::\(moto.account):mfa/dev (identity \"mfa\"): "), run.tty)
        XCTAssertEqual(moto.counts()["GetSessionToken"], 1)
        // The session is cached: the next wrap asks nothing.
        let again = sandbox.onTerminal(Sandbox.executable("broker-env-wrap"), ["--identity", "mfa", "--delivery", "env", "--", "/bin/echo", "again"], ttyStdin: true)
        XCTAssertEqual(again.stdout, "again\n")
        XCTAssertEqual(again.tty, "")
        XCTAssertEqual(moto.counts()["GetSessionToken"], 1)
    }

    func testEnvWrapRefusesACodeThatIsNotDigitsAndRunsNothing() {
        let sandbox = mfaSandbox()
        moto.resetCounts()
        let run = sandbox.onTerminal(Sandbox.executable("broker-env-wrap"), ["--identity", "mfa", "--", "/bin/echo", "ran"],
                                     ttyStdin: true, replies: [("(identity \"mfa\"): ", "abc\n")])
        XCTAssertEqual(run.status, 1, run.tty)
        XCTAssertEqual(run.stdout, "")
        XCTAssertTrue(run.tty.contains("broker-env-wrap: an MFA code is the digits your device shows"), run.tty)
        XCTAssertNil(moto.counts()["GetSessionToken"])
    }

    func testAdaptersNeverPromptEvenOnATerminal() {
        let sandbox = mfaSandbox()
        // broker-env-wrap without a terminal on stdin: the error with its brokerctl login hint.
        let piped = sandbox.broker("broker-env-wrap", ["--identity", "mfa", "--", "/bin/true"])
        XCTAssertEqual(piped.status, 1)
        XCTAssertTrue(piped.stderr.contains("needs an MFA code") && piped.stderr.contains("run: brokerctl login mfa"), piped.stderr)
        // credential_process and git's helper never ask, even with a terminal at hand.
        let aws = sandbox.onTerminal(Sandbox.executable("aws-credential-process"), ["--identity", "mfa"], ttyStdin: true)
        XCTAssertEqual(aws.status, 1)
        XCTAssertFalse(aws.tty.contains("(identity \"mfa\"): "), "a prompt: \(aws.tty)")
        XCTAssertTrue(aws.tty.contains("run: brokerctl login mfa"), aws.tty)
    }
}
