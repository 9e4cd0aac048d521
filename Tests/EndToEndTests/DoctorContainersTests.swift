// brokerctl doctor and the container hosts: a registry bound by name must reach
// docker-credential-broker through docker's config, and an aws/eks identity needs a kubeconfig user
// whose exec plugin asks for it — checked with real kubectl, fixed by docker-setup and kube-setup.

import Foundation
import XCTest

final class DoctorContainersTests: XCTestCase {
    func testDoctorSaysWhatDockerAndKubectlLackAndTheSetupCommandsFixIt() throws {
        let sandbox = Sandbox()
        defer { sandbox.stopAgent() }
        sandbox.environment["DOCKER_CONFIG"] = sandbox.root + "/docker"
        sandbox.environment["KUBECONFIG"] = sandbox.root + "/kubeconfig"
        sandbox.environment["PATH"] = Sandbox.binDirectory + ":" + (sandbox.environment["PATH"] ?? "/usr/bin:/bin")
        let secret = sandbox.write("secrets/reg", "registry-password\n")
        let awsSecret = sandbox.write("secrets/aws", "aws-secret\n")
        sandbox.writeConfig("""
            [identity "reg"]
                kind = static
                username = robot
                secret = file:\(secret)
            [registry "reg.example:5000"]
                identity = reg
            [registry "*.dkr.ecr.*.amazonaws.com"]
                identity = reg
            [identity "base"]
                kind = aws/user
                access-key-id = AKIAEXAMPLEEXAMPLE00
                secret-access-key = file:\(awsSecret)
            [identity "prod"]
                kind = aws/eks
                via = identity:base
                cluster = prod
                region = us-east-1
            """)
        func doctor() -> [String] {
            sandbox.broker("brokerctl", ["doctor", "--offline"]).stdout.split(separator: "\n").map(String.init)
        }
        var lines = doctor()
        XCTAssertTrue(lines.contains("warn  docker: reg.example:5000 is bound to identity \"reg\", but \(sandbox.root)/docker/config.json does not send it to docker-credential-broker (fix: brokerctl docker-setup)"), lines.joined(separator: "\n"))
        XCTAssertFalse(lines.contains { $0.contains("dkr.ecr") }, "a pattern cannot be a credHelpers key, so it is not checked: \(lines)")
        XCTAssertTrue(lines.contains("warn  kube: no kubeconfig user runs kube-credential-broker --identity prod (fix: brokerctl kube-setup --identity prod --cluster)"), lines.joined(separator: "\n"))

        XCTAssertEqual(sandbox.broker("brokerctl", ["docker-setup"]).status, 0)
        let kube = sandbox.broker("brokerctl", ["kube-setup", "--identity", "prod"])
        XCTAssertEqual(kube.status, 0, kube.stderr)
        lines = doctor()
        XCTAssertTrue(lines.contains("ok    docker: reg.example:5000 asks docker-credential-broker (\(sandbox.root)/docker/config.json)"), lines.joined(separator: "\n"))
        XCTAssertTrue(lines.contains { $0.hasPrefix("ok    kube: user prod runs ") && $0.hasSuffix("kube-credential-broker --identity prod") }, lines.joined(separator: "\n"))

        // A plugin moved away: the user still names it, and doctor says so.
        let moved = sandbox.run(pathOf("kubectl"), ["config", "set-credentials", "prod", "--exec-command=/nonexistent/kube-credential-broker",
                                                            "--exec-arg=--identity", "--exec-arg=prod"])
        XCTAssertEqual(moved.status, 0, moved.stderr)
        lines = doctor()
        XCTAssertTrue(lines.contains("fail  kube: user prod runs /nonexistent/kube-credential-broker, which cannot be found (fix: brokerctl kube-setup --identity prod (it writes kube-credential-broker's path))"), lines.joined(separator: "\n"))
        XCTAssertFalse(lines.joined().contains("registry-password"))
    }
}
