// ID tokens through the emulated GCE metadata server (`identity?audience=`), asked for by real
// google-auth (`id_token.fetch_id_token`) and verified by google-auth against the fake's keys;
// and keyless workload identity federation from a GitHub Actions OIDC token.

import Foundation
import XCTest

/// fetch_id_token twice for one audience and once for another, each verified with google-auth's
/// `verify_token` against the fake's signing keys (signature, audience, expiry); a token for one
/// audience must fail verification for the other. Prints `aud email same-token other-aud wrong-aud-refused`.
let googleAuthIDTokens = """
    import google.auth.transport.requests as tr, google.oauth2.id_token as idt, os
    request = tr.Request()
    certs = os.environ["FAKE_STORAGE"] + "/oauth2/v1/certs"
    token = idt.fetch_id_token(request, "https://service.example.com")
    claims = idt.verify_token(token, request, audience="https://service.example.com", certs_url=certs)
    again = idt.fetch_id_token(request, "https://service.example.com")
    other = idt.fetch_id_token(request, "https://other.example.com")
    other_claims = idt.verify_token(other, request, audience="https://other.example.com", certs_url=certs)
    try:
        idt.verify_token(token, request, audience="https://other.example.com", certs_url=certs)
        refused = "accepted"
    except ValueError:
        refused = "refused"
    print(claims["aud"], claims["email"], again == token, other_claims["aud"], refused)
    """

