// The fake Microsoft identity platform and ARM (Fixtures/entra_fake.py), and the Azure
// test bed around it: app registrations, a certificate, azure-identity scripts.

import Foundation
import XCTest

/// One fake tenant with its app registrations, served over http (for the agent) and https
/// with a test CA (for azure-identity, which refuses http authorities).
final class EntraFake {
    static let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    static let secretClient = "0b5e3f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
    static let certificateClient = "1c6f4a7b-2d3e-4f60-9bac-1d2e3f4a5b6c"
    static let federatedClient = "2d705b8c-3e4f-4061-8cbd-2e3f4a5b6c7d"
    static let publicClient = "3e816c9d-4f50-4172-9dce-3f4a5b6c7d8e"
    static let subscription = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
    static let clientSecret = "fake-client-secret-\(UUID().uuidString)"

    let fixture: PythonFixture
    let directory: String
    /// A PEM bundle (certificate and key) registered on `certificateClient`.
    let certificateBundle: String
    let httpsPort: Int

    var port: Int { fixture.port }
    var authority: String { "http://127.0.0.1:\(port)" }
    var httpsAuthority: String { "https://127.0.0.1:\(httpsPort)" }
    var caPath: String { directory + "/entra-ca.pem" }
    var armURL: String { httpsAuthority }

    /// `lifetime`: seconds each access token lives. `federatedIssuer`: an Actions fake whose
    /// tokens for `subject`/`audience` the federated app trusts.
    init(directory: String, lifetime: Int = 3600, federatedIssuer: ActionsOIDCServer? = nil,
         subject: String = "repo:acme/app:ref:refs/heads/main", audience: String = "api://AzureADTokenExchange") throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        certificateBundle = directory + "/app-cert.pem"
        let key = directory + "/app-key.pem", cert = directory + "/app-cert-only.pem"
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=broker-test-app", "-days", "2",
                             "-keyout", key, "-out", cert]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        let certificatePEM = try String(contentsOfFile: cert, encoding: .utf8)
        try (certificatePEM + (try String(contentsOfFile: key, encoding: .utf8))).write(toFile: certificateBundle, atomically: true, encoding: .utf8)
        chmod(certificateBundle, 0o600)

        var apps: [[String: Any]] = [
            ["tenant": Self.tenant, "client_id": Self.secretClient, "secret": Self.clientSecret],
            ["tenant": Self.tenant, "client_id": Self.certificateClient, "certificate_pem": certificatePEM],
            ["tenant": Self.tenant, "client_id": Self.publicClient, "public": true],
        ]
        if let issuer = federatedIssuer {
            apps.append(["tenant": Self.tenant, "client_id": Self.federatedClient,
                         "federated": [["issuer": issuer.issuer, "subject": subject, "audience": audience, "jwks_url": issuer.jwksURL]]])
        }
        let config: [String: Any] = ["apps": apps, "lifetime": lifetime,
                                     "subscriptions": [["id": Self.subscription, "tenant": Self.tenant, "name": "broker-test"]]]
        let configPath = directory + "/entra.json"
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
        fixture = try PythonFixture("entra_fake.py", [configPath, directory + "/entra-ca.pem"])
        guard let ports = fixture.get("/__info")["ports"] as? [String: Int], let https = ports["https"] else {
            throw NSError(domain: "entra_fake.py gave no https port", code: 1)
        }
        httpsPort = https
    }

    /// How many of each thing the fake did (`secret`, `certificate`, `federated`, `issued`, `arm_ok`, ...).
    func count(_ what: String) -> Int { fixture.get("/__count")[what] as? Int ?? 0 }

    var refusals: [String] { fixture.get("/__log")["log"] as? [String] ?? [] }

    /// Every token issued so far stops working (ARM answers 401 ExpiredAuthenticationToken).
    func expireAllTokens() { _ = fixture.get("/__expire") }

    var pendingUserCodes: [String] { fixture.get("/__pending")["user_codes"] as? [String] ?? [] }

    func approve(userCode: String) -> Bool { fixture.get("/__approve?user_code=\(userCode)")["approved"] as? Bool ?? false }

    /// The identity sections for each app registration, all against this fake.
    func identities(resource: String? = nil) -> String {
        let common = "    tenant-id = \(Self.tenant)\n    authority = \(authority)\n" + (resource.map { "    resource = \($0)\n" } ?? "")
        return """
            [identity "sp-secret"]
                kind = azure/client-secret
                client-id = \(Self.secretClient)
                client-secret = env:TEST_AZURE_SECRET
            \(common)[identity "sp-cert"]
                kind = azure/client-certificate
                client-id = \(Self.certificateClient)
                certificate = file:\(certificateBundle)
            \(common)
            """
    }

    /// The environment the agent gets: the client secret in a variable the config names.
    func agentEnvironment(_ sandbox: Sandbox) {
        sandbox.environment["TEST_AZURE_SECRET"] = Self.clientSecret
    }

    /// A Python program that asks DefaultAzureCredential for an ARM token and lists the
    /// subscriptions through azure-core's pipeline (BearerTokenCredentialPolicy, as the
    /// management SDKs do) `rounds` times, sleeping `pause` seconds between rounds. Prints one
    /// JSON line per round: the subscription IDs seen.
    func listingScript(rounds: Int = 1, pause: Int = 0, credentialArguments: String = "") -> String {
        """
        import json, sys, time
        from azure.identity import DefaultAzureCredential
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
        from azure.core.rest import HttpRequest
        credential = DefaultAzureCredential(\(credentialArguments))
        client = PipelineClient(base_url="\(armURL)", policies=[
            RetryPolicy(retry_total=0),
            BearerTokenCredentialPolicy(credential, "https://management.azure.com/.default")])
        for round in range(\(rounds)):
            if round:
                time.sleep(\(pause))
            response = client.send_request(HttpRequest("GET", "\(armURL)/subscriptions?api-version=2022-12-01"))
            if response.status_code != 200:
                print("ARM answered", response.status_code, response.text, file=sys.stderr)
                sys.exit(2)
            print(json.dumps([s["subscriptionId"] for s in response.json()["value"]]), flush=True)
        """
    }

    /// What the wrapped Python needs to trust the fake's https: the test CA, and nothing else
    /// of the caller's Azure setup.
    var clientEnvironment: [String: String] { ["REQUESTS_CA_BUNDLE": caPath, "SSL_CERT_FILE": caPath, "PYTHONDONTWRITEBYTECODE": "1"] }
}
