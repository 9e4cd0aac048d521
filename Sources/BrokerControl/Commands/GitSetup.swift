// `brokerctl git-setup`: the git config lines that enable the helper, keeping the helpers already there.

import BrokerCore
import BrokerWire
import Foundation

extension Brokerctl {
    /// What git-setup does to `credential.helper`: the values before and after, in git's order.
    struct HelperPlan: Equatable {
        var before: [String]
        var after: [String]
        var changed: Bool { before != after }
    }

    /// The git config lines people need: the helper itself (first, as an absolute path, beside
    /// any helpers already configured), and useHttpPath for hosts whose bindings carry a path
    /// (git sends no path otherwise, DESIGN §4).
    func gitSetup(_ args: [String]) throws -> Int32 {
        let options = try parse(args, as: "git-setup")
        let config = try loadConfig()
        let existing = try globalValues("credential.helper")
        let plan = Self.helperPlan(existing: existing, ours: Self.ourHelper())
        let ours = plan.after.first(where: Self.isOurs) ?? "broker"
        let paths = Self.gitSettings(config, helper: ours).dropFirst()
        if options.flags.contains("--global") {
            if plan.changed {
                // --unset-all then --add in order: git keeps a multi-valued key's order, and
                // `git config KEY VALUE` fails on a key that already has several values.
                if !existing.isEmpty { try git(["config", "--global", "--unset-all", "credential.helper"]) }
                for value in plan.after { try git(["config", "--global", "--add", "credential.helper", value]) }
                let kept = plan.after.filter { !Self.isOurs($0) && !$0.isEmpty }
                out("set credential.helper = \(ours)" + (kept.isEmpty ? "" : " (tried first; kept after it: \(kept.map { "\"\($0)\"" }.joined(separator: ", ")))"))
                for line in Self.describe(plan) { out("  " + line) }
            } else {
                out("credential.helper already has \(ours) first; unchanged")
            }
            for (key, value) in paths {
                try git(Self.gitConfigArguments(key, value).dropFirst().map { $0 })
                out("set \(key) = \(value)")
            }
            return ExitStatus.success
        }
        if plan.changed && !existing.isEmpty {
            out("# credential.helper in ~/.gitconfig, in the order git tries them (- removed, + added, ' ' kept):")
            for line in Self.describe(plan) { out("# " + line) }
            out("git config --global --unset-all credential.helper")
            for value in plan.after { out("git config --global --add credential.helper \(Self.shellQuoted(value))") }
        } else if plan.changed {
            out("git config --global credential.helper \(Self.shellQuoted(ours))")
        } else {
            out("# credential.helper already has \(ours) first; unchanged")
        }
        for (key, value) in paths { out("git config --global \(key) \(value)") }
        return ExitStatus.success
    }

    /// The helper value to write: the absolute path of the git-credential-broker beside this
    /// brokerctl. git runs a bare name (`broker`) as `git credential-broker`, one more git process
    /// per call (measured 1.52x credential-cache's time, against 1.03x for the absolute path).
    static func ourHelper() -> String {
        if let directory = ProcessInfoLite.executableDirectory() {
            let sibling = directory + "/git-credential-broker"
            if ProcessInfoLite.isExecutable(sibling) { return quotedForGit(sibling) }
        }
        return "broker"
    }

    /// git runs a helper that starts with '/' through the shell: quote a path that needs it.
    static func quotedForGit(_ path: String) -> String {
        path.allSatisfy { $0.isLetter || $0.isNumber || "/._-+".contains($0) } ? path : shellQuoted(path)
    }

    static func shellQuoted(_ text: String) -> String {
        if !text.isEmpty, text.allSatisfy({ $0.isLetter || $0.isNumber || "/._-+=:,@".contains($0) }) { return text }
        return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Our helper in any spelling: `broker`, `git-credential-broker`, or a path ending in it, with arguments.
    static func isOurs(_ value: String) -> Bool {
        let program = splitProgram(value).program
        return program == "broker" || program == "git-credential-broker" || program.hasSuffix("/git-credential-broker")
    }

    /// A helper value's program (unquoted) and the rest as written, from its first space on.
    static func splitProgram(_ value: String) -> (program: String, rest: String) {
        if let quote = value.first, quote == "'" || quote == "\"",
           let end = value.dropFirst().firstIndex(of: quote) {
            return (String(value[value.index(after: value.startIndex)..<end]), String(value[value.index(after: end)...]))
        }
        guard let space = value.firstIndex(of: " ") else { return (value, "") }
        return (String(value[..<space]), String(value[space...]))
    }

    /// Ours first (keeping the arguments of an earlier entry of ours, such as `--timeout=`), then
    /// every other helper in its order. An empty value resets the list of helpers before it, so
    /// ours goes right after the last empty value rather than before it, where it would be reset.
    static func helperPlan(existing: [String], ours: String) -> HelperPlan {
        let previous = existing.first(where: isOurs)
        let arguments = previous.map { splitProgram($0).rest } ?? ""
        let others = existing.filter { !isOurs($0) }
        let resets = (others.lastIndex(of: "").map { $0 + 1 }) ?? 0
        return HelperPlan(before: existing, after: Array(others[..<resets]) + [ours + arguments] + others[resets...])
    }

    /// The change as diff lines: `- old`, `+ new`, `  kept`.
    static func describe(_ plan: HelperPlan) -> [String] {
        plan.before.filter { !plan.after.contains($0) }.map { "- \($0)" }
            + plan.after.map { plan.before.contains($0) ? "  \($0)" : "+ \($0)" }
    }

    static func gitSettings(_ config: BrokerConfig, helper: String = "broker") -> [(key: String, value: String)] {
        var settings: [(key: String, value: String)] = [("credential.helper", helper)]
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

    /// Every value of a key in the global git config, in order ([] when unset).
    func globalValues(_ key: String) throws -> [String] {
        let result = try CommandRunner().run(arguments: ["git", "config", "--global", "--get-all", key], timeout: 10, environment: environment)
        guard result.status == 0 else {
            if result.status == 1 { return [] }  // unset
            throw BrokerFailure(.unavailable, "git config --global --get-all \(key) \(result.statusDescription)" + (result.stderrExcerpt.map { ": \($0)" } ?? ""))
        }
        return result.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    /// Runs git with an argv, never a shell line: keys are made from config text (D14).
    func git(_ arguments: [String]) throws {
        let result = try CommandRunner().run(arguments: ["git"] + arguments, timeout: 10, environment: environment)
        guard result.status == 0 else {
            throw BrokerFailure(.unavailable, "git \(arguments.prefix(4).joined(separator: " ")) \(result.statusDescription)" + (result.stderrExcerpt.map { ": \($0)" } ?? ""))
        }
    }
}