final class GoogleIDTokenTests: GoogleCloudTestCase {
    /// A service-account key: the JWT-bearer grant with `target_audience`, which Google answers
    /// with an ID token; one grant per audience, the repeat from the agent's cache.
    func testFetchIDTokenThroughTheMetadataEmulationWithAServiceAccountKey() throws {
        var fake: GoogleFake?
        let sandbox = try googleSandbox(&fake) { self.keyIdentity($0) }
        defer { AgentProcessKit.stopAgents(sandbox) }
        let result = wrapped(sandbox, "gcp", [MotoServer.python, "-c", googleAuthIDTokens])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "https://service.example.com caller@fake-project.iam.gserviceaccount.com True https://other.example.com refused\n")
        XCTAssertEqual(fake?.minted("jwt-bearer-id-token"), 2, "one grant per audience; the second fetch came from the cache")
        let log = sandbox.read(sandbox.paths.agentLogPath) + sandbox.read(sandbox.paths.auditLogPath)
        XCTAssertFalse(log.contains("eyJ"), "ID tokens are never logged")
    }

    /// Impersonation through a delegate: IAM Credentials generateIdToken for the target, the
    /// fake checking the token-creator links as for access tokens.
    func testFetchIDTokenThroughImpersonationCallsGenerateIdTokenForTheTarget() throws {
        var fake: GoogleFake?
        let sandbox = try googleSandbox(&fake) { fake in
            self.keyIdentity(fake, name: "caller") + """
            [identity "target"]
                kind = gcp/service-account
                via = identity:caller
                service-account = \(fake["target"])
                delegates = \(fake["delegate"])
                iam-endpoint = \(fake.endpoint)
                project = fake-project

            """
        }
        defer { AgentProcessKit.stopAgents(sandbox) }
        let result = wrapped(sandbox, "target", [MotoServer.python, "-c", googleAuthIDTokens])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "https://service.example.com target@fake-project.iam.gserviceaccount.com True https://other.example.com refused\n")
        XCTAssertEqual(fake?.minted("generateIdToken"), 2)
        XCTAssertEqual(fake?.minted("jwt-bearer-id-token"), 0, "the caller's own ID token is not what was asked for")
    }

    /// A person's ADC login cannot make ID tokens for an audience: google-auth gets a 404 whose
    /// body says why (and a request without audience the real server's 400).
    func testAUsersADCLoginAnswersTheIdentityPathWith404AndTheReason() throws {
        var fake: GoogleFake?
        let sandbox = try googleSandbox(&fake) { self.userADCIdentity($0) }
        defer { AgentProcessKit.stopAgents(sandbox) }
        let script = """
            import google.auth.transport.requests as tr, google.oauth2.id_token as idt, google.auth.exceptions as ex, os, urllib.request, urllib.error
            try:
                idt.fetch_id_token(tr.Request(), "https://service.example.com")
                print("fetched")
            except ex.RefreshError as error:
                print("refused:", error)
            url = "http://" + os.environ["GCE_METADATA_HOST"] + "/computeMetadata/v1/instance/service-accounts/default/identity"
            try:
                urllib.request.urlopen(urllib.request.Request(url, headers={"Metadata-Flavor": "Google"}), timeout=5)
            except urllib.error.HTTPError as e:
                print(e.code, e.read().decode())
            """
        let result = wrapped(sandbox, "adc", [MotoServer.python, "-c", script])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.hasPrefix("refused:"), result.stdout)
        XCTAssertTrue(result.stdout.contains("404"), result.stdout)
        // google-auth prints the body as a bytes literal, escaping quotes: match around them.
        XCTAssertTrue(result.stdout.contains("the ADC file \(fake!["adc"]) holds a person"), result.stdout)
        XCTAssertTrue(result.stdout.contains("login (authorized_user), which cannot make ID tokens for an audience"), result.stdout)
        XCTAssertTrue(result.stdout.contains("400 {\"code\":\"BadRequest\",\"message\":\"non-empty audience parameter required\"}"), result.stdout)
        // The access token path still works for the same identity: nothing was lost.
        let listing = wrapped(sandbox, "adc", [MotoServer.python, "-c", googleAuthListing])
        XCTAssertEqual(listing.status, 0, listing.stderr)
        XCTAssertEqual(fake?.listed, ["user:alice@example.com"])
    }

    /// Keyless from CI: a github/oidc identity's ID token (the Actions fake's, RS256) is the
    /// subject of Google's STS exchange, which the fake verifies against the issuer's JWKS and the
    /// pool provider's audience; the federated token impersonates a service account, and
    /// google-auth lists the bucket through the metadata emulation and gets that account's ID token.
    func testAGitHubOIDCTokenReachesGoogleCloudThroughWorkloadIdentityFederation() throws {
        let oidc = try ActionsOIDCServer()
        var fake: GoogleFake?
        let sandbox = try googleSandbox(&fake, extra: ["--oidc-jwks", oidc.jwksURL]) { fake in
            """
            [identity "gha"]
                kind = github/oidc
                audience = https://iam.googleapis.com/\(fake["audience"].dropFirst("//iam.googleapis.com/".count))
            [identity "gcp"]
                kind = gcp/workload-identity-federation
                via = identity:gha
                audience = \(fake["audience"])
                service-account = \(fake["wif_target"])
                sts-endpoint = \(fake.endpoint)
                iam-endpoint = \(fake.endpoint)
                project = fake-project
            [identity "wrong-audience"]
                kind = github/oidc
            [identity "gcp-refused"]
                kind = gcp/workload-identity-federation
                via = identity:wrong-audience
                audience = \(fake["audience"])
                sts-endpoint = \(fake.endpoint)

            """
        }
        sandbox.environment["ACTIONS_ID_TOKEN_REQUEST_URL"] = oidc.tokenURL
        sandbox.environment["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = oidc.requestToken
        defer { AgentProcessKit.stopAgents(sandbox) }
        let result = wrapped(sandbox, "gcp", [MotoServer.python, "-c", googleAuthListing + "\n" + googleAuthIDTokens])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, """
            google.auth.compute_engine.credentials fake-project wif-target@fake-project.iam.gserviceaccount.com 200 fake-bucket
            https://service.example.com wif-target@fake-project.iam.gserviceaccount.com True https://other.example.com refused

            """)
        XCTAssertEqual(fake?.listed, ["wif-target@fake-project.iam.gserviceaccount.com"])
        XCTAssertEqual(fake?.minted("generateAccessToken"), 1)
        XCTAssertEqual(fake?.minted("generateIdToken"), 2)
        XCTAssertGreaterThanOrEqual(oidc.issued, 1)
        // A token for GitHub's default audience is not for the pool: the fake's STS refuses it.
        let refused = wrapped(sandbox, "gcp-refused", ["/bin/true"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("Google's STS token exchange refused: invalid_grant: The audience in ID Token does not match the expected audience."),
                      refused.stderr)
    }
}
