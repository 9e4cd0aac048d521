// kind = github/app: installation access tokens minted with a GitHub App's private key, for git and wrapped jobs.

import BrokerWire

extension KindFamily {
    public static let github = KindFamily(title: "GITHUB IDENTITY KINDS")
}

/// The app signs a short JWT with its private key, trades it for an installation token (one hour,
/// optionally narrowed to some repositories and permissions), and git presents that token as the
/// password of `x-access-token`. The key is read from its reference on every mint and never kept.
public struct GitHubAppIdentity: ResolvedKind {
    public static let descriptor = KindDescriptor(
        name: "github/app",
        summary: "a GitHub App installation token, minted with the app's private key",
        family: .github,
        settings: [
            SettingSpec("app-id", "ID", required: true, "the app's App ID (digits) or Client ID, from its settings page",
                        details: "the app's App ID (digits) or its Client ID (`Iv…`), both shown on the app's settings page."),
            SettingSpec("installation-id", "NUMBER", "the installation to mint tokens for; or set owner",
                        details: "The installation to mint tokens for: the number at the end of the installation's settings URL. Set this or `owner`."),
            SettingSpec("owner", "NAME", "the organization or user the app is installed on, to look the installation up",
                        details: "The organization or user account the app is installed on. Its installation is looked up on each mint (`GET /orgs/NAME/installation`, then `/users/NAME/installation`)."),
            SettingSpec("private-key", "REFERENCE", .secretReference, required: true,
                        "reference to the app's PEM private key: env:NAME, file:PATH or cmd:COMMAND",
                        details: "where the app's PEM private key is read from: `env:NAME`, `file:PATH` or `cmd:COMMAND`. Both `BEGIN RSA PRIVATE KEY` (what GitHub hands out) and `BEGIN PRIVATE KEY` are read; encrypted keys are not. Errors name the reference, never the key."),
            SettingSpec("repositories", "NAME", repeatable: true, "repository names (without the owner) to narrow the token to; repeat or separate with commas",
                        details: "Narrow the token to these repositories of the installation's account, named without the owner. Repeat the key or separate names with commas; at most 500."),
            SettingSpec("permissions", "NAME=LEVEL", repeatable: true, "NAME=LEVEL (read, write or admin) to narrow the token's permissions; repeat or separate with commas",
                        details: "Narrow the token's permissions, such as `contents=read` or `pull_requests=write`; LEVEL is `read`, `write` or `admin`. Repeat the key or separate with commas. GitHub refuses a token that asks for more than the app was granted, and the error says so."),
            SettingSpec("api-url", "URL", "the REST API: default https://api.github.com; GitHub Enterprise Server: https://HOST/api/v3",
                        details: "The REST API; default `https://api.github.com`. For GitHub Enterprise Server, `https://HOST/api/v3`. Plain http is refused except to a loopback address, and redirects are not followed, since the requests carry the signed JWT."),
            SettingSpec("username", "NAME", "the user name git presents (default x-access-token)"),
            EnvironmentExports.spec,
        ],
        upstream: .none, produces: .password,
        // A token is replaced once fewer than 8 minutes remain, whatever `[git] minimum-validity`
        // says: a clone or push that starts with a token must be able to finish with it.
        minimumValidity: 480,
        description: ["Installation access tokens of a GitHub App. For each token the agent reads the app's private key from its reference, signs a JSON Web Token with it (RS256; issued 30 seconds in the past to allow for clock drift, valid 9 minutes, GitHub's limit being 10), and trades it for an installation token with `POST /app/installations/ID/access_tokens`. git presents the token as the password of `x-access-token`, with `password_expiry_utc` set to the token's expiry (one hour). A token is replaced once fewer than 8 minutes remain, or `[git] minimum-validity` if that is longer, so a clone or push never starts with a token about to lapse. The private key is never cached; the token is, in memory and on disk (0600), until it nears expiry, and `brokerctl logout` or a rejected push (git's erase) drops it. It takes no `via`."],
        notes: [
            .paragraph("A 401 from GitHub means it did not accept the JWT: check `app-id`, that `private-key` is a current key of that app, and this machine's clock. A 404 means the installation was not found: check `installation-id` or `owner` and that the app is installed there."),
            .code("""
                [identity "acme-app"]
                    kind = github/app
                    app-id = 123456
                    owner = acme
                    private-key = file:~/.config/credential-broker/acme-app.pem
                    repositories = tools, website
                    permissions = contents=write

                [git "https://github.com/acme"]
                    identity = acme-app
                """),
        ])

