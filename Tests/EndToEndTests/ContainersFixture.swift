// The container test bed (Fixtures/containers_fixture.py): moto with ECR, the CNCF registry, a fake EKS API server.

import BrokerWire
import Foundation
import XCTest
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// One test bed for a test class, started in `class func setUp` and stopped in `tearDown`; it also
/// stops when our end of its stdin closes.
final class ContainersFixture {
    let fields: [String: Any]
    private let process: Process
    private let stdin: Pipe

    struct StartError: Error, CustomStringConvertible { var description: String }

    static let script: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/containers_fixture.py").path
    }()

    init(lifetime: Int = 600) throws {
        let logPath = NSTemporaryDirectory() + "containers-fixture-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: Data())
        process = Process()
        process.executableURL = URL(fileURLWithPath: MotoServer.python)
        process.arguments = [Self.script, "--lifetime", String(lifetime)]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") && !$0.key.hasPrefix("REGISTRY_") }
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        environment["PYTHONUNBUFFERED"] = "1"
        process.environment = environment
        stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle(forWritingAtPath: logPath)
        try process.run()
        let fd = stdout.fileHandleForReading.fileDescriptor
        let line = FixtureOutput.firstLine(fd, within: 60, while: { [process] in process.isRunning })
        guard let parsed = (try? JSONSerialization.jsonObject(with: Data(line.prefix { $0 != 10 }))) as? [String: Any],
              parsed["api_server"] != nil else {
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            try? stdin.fileHandleForWriting.close()
            process.waitUntilExit()
            throw StartError(description: "containers_fixture.py did not start: \(String(log.suffix(2000)))")
        }
        fields = parsed
        unlink(logPath)
    }

    subscript(_ key: String) -> String { fields[key] as? String ?? "" }

    /// Requests the AWS proxy received since the last reset, by `service:Action` and `ecr-region:R`.
    func counts() -> [String: Int] {
        ((try? JSONSerialization.jsonObject(with: Data(Self.request("GET", self["aws_endpoint"] + "/__counts")))) as? [String: Any] ?? [:])
            .compactMapValues { $0 as? Int }
    }

    func resetCounts() { Self.request("POST", self["aws_endpoint"] + "/__counts/reset") }

    /// moto's signature checks; its EKS GETs need them off (botocore's own fail verification too).
    func setAuthentication(_ on: Bool) { Self.request("POST", self["aws_endpoint"] + "/__auth", body: on ? "on" : "off") }

    /// What the fake API server accepted and refused: `accepted`, `rejected` (reasons), `amz_dates`.
    func apiStats() -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(Self.request("GET", self["aws_endpoint"] + "/__api_stats")))) as? [String: Any] ?? [:]
    }

    func stop() {
        guard process.isRunning else { return }
        try? stdin.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    deinit { stop() }

    @discardableResult
    static func request(_ method: String, _ url: String, body: String? = nil) -> [UInt8] {
        var request = URLRequest(url: URL(string: url)!, timeoutInterval: 10)
        request.httpMethod = method
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("text/plain", forHTTPHeaderField: "Content-Type")
        }
        let done = DispatchSemaphore(value: 0)
        let box = Box()
        URLSession.shared.dataTask(with: request) { data, _, _ in box.set(data.map { Array($0) } ?? []); done.signal() }.resume()
        _ = done.wait(timeout: .now() + 15)
        return box.get()
    }

    private final class Box: @unchecked Sendable {
        private let lock = NSLock()
        private var value: [UInt8] = []
        func set(_ v: [UInt8]) { lock.lock(); value = v; lock.unlock() }
        func get() -> [UInt8] { lock.lock(); defer { lock.unlock() }; return value }
    }
}

/// Fixtures/registry_token_gate.py in front of the test bed's registry: Basic auth with any
/// user and a live token from `tokensFile` (`TOKEN EXPIRY` lines), as ghcr.io takes GitHub tokens.
final class RegistryGate {
    let host: String
    private let process = Process()
    private let stdin = Pipe()

    init(tokensFile: String, bed: ContainersFixture) throws {
        let stdout = Pipe()
        process.executableURL = URL(fileURLWithPath: MotoServer.python)
        process.arguments = [URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/registry_token_gate.py").path,
                             "--tokens-file", tokensFile, "--upstream", bed["registry"],
                             "--upstream-user", bed["static_user"], "--upstream-password", bed["static_password"], "--lifetime", "120"]
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        let fd = stdout.fileHandleForReading.fileDescriptor
        let line = FixtureOutput.firstLine(fd, within: 15, while: { [process] in process.isRunning })
        guard let port = Int(String(decoding: line.prefix { $0 != 10 }, as: UTF8.self)) else {
            try? stdin.fileHandleForWriting.close()
            throw ContainersFixture.StartError(description: "registry_token_gate.py did not start")
        }
        host = "127.0.0.1:\(port)"
    }

    func stop() {
        try? stdin.fileHandleForWriting.close()
        if process.isRunning { process.waitUntilExit() }
    }

    deinit { stop() }
}

/// A test class whose tests share one container test bed.
class ContainersTestCase: XCTestCase {
    private static var fixtures: [ObjectIdentifier: ContainersFixture] = [:]

    override class func setUp() {
        super.setUp()
        do { fixtures[ObjectIdentifier(self)] = try ContainersFixture() } catch { XCTFail("containers fixture: \(error)") }
    }

    override class func tearDown() {
        fixtures.removeValue(forKey: ObjectIdentifier(self))?.stop()
        super.tearDown()
    }

    var bed: ContainersFixture { Self.fixtures[ObjectIdentifier(type(of: self))]! }

    /// A sandbox whose agent talks to the test bed's AWS, with `dev`'s secret in `DEV_SECRET`, and
    /// `identities` plus the AWS chain (`dev` → `deployer`, `dev` → `outsider`) in its config.
    func sandbox(_ identities: String) -> Sandbox {
        let sandbox = Sandbox()
        addTeardownBlock { sandbox.stopAgent() }
        sandbox.environment["AWS_ENDPOINT_URL"] = bed["aws_endpoint"]
        sandbox.environment["DEV_SECRET"] = bed["secret_access_key"]
        sandbox.environment["KUBECACHEDIR"] = sandbox.root + "/kube-cache"
        sandbox.writeConfig("""
            [identity "dev"]
                kind = aws/user
                access-key-id = \(bed["access_key_id"])
                secret-access-key = env:DEV_SECRET
            [identity "deployer"]
                kind = aws/assume-role
                via = identity:dev
                role-arn = \(bed["deployer_role_arn"])
                session-name = broker-deployer
            [identity "outsider"]
                kind = aws/assume-role
                via = identity:dev
                role-arn = \(bed["outsider_role_arn"])
                session-name = broker-outsider
            \(identities)
            """)
        return sandbox
    }
}
