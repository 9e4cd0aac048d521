// Where the socket, cache, state and config live (DESIGN D5), and the 0700 rule for their folders.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct BrokerPaths: Equatable, Sendable {
    /// Holds the socket and the spawn lock.
    public var runtimeDirectory: String
    /// Holds the on-disk credential cache.
    public var cacheDirectory: String
    /// Holds the audit log, the agent log and lease metadata.
    public var stateDirectory: String
    public var configFile: String
    /// True when the config path came from BROKER_CONFIG or --config (a missing file is then an error).
    public var configFileIsExplicit: Bool
    /// Where the config path came from, so a message names the right one.
    public var configOrigin: ConfigOrigin
    /// Empty for the default configuration; otherwise a hash of the other file's canonical path,
    /// which names that configuration's own agent socket (D15: one agent per configuration).
    public var agentKey: String
    /// The profile selected by `BROKER_PROFILE` or `brokerctl --profile`: its overlay
    /// (`config.d/NAME` beside the config file) is read after the config file, and it has its
    /// own agent, cache and audit log, so two profiles never share a token.
    public var profile: String?

    public enum ConfigOrigin: Equatable, Sendable { case standard, environment, option }

    public var socketPath: String { runtimeDirectory + (agentKey.isEmpty ? "/agent.sock" : "/agent-\(agentKey).sock") }
    public var spawnLockPath: String { runtimeDirectory + (agentKey.isEmpty ? "/spawn.lock" : "/spawn-\(agentKey).lock") }
    public var auditLogPath: String { stateDirectory + "/audit.log" }
    public var agentLogPath: String { stateDirectory + "/agent.log" }
    public var cacheEntriesDirectory: String { cacheDirectory + "/entries" }
    /// Where profile overlays live: `config.d/` beside the config file.
    public var profilesDirectory: String { Self.directoryOf(configFile) + "/config.d" }
    /// The selected profile's overlay file, nil without a profile.
    public var profileFile: String? { profile.map { profilesDirectory + "/" + $0 } }

    public init(runtimeDirectory: String, cacheDirectory: String, stateDirectory: String, configFile: String, configFileIsExplicit: Bool = false) {
        self.runtimeDirectory = runtimeDirectory
        self.cacheDirectory = cacheDirectory
        self.stateDirectory = stateDirectory
        self.configFile = configFile
        self.configFileIsExplicit = configFileIsExplicit
        self.configOrigin = configFileIsExplicit ? .environment : .standard
        self.agentKey = ""
        self.profile = nil
    }

    /// XDG base directories, with the usual fallbacks under HOME. `BROKER_SOCKET_DIR` overrides
    /// the runtime directory (tests, and people whose XDG_RUNTIME_DIR path is too long).
    public static func resolve(_ env: Environment = .current) throws -> BrokerPaths {
        func absolute(_ name: String) -> String? {
            guard let value = env[name], value.hasPrefix("/") else { return nil }
            return value
        }
        guard let home = absolute("HOME") ?? homeFromPasswd() else {
            throw BrokerFailure(.config, "cannot find a home directory", hint: "set HOME")
        }
        let cacheBase = absolute("XDG_CACHE_HOME") ?? home + "/.cache"
        let cache = cacheBase + "/credential-broker"
        let runtime = absolute("BROKER_SOCKET_DIR")
            ?? absolute("XDG_RUNTIME_DIR").map { $0 + "/credential-broker" }
            ?? cache + "/run"
        let state = (absolute("XDG_STATE_HOME") ?? home + "/.local/state") + "/credential-broker"
        let standard = (absolute("XDG_CONFIG_HOME") ?? home + "/.config") + "/credential-broker/config"
        var paths = BrokerPaths(runtimeDirectory: runtime, cacheDirectory: cache, stateDirectory: state, configFile: standard)
        if let explicit = env["BROKER_CONFIG"], !explicit.isEmpty {
            // Absolute and with links resolved, so every client names the same file the same way.
            let file = canonicalPath(explicit)
            paths = BrokerPaths(runtimeDirectory: runtime, cacheDirectory: cache, stateDirectory: state, configFile: file, configFileIsExplicit: true)
            if file != canonicalPath(standard) { paths.agentKey = agentKey(for: file) }
        }
        if let name = env["BROKER_PROFILE"], !name.isEmpty {
            try paths.select(profile: name)
        }
        return paths
    }

    /// Points every per-agent path at profile `name`: its own socket (keyed by the overlay's
    /// canonical path), and its own cache and state directories, `profiles/NAME` under the usual
    /// ones (`profiles/NAME-KEY` for a configuration other than the default, KEY naming it), so
    /// a token cached for one profile is never served to another, even for an identical section.
    public mutating func select(profile name: String) throws {
        try Self.checkProfileName(name)
        let overlay = profilesDirectory + "/" + name
        guard Self.isRegularFile(overlay) else {
            let existing = Self.profiles(in: profilesDirectory)
            throw BrokerFailure(.config, "profile \"\(name)\" does not exist: there is no \(overlay)",
                                hint: existing.isEmpty
                                    ? "create \(overlay) (no profiles are defined), or unset BROKER_PROFILE"
                                    : "profiles defined: \(existing.joined(separator: ", ")); or create \(overlay)")
        }
        let folder = "/profiles/" + name + (agentKey.isEmpty ? "" : "-" + agentKey)
        cacheDirectory += folder
        stateDirectory += folder
        // Marked, so a configuration file that happens to be the overlay itself (BROKER_CONFIG=
        // …/config.d/NAME, read without the main file) never shares this agent.
        agentKey = Self.agentKey(for: Self.canonicalPath(overlay) + "\u{0}profile")
        profile = name
    }

    /// A profile name is one file name in `config.d/`: letters, digits, `.`, `_` and `-`, not
    /// starting with a dot (so neither `..` nor a hidden file), at most 64 characters (it is
    /// part of directory names).
    public static func checkProfileName(_ name: String) throws {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == 0x2d || byte == 0x2e || byte == 0x5f
        }
        guard allowed, !name.hasPrefix("."), (1...64).contains(name.utf8.count) else {
            throw BrokerFailure(.config, "profile name \"\(WireCodec.printable(name))\" is not allowed: a profile is one file in config.d/, named with letters, digits, '.', '_' and '-', not starting with '.', at most 64 characters",
                                hint: "fix BROKER_PROFILE or --profile")
        }
    }

    /// The profiles defined in `directory` (config.d/): regular files (or links to them) with
    /// a valid profile name, sorted. Anything else there (editor backups like `x~`, hidden
    /// files, folders) is not a profile.
    public static func profiles(in directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard (try? checkProfileName(name)) != nil, isRegularFile(directory + "/" + name) else { continue }
            names.append(name)
        }
        return names.sorted()
    }

    static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFREG
    }

    static func directoryOf(_ file: String) -> String {
        guard let slash = file.lastIndex(of: "/") else { return "." }
        return slash == file.startIndex ? "" : String(file[..<slash])
    }

    /// The socket name's key for a configuration file: 16 hex digits of FNV-1a over its canonical
    /// path. Not a secret and not a defence (the directory is private): a name, stable across runs.
    public static func agentKey(for canonicalFile: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in canonicalFile.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// `realpath` when the file exists; otherwise the path made absolute against the working directory.
    static func canonicalPath(_ path: String) -> String {
        if let resolved = realpath(path, nil) {
            defer { free(resolved) }
            return String(cString: resolved)
        }
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = String(cString: buffer)
        return (cwd == "/" ? "" : cwd) + "/" + path
    }

    private static func homeFromPasswd() -> String? {
        guard let pw = getpwuid(geteuid()), let dir = pw.pointee.pw_dir else { return nil }
        return String(cString: dir)
    }
}

