// Each Azure kind against the fake identity platform: what it sends is verified there (secret,
// certificate assertion, federated token), and each refusal comes back as a sentence naming the
// cause, without the secret.

import BrokerWire
import Foundation
import XCTest

final class AzureKindTests: XCTestCase {
    func configured(_ extra: String, entraLifetime: Int = 3600, issuer: ActionsOIDCServer? = nil) throws -> (Sandbox, EntraFake) {
        let sandbox = Sandbox()
        let entra = try EntraFake(directory: sandbox.root + "/entra", lifetime: entraLifetime, federatedIssuer: issuer)
        entra.agentEnvironment(sandbox)
        sandbox.writeConfig(entra.identities() + extra.replacingOccurrences(of: "AUTHORITY", with: entra.authority)
            .replacingOccurrences(of: "ROOT", with: sandbox.root))
        return (sandbox, entra)
    }

    func whoami(_ sandbox: Sandbox, _ identity: String) -> (status: Int32, json: [String: Any], stderr: String) {
        let result = sandbox.broker("brokerctl", ["whoami", identity, "--format", "json"])
        let json = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any] ?? [:]
        return (result.status, json, result.stderr)
    }

    func testAWrongClientSecretIsRefusedWithTheServicesReasonAndNoSecret() throws {
        let (sandbox, entra) = try configured("")
        defer { AgentProcessKit.stopAgents(sandbox) }
        sandbox.environment["TEST_AZURE_SECRET"] = "wrong-secret-value-123"
        let result = whoami(sandbox, "sp-secret")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("identity \"sp-secret\": the Microsoft identity platform answered HTTP 401: invalid_client: AADSTS7000215: Invalid client secret provided."), result.stderr)
        XCTAssertTrue(result.stderr.contains("hint: check client-id and the secret or certificate"), result.stderr)
        XCTAssertFalse(result.stderr.contains("wrong-secret-value-123"))
        XCTAssertFalse(result.stderr.contains("Trace ID"), "only the description's first line")
        XCTAssertEqual(entra.count("issued"), 0)
    }

    func testAClientSecretAndACertificateEachGiveATokenOnce() throws {
        let (sandbox, entra) = try configured("")
        defer { AgentProcessKit.stopAgents(sandbox) }
        for identity in ["sp-secret", "sp-cert", "sp-secret", "sp-cert"] {
            let result = whoami(sandbox, identity)
            XCTAssertEqual(result.status, 0, result.stderr)
        }
        XCTAssertEqual(entra.count("secret"), 1)
        XCTAssertEqual(entra.count("certificate"), 1)
    }

    /// A certificate the app does not know: its thumbprint (x5t#S256) is not registered.
    func testACertificateTheAppDoesNotKnowIsRefused() throws {
        let (sandbox, entra) = try configured("")
        defer { AgentProcessKit.stopAgents(sandbox) }
        let other = try EntraFake(directory: sandbox.root + "/other")
        try FileManager.default.removeItem(atPath: entra.certificateBundle)
        try FileManager.default.copyItem(atPath: other.certificateBundle, toPath: entra.certificateBundle)
        let result = whoami(sandbox, "sp-cert")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application."), result.stderr)
    }

    func testACertificateFileWithoutACertificateSaysWhatIsMissing() throws {
        let (sandbox, entra) = try configured("")
        defer { AgentProcessKit.stopAgents(sandbox) }
        let keyOnly = try String(contentsOfFile: entra.directory + "/app-key.pem", encoding: .utf8)
        try keyOnly.write(toFile: entra.certificateBundle, atomically: true, encoding: .utf8)
        chmod(entra.certificateBundle, 0o600)
        let result = whoami(sandbox, "sp-cert")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("certificate file:\(entra.certificateBundle) cannot be used: it holds no certificate"), result.stderr)
        XCTAssertFalse(result.stderr.contains("PRIVATE KEY"))
    }

    /// azure/oidc with `token = file:PATH` (a projected Kubernetes token): the file is read for
    /// each exchange; a token from an issuer the app does not trust is refused by name.
    func testAFederatedTokenFromAFileIsExchanged() throws {
        let oidc = try ActionsOIDCServer(serving: 300)
        let (sandbox, entra) = try configured("""
            [identity "pod"]
                kind = azure/oidc
                tenant-id = \(EntraFake.tenant)
                client-id = \(EntraFake.federatedClient)
                authority = AUTHORITY
                token = file:ROOT/pod-token

            """, issuer: oidc)
        defer { AgentProcessKit.stopAgents(sandbox) }
        let wrongAudience = try XCTUnwrap(oidcToken(oidc, audience: "sts.amazonaws.com"))
        _ = sandbox.write("pod-token", wrongAudience)
        let refused = whoami(sandbox, "pod")
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("No matching federated identity record found for presented assertion audience 'sts.amazonaws.com'"), refused.stderr)
        _ = sandbox.write("pod-token", try XCTUnwrap(oidcToken(oidc, audience: "api://AzureADTokenExchange")))
        let accepted = whoami(sandbox, "pod")
        XCTAssertEqual(accepted.status, 0, accepted.stderr)
        XCTAssertEqual(entra.count("federated"), 1)
    }

    func oidcToken(_ oidc: ActionsOIDCServer, audience: String) -> String? {
        var request = URLComponents(string: oidc.tokenURL)!
        request.queryItems = [URLQueryItem(name: "audience", value: audience)]
        let curl = Process()
        let out = Pipe()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-s", "-H", "Authorization: bearer \(oidc.requestToken)", request.url!.absoluteString]
        curl.standardOutput = out
        try? curl.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        curl.waitUntilExit()
        return ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["value"] as? String
    }

    /// azure/cli runs `az account get-access-token` — here a clearly labelled stand-in script,
    /// since the real az CLI is not installed on the test machines. It records its argv, so the
    /// test sees exactly what the broker asks (and that no secret is on it).
    func testTheCLIKindRunsAzGetAccessTokenAndUsesItsExpiry() throws {
        let sandbox = Sandbox()
        defer { AgentProcessKit.stopAgents(sandbox) }
        let expiry = Int(Date().timeIntervalSince1970) + 1800
        let standIn = sandbox.write("bin/az", """
            #!/bin/sh
            # STAND-IN for the Azure CLI (not installed here): answers get-access-token as az 2.6x does.
            echo "$@" >> "\(sandbox.root)/az-argv"
            case "$*" in
              "account get-access-token --resource https://management.azure.com --output json --tenant \(EntraFake.tenant)")
                printf '{"accessToken": "az-cli-token-123", "expiresOn": "2030-01-01 00:00:00.000000", "expires_on": \(expiry), "subscription": "\(EntraFake.subscription)", "tenant": "\(EntraFake.tenant)", "tokenType": "Bearer"}\\n' ;;
              *) echo "ERROR: Please run 'az login' to setup account." >&2; exit 1 ;;
            esac

            """, mode: 0o755)
        sandbox.writeConfig("""
            [identity "me"]
                kind = azure/cli
                az = \(standIn)
                tenant-id = \(EntraFake.tenant)
            [identity "other-tenant"]
                kind = azure/cli
                az = \(standIn)
                tenant-id = contoso.onmicrosoft.com
            """)
        let result = whoami(sandbox, "me")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.json["expiration"] as? String, rfc3339UTC(Int64(expiry)), "expires_on wins over expiresOn: \(result.json)")
        XCTAssertEqual(sandbox.read(sandbox.root + "/az-argv"), "account get-access-token --resource https://management.azure.com --output json --tenant \(EntraFake.tenant)\n")
        let refused = whoami(sandbox, "other-tenant")
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("az account get-access-token exited with status 1: ERROR: Please run 'az login' to setup account."), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("hint: run az login"), refused.stderr)
    }

    func testASubscriptionNeedsAnAzureTokenBeneathIt() throws {
        let sandbox = Sandbox()
        defer { AgentProcessKit.stopAgents(sandbox) }
        sandbox.environment["SOME_TOKEN"] = "not-azure"
        sandbox.writeConfig("""
            [identity "static"]
                kind = static
                username = x
                secret = env:SOME_TOKEN
            [identity "sub"]
                kind = azure/subscription
                via = identity:static
                subscription-id = \(EntraFake.subscription)
            """)
        let result = whoami(sandbox, "sub")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("identity \"sub\" needs an Azure access token from its via identity"), result.stderr)
    }

    /// Azure DevOps bound to an Azure identity: git 2.39 (this machine's) gets the access token as
    /// a Basic password; a caller announcing `capability[]=authtype` (git ≥ 2.46, fed directly
    /// here) gets `authtype=Bearer` and the token as `credential` instead.
    func testAzureDevOpsGetsTheAccessTokenAsPasswordOrBearerCredential() throws {
        let (sandbox, entra) = try configured("""
            [identity "devops"]
                kind = azure/client-secret
                tenant-id = \(EntraFake.tenant)
                client-id = \(EntraFake.secretClient)
                client-secret = env:TEST_AZURE_SECRET
                authority = AUTHORITY
                resource = 499b84ac-1321-427f-aa17-267ca6975798
            [git "https://dev.azure.com/acme"]
                identity = devops

            """)
        defer { AgentProcessKit.stopAgents(sandbox) }
        let filled = sandbox.git(["credential", "fill"], stdin: "protocol=https\nhost=dev.azure.com\npath=acme/app/_git/app\n\n",
                                 config: ["credential.useHttpPath=true"])
        XCTAssertEqual(filled.status, 0, filled.stderr)
        let fields = Dictionary(filled.stdout.split(separator: "\n").map { $0.split(separator: "=", maxSplits: 1).map(String.init) }
            .filter { $0.count == 2 }.map { ($0[0], $0[1]) }, uniquingKeysWith: { $1 })
        XCTAssertEqual(fields["username"], "oauth2")
        XCTAssertTrue(fields["password"]?.hasPrefix("fake-entra-at-") ?? false, filled.stdout)
        let helper = sandbox.broker("git-credential-broker", ["get"],
                                    stdin: "capability[]=authtype\nprotocol=https\nhost=dev.azure.com\npath=acme/app/_git/app\n\n")
        XCTAssertEqual(helper.status, 0, helper.stderr)
        let lines = helper.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "capability[]=authtype")
        XCTAssertTrue(lines.contains("authtype=Bearer"), helper.stdout)
        XCTAssertTrue(lines.contains("credential=\(fields["password"] ?? "-")"), "the same cached token")
        XCTAssertFalse(lines.contains { $0.hasPrefix("password=") })
        XCTAssertEqual(entra.count("secret"), 1)
    }

    /// `brokerctl login me` runs the device-code flow (the fake answers authorization_pending
    /// until the person approves); a subscription identity on the provider then lists
    /// subscriptions through the managed-identity endpoint, and the session is renewed silently
    /// with the (rotating) refresh token.
    func testADeviceCodeLoginThenSilentRefreshesServeAWrappedCommand() throws {
        let (sandbox, entra) = try configured("""
            [provider "me"]
                kind = azure/device-code
                tenant-id = \(EntraFake.tenant)
                client-id = \(EntraFake.publicClient)
                authority = AUTHORITY
            [identity "mine"]
                kind = azure/subscription
                via = provider:me
                subscription-id = \(EntraFake.subscription)

            """, entraLifetime: 200)
        defer { AgentProcessKit.stopAgents(sandbox) }
        let before = sandbox.run(Sandbox.executable("broker-env-wrap"), ["--identity", "mine", "--", "true"])
        XCTAssertNotEqual(before.status, 0)
        XCTAssertTrue(before.stderr.contains("provider \"me\" has no session; run: brokerctl login me"), before.stderr)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Sandbox.executable("brokerctl"))
        process.arguments = ["login", "me", "--no-browser"]
        process.environment = sandbox.environment
        let out = sandbox.write("login.out", ""), err = sandbox.write("login.err", "")
        process.standardOutput = FileHandle(forWritingAtPath: out)
        process.standardError = FileHandle(forWritingAtPath: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        var codes: [String] = []
        XCTAssertTrue(AgentProcessKit.waitUntil(20) { codes = entra.pendingUserCodes; return !codes.isEmpty })
        XCTAssertTrue(AgentProcessKit.waitUntil(10) { entra.count("pending") >= 1 }, "the agent polls while the code is pending")
        XCTAssertTrue(entra.approve(userCode: codes.first ?? "-"))
        XCTAssertTrue(AgentProcessKit.waitUntil(30) { !process.isRunning })
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, sandbox.read(err))
        XCTAssertTrue(sandbox.read(out).contains(codes.first ?? "-"), sandbox.read(out))
        XCTAssertEqual(entra.count("device"), 1)

        let wrapped = sandbox.run(Sandbox.executable("broker-env-wrap"), ["--identity", "mine", "--", MotoServer.python, "-c", entra.listingScript()],
                                  extraEnvironment: entra.clientEnvironment, timeout: 90)
        XCTAssertEqual(wrapped.status, 0, wrapped.stderr)
        XCTAssertEqual(wrapped.stdout, "[\"\(EntraFake.subscription)\"]\n")
        // 200-second tokens are inside the 5-minute renewal window: the session was renewed silently
        // (the resolver's refresh-ahead may renew once more in the background).
        let renewals = entra.count("refresh")
        XCTAssertGreaterThanOrEqual(renewals, 1)
        XCTAssertEqual(sandbox.broker("brokerctl", ["logout", "mine"]).status, 0)
        XCTAssertEqual(whoami(sandbox, "mine").status, 0, "renewed again, with the rotated refresh token (the fake accepts each once)")
        XCTAssertGreaterThan(entra.count("refresh"), renewals)
        XCTAssertEqual(entra.count("device"), 1, "no second login")
    }
}
