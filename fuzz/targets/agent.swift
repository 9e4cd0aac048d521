// Fuzz target: the agent's request handler (AgentService.handle) on a temp directory with an
// empty config: the input is decoded as the socket loop decodes it, then handled.

@testable import BrokerAgent
import BrokerWire
import Foundation

nonisolated(unsafe) private var temporaryRoot = ""
private let service: AgentService = {
    var template = Array("/tmp/broker-fuzz-agent.XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { fatalError("agent: mkdtemp failed") }
    let root = String(cString: made)
    temporaryRoot = root
    atexit { _ = try? FileManager.default.removeItem(atPath: temporaryRoot) }
    for dir in ["run", "cache", "state", "config"] { mkdir(root + "/" + dir, 0o700) }
    // Millions of audited requests would fill the disk; the audit log goes nowhere.
    symlink("/dev/null", root + "/state/audit.log")
    let paths = BrokerPaths(runtimeDirectory: root + "/run", cacheDirectory: root + "/cache", stateDirectory: root + "/state",
                            configFile: root + "/config/config")
    return AgentService(paths: paths, environment: Environment(["HOME": root, "PATH": "/usr/bin:/bin"]), log: { _ in })
}()
private let caller = Caller(pid: 0, uid: getuid())

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let request = try? WireCodec.decode(bytes) else { return 0 }
    let answer = service.handle(request, caller: caller)
    // Every answer is either ok or an error, and goes back over the socket whole.
    guard answer["status"] == "ok" || answer["status"] == "error" else { fatalError("agent: answer without a status") }
    do { _ = try answer.encoded() } catch { fatalError("agent: an answer cannot be encoded: \(error)") }
    // git.store keeps credentials in memory; keep a long run's memory flat.
    if service.gitStore.count > 1000 { service.gitStore.removeAll() }
    return 0
}