/// Creates a directory (and missing parents) with mode 0700 at mkdir time, and refuses an existing
/// one that is a symlink, owned by someone else, or open to group/other — with the command that
/// fixes it, rather than silently fixing it (git credential-cache's habit).
public func ensurePrivateDirectory(_ path: String) throws {
    var components: [Substring] = path.split(separator: "/")
    var missing: [String] = []
    // Walk up to the first existing ancestor, then create downwards with 0700.
    while !components.isEmpty {
        let candidate = "/" + components.joined(separator: "/")
        if (try? FileStatus(path: candidate, followingSymlinks: false)) != nil { break }
        missing.append(candidate)
        components.removeLast()
    }
    for dir in missing.reversed() {
        if mkdir(dir, 0o700) != 0 && errno != EEXIST {
            throw BrokerFailure(.permission, "cannot create directory \(dir): \(Errno.current)")
        }
    }
    try checkPrivateDirectory(path)
}

public func checkPrivateDirectory(_ path: String) throws {
    let st: FileStatus
    do { st = try FileStatus(path: path, followingSymlinks: false) } catch {
        throw BrokerFailure(.permission, "cannot inspect \(path): \(error)")
    }
    if st.isSymbolicLink {
        throw BrokerFailure(.permission, "\(path) is a symbolic link; refusing to keep credentials behind it",
                            hint: "remove the link and let credential-broker create the directory")
    }
    if !st.isDirectory {
        throw BrokerFailure(.permission, "\(path) exists and is not a directory", hint: "move it away")
    }
    if st.ownerID != UInt32(geteuid()) {
        throw BrokerFailure(.permission, "\(path) is owned by uid \(st.ownerID), not by you (uid \(geteuid()))",
                            hint: "remove it or point XDG_RUNTIME_DIR/XDG_CACHE_HOME elsewhere")
    }
    if st.mode & 0o077 != 0 {
        throw BrokerFailure(.permission, "\(path) is accessible by group or others (mode \(octal(mode_t(st.mode & 0o777))))",
                            hint: "chmod 0700 \(path)")
    }
}

