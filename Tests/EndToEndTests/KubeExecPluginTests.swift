// kube-credential-broker under real kubectl against a fake EKS API server that checks tokens as aws-iam-authenticator does.

import Foundation
import XCTest

final class KubeExecPluginTests: ContainersTestCase {
    static let identities = """
        [identity "eks"]
            kind = aws/eks
            via = identity:deployer
            cluster = test-cluster
            region = us-east-1
        [identity "eks-outsider"]
            kind = aws/eks
            via = identity:outsider
            cluster = test-cluster
            region = us-east-1
        [identity "eks-other-cluster"]
            kind = aws/eks
            via = identity:deployer
            cluster = another-cluster
            region = us-east-1
        """

    func kubeconfig(_ sandbox: Sandbox, identity: String, version: String) -> String {
        sandbox.write("kubeconfig-\(identity)-\(version)", """
            apiVersion: v1
            kind: Config
            clusters:
            - name: fake-eks
              cluster:
                server: \(bed["api_server"])
                certificate-authority-data: \(bed["ca_data"])
            users:
            - name: broker
              user:
                exec:
                  apiVersion: client.authentication.k8s.io/\(version)
                  command: \(Sandbox.executable("kube-credential-broker"))
                  args: ["--identity", "\(identity)"]
                  interactiveMode: Never
            contexts:
            - name: fake-eks
              context: {cluster: fake-eks, user: broker}
            current-context: fake-eks

            """)
    }

    func kubectl(_ sandbox: Sandbox, _ arguments: [String], identity: String = "eks", version: String = "v1") -> ProcessResult {
        sandbox.run("/usr/bin/kubectl", ["--kubeconfig", kubeconfig(sandbox, identity: identity, version: version)] + arguments, timeout: 60)
    }

    func testKubectlGetPodsAndVersionThroughTheExecPluginWithAChainedRoleInV1AndV1beta1() {
        let sandbox = sandbox(Self.identities)
        for version in ["v1", "v1beta1"] {
            let pods = kubectl(sandbox, ["get", "pods"], version: version)
            XCTAssertEqual(pods.status, 0, "\(version): \(pods.stderr)")
            XCTAssertTrue(pods.stdout.contains("hello-deployer"), "\(version): \(pods.stdout)")
            let server = kubectl(sandbox, ["version"], version: version)
            XCTAssertEqual(server.status, 0, "\(version): \(server.stderr)")
            XCTAssertTrue(server.stdout.contains("Server Version: v1.32.0-fake-eks"), "\(version): \(server.stdout)")
        }
    }

