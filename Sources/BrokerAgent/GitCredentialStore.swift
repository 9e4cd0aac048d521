// In-memory credentials for unbound URLs: a drop-in for git credential-cache's daemon.

import BrokerCore
import BrokerWire
import Foundation

/// Follows builtin/credential-cache--daemon.c (git ≥ 2.46) rule for rule, so that
/// `credential.helper = broker` without a config is indistinguishable from `credential.helper = cache`:
///
/// * `get` answers the first entry, in the daemon's order, whose protocol/host/path/username
///   equal every one of those the request gives (`credential_match(want, have, 0)`).
/// * `store` refuses a partial credential (neither username+password nor authtype/credential)
///   and an `ephemeral` one; otherwise it drops every entry matching the request without its
///   password (same protocol/host/path/username) and appends the new one.
/// * `erase` drops every entry matching the request including its password and credential when
///   given (`credential_match(want, have, 1)`, git ≥ 2.42): a rejected password never erases a
///   different one, and an erase without username clears every user of the host.
/// * Entries live for the client's timeout, measured on the elapsed clock (the daemon uses the
///   wall clock; stepping it back must not keep a password longer than asked).
///   `password_expiry_utc` is kept and handed back, not enforced: git ≥ 2.40 discards an
///   expired password itself and keeps the username.
///
/// Removal follows the daemon's bookkeeping exactly: a removed entry's expiration is set to 0
/// and, before the next request is served, expired entries are removed by moving the last entry
/// into their slot (check_expirations). That decides which of several matches `get` answers.
/// With `[git] store = memory` (the default) entries never touch the disk; with `keyring` they
/// are mirrored into the keyring (GitCredentialVault) and survive the agent, without a timeout.
public final class GitCredentialStore: @unchecked Sendable {
    struct Entry {
        var fields: GitCredential
        var expiration: Int64
    }

    /// One change to the entries, kept until the vault holds it, so that it can be applied again
    /// to the vault's copy when that copy is read later (the keyring was locked or changed).
    enum Change {
        case store(GitCredential)
        case erase(GitCredential)
    }

    private let lock = NSLock()
    private var entries: [Entry] = []
    private let clock: Clock
    /// Where `[git] store = keyring` keeps the entries; nil keeps them in memory whatever the setting.
    private let vault: (any GitCredentialVault)?
    /// One load or save at a time; taken before `lock`, never inside it.
    private let vaultLock = NSLock()
    /// True while the entries mirror the vault (`[git] store = keyring`).
    private var persistent = false
    /// The vault generation the entries were read at; nil when the vault's copy is not read in.
    private var loadedGeneration: Int?
    /// Changes the vault does not hold yet, oldest first.
    private var unsaved: [Change] = []

    public init(clock: Clock = .system, vault: (any GitCredentialVault)? = nil) {
        self.clock = clock
        self.vault = vault
    }

    public enum StoreOutcome: Equatable { case stored, ephemeral, partial }

    public func store(_ credential: GitCredential, timeout: Int) -> StoreOutcome {
        // The daemon checks partial before ephemeral; both only warn (to /dev/null) and store nothing.
        let complete = (credential.username != nil && credential.password != nil)
            || credential.authtype != nil || credential.credential != nil
        guard complete else { return .partial }
        if credential.ephemeral { return .ephemeral }
        lock.lock(); defer { lock.unlock() }
        apply(.store(credential), timeout: timeout)
        if persistent { unsaved.append(.store(credential)) }
        return .stored
    }

    /// Returns how many entries were removed.
    @discardableResult
    public func erase(_ request: GitCredential) -> Int {
        lock.lock(); defer { lock.unlock() }
        let removed = apply(.erase(request), timeout: 0)
        // An erase that found nothing here may still find something in a vault not read in yet.
        if persistent, removed > 0 || loadedGeneration == nil { unsaved.append(.erase(request)) }
        return removed
    }

    public func get(_ request: GitCredential) -> GitCredential? {
        lock.lock(); defer { lock.unlock() }
        checkExpirations(now: clock.elapsed())
        return entries.first { request.matches($0.fields, matchPassword: false) }?.fields
    }

    /// Live entries.
    public var count: Int {
        lock.lock(); defer { lock.unlock() }
        checkExpirations(now: clock.elapsed())
        return entries.count
    }

    /// The agent stays up while it holds entries only it has, as credential-cache's daemon does:
    /// in memory mode every entry, with a vault the changes not saved there yet.
    public var keepsAgentAlive: Bool {
        lock.lock(); defer { lock.unlock() }
        if persistent { return !unsaved.isEmpty }
        checkExpirations(now: clock.elapsed())
        return !entries.isEmpty
    }

    /// Forgets every entry (`brokerctl logout`); with a vault, there too at the next save.
    public func removeAll() {
        lock.lock(); defer { lock.unlock() }
        entries.removeAll()
        StateGeneration.bump()
        if persistent { unsaved.append(.erase(GitCredential())) }
    }

