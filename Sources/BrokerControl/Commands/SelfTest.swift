// `brokerctl selftest`: the main job end to end on an embedded default, in a throwaway world.

import BrokerCore
import BrokerWire
import Foundation

extension Brokerctl {
    /// Runs real git through the installed helper with no config at all (the credential-cache
    /// drop-in mode), in a private temporary HOME/XDG world, then stops the agent it started.
    func selfTest(_ args: [String]) throws -> Int32 {
        _ = try parse(args, as: "selftest")
        guard let bin = ProcessInfoLite.executableDirectory() else { throw BrokerFailure(.internal, "cannot find my own executable") }
        let helper = bin + "/git-credential-broker"
        guard ProcessInfoLite.isExecutable(helper), ProcessInfoLite.isExecutable(bin + "/broker-agent") else {
            throw BrokerFailure(.unavailable, "git-credential-broker and broker-agent must sit next to brokerctl in \(bin)")
        }
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        var env = Environment([
            "PATH": environment["PATH"] ?? "/usr/bin:/bin", "HOME": root, "XDG_CONFIG_HOME": root + "/config",
            "XDG_CACHE_HOME": root + "/cache", "XDG_STATE_HOME": root + "/state", "BROKER_SOCKET_DIR": root + "/run",
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
        ])
        env.values["BROKER_AGENT"] = bin + "/broker-agent"
        let runner = CommandRunner()
        // Argv, not a shell line: the helper's path is whatever directory brokerctl was installed in.
        let git = ["git", "-c", "credential.helper=\(helper)", "credential"]
        let sample = "protocol=https\nhost=selftest.invalid\nusername=selftest\npassword=selftest-password\n"
        func step(_ title: String, _ arguments: [String], input: String, mayFail: Bool = false) throws -> String {
            let result = try runner.run(arguments: arguments, input: Array(input.utf8), timeout: 30, environment: env)
            guard result.status == 0 || (mayFail && !result.timedOut) else {
                throw BrokerFailure(.internal, "selftest step \"\(title)\" \(result.statusDescription): \(result.stderr.split(separator: "\n").first ?? "")")
            }
            out("ok    \(title)")
            return result.stdout
        }
        defer {
            let ctl = Brokerctl(environment: env, out: { _ in }, err: { _ in })
            _ = ctl.run(["stop"])
        }
        _ = try step("git credential approve (starts broker-agent)", git + ["approve"], input: sample)
        let filled = try step("git credential fill (answered from the agent)", git + ["fill"], input: "protocol=https\nhost=selftest.invalid\n")
        guard filled == sample else {
            throw BrokerFailure(.internal, "selftest: git credential fill returned something other than what was approved")
        }
        _ = try step("git credential reject", git + ["reject"], input: sample)
        let after = try step("git credential fill after reject (nothing cached)", git + ["fill"], input: "protocol=https\nhost=selftest.invalid\nusername=selftest\n", mayFail: true)
        guard !after.contains("selftest-password") else {
            throw BrokerFailure(.internal, "selftest: the rejected credential was still served")
        }
        out("selftest passed: git ↔ git-credential-broker ↔ broker-agent work on this machine")
        return ExitStatus.success
    }

    func makeTemporaryDirectory() throws -> String {
        var template = Array("/tmp/broker-selftest-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw BrokerFailure(.unavailable, "cannot create a temporary directory: \(Errno.current)")
        }
        return String(cString: template)
    }
}