    func testARoleNotInTheMappingIsUnauthorized() {
        let sandbox = sandbox(Self.identities)
        let result = kubectl(sandbox, ["get", "pods"], identity: "eks-outsider")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("Unauthorized") || result.stderr.contains("provide credentials"), result.stderr)
        XCTAssertTrue((bed.apiStats()["rejected"] as? [String] ?? []).contains { $0.contains("role/outsider is not mapped") }, "\(bed.apiStats())")
    }

    func testATokenSignedForAnotherClusterFailsTheSignatureCheck() {
        let sandbox = sandbox(Self.identities)
        let result = kubectl(sandbox, ["get", "pods"], identity: "eks-other-cluster")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue((bed.apiStats()["rejected"] as? [String] ?? []).contains("SignatureDoesNotMatch"), "\(bed.apiStats())")
    }

    /// What client-go reads: the version it asked for, and an expiry 14 minutes after the token's
    /// X-Amz-Date — never later.
    func testTheExecCredentialExpiresFourteenMinutesAfterSigning() throws {
        let sandbox = sandbox(Self.identities)
        let info = #"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#
        let result = sandbox.broker("kube-credential-broker", ["--identity", "eks"], extraEnvironment: ["KUBERNETES_EXEC_INFO": info])
        XCTAssertEqual(result.status, 0, result.stderr)
        let document = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(document["apiVersion"] as? String, "client.authentication.k8s.io/v1")
        XCTAssertEqual(document["kind"] as? String, "ExecCredential")
        let status = try XCTUnwrap(document["status"] as? [String: Any])
        let token = try XCTUnwrap(status["token"] as? String)
        var body = String(token.dropFirst("k8s-aws-v1.".count)).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while body.count % 4 != 0 { body += "=" }
        let url = try XCTUnwrap(URLComponents(string: String(decoding: try XCTUnwrap(Data(base64Encoded: body)), as: UTF8.self)))
        let signed = try XCTUnwrap(url.queryItems?.first { $0.name == "X-Amz-Date" }?.value)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let iso = ISO8601DateFormatter()
        let expiry = try XCTUnwrap(iso.date(from: try XCTUnwrap(status["expirationTimestamp"] as? String)))
        XCTAssertEqual(expiry.timeIntervalSince(try XCTUnwrap(formatter.date(from: signed))), 14 * 60)
        XCTAssertGreaterThan(expiry.timeIntervalSinceNow, 5 * 60)
    }

    /// Presigning is local: twenty kubectl processes cost one role assumption (the base chain)
    /// and no STS call of our own; every token they sent is the one presigned URL.
    func testTwentyConcurrentKubectlCallsMakeOnePresignAndNoUpstreamCallBeyondTheChain() {
        let sandbox = sandbox(Self.identities)
        let config = kubeconfig(sandbox, identity: "eks", version: "v1")
        bed.resetCounts()
        let before = (bed.apiStats()["amz_dates"] as? [String] ?? []).count
        XCTAssertEqual(sandbox.broker("brokerctl", ["status"]).status, 0)
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 20) { index in
            let cache = sandbox.root + "/kube-cache-\(index)"
            let result = sandbox.run("/usr/bin/kubectl", ["--kubeconfig", config, "get", "pods"], extraEnvironment: ["KUBECACHEDIR": cache], timeout: 90)
            if result.status != 0 || !result.stdout.contains("hello-deployer") { failures.mutate { $0.append(result.stderr) } }
        }
        XCTAssertEqual(failures.value, [])
        let counts = bed.counts()
        XCTAssertEqual(counts["sts:AssumeRole"], 1, "\(counts)")
        XCTAssertNil(counts["sts:GetCallerIdentity"], "\(counts)")
        let dates = (bed.apiStats()["amz_dates"] as? [String] ?? []).dropFirst(before)
        XCTAssertGreaterThanOrEqual(dates.count, 20)
        XCTAssertEqual(Set(dates).count, 1, "one presigned token for the window: \(Set(dates))")
    }

    /// `brokerctl kube-setup` has kubectl write the user (keeping the cluster and context), and
    /// kubectl then authenticates through the plugin.
    func testKubeSetupWritesAnExecUserThatKubectlUses() {
        let sandbox = sandbox(Self.identities)
        let kubeconfig = sandbox.write("kubeconfig-setup", """
            apiVersion: v1
            kind: Config
            clusters:
            - name: fake-eks
              cluster:
                server: \(bed["api_server"])
                certificate-authority-data: \(bed["ca_data"])
            contexts:
            - name: fake-eks
              context: {cluster: fake-eks, user: eks}
            current-context: fake-eks

            """)
        let printed = sandbox.broker("brokerctl", ["kube-setup", "--identity", "eks", "--kubeconfig", kubeconfig, "--print"])
        XCTAssertEqual(printed.status, 0, printed.stderr)
        XCTAssertTrue(printed.stdout.hasPrefix("kubectl --kubeconfig=\(kubeconfig) config set-credentials eks "), printed.stdout)
        let setup = sandbox.broker("brokerctl", ["kube-setup", "--identity", "eks", "--kubeconfig", kubeconfig])
        XCTAssertEqual(setup.status, 0, setup.stderr)
        let text = sandbox.read(kubeconfig)
        XCTAssertTrue(text.contains("kube-credential-broker") && text.contains("interactiveMode: Never") && text.contains("fake-eks"), text)
        XCTAssertFalse(text.contains("k8s-aws-v1"), "no token in the kubeconfig")
        let pods = sandbox.run("/usr/bin/kubectl", ["--kubeconfig", kubeconfig, "get", "pods"], timeout: 60)
        XCTAssertEqual(pods.status, 0, pods.stderr)
        XCTAssertTrue(pods.stdout.contains("hello-deployer"), pods.stdout)
        let wrongKind = sandbox.broker("brokerctl", ["kube-setup", "--identity", "deployer", "--kubeconfig", kubeconfig])
        XCTAssertEqual(wrongKind.status, 1)
        XCTAssertTrue(wrongKind.stderr.contains("gives no bearer token"), wrongKind.stderr)
    }

    /// `--cluster` looks the cluster up in EKS (moto, signed with the role the identity chains
    /// through; moto cannot verify EKS GET signatures, see the fixture) and has kubectl write
    /// cluster, user and context into an empty kubeconfig.
    func testKubeSetupWithClusterWritesEndpointCAUserAndContextFromDescribeCluster() {
        let sandbox = sandbox(Self.identities)
        let kubeconfig = sandbox.write("kubeconfig-from-eks", "")
        // The role comes from STS with checks on; only moto's EKS GET needs them off.
        XCTAssertEqual(sandbox.broker("aws-credential-process", ["--identity", "deployer"]).status, 0)
        bed.setAuthentication(false)
        defer { bed.setAuthentication(true) }
        bed.resetCounts()
        let setup = sandbox.broker("brokerctl", ["kube-setup", "--identity", "eks", "--cluster", "--kubeconfig", kubeconfig])
        XCTAssertEqual(setup.status, 0, setup.stderr)
        XCTAssertEqual(bed.counts()["eks:GET /clusters/test-cluster"], 1, "\(bed.counts())")
        let view = sandbox.run("/usr/bin/kubectl", ["--kubeconfig", kubeconfig, "config", "view", "--raw", "--context", "test-cluster", "--minify",
                                                    "-o", "jsonpath={.clusters[0].cluster.server} {.clusters[0].cluster.certificate-authority-data} {.users[0].user.exec.args}"])
        XCTAssertEqual(view.status, 0, view.stderr)
        XCTAssertEqual(view.stdout, "\(bed["eks_endpoint"]) \(bed["eks_ca"]) [\"--identity\",\"eks\"]")
        let outsider = sandbox.broker("brokerctl", ["kube-setup", "--identity", "eks-other-cluster", "--cluster", "--kubeconfig", kubeconfig])
        XCTAssertEqual(outsider.status, 1)
        XCTAssertTrue(outsider.stderr.contains("eks DescribeCluster another-cluster") && outsider.stderr.contains("404"), outsider.stderr)
    }

    func testThePluginNeverPromptsAndFailsWithOneLineOnStderr() {
        let sandbox = sandbox(Self.identities)
        let result = sandbox.broker("kube-credential-broker", ["--identity", "nope"],
                                    extraEnvironment: ["KUBERNETES_EXEC_INFO": #"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":true}}"#])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, result.stderr)
        XCTAssertTrue(result.stderr.hasPrefix("kube-credential-broker: identity \"nope\" is not defined"), result.stderr)
        let static_ = sandbox.broker("kube-credential-broker", ["--identity", "deployer"])
        XCTAssertEqual(static_.status, 1)
        XCTAssertTrue(static_.stderr.contains("not a bearer token"), static_.stderr)
    }
}
