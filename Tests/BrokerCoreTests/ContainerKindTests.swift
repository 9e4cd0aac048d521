// The container kinds and registry bindings: docker's server-URL normalisation, [registry] patterns, the EKS token against botocore.

@testable import BrokerCore
import BrokerWire
import Foundation
import XCTest

final class RegistryBindingTests: XCTestCase {
    func config(_ text: String) throws -> BrokerConfig {
        try BrokerConfig.parse(ConfigSyntax.parse(text: text, file: "cfg"))
    }

    /// docker's ConvertToHostname, plus case: scheme and path go, the port stays.
    func testServerURLsNormaliseAsDockerDoes() {
        let cases = [
            ("127.0.0.1:5000", "127.0.0.1:5000"),
            ("http://127.0.0.1:5000", "127.0.0.1:5000"),
            ("https://127.0.0.1:5000/v2/", "127.0.0.1:5000"),
            ("https://index.docker.io/v1/", "index.docker.io"),
            ("HTTPS://Registry.Example.COM/some/path?x=1", "registry.example.com"),
            ("registry.example.com:443", "registry.example.com:443"),
            ("  ghcr.io\n", "ghcr.io"),
            ("https://user@r.example:8443/v2", "r.example:8443"),
        ]
        for (given, expected) in cases {
            XCTAssertEqual(RegistryPattern.normalize(given), expected, given)
        }
    }

    func testWildcardsMatchWithinOneLabelAndExactBeatsWildcard() throws {
        let c = try config("""
        [identity "ecr"]
            kind = static
            username = AWS
            secret = env:X
        [identity "one"]
            kind = static
            username = u
            secret = env:Y
        [registry "*.dkr.ecr.*.amazonaws.com"]
            identity = ecr
        [registry "123456789012.dkr.ecr.eu-west-1.amazonaws.com"]
            identity = one
        [registry "127.0.0.1:5000"]
            identity = one
        """)
        XCTAssertEqual(c.registryBinding(for: "210987654321.dkr.ecr.us-east-1.amazonaws.com")?.identity, "ecr")
        XCTAssertEqual(c.registryBinding(for: "123456789012.dkr.ecr.eu-west-1.amazonaws.com")?.identity, "one")
        XCTAssertNil(c.registryBinding(for: "a.b.dkr.ecr.us-east-1.amazonaws.com"), "* spans one label only")
        XCTAssertNil(c.registryBinding(for: "127.0.0.1:5001"), "a port must match")
        XCTAssertNil(c.registryBinding(for: "127.0.0.1"))
        XCTAssertEqual(c.registryBinding(for: RegistryPattern.normalize("http://127.0.0.1:5000/v2/"))?.identity, "one")
    }

    func testARegistryNamedAsAURLIsRefusedWithItsLine() {
        XCTAssertThrowsError(try config("[identity \"a\"]\n kind = static\n username = u\n secret = env:X\n[registry \"https://r.example/v2\"]\n identity = a\n")) { error in
            let e = error as? ConfigError
            XCTAssertEqual(e?.location?.line, 6)
            XCTAssertTrue(e?.message.contains("not a URL with a scheme or path") ?? false, "\(String(describing: e))")
        }
    }

    func testARegistryBoundToAnUndefinedIdentityIsRefusedWithAGuess() {
        XCTAssertThrowsError(try config("[identity \"ecr\"]\n kind = static\n username = u\n secret = env:X\n[registry \"r.example\"]\n identity = ecx\n")) { error in
            let e = error as? ConfigError
            XCTAssertEqual(e?.location?.line, 6)
            XCTAssertEqual(e?.hint, "did you mean \"ecr\"?")
        }
        XCTAssertThrowsError(try config("[registry \"r.example\"]\n user = x\n")) { error in
            XCTAssertTrue("\(error)".contains("user"), "\(error)")
        }
        XCTAssertThrowsError(try config("[registry]\n identity = x\n")) { error in
            XCTAssertTrue((error as? ConfigError)?.message.contains("needs a name") ?? false, "\(error)")
        }
    }

