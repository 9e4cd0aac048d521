// A provisioned moto_server with signature checks on, behind a request-counting proxy (Fixtures/moto_fixture.py).

import Foundation
import XCTest
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// One moto for a test class: start it in `class func setUp`, drop it in `class func tearDown`.
/// The fixture stops moto when our end of its stdin closes, so a crashed test run cannot leave it
/// behind for long either (`lifetime` is its own safety net).
final class MotoServer {
    /// The counting proxy in front of moto: point clients here.
    let endpoint: String
    /// moto itself, for its /moto-api.
    let motoEndpoint: String
    let port: Int
    let accessKeyID: String
    let secretAccessKey: String
    let userARN: String
    let firstRoleARN: String
    let secondRoleARN: String
    /// The session name a `first` session must have to assume `second` (moto matches principals exactly).
    let chainSessionName: String
    let externalID: String
    let account: String

    private let process: Process
    private let stdin: Pipe
    private let logPath: String

    struct StartError: Error, CustomStringConvertible { var description: String }

    static let script: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/moto_fixture.py").path
    }()

    /// python3 from PATH: the one with moto and boto3 installed (pyenv here), unlike /usr/bin/python3.
    static let python: String = {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") where access("\(dir)/python3", X_OK) == 0 {
            return "\(dir)/python3"
        }
        return "/usr/bin/python3"
    }()

    init(lifetime: Int = 600, startupTimeout: TimeInterval = 60) throws {
        logPath = NSTemporaryDirectory() + "moto-fixture-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: Data())
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = [Self.script, "--lifetime", String(lifetime)]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        environment["PYTHONUNBUFFERED"] = "1"
        process.environment = environment
        stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle(forWritingAtPath: logPath)
        try process.run()

        // The one JSON line, read with a deadline: never hang a test run on a broken fixture.
        let fd = stdout.fileHandleForReading.fileDescriptor
        let line = FixtureOutput.firstLine(fd, within: startupTimeout, while: { [process] in process.isRunning })
        let fields = (try? JSONSerialization.jsonObject(with: Data(line.prefix { $0 != 10 }))) as? [String: Any] ?? [:]
        func text(_ key: String) -> String? { fields[key] as? String }
        guard let endpoint = text("endpoint"), let motoEndpoint = text("moto_endpoint"), let port = fields["port"] as? Int,
              let accessKeyID = text("access_key_id"), let secretAccessKey = text("secret_access_key"),
              let userARN = text("user_arn"), let firstRoleARN = text("first_role_arn"),
              let secondRoleARN = text("second_role_arn"), let chainSessionName = text("chain_session_name"),
              let externalID = text("external_id"), let account = text("account") else {
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            Self.stop(process, stdin)
            throw StartError(description: "moto_fixture.py did not start: \(String(log.suffix(2000)))")
        }
        (self.endpoint, self.motoEndpoint, self.port) = (endpoint, motoEndpoint, port)
        (self.accessKeyID, self.secretAccessKey, self.userARN) = (accessKeyID, secretAccessKey, userARN)
        (self.firstRoleARN, self.secondRoleARN, self.chainSessionName) = (firstRoleARN, secondRoleARN, chainSessionName)
        (self.externalID, self.account) = (externalID, account)
        // The log only explains a failed start; moto keeps writing to the unlinked file.
        unlink(logPath)
    }

    /// STS requests the proxy received since the last reset, per `Action`, plus `__total`.
    func counts() -> [String: Int] {
        let (_, body) = Self.request("GET", endpoint + "/__counts")
        return ((try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:])
            .compactMapValues { $0 as? Int }
    }

    /// What each STS request since the last reset looked like: method, path, content_type,
    /// authorization, has_security_token, params (names only).
    func requests() -> [[String: Any]] {
        let (_, body) = Self.request("GET", endpoint + "/__requests")
        return (try? JSONSerialization.jsonObject(with: Data(body))) as? [[String: Any]] ?? []
    }

    /// Zeroes the counts and forgets the recorded requests.
    func resetCounts() {
        Self.request("POST", endpoint + "/__counts/reset")
    }

    /// The next `count` requests get `status` with an STS error `code` (or `body` verbatim, with
    /// `headers`) instead of reaching moto.
    func injectFaults(status: Int, count: Int, code: String, body: String? = nil, headers: [String: String] = [:]) {
        var spec: [String: Any] = ["status": status, "count": count, "code": code, "headers": headers]
        if let body { spec["body"] = body }
        let json = try! JSONSerialization.data(withJSONObject: spec)
        Self.request("POST", endpoint + "/__faults", body: String(decoding: json, as: UTF8.self))
    }

    /// moto's signature and policy checks; AssumeRoleWithWebIdentity needs them off (TESTING.md).
    func setAuthentication(_ on: Bool) {
        Self.request("POST", endpoint + "/__auth", body: on ? "on" : "off")
    }

    /// Call from `class func tearDown`: XCTest keeps test case instances (and so this server) until
    /// the run ends. Should that be missed, the fixture still stops when the test process exits.
    func stop() { Self.stop(process, stdin) }

    deinit { stop() }

    private static func stop(_ process: Process, _ stdin: Pipe) {
        guard process.isRunning else { return }
        try? stdin.fileHandleForWriting.close()  // the fixture's cue to stop moto and exit
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            usleep(500_000)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
    }

    /// A control request to the fixture, bounded by a short timeout.
    @discardableResult
    private static func request(_ method: String, _ url: String, body: String? = nil) -> (Int, [UInt8]) {
        var request = URLRequest(url: URL(string: url)!, timeoutInterval: 10)
        request.httpMethod = method
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("text/plain", forHTTPHeaderField: "Content-Type")
        }
        let done = DispatchSemaphore(value: 0)
        let answer = Answer()
        URLSession.shared.dataTask(with: request) { data, response, _ in
            answer.set((response as? HTTPURLResponse)?.statusCode ?? 0, data.map { Array($0) } ?? [])
            done.signal()
        }.resume()
        _ = done.wait(timeout: .now() + 15)
        return answer.get()
    }

    private final class Answer: @unchecked Sendable {
        private let lock = NSLock()
        private var value: (Int, [UInt8]) = (0, [])
        func set(_ status: Int, _ body: [UInt8]) { lock.lock(); value = (status, body); lock.unlock() }
        func get() -> (Int, [UInt8]) { lock.lock(); defer { lock.unlock() }; return value }
    }
}

