// `env:NAME`, `file:PATH`, `cmd:COMMAND` and the AWS stores: where a long-lived secret is read from, when needed.

import BrokerWire
import Foundation

public enum SecretReference: Sendable, Equatable, CustomStringConvertible {
    case environment(String)
    /// Relative paths are made absolute against the config file's directory when parsed.
    case file(String)
    /// The command line and the directory it runs in: the config file's, so a relative path
    /// in it means the same whichever client started the agent.
    case command(String, directory: String?)
    /// A secret in AWS Secrets Manager or SSM Parameter Store, read by the agent through an AWS identity.
    case remote(RemoteSecret)
    /// A secret in the agent's keyring (`[keyring]`, KeyringService), by name.
    case keyring(String)

    /// Parses a reference; an inline secret is refused so none is ever written into a config.
    /// Relative `file:` paths and `cmd:` commands are anchored at the directory of the file
    /// that `location` names.
    public init(_ text: String, at location: SourceLocation) throws {
        let directory = Self.directory(of: location.file)
        // After a matching prefix, any byte beyond it is at least one more character.
        if text.hasPrefix("env:"), text.utf8.count > 4 {
            self = .environment(String(text.dropFirst(4)))
        } else if text.hasPrefix("file:"), text.utf8.count > 5 {
            let path = String(text.dropFirst(5))
            let anchored = path.hasPrefix("/") || path.hasPrefix("~/") || directory == nil
            self = .file(anchored ? path : directory! + "/" + path)
        } else if text.hasPrefix("cmd:"), text.utf8.count > 4 {
            self = .command(String(text.dropFirst(4)).trimmingCharacters(in: .whitespaces), directory: directory)
        } else if let store = RemoteSecret.Store.allCases.first(where: { text.hasPrefix($0.rawValue + ":") }) {
            self = .remote(try RemoteSecret(store, parsing: String(text.dropFirst(store.rawValue.count + 1)), at: location))
        } else if text.hasPrefix("keyring:") {
            let name = String(text.dropFirst(8))
            do { try KeyringName.check(name) } catch let failure as BrokerFailure {
                throw ConfigError(failure.message, at: location, hint: failure.hint)
            }
            self = .keyring(name)
        } else {
            // Never echo the value: it may be a pasted secret.
            throw ConfigError("a secret must be a reference (env:NAME, file:PATH, cmd:COMMAND, aws-secretsmanager:NAME or aws-ssm:NAME), not an inline value", at: location,
                              hint: "move the secret into a 0600 file and write file:PATH")
        }
    }

    /// How it is shown in listings and errors: the source, never the value.
    public var description: String {
        switch self {
        case .environment(let name): return "env:\(name)"
        case .file(let path): return "file:\(path)"
        case .command(let command, _): return "cmd:\(command.split(separator: " ").first ?? "")"
        case .remote(let secret): return secret.description
        case .keyring(let name): return "keyring:\(name)"
        }
    }

    /// The whole reference, for cache keys: an edited command must make a new key.
    public var keyMaterial: String {
        switch self {
        case .environment(let name): return "env:\(name)"
        case .file(let path): return "file:\(path)"
        case .command(let command, let directory): return "cmd:\(command)" + (directory.map { "\nin \($0)" } ?? "")
        case .remote(let secret): return secret.description
        case .keyring(let name): return "keyring:\(name)"
        }
    }

    /// The absolute directory of a config file; nil when it has none that exists (text parsed
    /// without a file, as in tests).
    static func directory(of file: String) -> String? {
        // Every reference in a file asks about the same file: one look per absolute path, not
        // two Foundation `fileExists` per reference (10,000 identities spent 5% of validate here).
        // Only an answer that found both is kept; nothing can load a file that is gone.
        let cacheable = file.hasPrefix("/")
        if cacheable, let known = knownDirectoriesLock.withLock({ knownDirectories[file] }) { return known }
        let found = lookUpDirectory(of: file)
        if cacheable, let found {
            knownDirectoriesLock.withLock { if knownDirectories.count < 64 { knownDirectories[file] = found } }
        }
        return found
    }

    private static let knownDirectoriesLock = NSLock()
    nonisolated(unsafe) private static var knownDirectories: [String: String] = [:]

