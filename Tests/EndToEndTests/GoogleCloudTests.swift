// Google Cloud kinds and the emulated GCE metadata server, against real google-auth and gcloud and
// the strict Google fakes (Fixtures/google_fake.py).

import BrokerWire
import Foundation
import XCTest

/// The Google fakes: OAuth2 token endpoint, STS, IAM Credentials and a Cloud Storage bucket list.
final class GoogleFake {
    let process = Process()
    private let stdin = Pipe()
    let info: [String: Any]

    init(directory: String, lifetime: Int = 3600, extra: [String] = []) throws {
        process.executableURL = URL(fileURLWithPath: MotoServer.python)
        process.arguments = [URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/google_fake.py").path,
                             directory, "--lifetime", String(lifetime)] + extra
        let out = Pipe()
        process.standardOutput = out
        process.standardInput = stdin
        process.standardError = FileHandle.nullDevice
        try process.run()
        let line = FixtureOutput.firstLine(out.fileHandleForReading.fileDescriptor, within: 20)
        guard let info = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
            process.terminate()
            throw NSError(domain: "google_fake.py did not start", code: 1)
        }
        self.info = info
    }

    subscript(key: String) -> String { info[key] as? String ?? "" }
    var endpoint: String { self["endpoint"] }

    var stats: [String: Any] {
        let data = (try? Data(contentsOf: URL(string: endpoint + "/__stats")!)) ?? Data()
        return ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any]) ?? [:]
    }

    func minted(_ grant: String) -> Int { (stats["minted"] as? [String: Int])?[grant] ?? 0 }
    var listed: [String] { stats["listed"] as? [String] ?? [] }

    deinit {
        try? stdin.fileHandleForWriting.close()
        process.terminate()
    }
}

/// google-auth's own discovery (`google.auth.default()`), then a bucket list with the credentials it found.
let googleAuthListing = """
    import google.auth, google.auth.transport.requests as tr, os, sys
    creds, project = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    session = tr.AuthorizedSession(creds)
    r = session.get(os.environ["FAKE_STORAGE"] + "/storage/v1/b", params={"project": project})
    print(type(creds).__module__, project, getattr(creds, "service_account_email", "-"), r.status_code,
          ",".join(b["name"] for b in r.json().get("items", [])))
    """

class GoogleCloudTestCase: MotoTestCase {
    /// moto mis-verifies a correctly signed POST whose parameters are all in its query (what
    /// google-auth signs for GetCallerIdentity): Fixtures/moto-raw-query hands its verifier the
    /// empty body as sent. On PYTHONPATH only while this class's moto starts.
    override class func setUp() {
        let patch = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/moto-raw-query").path
        let previous = getenv("PYTHONPATH").map { String(cString: $0) }
        setenv("PYTHONPATH", patch + (previous.map { ":" + $0 } ?? ""), 1)
        defer { if let previous { setenv("PYTHONPATH", previous, 1) } else { unsetenv("PYTHONPATH") } }
        super.setUp()
    }

    /// A sandbox with the fake's files, its own gcloud configuration, and `config` appended.
    func googleSandbox(_ fake: inout GoogleFake?, lifetime: Int = 3600, extra: [String] = [], config: (GoogleFake) -> String) throws -> Sandbox {
        let sandbox = Sandbox()
        let directory = sandbox.root + "/google"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let started = try GoogleFake(directory: directory, lifetime: lifetime, extra: extra)
        fake = started
        sandbox.environment["CLOUDSDK_CONFIG"] = sandbox.root + "/gcloud"
        sandbox.environment["FAKE_STORAGE"] = started.endpoint
        sandbox.writeConfig(config(started))
        return sandbox
    }

    func keyIdentity(_ fake: GoogleFake, name: String = "gcp", extra: String = "") -> String {
        """
        [identity "\(name)"]
            kind = gcp/service-account-key
            key = file:\(fake["key"])
            project = fake-project
        \(extra)
        """
    }

