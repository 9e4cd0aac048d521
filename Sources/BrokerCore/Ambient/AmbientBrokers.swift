// Ambient brokers: identities a CI job's environment already implies, added when no config claims them.

import BrokerWire

/// One source of ambient identities. `enabled` looks at cheap signals only (environment
/// variables: no network, no files), so consulting every broker costs nothing measurable;
/// `provision` returns config sections, built as entries (never as text, so no variable's value
/// can inject a section) and validated by the same code as the file.
public protocol AmbientBroker: Sendable {
    /// The `[ambient]` key that switches it, and the name in errors and `brokerctl status`.
    var name: String { get }
    func enabled(_ environment: Environment) -> Bool
    func provision(_ environment: Environment) -> [AmbientSection]
}

/// An identity or a git binding an ambient broker contributes.
public struct AmbientSection: Sendable {
    public var section: String
    public var subsection: String
    public var settings: [(String, String)]
    public init(_ section: String, _ subsection: String, _ settings: [(String, String)]) {
        self.section = section
        self.subsection = subsection
        self.settings = settings
    }
}

/// `[ambient]`: `auto` consults a broker only when the environment says it is CI (`CI` set to
/// true or 1, as GitHub Actions, GitLab, CircleCI, Buildkite and Jenkins' plugins do); `true`
/// consults it anywhere; `false` never.
public enum AmbientMode: String, Sendable, CaseIterable { case auto, `true`, `false` }

public enum AmbientBrokers {
    public static let all: [any AmbientBroker] = [GitHubActionsAmbient(), AWSKeysAmbient()]
    public static var keys: [String] { ["enabled"] + all.map(\.name) }

    /// What the brokers add to `fileEntries`: their entries, the identities they define, and a
    /// sentence per broker that failed (it is skipped; the rest of the configuration stands).
    /// A name or URL the file already defines is left to the file.
    public static func contribute(to fileEntries: [ConfigEntry], environment: Environment)
        -> (entries: [ConfigEntry], identities: [String], failures: [String]) {
        func mode(_ key: String) -> AmbientMode {
            let value = fileEntries.last { $0.section == "ambient" && $0.subsection == nil && $0.key == key }?.value
            return value.flatMap(AmbientMode.init(rawValue:)) ?? .auto
        }
        let global = mode("enabled")
        guard global != .false else { return ([], [], []) }
        let looksLikeCI = ["true", "1"].contains(environment["CI"]?.lowercased() ?? "")
        let definedIdentities = Set(fileEntries.filter { $0.section == "identity" }.compactMap(\.subsection))
        let definedBindings = Set(fileEntries.filter { $0.section == "git" }.compactMap(\.subsection))

        var entries: [ConfigEntry] = []
        var identities: [String] = []
        var failures: [String] = []
        for broker in all {
            let own = mode(broker.name)
            guard own != .false else { continue }
            guard own == .true || global == .true || looksLikeCI, broker.enabled(environment) else { continue }
            let location = SourceLocation(file: "(ambient \(broker.name))", line: 1)
            var mine: [ConfigEntry] = []
            var names: [String] = []
            for section in broker.provision(environment) {
                if section.section == "identity" && definedIdentities.contains(section.subsection) { continue }
                if section.section == "git" && definedBindings.contains(section.subsection) { continue }
                if section.section == "identity" { names.append(section.subsection) }
                mine += section.settings.map {
                    ConfigEntry(section: section.section, subsection: section.subsection, key: $0.0, value: $0.1, location: location)
                }
            }
            // Each broker's sections are checked on their own (they are self-contained): one that
            // does not fit is skipped, not fatal. The file may chain from what they define.
            do {
                _ = try BrokerConfig.parse(mine)
                entries += mine
                identities += names
            } catch {
                failures.append("ambient broker \(broker.name) skipped: \(error)")
            }
        }
        return (entries, identities, failures)
    }
}

/// A GitHub Actions job: its OIDC token (`gha-oidc`), a role from it when `AWS_ROLE_ARN` is set
/// (`gha-aws`), and the job's `GITHUB_TOKEN` for git to the server the job runs on (`gha-token`).
struct GitHubActionsAmbient: AmbientBroker {
    let name = "github-actions"

    func enabled(_ environment: Environment) -> Bool { environment["GITHUB_ACTIONS"] == "true" }

    func provision(_ environment: Environment) -> [AmbientSection] {
        var sections: [AmbientSection] = []
        if GitHubActionsOIDC.available(environment) {
            sections.append(AmbientSection("identity", "gha-oidc", [("kind", GitHubOIDCIdentity.descriptor.name)]))
            if let role = environment["AWS_ROLE_ARN"] {
                sections.append(AmbientSection("identity", "gha-aws", [
                    ("kind", AWSWebIdentity.descriptor.name), ("role-arn", role), ("github-oidc", "true"),
                    ("audience", environment["BROKER_GHA_AWS_AUDIENCE"] ?? "sts.amazonaws.com"),
                ]))
            }
        }
        if environment["GITHUB_TOKEN"] != nil {
            sections.append(AmbientSection("identity", "gha-token", [
                ("kind", StaticIdentity.descriptor.name), ("username", "x-access-token"), ("secret", "env:GITHUB_TOKEN"),
            ]))
            let server = environment["GITHUB_SERVER_URL"] ?? "https://github.com"
            sections.append(AmbientSection("git", server, [("identity", "gha-token")]))
        }
        return sections
    }
}

/// Keys a CI runner already exports (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, maybe
/// `AWS_SESSION_TOKEN`) as a base identity `ci-aws`, so a configuration's chains can start from
/// it with `via = identity:ci-aws`. Values stay in the environment: the entries are `env:` references.
struct AWSKeysAmbient: AmbientBroker {
    let name = "aws-keys"

    func enabled(_ environment: Environment) -> Bool {
        environment["AWS_ACCESS_KEY_ID"] != nil && environment["AWS_SECRET_ACCESS_KEY"] != nil
    }

    func provision(_ environment: Environment) -> [AmbientSection] {
        var settings: [(String, String)] = [
            ("kind", AWSUserIdentity.descriptor.name), ("access-key-id", "env:AWS_ACCESS_KEY_ID"), ("secret-access-key", "env:AWS_SECRET_ACCESS_KEY"),
        ]
        if environment["AWS_SESSION_TOKEN"] != nil {
            settings.append(("session-token", "env:AWS_SESSION_TOKEN"))
        } else {
            // The job already holds these keys; handing them to its own tools adds no exposure.
            settings.append(("long-lived-keys", "true"))
        }
        return [AmbientSection("identity", "ci-aws", settings)]
    }
}
