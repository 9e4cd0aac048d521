// Azure delivery end to end: azure-identity's DefaultAzureCredential inside broker-env-wrap lists
// the fake ARM's subscriptions through the managed-identity endpoint (App Service protocol) and
// through a workload-identity token file; other processes cannot use the endpoint.

import Foundation
#if canImport(Glibc)
import Glibc
#endif
import XCTest

final class AzureDeliveryTests: XCTestCase {
    let wrap = Sandbox.executable("broker-env-wrap")

    /// A sandbox whose config names the fake's app registrations, and `dev`, a subscription on
    /// top of the certificate identity.
    func configured(extra: String = "", lifetime: Int = 3600, issuer: ActionsOIDCServer? = nil) throws -> (Sandbox, EntraFake) {
        let sandbox = Sandbox()
        let entra = try EntraFake(directory: sandbox.root + "/entra", lifetime: lifetime, federatedIssuer: issuer)
        entra.agentEnvironment(sandbox)
        sandbox.writeConfig(entra.identities() + """
            [identity "dev"]
                kind = azure/subscription
                via = identity:sp-cert
                subscription-id = \(EntraFake.subscription)
                location = westeurope

            """ + extra)
        return (sandbox, entra)
    }

    func testDefaultAzureCredentialListsSubscriptionsThroughTheManagedIdentityEndpoint() throws {
        let (configured, entra) = try configured()
        defer { AgentProcessKit.stopAgents(configured) }
        for identity in ["sp-secret", "sp-cert", "dev"] {
            let result = configured.run(wrap, ["--identity", identity, "--", MotoServer.python, "-c", entra.listingScript()],
                                        extraEnvironment: entra.clientEnvironment.merging([
                                            // What a developer's shell may hold: the wrap must outrank all of it.
                                            "AZURE_CLIENT_SECRET": "stale", "AZURE_USERNAME": "someone", "MSI_ENDPOINT": "http://169.254.169.254/x",
                                        ], uniquingKeysWith: { $1 }), timeout: 90)
            XCTAssertEqual(result.status, 0, "\(identity): \(result.stderr)")
            XCTAssertEqual(result.stdout, "[\"\(EntraFake.subscription)\"]\n", identity)
        }
        XCTAssertEqual(entra.count("secret"), 1, "one token request for the secret identity, then the agent's cache")
        XCTAssertEqual(entra.count("certificate"), 1, "sp-cert and dev (on top of it) share one token")
        XCTAssertEqual(entra.count("arm_ok"), 3)
    }

    func testTheWrapAnnouncesTenantClientSubscriptionAndLocationAndClearsWhatWouldOutrankIt() throws {
        let (configured, entra) = try configured()
        defer { AgentProcessKit.stopAgents(configured) }
        let stale = ["AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME", "AZURE_FEDERATED_TOKEN_FILE",
                     "MSI_ENDPOINT", "ARM_CLIENT_SECRET", "ARM_USE_MSI"]
        // The changes are printed against the caller's environment: only what it holds is unset.
        let result = configured.run(wrap, ["--identity", "dev", "--print", "--format", "json"],
                                    extraEnvironment: Dictionary(uniqueKeysWithValues: stale.map { ($0, "stale") }), timeout: 60)
        XCTAssertEqual(result.status, 0, result.stderr)
        let plan = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let set = try XCTUnwrap(plan["set"] as? [String: String])
        let unset = try XCTUnwrap(plan["unset"] as? [String])
        XCTAssertEqual(set["AZURE_TENANT_ID"], EntraFake.tenant)
        XCTAssertEqual(set["ARM_TENANT_ID"], EntraFake.tenant)
        XCTAssertEqual(set["AZURE_CLIENT_ID"], EntraFake.certificateClient)
        XCTAssertEqual(set["ARM_CLIENT_ID"], EntraFake.certificateClient)
        XCTAssertEqual(set["AZURE_SUBSCRIPTION_ID"], EntraFake.subscription)
        XCTAssertEqual(set["ARM_SUBSCRIPTION_ID"], EntraFake.subscription)
        XCTAssertEqual(set["AZURE_DEFAULTS_LOCATION"], "westeurope")
        XCTAssertTrue(set["IDENTITY_ENDPOINT"]?.hasPrefix("http://127.0.0.1:") ?? false, "\(set)")
        XCTAssertEqual(set["IDENTITY_HEADER"]?.count, 64)
        XCTAssertEqual(Set(unset), Set(stale))
        XCTAssertFalse(result.stdout.contains(EntraFake.clientSecret))
    }