    // MARK: [git] store = keyring

    /// Brings the entries in line with `[git] store` before a request. For `keyring` it reads the
    /// vault's copy when none is read in, or when the one read in may be stale (the keyring was
    /// locked or its backend changed: the decrypted copy is forgotten at once), and applies the
    /// changes the vault does not hold yet on top of it, and writes them. Answers a warning when
    /// the vault cannot be read or written: then the entries live in memory until it can. Throws only `MustWait` on a
    /// serving loop, before anything changed.
    public func prepare(persistent wanted: Bool) throws -> String? {
        guard let vault, wanted else {
            lock.withLock {
                // The vault keeps its copy; this agent stops mirroring it.
                if persistent { entries.removeAll(); unsaved.removeAll(); loadedGeneration = nil; persistent = false; StateGeneration.bump() }
            }
            return nil
        }
        // Changes a locked keyring refused are written at the next request that finds it open.
        let current = lock.withLock { persistent && loadedGeneration == vault.generation() && unsaved.isEmpty }
        if current { return nil }
        try ServingThread.permitWaiting()
        return vaultLock.withLock {
            let generation = vault.generation()
            let stale: Bool = lock.withLock {
                if !persistent {
                    // What memory mode held goes to the vault as if approved now, in the daemon's order.
                    checkExpirations(now: clock.elapsed())
                    unsaved = entries.map { .store($0.fields) }
                    persistent = true
                    loadedGeneration = nil
                } else if loadedGeneration != nil, loadedGeneration != generation {
                    entries.removeAll()
                    loadedGeneration = nil
                    StateGeneration.bump()
                }
                return loadedGeneration == nil
            }
            guard stale else { return saveLocked(vault) }
            let loaded: [GitCredential]
            do { loaded = try vault.load() } catch {
                return "git credentials approved for URLs bound to no identity are kept in memory until the keyring can be read: \(error)"
            }
            lock.withLock {
                entries = loaded.map { Entry(fields: $0, expiration: .max) }
                for change in unsaved { apply(change, timeout: 0) }
                StateGeneration.bump()
                loadedGeneration = generation
            }
            return saveLocked(vault)
        }
    }

    /// Writes the entries to the vault when it lacks a change; answers a warning when it cannot.
    /// A change that could not be saved is kept and saved with the next one.
    public func saveChanges() -> String? {
        guard let vault else { return nil }
        return vaultLock.withLock { saveLocked(vault) }
    }

    private func saveLocked(_ vault: any GitCredentialVault) -> String? {
        let (snapshot, pending): ([GitCredential], Int) = lock.withLock {
            checkExpirations(now: clock.elapsed())
            return (entries.map(\.fields), persistent && loadedGeneration != nil ? unsaved.count : 0)
        }
        guard pending > 0 else { return nil }
        do {
            try vault.save(snapshot)
        } catch {
            return "git credentials approved for URLs bound to no identity are kept in memory until the keyring can be written: \(error)"
        }
        lock.withLock { unsaved.removeFirst(min(pending, unsaved.count)) }
        return nil
    }

    /// One change, by the daemon's rules; the caller holds `lock`. Entries kept in a vault do not
    /// expire (as git-credential-libsecret's and osxkeychain's do not).
    @discardableResult
    private func apply(_ change: Change, timeout: Int) -> Int {
        let now = clock.elapsed()
        checkExpirations(now: now)
        // After the change below, which the caller answers only once this returns.
        defer { StateGeneration.bump() }
        switch change {
        case .store(let credential):
            markRemoved(matching: credential, matchPassword: false)
            // A peer's `timeout=` may be any Int: saturate rather than let the addition trap the agent.
            let (expiration, overflow) = now.addingReportingOverflow(Int64(timeout))
            let expires: Int64 = persistent ? .max : overflow ? (timeout > 0 ? .max : .min) : expiration
            entries.append(Entry(fields: credential, expiration: expires))
            return 0
        case .erase(let request):
            return markRemoved(matching: request, matchPassword: true)
        }
    }

    /// remove_credential(): marks every match as expired; the next check_expirations drops it.
    @discardableResult
    private func markRemoved(matching request: GitCredential, matchPassword: Bool) -> Int {
        var removed = 0
        for index in entries.indices where entries[index].expiration != 0
            && request.matches(entries[index].fields, matchPassword: matchPassword) {
            entries[index].expiration = 0
            removed += 1
        }
        return removed
    }

    /// check_expirations(): an expired entry's slot takes the last entry.
    private func checkExpirations(now: Int64) {
        var index = 0
        while index < entries.count {
            if entries[index].expiration <= now {
                let last = entries.removeLast()
                if index < entries.count { entries[index] = last }
                StateGeneration.bump()
            } else {
                index += 1
            }
        }
    }
}