    func testAnECRHostNamesItsRegion() {
        XCTAssertEqual(AWSECRIdentity.region(ofRegistry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com"), "eu-west-1")
        XCTAssertEqual(AWSECRIdentity.region(ofRegistry: "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com"), "us-gov-west-1")
        XCTAssertEqual(AWSECRIdentity.region(ofRegistry: "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn:443"), "cn-north-1")
        for other in ["ghcr.io", "127.0.0.1:5000", "12345.dkr.ecr.eu-west-1.amazonaws.com", "123456789012.dkr.ecr.eu-west-1.evil.com",
                      "123456789012.dkr.ecr.EU_WEST.amazonaws.com"] {
            XCTAssertNil(AWSECRIdentity.region(ofRegistry: other), other)
        }
    }

    func testECRRegistryIDsMustBeAccountNumbers() throws {
        let ok = try config("[identity \"u\"]\n kind = static\n username = u\n secret = env:X\n[identity \"e\"]\n kind = aws/ecr\n via = identity:u\n registry-ids = 123456789012, 210987654321\n registry-ids = 123456789012\n")
        XCTAssertEqual((ok.kinds["e"] as? AWSECRIdentity)?.registryIDs, ["123456789012", "210987654321"])
        XCTAssertThrowsError(try config("[identity \"u\"]\n kind = static\n username = u\n secret = env:X\n[identity \"e\"]\n kind = aws/ecr\n via = identity:u\n registry-ids = 1234\n")) { error in
            XCTAssertEqual((error as? ConfigError)?.location?.line, 8)
        }
        XCTAssertThrowsError(try config("[identity \"e\"]\n kind = aws/eks\n via = identity:e2\n[identity \"e2\"]\n kind = aws/eks\n cluster = x\n via = identity:e\n"))
    }
}

final class EKSTokenTests: XCTestCase {
    let keys = AWSCredentials(accessKeyID: "ASIAEXAMPLEKEY000001", secretAccessKey: Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                              sessionToken: Secret("FwoGZXIvYXdzEXAMPLE/session+token=="))

    func identity(_ extra: String = "") throws -> AWSEKSIdentity {
        let c = try BrokerConfig.parse(ConfigSyntax.parse(text: "[identity \"u\"]\n kind = static\n username = u\n secret = env:X\n[identity \"k\"]\n kind = aws/eks\n via = identity:u\n cluster = prod-cluster\n region = eu-west-1\n" + extra, file: "cfg"))
        return try XCTUnwrap(c.kinds["k"] as? AWSEKSIdentity)
    }

    func decode(_ token: String) throws -> URLComponents {
        XCTAssertTrue(token.hasPrefix("k8s-aws-v1."))
        let body = String(token.dropFirst("k8s-aws-v1.".count))
        XCTAssertFalse(body.contains("=") || body.contains("+") || body.contains("/"), "base64url without padding")
        var b64 = body.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b64.count % 4 != 0 { b64 += "=" }
        let url = String(decoding: try XCTUnwrap(Data(base64Encoded: b64)), as: UTF8.self)
        return try XCTUnwrap(URLComponents(string: url))
    }

    func testTokenIsAPresignedGetCallerIdentityThatExpiresFourteenMinutesAfterSigning() throws {
        let now: Int64 = 1_790_000_000
        let context = ResolveContext(environment: Environment([:]), clock: Clock(now: { now }))
        let upstream = Credential(aws: keys, expiresAt: now + 3600, session: .role)
        let credential = try identity().obtain(upstream: upstream, context: context)
        XCTAssertEqual(credential.expiresAt, now + 14 * 60)
        let token = try XCTUnwrap(credential.token)
        XCTAssertEqual(token.scheme, "k8s-aws-v1")
        let url = try decode(token.token.reveal())
        XCTAssertEqual(url.scheme, "https")
        XCTAssertEqual(url.host, "sts.eu-west-1.amazonaws.com")
        XCTAssertEqual(url.path, "/")
        let query = Dictionary(uniqueKeysWithValues: (url.queryItems ?? []).map { ($0.name, $0.value ?? "") })
        XCTAssertEqual(query["Action"], "GetCallerIdentity")
        XCTAssertEqual(query["X-Amz-Expires"], "60")
        XCTAssertEqual(query["X-Amz-SignedHeaders"], "host;x-k8s-aws-id")
        XCTAssertEqual(query["X-Amz-Security-Token"], keys.sessionToken?.reveal())
        XCTAssertEqual(query["X-Amz-Date"], SigV4Signer.amzDate(Date(timeIntervalSince1970: TimeInterval(now))))
    }

    func testTokenNeverOutlivesTheCredentialsThatSignedIt() throws {
        let now: Int64 = 1_790_000_000
        let context = ResolveContext(environment: Environment([:]), clock: Clock(now: { now }))
        let credential = try identity().obtain(upstream: Credential(aws: keys, expiresAt: now + 400, session: .role), context: context)
        XCTAssertEqual(credential.expiresAt, now + 400)
    }

    func testTokenNeedsAWSCredentialsFromItsVia() throws {
        let context = ResolveContext(environment: Environment([:]))
        XCTAssertThrowsError(try identity().obtain(upstream: Credential(username: "u", password: Secret("p")), context: context)) { error in
            XCTAssertTrue("\(error)".contains("needs AWS credentials"), "\(error)")
        }
    }

    /// Differential: botocore's own presigner (what `aws eks get-token` calls: generate_presigned_url
    /// for get_caller_identity, ExpiresIn 60, GET, with x-k8s-aws-id injected before signing) at the
    /// same instant, for the same keys, region, endpoint and cluster, must give the same URL byte for byte.
    func testPresignedURLMatchesBotocoreGeneratePresignedURL() throws {
        guard let python = findExecutable(named: "python3") else { return XCTFail("python3 not found on PATH") }
        let script = """
        import datetime, json, sys
        import botocore.auth, botocore.session
        case = json.loads(sys.argv[1])
        botocore.auth.get_current_datetime = lambda *a, **k: datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=case["epoch"])
        session = botocore.session.get_session()
        client = session.create_client("sts", region_name=case["region"], endpoint_url=case["endpoint"],
                                       aws_access_key_id=case["akid"], aws_secret_access_key=case["secret"],
                                       aws_session_token=case["token"])
        def provide(params, context, **kw):
            if "x-k8s-aws-id" in params: context["x-k8s-aws-id"] = params.pop("x-k8s-aws-id")
        def inject(request, **kw):
            if "x-k8s-aws-id" in request.context: request.headers["x-k8s-aws-id"] = request.context["x-k8s-aws-id"]
        client.meta.events.register("provide-client-params.sts.GetCallerIdentity", provide)
        client.meta.events.register("before-sign.sts.GetCallerIdentity", inject)
        print(client.generate_presigned_url("get_caller_identity", Params={"x-k8s-aws-id": case["cluster"]}, ExpiresIn=60, HttpMethod="GET"))
        """
        let cases: [(String, String?, String, Int64, Bool)] = [
            ("eu-west-1", nil, "prod-cluster", 1_790_000_000, true),
            ("us-east-1", "http://127.0.0.1:4566", "a.b_c-d", 1_700_000_123, true),
            ("ap-southeast-2", nil, "x", 1_600_000_999, false),
        ]
        for (region, endpointURL, cluster, epoch, withToken) in cases {
            let keys = withToken ? self.keys : AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"))
            let endpoint = STSEndpoint(url: endpointURL ?? STSEndpoint.regionalURL(region), region: region)
            let ours = try AWSEKSIdentity.presignedURL(cluster: cluster, endpoint: endpoint, keys: keys, at: epoch).reveal()
            let input: [String: Any] = ["region": region, "endpoint": endpoint.url, "cluster": cluster, "epoch": epoch,
                                        "akid": keys.accessKeyID, "secret": keys.secretAccessKey.reveal(),
                                        "token": keys.sessionToken?.reveal() ?? NSNull()]
            let json = String(decoding: try JSONSerialization.data(withJSONObject: input), as: UTF8.self)
            let result = try runPeer(python, arguments: ["-c", script, json])
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertEqual(ours, result.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "\(region) \(cluster)")
        }
    }
}

/// Through the resolver with a moving clock: a cluster token is served while it has the
/// requested 5 minutes left and replaced after, so no token is ever handed out past 14 minutes.
final class EKSTokenRefreshTests: XCTestCase {
    func testATokenIsReplacedOnceFewerThanTheRequestedSecondsRemain() throws {
        let directory = NSTemporaryDirectory() + "eks-refresh-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let now = Locked(Int64(1_790_000_000))
        let clock = Clock(now: { now.value })
        let context = ResolveContext(environment: Environment(["AWS_SECRET": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"]), clock: clock)
        let resolver = ChainResolver(cache: CredentialCache(directory: directory, log: { _ in }), context: context)
        let config = try BrokerConfig.parse(ConfigSyntax.parse(text: """
            [identity "keys"]
                kind = aws/user
                access-key-id = AKIDEXAMPLE
                secret-access-key = env:AWS_SECRET
            [identity "eks"]
                kind = aws/eks
                via = identity:keys
                cluster = prod
                region = eu-west-1
            """, file: "cfg"))
        func token() throws -> (String, Int64?) {
            let resolution = try resolver.resolve("eks", in: config, minimumValidity: 300, refreshAhead: 0)
            return (try XCTUnwrap(resolution.credential.token).token.reveal(), resolution.credential.expiresAt)
        }
        let (first, firstExpiry) = try token()
        XCTAssertEqual(firstExpiry, now.value + 840)
        now.set(now.value + 540)  // exactly 300 s left: still served
        XCTAssertEqual(try token().0, first)
        now.set(now.value + 1)  // 299 s left: a new token, signed now
        let (second, secondExpiry) = try token()
        XCTAssertNotEqual(second, first)
        XCTAssertEqual(secondExpiry, now.value + 840)
    }
}

final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.lock(); defer { lock.unlock() }; return stored }
    func set(_ value: Value) { lock.lock(); stored = value; lock.unlock() }
}
