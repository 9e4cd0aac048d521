// `brokerctl git-setup`: the git config lines that enable the helper.

import BrokerCore
import BrokerWire

extension Brokerctl {
    /// The git config lines people need: the helper itself, and useHttpPath for hosts whose
    /// bindings carry a path (git sends no path otherwise, DESIGN §4).
    func gitSetup(_ args: [String]) throws -> Int32 {
        let options = try parse(args, as: "git-setup")
        let settings = Self.gitSettings(try loadConfig())
        if options.flags.contains("--global") {
            for (key, value) in settings {
                // An argv, never a shell line: the key is made from config text (D14).
                let result = try CommandRunner().run(arguments: Self.gitConfigArguments(key, value), timeout: 10, environment: environment)
                guard result.status == 0 else {
                    throw BrokerFailure(.unavailable, "git config --global \(key) failed: \(result.stderr.split(separator: "\n").first ?? "")")
                }
                out("set \(key) = \(value)")
            }
        } else {
            for (key, value) in settings { out("git config --global \(key) \(value)") }
        }
        return ExitStatus.success
    }

    static func gitSettings(_ config: BrokerConfig) -> [(key: String, value: String)] {
        var settings: [(key: String, value: String)] = [("credential.helper", "broker")]
        var seen = Set<String>()
        for binding in config.gitBindings where !binding.pattern.path.isEmpty {
            let hostURL = "\(binding.pattern.scheme)://\(binding.pattern.hostLabels.joined(separator: "."))" + (binding.pattern.port.map { ":\($0)" } ?? "")
            if seen.insert(hostURL).inserted { settings.append(("credential.\(hostURL).useHttpPath", "true")) }
        }
        return settings
    }

    static func gitConfigArguments(_ key: String, _ value: String) -> [String] {
        ["git", "config", "--global", key, value]
    }
}