/// Where `[git] store = keyring` keeps approved credentials between agents.
public protocol GitCredentialVault: AnyObject, Sendable {
    /// Changes whenever a copy read earlier may be stale or must be forgotten.
    func generation() -> Int
    func load() throws -> [GitCredential]
    func save(_ credentials: [GitCredential]) throws
}

/// The attributes of git's credential protocol that the store keeps, read as git's
/// credential_read() reads them.
public struct GitCredential: Sendable, Equatable {
    public var `protocol`: String?
    public var host: String?
    public var path: String?
    public var username: String?
    public var password: Secret?
    public var authtype: String?
    public var credential: Secret?
    public var passwordExpiryUTC: Int64?
    public var oauthRefreshToken: Secret?
    public var ephemeral = false
    public var capabilities: Set<String> = []

    public init() {}

    /// A repeated single-valued key keeps its last value, as credential_read() overwrites.
    public init(_ message: WireMessage) {
        // One pass over the fields (a later value overwrites an earlier one); the key's length
        // picks the one name to compare, and the request's own fields (v, op, adapter) none.
        for field in message.fields {
            let key = field.key
            switch key.utf8.count {
            case 4:
                if key == "host" { host = field.value } else if key == "path" { path = field.value }
            case 8:
                switch key {
                case "protocol": `protocol` = field.value
                case "username": username = field.value
                case "password": password = Secret(field.value)
                case "authtype": authtype = field.value
                default: break
                }
            case 9: if key == "ephemeral" { ephemeral = Self.parseBool(field.value) }
            case 10: if key == "credential" { credential = Secret(field.value) }
            case 12: if key == "capability[]" { capabilities.insert(field.value) }
            case 19:
                if key == "password_expiry_utc" {
                    passwordExpiryUTC = Self.parseTimestamp(field.value)
                } else if key == "oauth_refresh_token" {
                    oauthRefreshToken = Secret(field.value)
                }
            default: break
            }
        }
    }

    /// parse_timestamp() (strtoumax, base 10) as credential_read() uses it: leading blanks,
    /// then digits; 0, no digits or overflow mean "no expiry".
    static func parseTimestamp(_ text: String) -> Int64? {
        var digits = Substring(text).drop { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\u{0B}" || $0 == "\u{0C}" || $0 == "\r" }
        if digits.first == "+" { digits = digits.dropFirst() }
        digits = digits.prefix { $0.isASCII && $0.isNumber }
        guard let value = Int64(digits), value != 0 else { return nil }
        return value
    }

    /// git_config_bool(): true/yes/on and non-zero numbers are true; false/no/off, "" and 0 are
    /// false. git dies on anything else; a value git would refuse counts as ephemeral here, so
    /// it is not kept.
    static func parseBool(_ text: String) -> Bool {
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off", "": return false
        default: return Int(text).map { $0 != 0 } ?? true
        }
    }

    /// git's credential_match(want: self, have: other, match_password): every field `self`
    /// gives must be present and equal in `other`; with `matchPassword`, password and
    /// credential too (git ≥ 2.46 compares both on erase).
    func matches(_ have: GitCredential, matchPassword: Bool) -> Bool {
        func check(_ want: String?, _ got: String?) -> Bool { want == nil || want == got }
        func check(_ want: Secret?, _ got: Secret?) -> Bool {
            guard let want else { return true }
            guard let got else { return false }
            return want.constantTimeEquals(got)
        }
        return check(`protocol`, have.protocol) && check(host, have.host) && check(path, have.path)
            && check(username, have.username)
            && (!matchPassword || (check(password, have.password) && check(credential, have.credential)))
    }

    /// What `get` prints for a stored entry, exactly as the daemon prints it: `capability[]=authtype`
    /// always comes first (git only trusts authtype/credential from a helper that says so, and
    /// ignores the line otherwise — git ≤ 2.45 ignores it as an unknown key), then username and
    /// password, authtype and credential only for a caller that announced the capability, then
    /// password_expiry_utc and oauth_refresh_token.
    public func answer(for request: GitCredential) -> WireMessage {
        var out = WireMessage()
        answer(for: request, into: &out)
        return out
    }

    /// The same fields, appended to `out` (the agent's answer, after its status).
    func answer(for request: GitCredential, into out: inout WireMessage) {
        let capable = request.capabilities.contains("authtype")
        out.append("capability[]", "authtype")
        out.append("username", ifPresent: username)
        out.append("password", ifPresent: password?.reveal())
        if capable {
            out.append("authtype", ifPresent: authtype)
            out.append("credential", ifPresent: credential?.reveal())
        }
        out.append("password_expiry_utc", ifPresent: passwordExpiryUTC.map(String.init))
        out.append("oauth_refresh_token", ifPresent: oauthRefreshToken?.reveal())
    }
}