    private static func lookUpDirectory(of file: String) -> String? {
        // By hand: swift-corelibs' deletingLastPathComponent traps on some one-letter names.
        let parent = file.lastIndex(of: "/").map { $0 == file.startIndex ? "/" : String(file[..<$0]) } ?? ""
        let absolute = file.hasPrefix("/") ? parent
            : FileManager.default.currentDirectoryPath + (parent.isEmpty ? "" : "/" + parent)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory), isDirectory.boolValue,
              FileManager.default.fileExists(atPath: file) else { return nil }
        return absolute
    }

    /// What can be told about the reference without reading the secret or running anything: a
    /// missing, foreign, empty or group/other-readable file, or a variable missing from
    /// `environment` (the one the agent has or will have). `cmd:` is never run here.
    public func check(environment: Environment) -> BrokerFailure? {
        switch self {
        case .environment(let name):
            guard let value = environment.values[name] else {
                return BrokerFailure(.config, "environment variable \(name) (\(description)) is not set")
            }
            if value.isEmpty { return BrokerFailure(.config, "environment variable \(name) (\(description)) is empty") }
            return nil
        case .file(let rawPath):
            let path = expandHome(rawPath, environment)
            let st: FileStatus
            do { st = try FileStatus(path: path) } catch {
                return BrokerFailure(.config, "secret file \(path) does not exist or cannot be reached: \(error)",
                                     hint: "create it with the secret in it and chmod 600 \(path)")
            }
            if !st.isRegularFile { return BrokerFailure(.config, "secret file \(path) is not a regular file") }
            if st.ownerID != UInt32(geteuid()) {
                return BrokerFailure(.permission, "secret file \(path) is owned by uid \(st.ownerID), not by you (uid \(geteuid()))",
                                     hint: "chown \(geteuid()) \(path)")
            }
            if st.mode & 0o077 != 0 {
                return BrokerFailure(.permission, "secret file \(path) is readable by group or others (mode \(String(st.permissions, radix: 8)))",
                                     hint: "chmod 600 \(path)")
            }
            if access(path, R_OK) != 0 { return BrokerFailure(.permission, "secret file \(path) cannot be read: \(Errno.current)") }
            if st.size == 0 { return BrokerFailure(.config, "secret file \(path) is empty", hint: "write the secret into it") }
            return nil
        case .command(let command, let directory):
            // Not run; only a program named by its path is looked at: it must exist and be executable.
            guard let word = command.split(separator: " ").first.map(String.init),
                  word.hasPrefix("/") || word.hasPrefix("~/") || word.hasPrefix("./") else { return nil }
            let program = word.hasPrefix("./") ? (directory ?? "") + word.dropFirst(1) : expandHome(word, environment)
            guard (try? FileStatus(path: program)) != nil else {
                return BrokerFailure(.config, "secret command `\(description)` names \(program), which does not exist")
            }
            if access(program, X_OK) != 0 {
                return BrokerFailure(.config, "secret command `\(description)` names \(program), which is not executable",
                                     hint: "chmod +x \(program)")
            }
            return nil
        case .remote, .keyring:
            // Read by the agent (through an AWS identity, or from its keyring, which may be
            // locked): reading either here would call AWS or need the passphrase.
            return nil
        }
    }

    /// Reads the secret. `env:` reads the agent's environment — the one it inherited from the
    /// adapter that started it — and says so when the variable is missing (DESIGN §4).
    public func resolve(_ context: ResolveContext, timeout: Int) throws -> Secret {
        switch self {
        case .environment(let name):
            guard let value = context.environment.values[name] else {
                throw BrokerFailure(.config, "environment variable \(name) is not set in broker-agent's environment",
                                    hint: "env: secrets are read from the agent, which inherits the environment of the program that started it; export \(name) and run `brokerctl stop` so the next request starts a new agent")
            }
            return try nonEmpty(value)
        case .file(let rawPath):
            let path = expandHome(rawPath, context.environment)
            let st: FileStatus
            do { st = try FileStatus(path: path) } catch {
                throw BrokerFailure(.config, "cannot read secret file \(path): \(error)")
            }
            if st.mode & 0o077 != 0 {
                throw BrokerFailure(.permission, "secret file \(path) is readable by group or others",
                                    hint: "chmod 600 \(path)")
            }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw BrokerFailure(.config, "cannot read secret file \(path): permission denied")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw BrokerFailure(.config, "secret file \(path) is not UTF-8 text")
            }
            return try nonEmpty(trimTrailingNewlines(text))
        case .command(let command, let directory):
            let result = try context.commandRunner.run(command, timeout: timeout, environment: context.environment,
                                                       directory: directory)
            guard result.status == 0, !result.timedOut else {
                // stdout may hold a partial secret: report only the status and stderr's first line.
                throw BrokerFailure(.upstream, "secret command `\(description)` \(result.statusDescription)"
                                    + (result.stderrExcerpt.map { ": \($0)" } ?? ""),
                                    hint: result.timedOut ? "it must finish within \(timeout) s; for a static identity, raise `secret-timeout = DURATION` in its section" : nil)
            }
            return try nonEmpty(trimTrailingNewlines(result.stdout))
        case .remote(let secret):
            guard let reader = context.remoteSecrets else {
                throw BrokerFailure(.config, "\(secret.store.rawValue): references are read by broker-agent, and this program has no agent reader")
            }
            return try nonEmpty(reader.read(secret, timeout: timeout).reveal())
        case .keyring(let name):
            guard let keyring = context.keyring else {
                throw BrokerFailure(.config, "keyring:\(name) can only be read by broker-agent", hint: "ask through the agent (git, aws or brokerctl)")
            }
            return try keyring.secret(named: name)
        }
    }

    /// An empty secret is never what was meant (`cmd:true`, an empty file): refuse it by name
    /// rather than hand out `password=`.
    func nonEmpty(_ value: String) throws -> Secret {
        guard !value.isEmpty else {
            let what: String
            switch self {
            case .environment(let name): what = "environment variable \(name) (\(description)) is empty"
            case .file(let path): what = "secret file \(path) (\(description)) is empty"
            case .command: what = "secret command `\(description)` printed nothing"
            case .remote(let secret): what = "\(secret.store.rawValue) secret \(secret.id) is empty"
            case .keyring(let name): what = "keyring secret \(name) is empty"
            }
            throw BrokerFailure(.config, what, hint: "a secret reference must yield the secret itself; an empty one is never served")
        }
        return Secret(value)
    }
}

func trimTrailingNewlines(_ text: String) -> String {
    var text = Substring(text)
    while let last = text.last, last == "\n" || last == "\r" || last == "\r\n" { text = text.dropLast() }
    return String(text)
}

func expandHome(_ path: String, _ env: Environment) -> String {
    if path.hasPrefix("~/"), let home = env["HOME"] { return home + path.dropFirst(1) }
    return path
}

extension SecretReference {
    /// The remote secret this reference names, if it is one.
    public var remote: RemoteSecret? {
        if case .remote(let secret) = self { return secret }
        return nil
    }
}