    /// GitHub caps the repositories one token may name.
    static let maximumRepositories = 500
    static let levels: Set<String> = ["read", "write", "admin"]

    public enum Installation: Sendable, Equatable {
        case id(Int64)
        case owner(String)
    }

    public let name: String
    public let appID: String
    public let installation: Installation
    public let privateKey: SecretReference
    public let scope: GitHubTokenScope
    public let apiURL: String
    public let username: String
    public let exports: EnvironmentExports

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        let (app, appLocation) = try definition.require("app-id")
        guard Self.isAppID(app) else {
            throw ConfigError("app-id must be the app's numeric App ID or its Client ID (Iv…)", at: appLocation,
                              hint: "both are on the app's settings page: Settings → Developer settings → GitHub Apps")
        }
        appID = app

        switch (definition.entry("installation-id"), definition.entry("owner")) {
        case (let id?, nil):
            guard let text = id.value, let number = Int64(text), number > 0, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw ConfigError("installation-id must be a positive number", at: id.location,
                                  hint: "it is the number at the end of the installation's settings URL, …/installations/NUMBER; or set owner instead")
            }
            installation = .id(number)
        case (nil, let owner?):
            guard let login = owner.value, Self.isLogin(login) else {
                throw ConfigError("owner must be a GitHub organization or user name: letters, digits and single hyphens, at most 39", at: owner.location)
            }
            installation = .owner(login)
        case (_?, let owner?):
            throw ConfigError("set installation-id or owner, not both", at: owner.location)
        case (nil, nil):
            throw ConfigError("identity \"\(definition.name)\" (kind \(Self.descriptor.name)) needs installation-id or owner", at: definition.location,
                              hint: "add `owner = ORG` to look the installation up, or `installation-id = NUMBER`")
        }

        let (keyText, keyLocation) = try definition.require("private-key")
        privateKey = try SecretReference(keyText, at: keyLocation)
        scope = GitHubTokenScope(repositories: try Self.repositories(definition), permissions: try Self.permissions(definition))

        apiURL = try GitHubAPIClient.apiURL(definition)
        if let entry = definition.entry("username") {
            guard let user = entry.value, !user.isEmpty, user.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7f }) else {
                throw ConfigError("username must be a non-empty name without spaces", at: entry.location)
            }
            username = user
        } else {
            username = "x-access-token"
        }
        exports = try EnvironmentExports(definition)
    }

    public var delivery: DeliverySettings { DeliverySettings(exports: exports.names) }
    public var secretReferences: [SecretReference] { [privateKey] }
    public func upstreams(in context: ResolveContext) -> [UpstreamService] { [UpstreamService(name: "GitHub API", url: apiURL)] }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        let target: CacheParameter
        switch installation {
        case .id(let id): target = CacheParameter("installation-id", String(id))
        case .owner(let owner): target = CacheParameter("owner", owner.lowercased())
        }
        return [CacheParameter("api-url", apiURL), CacheParameter("app-id", appID), target, CacheParameter("private-key", privateKey),
                CacheParameter("repositories", scope.repositories.sorted().joined(separator: ",")),
                CacheParameter("permissions", scope.permissions.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")),
                CacheParameter("username", username)]
    }

    public func obtain(upstream: Credential?, context: ResolveContext) throws -> Credential {
        let key = try signingKey(context)
        let jwt = try GitHubAppJWT.make(appID: appID, key: key, now: context.clock.now())
        let client = GitHubAPIClient(baseURL: apiURL)
        let installationID: Int64
        switch installation {
        case .id(let id): installationID = id
        case .owner(let owner): installationID = try client.installationID(owner: owner, jwt: jwt)
        }
        let minted = try client.createInstallationToken(installationID: installationID, scope: scope, jwt: jwt)
        return Credential(username: username, password: minted.token, expiresAt: minted.expiresAt)
    }

    /// The key, read from its source for this mint only. Its errors name the reference, never the content.
    func signingKey(_ context: ResolveContext) throws -> RSAPrivateKey {
        let pem = try privateKey.resolve(context, timeout: 30)
        do {
            return try RSAPrivateKey(pem: pem.reveal())
        } catch let error as RSAKeyError {
            throw BrokerFailure(.config, "private-key \(privateKey) cannot be used: \(error.message)", hint: error.hint)
        }
    }

    // MARK: - Values

    /// The numeric App ID, or a Client ID such as `Iv1.0123abcd…` (GitHub takes either as `iss`).
    static func isAppID(_ text: String) -> Bool {
        let digits = UInt8(ascii: "0")...UInt8(ascii: "9")
        if !text.isEmpty, text.utf8.count <= 20, text.utf8.allSatisfy(digits.contains), text.first != "0" { return true }
        return text.hasPrefix("Iv") && text.utf8.count <= 64
            && text.utf8.allSatisfy { digits.contains($0) || isASCIILetter($0) || $0 == UInt8(ascii: ".") }
    }

    /// GitHub's rule for account names.
    static func isLogin(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...39).contains(bytes.count), bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-") else { return false }
        for (i, byte) in bytes.enumerated() {
            if byte == UInt8(ascii: "-") {
                if bytes[i - 1] == byte { return false }
            } else if !(isASCIILetter(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)) {
                return false
            }
        }
        return true
    }

    static func isASCIILetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    /// Every comma-separated item of every value of `key`, trimmed, with the line it came from.
    static func items(_ key: String, in definition: IdentityDefinition) -> [(text: String, location: SourceLocation)] {
        (definition.settings[key] ?? []).flatMap { entry in
            (entry.value ?? "").split(separator: ",").map { (String($0).trimmingCharacters(in: .whitespaces), entry.location) }
                .filter { !$0.0.isEmpty }
        }
    }

    static func repositories(_ definition: IdentityDefinition) throws -> [String] {
        var names: [String] = []
        for (name, location) in items("repositories", in: definition) {
            if name.contains("/") {
                throw ConfigError("repositories names a repository without its owner: \"\(STSEndpoint.printable(name))\"", at: location,
                                  hint: "write only the part after the slash; the installation decides the owner")
            }
            let allowed = name.utf8.allSatisfy {
                isASCIILetter($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "-")
                    || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
            }
            guard allowed, name.utf8.count <= 100, name != ".", name != ".." else {
                throw ConfigError("\"\(STSEndpoint.printable(name))\" is not a repository name: letters, digits, '-', '_' and '.'", at: location)
            }
            if !names.contains(where: { $0.lowercased() == name.lowercased() }) { names.append(name) }
            if names.count > maximumRepositories {
                throw ConfigError("repositories lists more than \(maximumRepositories), more than GitHub allows in one token", at: location)
            }
        }
        return names
    }

    static func permissions(_ definition: IdentityDefinition) throws -> [String: String] {
        var granted: [String: String] = [:]
        for (item, location) in items("permissions", in: definition) {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty,
                  parts[0].utf8.allSatisfy({ (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || $0 == UInt8(ascii: "_") }) else {
                throw ConfigError("permissions must be NAME=LEVEL, such as contents=read", at: location,
                                  hint: "NAME is a GitHub App permission in lower case (contents, pull_requests, issues, …)")
            }
            guard levels.contains(parts[1]) else {
                throw ConfigError("permission \(parts[0]) has level \"\(STSEndpoint.printable(parts[1]))\"; use read, write or admin", at: location)
            }
            if let earlier = granted[parts[0]], earlier != parts[1] {
                throw ConfigError("permission \(parts[0]) is set twice, to \(earlier) and \(parts[1])", at: location)
            }
            granted[parts[0]] = parts[1]
        }
        return granted
    }
}