    /// Inside the wrap: the right header gets a token; a wrong one, none, the wrong resource, a
    /// wrong api-version or client_id are refused. Outside, once the command exited, the same
    /// header is refused too.
    func testOnlyTheWrappedCommandWithItsHeaderGetsATokenFromTheEndpoint() throws {
        let (configured, entra) = try configured()
        defer { AgentProcessKit.stopAgents(configured) }
        let script = """
            import json, os, urllib.request, urllib.error
            endpoint, header = os.environ["IDENTITY_ENDPOINT"], os.environ["IDENTITY_HEADER"]
            def ask(query, headers):
                request = urllib.request.Request(endpoint + query, headers=headers)
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        body = json.load(response)
                        return "%d %s %s" % (response.status, sorted(body), body["expires_on"].isdigit())
                except urllib.error.HTTPError as error:
                    return "%d %s" % (error.code, json.load(error).get("message", ""))
            good = "?api-version=2019-08-01&resource=https%3A%2F%2Fmanagement.azure.com"
            print(ask(good, {"X-IDENTITY-HEADER": header}))
            print(ask(good, {"X-IDENTITY-HEADER": "0" * 64}))
            print(ask(good, {}))
            print(ask(good, {"Authorization": header}))
            print(ask("?api-version=2019-08-01&resource=https%3A%2F%2Fvault.azure.net", {"X-IDENTITY-HEADER": header}))
            print(ask("?api-version=2017-09-01&resource=https%3A%2F%2Fmanagement.azure.com", {"X-IDENTITY-HEADER": header}))
            print(ask(good + "&client_id=00000000-0000-0000-0000-000000000000", {"X-IDENTITY-HEADER": header}))
            print(ask(good + "&object_id=00000000-0000-0000-0000-000000000000", {"X-IDENTITY-HEADER": header}))
            print(ask(good, {"X-IDENTITY-HEADER": header, "Origin": "https://evil.example"}))
            print(endpoint + "\\t" + header)
            """
        let result = configured.run(wrap, ["--identity", "dev", "--", MotoServer.python, "-c", script], timeout: 60)
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(Array(lines.dropLast()), [
            "200 ['access_token', 'client_id', 'expires_on', 'resource', 'token_type'] True",
            "403 the authorization token is unknown or its wrapped command has exited",
            "401 the X-IDENTITY-HEADER header is missing (set IDENTITY_HEADER)",
            "401 the X-IDENTITY-HEADER header is missing (set IDENTITY_HEADER)",
            "400 identity dev gives tokens for https://management.azure.com, not https://vault.azure.net; set resource in its section or define another identity",
            "400 api-version must be 2019-08-01 (App Service's managed identity protocol)",
            "400 client_id 00000000-0000-0000-0000-000000000000 is not this wrap's identity (\(EntraFake.certificateClient))",
            "400 this endpoint serves one identity, named by client_id only",
            "403 requests from web pages (with an Origin header) are refused",
        ])
        // The command has exited: its header is dead, for anyone.
        let parts = try XCTUnwrap(lines.last).split(separator: "\t").map(String.init)
        XCTAssertEqual(parts.count, 2)
        // (The dead header may sit in curl's argv: it opens nothing any more.)
        let after = configured.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "X-IDENTITY-HEADER: \(parts[1])",
                                                     parts[0] + "?api-version=2019-08-01&resource=https://management.azure.com"])
        XCTAssertEqual(after.stdout, "403")
    }

    // MARK: - Federated: workload identity from a GitHub Actions job

    /// `fed`: an azure/oidc identity chained from the job's OIDC token (audience
    /// api://AzureADTokenExchange), which the fake's federated app trusts.
    func federated(tokenLifetime: Int = 300) throws -> (Sandbox, EntraFake, ActionsOIDCServer) {
        let oidc = try ActionsOIDCServer(serving: 600, tokenLifetime: tokenLifetime)
        let (sandbox, entra) = try configured(extra: """
            [identity "job"]
                kind = github/oidc
                audience = api://AzureADTokenExchange
            [identity "fed"]
                kind = azure/oidc
                via = identity:job
                tenant-id = \(EntraFake.tenant)
                client-id = \(EntraFake.federatedClient)
                authority = http://127.0.0.1:PORT

            """, issuer: oidc)
        sandbox.writeConfig(sandbox.read(sandbox.configPath).replacingOccurrences(of: "PORT", with: String(entra.port)))
        sandbox.environment["ACTIONS_ID_TOKEN_REQUEST_URL"] = oidc.tokenURL
        sandbox.environment["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = oidc.requestToken
        return (sandbox, entra, oidc)
    }

    func testAFederatedIdentityListsSubscriptionsThroughTheManagedIdentityEndpoint() throws {
        let (sandbox, entra, oidc) = try federated()
        defer { AgentProcessKit.stopAgents(sandbox) }
        let result = sandbox.run(wrap, ["--identity", "fed", "--", MotoServer.python, "-c", entra.listingScript()],
                                 extraEnvironment: entra.clientEnvironment, timeout: 90)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "[\"\(EntraFake.subscription)\"]\n")
        XCTAssertEqual(entra.count("federated"), 1)
        XCTAssertEqual(oidc.issued, 1)
    }

    /// `--delivery file`: azure-identity's WorkloadIdentityCredential (first in
    /// DefaultAzureCredential's chain) reads the job's token from AZURE_FEDERATED_TOKEN_FILE and
    /// exchanges it at the fake itself. The agent reaches the fake over loopback http (its HTTP
    /// stack cannot be pointed at a test CA), azure-identity only over https: the script checks
    /// the authority the wrap announced, then points azure-identity at the fake's https twin.
    func testDefaultAzureCredentialUsesTheWorkloadIdentityTokenFile() throws {
        let (sandbox, entra, oidc) = try federated()
        defer { AgentProcessKit.stopAgents(sandbox); withExtendedLifetime(oidc) {} }
        let script = """
            import os, stat, sys
            path = os.environ["AZURE_FEDERATED_TOKEN_FILE"]
            print(stat.S_IMODE(os.stat(path).st_mode) == 0o600, path.startswith("\(sandbox.paths.runtimeDirectory)/"),
                  os.environ["ARM_OIDC_TOKEN_FILE_PATH"] == path, os.environ["ARM_USE_OIDC"], "IDENTITY_ENDPOINT" in os.environ)
            print(os.environ["AZURE_AUTHORITY_HOST"] == "\(entra.authority)", os.environ["AZURE_CLIENT_ID"], os.environ["AZURE_TENANT_ID"])
            print(path, file=sys.stderr)
            os.environ["AZURE_AUTHORITY_HOST"] = "\(entra.httpsAuthority)"
            """ + "\n" + entra.listingScript(credentialArguments: "disable_instance_discovery=True")
        let result = sandbox.run(wrap, ["--identity", "fed", "--delivery", "file", "--", MotoServer.python, "-c", script],
                                 extraEnvironment: entra.clientEnvironment, timeout: 90)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout.split(separator: "\n").map(String.init), [
            "True True True true False",
            "True \(EntraFake.federatedClient) \(EntraFake.tenant)",
            "[\"\(EntraFake.subscription)\"]",
        ])
        XCTAssertEqual(entra.count("federated"), 2, "once by the agent before the command started, once by azure-identity from the file")
        let path = result.stderr.split(separator: "\n").first.map(String.init) ?? ""
        XCTAssertTrue(AgentProcessKit.waitUntil(5) { access(path, F_OK) != 0 }, "the token file goes when the command exits")
    }

    /// With 70-second job tokens the agent rewrites the file at half life, for as long as the
    /// command runs; every version is a token the fake accepts.
    func testTheTokenFileIsRewrittenBeforeItsTokenExpires() throws {
        let (sandbox, entra, oidc) = try federated(tokenLifetime: 70)
        defer { AgentProcessKit.stopAgents(sandbox) }
        let script = """
            import os, time
            path = os.environ["AZURE_FEDERATED_TOKEN_FILE"]
            seen = [open(path).read()]
            deadline = time.time() + 120
            while len(seen) < 3 and time.time() < deadline:
                time.sleep(1)
                token = open(path).read()
                if token != seen[-1]:
                    seen.append(token)
            print(len(seen), len(set(seen)), all(t.count(".") == 2 for t in seen))
            """
        let result = sandbox.run(wrap, ["--identity", "fed", "--delivery", "file", "--", MotoServer.python, "-c", script], timeout: 180)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "3 3 True\n")
        XCTAssertGreaterThanOrEqual(oidc.issued, 3)
        withExtendedLifetime(entra) {}
    }

    /// `--delivery env` hands terraform's azurerm the federated token itself (ARM_OIDC_TOKEN);
    /// identities without one are refused for env and file, and `profile` is AWS's.
    func testEnvAndFileDeliveriesNeedAFederatedIdentity() throws {
        let (sandbox, entra, oidc) = try federated()
        defer { AgentProcessKit.stopAgents(sandbox); withExtendedLifetime(oidc) {} }
        let printed = sandbox.run(wrap, ["--identity", "fed", "--delivery", "env", "--print", "--format", "json"], timeout: 60)
        XCTAssertEqual(printed.status, 0, printed.stderr)
        let plan = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(printed.stdout.utf8)) as? [String: Any])
        let set = try XCTUnwrap(plan["set"] as? [String: String])
        XCTAssertEqual(set["ARM_USE_OIDC"], "true")
        XCTAssertEqual(set["ARM_OIDC_TOKEN"]?.split(separator: ".").count, 3, "the job's JWT")
        XCTAssertEqual(set["ARM_CLIENT_ID"], EntraFake.federatedClient)
        XCTAssertNil(set["IDENTITY_ENDPOINT"])
        for delivery in ["env", "file"] {
            let refused = sandbox.run(wrap, ["--identity", "sp-secret", "--delivery", delivery, "--", "true"], timeout: 60)
            XCTAssertNotEqual(refused.status, 0)
            XCTAssertTrue(refused.stderr.contains("identity \"sp-secret\" holds no federated token to hand over: only the managed-identity endpoint delivers it (hint: use --delivery endpoint, or chain from a federated identity (kind azure/oidc))"), refused.stderr)
        }
        let profile = sandbox.run(wrap, ["--identity", "sp-secret", "--delivery", "profile", "--", "true"], timeout: 60)
        XCTAssertTrue(profile.stderr.contains("identity \"sp-secret\" is an Azure identity: --delivery profile writes an AWS profile"), profile.stderr)
        withExtendedLifetime(entra) {}
    }
}