/// The socket directory as a client sees it before connecting: false when it does not exist yet
/// (no agent); an error, with the command that fixes it, when it is a symlink, someone else's, or
/// open to group/other. Nothing is sent into a directory another user could have planted.
public func checkSocketDirectory(_ path: String, environment: Environment) throws -> Bool {
    var st = stat()
    guard lstat(path, &st) == 0 else {
        if errno == ENOENT { return false }
        throw BrokerFailure(.permission, "cannot inspect socket directory \(path): \(Errno.current)")
    }
    let type = st.st_mode & S_IFMT
    if type == S_IFLNK {
        throw BrokerFailure(.permission, "socket directory \(path) is a symbolic link; refusing to use it",
                            hint: "rm \(path) and let credential-broker create the directory")
    }
    if type != S_IFDIR {
        throw BrokerFailure(.permission, "socket directory \(path) is not a directory", hint: "move it away")
    }
    let me = geteuid()
    if st.st_uid != me {
        let fix = environment["BROKER_SOCKET_DIR"] != nil ? "use a private directory: unset BROKER_SOCKET_DIR, or rm -rf \(path)" : "rm -rf \(path)"
        throw BrokerFailure(.permission, "socket directory \(path) is owned by uid \(st.st_uid), not you (uid \(me))", hint: fix)
    }
    if st.st_mode & 0o077 != 0 {
        throw BrokerFailure(.permission, "socket directory \(path) is accessible by group or others (mode \(octal(st.st_mode & 0o777)))",
                            hint: "chmod 0700 \(path)")
    }
    return true
}

func octal(_ mode: mode_t) -> String {
    var digits = ""
    var m = UInt32(mode)
    repeat { digits = String(m % 8) + digits; m /= 8 } while m > 0
    return "0" + digits
}