    /// A person's ADC login (`authorized_user`), identity "adc".
    func userADCIdentity(_ fake: GoogleFake) -> String {
        """
        [identity "adc"]
            kind = gcp/adc
            file = \(fake["adc"])
            token-uri = \(fake["token_uri"])
            project = fake-project

        """
    }

    func wrapped(_ sandbox: Sandbox, _ identity: String, _ arguments: [String], timeout: TimeInterval = 60) -> ProcessResult {
        sandbox.run(Sandbox.executable("broker-env-wrap"), ["--identity", identity, "--"] + arguments, timeout: timeout)
    }
}

final class GoogleCloudTests: GoogleCloudTestCase {
    func testGoogleAuthDefaultFindsTheMetadataEmulationAndListsTheBucket() throws {
        var fake: GoogleFake?
        let sandbox = try googleSandbox(&fake) { self.keyIdentity($0) }
        defer { AgentProcessKit.stopAgents(sandbox) }
        let result = wrapped(sandbox, "gcp", [MotoServer.python, "-c", googleAuthListing])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "google.auth.compute_engine.credentials fake-project caller@fake-project.iam.gserviceaccount.com 200 fake-bucket\n")
        XCTAssertEqual(fake?.minted("jwt-bearer"), 1, "one JWT-bearer grant, answered from the cache afterwards")
        XCTAssertEqual(fake?.listed, ["caller@fake-project.iam.gserviceaccount.com"])
    }

    /// gcloud takes the metadata route (it sees GCE through numeric-project-id): no token file needed.
    func testGcloudListsTheBucketThroughTheMetadataEmulation() throws {
        var fake: GoogleFake?
        let sandbox = try googleSandbox(&fake) { self.keyIdentity($0) }
        defer { AgentProcessKit.stopAgents(sandbox) }
        let result = wrapped(sandbox, "gcp", ["/bin/sh", "-c", """
            test -z "$CLOUDSDK_AUTH_ACCESS_TOKEN_FILE" || exit 9
            gcloud auth list --format='value(account)' && \
            CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE="$FAKE_STORAGE/" gcloud storage buckets list --format='value(name)'
            """], timeout: 120)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "caller@fake-project.iam.gserviceaccount.com\nfake-bucket\n")
        XCTAssertEqual(fake?.listed, ["caller@fake-project.iam.gserviceaccount.com"])
    }

    /// The port is no secret; the path segment is. Without it, with another, or without
    /// Metadata-Flavor, nothing is answered; a proxy relaying (X-Forwarded-For) is refused too.
    func testOtherLocalProcessesCannotUseTheMetadataEndpoint() throws {
        var fake: GoogleFake?
        let sandbox = try googleSandbox(&fake) { self.keyIdentity($0) }
        defer { AgentProcessKit.stopAgents(sandbox) }
        let script = """
            import os, urllib.request, urllib.error
            host = os.environ["GCE_METADATA_HOST"]
            port_part, secret = host.split("/", 1)
            path = "/computeMetadata/v1/instance/service-accounts/default/token"
            def ask(url, headers):
                try:
                    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
                        return r.status
                except urllib.error.HTTPError as e:
                    return e.code
            flavor = {"Metadata-Flavor": "Google"}
            print(ask("http://" + port_part + path, flavor), ask("http://" + port_part + "/" + "0" * len(secret) + path, flavor),
                  ask("http://" + host + path, {}), ask("http://" + host + path, dict(flavor, **{"X-Forwarded-For": "10.0.0.1"})),
                  ask("http://" + host + path, flavor))
            """
        let result = wrapped(sandbox, "gcp", [MotoServer.python, "-c", script])
        XCTAssertEqual(result.status, 0, result.stderr)
        // No secret: no route (404); a wrong one, no flavor, or a proxy: 403.
        XCTAssertEqual(result.stdout, "404 403 403 403 200\n")
        XCTAssertEqual(fake?.minted("jwt-bearer"), 1, "only the last request was answered")
        let log = sandbox.read(sandbox.paths.agentLogPath) + sandbox.read(sandbox.paths.auditLogPath)
        XCTAssertFalse(log.contains("ya29.fake-"), "tokens are never logged")
    }

    /// The fake mints tokens that live 62 s; the broker hands out none with less than 60 s left,
    /// so every request a second later gets a new one, and google-auth (which refreshes 3m45s
    /// ahead) asks the metadata server each time: every listing works.
    func testShortLivedTokensAreRefreshedDuringARun() throws {
        var fake: GoogleFake?
        let sandbox = try googleSandbox(&fake, lifetime: 62) { self.keyIdentity($0) }
        defer { AgentProcessKit.stopAgents(sandbox) }
        let script = """
            import google.auth, google.auth.transport.requests as tr, os, time
            creds, project = google.auth.default()
            session = tr.AuthorizedSession(creds)
            statuses, tokens = [], set()
            for _ in range(3):
                r = session.get(os.environ["FAKE_STORAGE"] + "/storage/v1/b", params={"project": project})
                statuses.append(r.status_code)
                tokens.add(creds.token)
                time.sleep(2.5)
            print(statuses, len(tokens))
            """
        let result = wrapped(sandbox, "gcp", [MotoServer.python, "-c", script])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "[200, 200, 200] 3\n")
        XCTAssertGreaterThanOrEqual(fake?.minted("jwt-bearer") ?? 0, 3)
    }

    /// `--delivery env`: terraform's GOOGLE_OAUTH_ACCESS_TOKEN and gcloud's token file (0600, in
    /// the private runtime directory, gone when the command exits).
    func testEnvDeliveryGivesTheTokenVariableAndAPrivateTokenFileGcloudReads() throws {
        var fake: GoogleFake?
        let sandbox = try googleSandbox(&fake) { self.keyIdentity($0) }
        defer { AgentProcessKit.stopAgents(sandbox) }
        let result = sandbox.run(Sandbox.executable("broker-env-wrap"), ["--identity", "gcp", "--delivery", "env", "--", "/bin/sh", "-c", """
            test -z "$GCE_METADATA_HOST" || exit 9
            echo "$CLOUDSDK_AUTH_ACCESS_TOKEN_FILE"; stat -c %a "$CLOUDSDK_AUTH_ACCESS_TOKEN_FILE"
            test "$(cat "$CLOUDSDK_AUTH_ACCESS_TOKEN_FILE")" = "$GOOGLE_OAUTH_ACCESS_TOKEN" && echo same
            CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE="$FAKE_STORAGE/" gcloud storage buckets list --format='value(name)'
            """], timeout: 120)
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(Array(lines.dropFirst()), ["600", "same", "fake-bucket"])
        let path = lines.first ?? ""
        XCTAssertTrue(path.hasPrefix(sandbox.paths.runtimeDirectory + "/"), path)
        var gone = false
        for _ in 0..<40 where !gone {
            gone = !FileManager.default.fileExists(atPath: path)
            if !gone { usleep(50_000) }
        }
        XCTAssertTrue(gone, "the token file outlived the command")
    }

    /// gcloud reads its token file on every command, so the agent rewrites it (atomically, still
    /// 0600) when half the token's life is gone: with 62 s tokens a long run sees a new token in
    /// the same file, and gcloud lists the bucket with it.
    func testTheGcloudTokenFileIsRewrittenBeforeTheTokenExpires() throws {
        var fake: GoogleFake?
        let sandbox = try googleSandbox(&fake, lifetime: 62) { self.keyIdentity($0) }
        defer { AgentProcessKit.stopAgents(sandbox) }
        let result = sandbox.run(Sandbox.executable("broker-env-wrap"), ["--identity", "gcp", "--delivery", "file", "--", "/bin/sh", "-c", """
            file="$CLOUDSDK_AUTH_ACCESS_TOKEN_FILE"; first=$(cat "$file")
            for _ in $(seq 120); do test "$(cat "$file")" = "$first" || break; sleep 1; done
            test "$(cat "$file")" != "$first" && echo rewritten; stat -c %a "$file"
            CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE="$FAKE_STORAGE/" gcloud storage buckets list --format='value(name)'
            """], timeout: 240)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "rewritten\n600\nfake-bucket\n")
        XCTAssertGreaterThanOrEqual(fake?.minted("jwt-bearer") ?? 0, 2)
    }

    /// Impersonation through a delegate: caller may mint for delegate, delegate for target, caller
    /// not for target directly; the fake checks each link.
    func testImpersonationWithDelegatesReachesTheTargetAndWithoutThemIsRefused() throws {
        var fake: GoogleFake?
        let sandbox = try googleSandbox(&fake) { fake in
            self.keyIdentity(fake, name: "caller") + """
            [identity "target"]
                kind = gcp/service-account
                via = identity:caller
                service-account = \(fake["target"])
                delegates = \(fake["delegate"])
                iam-endpoint = \(fake.endpoint)
                lifetime = 30m
                project = fake-project
            [identity "direct"]
                kind = gcp/service-account
                via = identity:caller
                service-account = \(fake["target"])
                iam-endpoint = \(fake.endpoint)

            """
        }
        defer { AgentProcessKit.stopAgents(sandbox) }
        let result = wrapped(sandbox, "target", [MotoServer.python, "-c", googleAuthListing])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "google.auth.compute_engine.credentials fake-project target@fake-project.iam.gserviceaccount.com 200 fake-bucket\n")
        XCTAssertEqual(fake?.listed, ["target@fake-project.iam.gserviceaccount.com"])
        let refused = wrapped(sandbox, "direct", ["/bin/true"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("IAM Credentials generateAccessToken refused: PERMISSION_DENIED"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("roles/iam.serviceAccountTokenCreator"), refused.stderr)
    }

    /// A lifetime past an hour is a configuration error unless the organisation allows 12 h.
    func testImpersonationLifetimeIsLimitedToAnHourUnlessExtended() throws {
        var fake: GoogleFake?
        let sandbox = try googleSandbox(&fake) { fake in
            self.keyIdentity(fake, name: "caller") + """
            [identity "long"]
                kind = gcp/service-account
                via = identity:caller
                service-account = \(fake["target"])
                lifetime = 2h

            """
        }
        defer { AgentProcessKit.stopAgents(sandbox) }
        let result = sandbox.run(Sandbox.executable("brokerctl"), ["validate"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue((result.stdout + result.stderr).contains("lifetime must be between 1m and 1h"), result.stdout + result.stderr)
    }

    /// An aws/user identity (moto's keys) reaches Google Cloud with no Google key: google-auth's
    /// GetCallerIdentity serialization, replayed by the fake STS to moto with signature checks on.
    func testAnAWSIdentityReachesGoogleCloudThroughWorkloadIdentityFederationWithNoKey() throws {
        var fake: GoogleFake?
        let sandbox = try googleSandbox(&fake, extra: ["--moto", moto.motoEndpoint]) { fake in
            let secret = "\(fake["key"]).aws"
            try? self.moto.secretAccessKey.write(toFile: secret, atomically: true, encoding: .utf8)
            chmod(secret, 0o600)
            return """
                [identity "aws"]
                    kind = aws/user
                    access-key-id = \(self.moto.accessKeyID)
                    secret-access-key = file:\(secret)
                    long-lived-keys = true
                    sts-endpoint = \(self.moto.endpoint)
                [identity "gcp"]
                    kind = gcp/workload-identity-federation
                    via = identity:aws
                    audience = \(fake["audience"])
                    service-account = \(fake["wif_target"])
                    sts-endpoint = \(fake.endpoint)
                    iam-endpoint = \(fake.endpoint)
                    project = fake-project

                """
        }
        defer { AgentProcessKit.stopAgents(sandbox) }
        let result = wrapped(sandbox, "gcp", [MotoServer.python, "-c", googleAuthListing])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "google.auth.compute_engine.credentials fake-project wif-target@fake-project.iam.gserviceaccount.com 200 fake-bucket\n")
        XCTAssertEqual(fake?.minted("token-exchange"), 1)
        XCTAssertEqual(fake?.listed, ["wif-target@fake-project.iam.gserviceaccount.com"])
    }

    /// A user's ADC file (authorized_user): the refresh-token grant.
    func testTheADCFileOfAUserGivesTheUsersToken() throws {
        var fake: GoogleFake?
        let sandbox = try googleSandbox(&fake) { self.userADCIdentity($0) }
        defer { AgentProcessKit.stopAgents(sandbox) }
        let result = wrapped(sandbox, "adc", [MotoServer.python, "-c", googleAuthListing])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(fake?.minted("refresh_token"), 1)
        XCTAssertEqual(fake?.listed, ["user:alice@example.com"])
    }

    /// gcp/project puts a project, region and zone on top of another identity's token.
    func testAProjectIdentitySetsTheProjectAndLocationVariables() throws {
        var fake: GoogleFake?
        let sandbox = try googleSandbox(&fake) { fake in
            self.keyIdentity(fake, name: "key") + """
            [identity "prod"]
                kind = gcp/project
                via = identity:key
                project = prod-project
                region = europe-west1
                zone = europe-west1-b

            """
        }
        defer { AgentProcessKit.stopAgents(sandbox) }
        let result = wrapped(sandbox, "prod", ["/bin/sh", "-c",
            "echo $CLOUDSDK_CORE_PROJECT $GOOGLE_CLOUD_PROJECT $CLOUDSDK_COMPUTE_REGION $CLOUDSDK_COMPUTE_ZONE; "
            + "\(MotoServer.python) -c 'import google.auth; print(google.auth.default()[1])'"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "prod-project prod-project europe-west1 europe-west1-b\nprod-project\n")
    }

    /// Cloud Source Repositories bound to a GCP identity: real `git credential fill` gets the
    /// service account as the user name and a live access token (the fake's bucket list accepts
    /// it) as the password, minted once and answered from the cache on the next fill.
    func testCloudSourceRepositoriesGetTheAccessTokenThroughGitCredentialFill() throws {
        var fake: GoogleFake?
        let sandbox = try googleSandbox(&fake) { fake in
            self.keyIdentity(fake, name: "repos") + """
            [git "https://source.developers.google.com"]
                identity = repos

            """
        }
        defer { AgentProcessKit.stopAgents(sandbox) }
        let request = "protocol=https\nhost=source.developers.google.com\npath=p/fake-project/r/app\n\n"
        let filled = sandbox.git(["credential", "fill"], stdin: request)
        XCTAssertEqual(filled.status, 0, filled.stderr)
        XCTAssertFalse(filled.stderr.contains("askpass:"), "git must not fall through to prompting")
        let fields = Dictionary(filled.stdout.split(separator: "\n").map { $0.split(separator: "=", maxSplits: 1).map(String.init) }
            .filter { $0.count == 2 }.map { ($0[0], $0[1]) }, uniquingKeysWith: { $1 })
        XCTAssertEqual(fields["username"], "caller@fake-project.iam.gserviceaccount.com")
        let token = try XCTUnwrap(fields["password"])
        XCTAssertTrue(token.hasPrefix("ya29.fake-"), "the fake's access token, not some other secret")
        // The token on curl's stdin, not its argv.
        let listing = sandbox.run("/usr/bin/curl", ["-sS", "-f", "-H", "@-", fake!.endpoint + "/storage/v1/b?project=fake-project"],
                                  stdin: "Authorization: Bearer \(token)\n")
        XCTAssertEqual(listing.status, 0, listing.stderr)
        XCTAssertEqual(fake?.listed, ["caller@fake-project.iam.gserviceaccount.com"])
        let again = sandbox.git(["credential", "fill"], stdin: request)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("password=\(token)\n"), "the cached token again")
        XCTAssertEqual(fake?.minted("jwt-bearer"), 1)
        let elsewhere = sandbox.git(["credential", "fill"], stdin: "protocol=https\nhost=example.com\n\n")
        XCTAssertFalse(elsewhere.stdout.contains(token), "an unbound host never gets the token")
    }
}