/// A test class whose tests share one moto: started before the first test, stopped after the last.
class MotoTestCase: XCTestCase {
    /// Keyed by subclass: each class starts and stops its own.
    private static var servers: [ObjectIdentifier: MotoServer] = [:]

    override class func setUp() {
        super.setUp()
        do { servers[ObjectIdentifier(self)] = try MotoServer() } catch { XCTFail("moto fixture: \(error)") }
    }

    override class func tearDown() {
        servers.removeValue(forKey: ObjectIdentifier(self))?.stop()
        super.tearDown()
    }

    /// This class's moto; the class setUp has already failed the run when it could not start.
    var moto: MotoServer { Self.servers[ObjectIdentifier(type(of: self))]! }
    var startedMoto: MotoServer? { Self.servers[ObjectIdentifier(type(of: self))] }

    /// The credential_process document an adapter printed, after checking it exited 0.
    func document(_ result: ProcessResult, file: StaticString = #filePath, line: UInt = #line) -> [String: Any] {
        XCTAssertEqual(result.status, 0, result.stderr, file: file, line: line)
        return (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]) ?? [:]
    }
}

extension XCTestCase {
    /// A program from PATH (the aws CLI, terraform), or /usr/bin's when PATH has none.
    func pathOf(_ program: String) -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") where access("\(dir)/\(program)", X_OK) == 0 {
            return "\(dir)/\(program)"
        }
        return "/usr/bin/\(program)"
    }
}
