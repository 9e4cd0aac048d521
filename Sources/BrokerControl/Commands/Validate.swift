// `brokerctl validate`: check a configuration and its secret references without contacting anything.

import BrokerCore
import BrokerWire

extension Brokerctl {
    /// One finding, with the line it is about.
    struct ValidationFinding {
        var location: SourceLocation?
        var message: String
        var hint: String?

        var line: String {
            let body = hint.map { "\(message) (hint: \($0))" } ?? message
            return location.map { "\($0): \(body)" } ?? body
        }

        var json: [String: Any] {
            var object: [String: Any] = ["message": message]
            object["file"] = location?.file
            object["line"] = location?.line
            object["hint"] = hint
            return object
        }
    }

    /// Every error in the file, each with its file:line, then every secret reference checked as
    /// far as it can be without reading a secret or running a command: a `file:` must exist, be
    /// yours, mode 0600 and not empty; an `env:` must be set where the agent reads it.
    func validate(_ args: [String]) throws -> Int32 {
        let options = try parse(args, as: "validate")
        var ctl = self
        if let file = options.values["--config"] {
            ctl.environment.values["BROKER_CONFIG"] = file
            ctl.configFromOption = true
        }
        let paths = try ctl.paths
        let checked = BrokerConfig.check(paths)
        var errors = checked.errors.map { ValidationFinding(location: $0.location, message: $0.message, hint: $0.hint) }
        var warnings: [ValidationFinding] = []
        if checked.readable {
            let findings = ctl.secretFindings(checked.config)
            errors += findings.errors
            warnings += findings.warnings
        }
        let config = checked.config
        let counts = "\(plural(config.identities.count, "identity", "identities")), \(plural(config.gitBindings.count, "git binding"))"
        if options.format == .json {
            var object: [String: Any] = [
                "ok": errors.isEmpty, "identities": config.identities.count, "git_bindings": config.gitBindings.count,
                "errors": errors.map(\.json), "warnings": warnings.map(\.json),
            ]
            object["file"] = config.file ?? (checked.readable ? nil : paths.configFile)
            emitJSON(object)
            return errors.isEmpty ? ExitStatus.success : ExitStatus.failure
        }
        for error in errors { err("brokerctl: \(error.line)") }
        for warning in warnings { err("brokerctl: warning: \(warning.line)") }
        if errors.count > 1 { err("brokerctl: \(plural(errors.count, "error")) in \(paths.configFile)") }
        guard errors.isEmpty else { return ExitStatus.failure }
        guard let file = config.file else {
            out("no config file at \(paths.configFile): nothing to check (an empty config is valid)")
            return ExitStatus.success
        }
        out("\(file): ok (\(counts))")
        return ExitStatus.success
    }

    /// Secret references checked without reading a secret. `env:` goes by the running agent of
    /// this configuration when there is one (it reads variables from its own environment), else by
    /// this shell's, which an agent started from here would inherit — a warning, as that is a guess.
    func secretFindings(_ config: BrokerConfig) -> (errors: [ValidationFinding], warnings: [ValidationFinding]) {
        var errors: [ValidationFinding] = []
        var warnings: [ValidationFinding] = []
        let agent = try? client().send(WireMessage(.status), startAgent: false)
        let agentMissing = agent.map { Set($0.records("env_missing", columns: ["name"]).compactMap { $0["name"] }) }
        var reportedVariables = Set<String>()
        var checkedReferences: [String: BrokerFailure?] = [:]
        // Which identities read each variable, worked out once: a filter per variable was a scan
        // of every identity for each of them.
        lazy var usersOfVariable: [String: [String]] = {
            var users: [String: [String]] = [:]
            for other in config.identityOrder {
                for case .environment(let variable) in config.kinds[other]?.secretReferences ?? [] where users[variable]?.last != other {
                    users[variable, default: []].append(other)
                }
            }
            return users
        }()
        for name in config.identityOrder {
            guard let definition = config.identities[name], let kind = config.kinds[name] else { continue }
            for reference in kind.secretReferences {
                let location = Self.location(of: reference, in: definition)
                if case .environment(let variable) = reference {
                    guard reportedVariables.insert(variable).inserted else { continue }
                    let users = usersOfVariable[variable] ?? []
                    let usedBy = users.count == 1 ? "identity \"\(name)\"" : "\(users.count) identities (\"\(users[0])\", …)"
                    if let agentMissing, let pid = agent?["pid"] {
                        if agentMissing.contains(variable) {
                            errors.append(ValidationFinding(
                                location: location,
                                message: "environment variable \(variable) (\(reference), used by \(usedBy)) is not set in the running broker-agent's environment (pid \(pid))",
                                hint: "export \(variable) and run `brokerctl stop`; the next request starts an agent that has it"))
                        }
                    } else if let problem = reference.check(environment: environment) {
                        warnings.append(ValidationFinding(
                            location: location,
                            message: "\(problem.message) in this environment, which broker-agent inherits when a request from here starts it (used by \(usedBy))",
                            hint: "export \(variable) in the environment git and the AWS tools run in"))
                    }
                    continue
                }
                // Many identities share one file or program: each is looked at once.
                let problem: BrokerFailure?
                if let known = checkedReferences[reference.keyMaterial] {
                    problem = known
                } else {
                    problem = reference.check(environment: environment)
                    checkedReferences[reference.keyMaterial] = .some(problem)
                }
                if let problem {
                    errors.append(ValidationFinding(location: location, message: "identity \"\(name)\": \(problem.message)", hint: problem.hint))
                }
            }
        }
        return (errors, warnings)
    }

    /// The line that wrote a reference: the setting whose value parses to it, else the section's.
    static func location(of reference: SecretReference, in definition: IdentityDefinition) -> SourceLocation {
        for entries in definition.settings.values {
            for entry in entries {
                guard let value = entry.value, value.hasPrefix("env:") || value.hasPrefix("file:") || value.hasPrefix("cmd:"),
                      let parsed = try? SecretReference(value, at: entry.location), parsed == reference else { continue }
                return entry.location
            }
        }
        return definition.location
    }
}

/// "1 identity", "2 identities".
func plural(_ count: Int, _ one: String, _ many: String? = nil) -> String {
    "\(count) \(count == 1 ? one : many ?? one + "s")"
}
