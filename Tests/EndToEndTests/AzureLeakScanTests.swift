// Azure leak scan: canary client secrets (accepted and refused), the certificate's key and the
// issued access tokens, searched for in every file the pass leaves, every stderr, the audit log
// and the agent's /proc entries.

import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class AzureLeakScanTests: XCTestCase {
    func testNoAzureSecretAppearsOutsideWhereItBelongs() throws {
        let sandbox = Sandbox()
        defer { AgentProcessKit.stopAgents(sandbox) }
        let entra = try EntraFake(directory: sandbox.root + "/entra")
        let root = sandbox.root
        let wrongSecret = "CANARY-WRONG-\(UUID().uuidString)"
        let secretFile = sandbox.write("secrets/client-secret", EntraFake.clientSecret + "\n")
        let wrongFile = sandbox.write("secrets/wrong-secret", wrongSecret + "\n")
        sandbox.writeConfig(entra.identities() + """
            [identity "file-secret"]
                kind = azure/client-secret
                tenant-id = \(EntraFake.tenant)
                client-id = \(EntraFake.secretClient)
                client-secret = file:\(secretFile)
                authority = \(entra.authority)
            [identity "refused"]
                kind = azure/client-secret
                tenant-id = \(EntraFake.tenant)
                client-id = \(EntraFake.secretClient)
                client-secret = file:\(wrongFile)
                authority = \(entra.authority)

            """)
        entra.agentEnvironment(sandbox)
        var outputs: [(String, String)] = []
        let wrap = Sandbox.executable("broker-env-wrap")
        // The wrapped command proves it got a token, and prints only its length.
        let script = """
            import os, json, urllib.request
            request = urllib.request.Request(os.environ["IDENTITY_ENDPOINT"] + "?api-version=2019-08-01&resource=https://management.azure.com",
                                             headers={"X-IDENTITY-HEADER": os.environ["IDENTITY_HEADER"]})
            with urllib.request.urlopen(request, timeout=10) as response:
                print(len(json.load(response)["access_token"]))
            """
        for identity in ["sp-secret", "sp-cert", "file-secret"] {
            let result = sandbox.run(wrap, ["--identity", identity, "--", MotoServer.python, "-c", script], timeout: 60)
            XCTAssertEqual(result.status, 0, result.stderr)
            outputs += [("\(identity) stdout", result.stdout), ("\(identity) stderr", result.stderr)]
        }
        let refused = sandbox.run(wrap, ["--identity", "refused", "--", "true"], timeout: 60)
        XCTAssertNotEqual(refused.status, 0)
        outputs += [("refused stderr", refused.stderr), ("refused stdout", refused.stdout)]
        for identity in ["sp-secret", "refused"] {
            let whoami = sandbox.broker("brokerctl", ["whoami", identity])
            outputs += [("whoami \(identity)", whoami.stdout + whoami.stderr)]
        }
        let status = sandbox.broker("brokerctl", ["status", "--format", "json"])
        outputs.append(("status", status.stdout + status.stderr))

        let agentPID = try XCTUnwrap(sandbox.agentPID)
        let key = try String(contentsOfFile: entra.directory + "/app-key.pem", encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("-----") }.prefix(3).map(String.init)
        var canaries = [EntraFake.clientSecret, wrongSecret] + key
        // Every access token the fake issued is a secret too.
        canaries += (try String(contentsOfFile: root + "/entra/issued-tokens", encoding: .utf8)).split(separator: "\n").map(String.init)
        XCTAssertGreaterThanOrEqual(canaries.count, 2 + 3 + 3)
        var hits: [String] = []
        func scan(_ label: String, _ bytes: [UInt8]) {
            let text = String(decoding: bytes.map { $0 == 0 ? 10 : $0 }, as: UTF8.self)
            for secret in canaries where text.contains(secret) { hits.append("\(label): \(secret.prefix(24))…") }
        }
        func bytes(_ path: String) -> [UInt8] { (FileManager.default.contents(atPath: path).map { [UInt8]($0) }) ?? [] }
        scan("/proc/agent/cmdline", bytes("/proc/\(agentPID)/cmdline"))
        // The agent's environment holds TEST_AZURE_SECRET by design (env: reference): scan for the rest.
        let environ = String(decoding: bytes("/proc/\(agentPID)/environ").map { $0 == 0 ? 10 : $0 }, as: UTF8.self)
            .split(separator: "\n").filter { !$0.hasPrefix("TEST_AZURE_SECRET=") }.joined(separator: "\n")
        scan("/proc/agent/environ", Array(environ.utf8))
        for (label, text) in outputs { scan(label, Array(text.utf8)) }
        // Every file left behind, apart from the secrets' sources and the fake's own files. Access
        // tokens are in the disk cache by design (0600, encrypted entries): its directory is checked
        // for mode, not content.
        let entries = sandbox.paths.cacheEntriesDirectory + "/"
        let walker = FileManager.default.enumerator(atPath: root)
        var scanned = 0
        while let relative = walker?.nextObject() as? String {
            let path = root + "/" + relative
            var st = stat()
            guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
            if relative.hasPrefix("secrets/") || relative.hasPrefix("entra/") { continue }
            if path.hasPrefix(entries) {
                XCTAssertEqual(AgentProcessKit.mode(path), 0o600, path)
                for secret in [EntraFake.clientSecret, wrongSecret] + key where String(decoding: bytes(path), as: UTF8.self).contains(secret) {
                    hits.append("\(relative): a client secret or key in a cache entry")
                }
                continue
            }
            scanned += 1
            scan(relative, bytes(path))
        }
        XCTAssertGreaterThan(scanned, 3, "the audit log and the config were scanned")
        XCTAssertEqual(hits, [], "Azure secrets found where they must not be:\n" + hits.joined(separator: "\n"))
    }
}
