// kind = aws/iam-identity-center: a provider holding an IAM Identity Center (AWS SSO) session from a device login.

import BrokerWire
import Foundation

extension KindFamily {
    public static let providers = KindFamily(title: "PROVIDER KINDS", introduction: [
        "A `[provider \"NAME\"]` section holds a person's login session with an identity service; identities start from it with `via = provider:NAME`. `brokerctl login NAME` opens the session (the agent does the polling, brokerctl shows it) and `brokerctl logout NAME` ends it. The adapters never prompt: when a session is gone and cannot be renewed silently, their requests fail with `run: brokerctl login NAME`. A provider's session tokens are long-lived secrets: they are held in the agent's memory and, where the provider shares a file with other tools, in that file only, never in the broker's cache directory. `brokerctl list --provider NAME` lists the identities a provider can offer.",
    ])
}

public struct AWSIdentityCenterProvider: ProviderKind {
    public static let descriptor = KindDescriptor(
        name: "aws/iam-identity-center",
        summary: "an AWS IAM Identity Center (SSO) session, opened with a device login",
        family: .providers,
        settings: [
            SettingSpec("start-url", "URL", required: true, "the AWS access portal URL, https://d-xxxxxxxxxx.awsapps.com/start",
                        details: "The AWS access portal URL (`https://d-xxxxxxxxxx.awsapps.com/start`), as in an sso-session's `sso_start_url`."),
            SettingSpec("region", "REGION", required: true, "the Identity Center region (sso_region)",
                        details: "The region of the Identity Center instance, as `sso_region`."),
            SettingSpec("session-name", "NAME", "the sso-session name the AWS CLI knows this session by",
                        details: "The `[sso-session NAME]` of your `~/.aws/config`. The shared token file is named by the SHA-1 of this name; without it, by the SHA-1 of the start URL, as legacy `sso_start_url` profiles do."),
            SettingSpec("scopes", "SCOPES", "OAuth scopes, separated by commas (default sso:account:access)"),
            SettingSpec("share-token-cache", "BOOL", .boolean, "share the token file with the AWS CLI v2 and the SDKs (default true)",
                        details: "Whether to share `~/.aws/sso/cache/<sha1>.json` with the AWS CLI v2 and the SDKs (default true). The file holds the access token and a refresh token, as the AWS CLI's does, mode 0600. With it, `aws` and boto3 profiles that name the same `sso_session` work after `brokerctl login` without `aws sso login`, and a login or refresh by either side serves both. With `false` the session lives in the agent's memory only and ends with the agent."),
            SettingSpec("auto-provision", "BOOL", .boolean, "offer every account and role as an identity ACCOUNT/ROLE with no section (default false)",
                        details: "With `true`, every account and role the session may use is an identity named `ACCOUNT-ID/ROLE` (`123456789012/AdministratorAccess`) of kind aws/permission-set, with no section (Atmos's `auto_provision_identities`): the adapters, `brokerctl whoami` and `console` accept the name, a section's `via = identity:ACCOUNT-ID/ROLE` may chain from it, and completions offer the names of the session's listing. A section of the same name wins. With more than one such provider, write `PROVIDER/ACCOUNT-ID/ROLE`. The name is read without a listing, so a request costs the same however many accounts there are; the portal refuses a pair the session may not use."),
            SettingSpec("oidc-endpoint", "URL", "SSO OIDC endpoint (default AWS_ENDPOINT_URL_SSO_OIDC, AWS_ENDPOINT_URL, then https://oidc.REGION.amazonaws.com)"),
            SettingSpec("portal-endpoint", "URL", "SSO portal endpoint (default AWS_ENDPOINT_URL_SSO, AWS_ENDPOINT_URL, then https://portal.sso.REGION.amazonaws.com)"),
        ],
        upstream: .none, produces: .token, tokenForm: .accessToken,
        description: ["An IAM Identity Center session. `brokerctl login NAME` runs the OAuth device authorization flow against SSO OIDC: it registers a public client (reused until the registration expires), shows the verification URL with its code, and the agent polls CreateToken at the interval the service asks (5 s more after each `slow_down`) until you approve in the browser. The session's access token is renewed silently with its refresh token for as long as Identity Center allows (8 hours by default). Identities of kind aws/permission-set start from it (see below)."],
        notes: [.code("""
            [provider "corp"]
                kind = aws/iam-identity-center
                start-url = https://d-1234567890.awsapps.com/start
                region = eu-west-1
                session-name = corp
            [identity "prod-admin"]
                kind = aws/permission-set
                via = provider:corp
                account-id = 123456789012
                permission-set = AdministratorAccess
            """)])

    public let name: String
    public let startURL: String
    public let region: String
    public let sessionName: String?
    public let scopes: [String]
    public let shareTokenCache: Bool
    public let autoProvisions: Bool
    let oidcOverride: String?
    let portalOverride: String?

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        let (url, urlLocation) = try definition.require("start-url")
        if let problem = Self.problem(withURL: url, httpsOnly: true) {
            throw ConfigError("start-url \"\(WireCodec.printable(url))\" is not usable: \(problem)", at: urlLocation,
                              hint: "copy the AWS access portal URL, such as https://d-1234567890.awsapps.com/start")
        }
        startURL = url
        let (region, regionLocation) = try definition.require("region")
        do { self.region = try STSEndpoint.validRegion(region) } catch {
            throw ConfigError("\"\(WireCodec.printable(region))\" is not an AWS region", at: regionLocation, hint: "use a region name such as eu-west-1")
        }
        sessionName = definition.value("session-name")
        scopes = definition.value("scopes").map { $0.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init) } ?? ["sso:account:access"]
        if let entry = definition.entry("share-token-cache") {
            shareTokenCache = try ConfigSyntax.parseBool(entry.value, at: entry.location)
        } else {
            shareTokenCache = true
        }
        if let entry = definition.entry("auto-provision") {
            autoProvisions = try ConfigSyntax.parseBool(entry.value, at: entry.location)
        } else {
            autoProvisions = false
        }
        for key in ["oidc-endpoint", "portal-endpoint"] {
            if let entry = definition.entry(key), let value = entry.value, let problem = Self.problem(withURL: value, httpsOnly: false) {
                throw ConfigError("\(key) \"\(WireCodec.printable(value))\" is not usable: \(problem)", at: entry.location,
                                  hint: "write an https URL (plain http only to 127.0.0.1, ::1 or localhost)")
            }
        }
        oidcOverride = definition.value("oidc-endpoint")
        portalOverride = definition.value("portal-endpoint")
    }

    // MARK: - Endpoints

    func endpoint(_ override: String?, variable: String, host: String, in context: ResolveContext) throws -> String {
        for (source, value) in [("the provider's setting", override), (variable, context.environment[variable]),
                                ("AWS_ENDPOINT_URL", context.environment["AWS_ENDPOINT_URL"])] {
            guard let value, !value.isEmpty else { continue }
            if let problem = Self.problem(withURL: value, httpsOnly: false) {
                throw BrokerFailure(.config, "\(source) \"\(WireCodec.printable(value))\" is not a usable endpoint: \(problem)")
            }
            var url = value
            while url.hasSuffix("/") { url.removeLast() }
            return url
        }
        let suffix = STSEndpoint.partition(of: region) == "aws-cn" ? "amazonaws.com.cn" : "amazonaws.com"
        return "https://\(host).\(region).\(suffix)"
    }

    public func client(_ context: ResolveContext) throws -> SSOClient {
        SSOClient(oidcURL: try endpoint(oidcOverride, variable: "AWS_ENDPOINT_URL_SSO_OIDC", host: "oidc", in: context),
                  portalURL: try endpoint(portalOverride, variable: "AWS_ENDPOINT_URL_SSO", host: "portal.sso", in: context))
    }

    static func problem(withURL text: String, httpsOnly: Bool) -> String? {
        guard text.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7f }) else { return "it holds spaces or control characters" }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              let host = components.host, !host.isEmpty else { return "it is not a URL with a host" }
        guard components.user == nil && components.password == nil else { return "it must not hold a user name or password" }
        if scheme == "https" { return nil }
        if scheme == "http" && !httpsOnly && STSEndpoint.isLoopback(host) { return nil }
        return httpsOnly ? "it must be https" : "the scheme must be https (plain http only to a loopback address)"
    }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        [CacheParameter("start-url", startURL), CacheParameter("region", region),
         CacheParameter("portal", (try? client(context))?.portalURL ?? "unresolved")]
    }

    // MARK: - The session

    /// The session's memory, shared by every build of this provider from the same settings.
    final class State: @unchecked Sendable {
        /// Held while the session is read or renewed: concurrent requests make one refresh call.
        let lock = NSLock()
        var token: SSOToken?
        /// A registration made for a login still in progress.
        var pendingRegistration: SSOClientRegistration?
        /// The last listing of accounts and roles, and when it was made (for completions).
        var offers: (at: Int64, identities: [OfferedIdentity])?
    }

    func state(_ context: ResolveContext) -> State {
        context.providerSessions.state("\(Self.descriptor.name)\n\(name)\n\(startURL)\n\(region)\n\(sessionName ?? "")") { State() }
    }

    func tokenCache(_ context: ResolveContext) -> SSOTokenCache? {
        guard shareTokenCache, let home = context.environment["HOME"], home.hasPrefix("/") else { return nil }
        return SSOTokenCache(home: home, startURL: startURL, sessionName: sessionName)
    }

    /// Renew this long before expiry, as botocore does, so neither side hands out a dying token.
    static let refreshWindow: Int64 = 15 * 60

    func loginNeeded(_ why: String) -> BrokerFailure {
        BrokerFailure(.denied, "provider \"\(name)\" \(why); run: brokerctl login \(name)", hint: "run: brokerctl login \(name)")
    }

    public func session(minimumValidity: Int, context: ResolveContext) throws -> Credential {
        let state = state(context)
        state.lock.lock(); defer { state.lock.unlock() }
        let now = context.clock.now()
        // The shared file wins when it holds a later token: the AWS CLI or botocore logged in or refreshed.
        if let cache = tokenCache(context), let fromFile = cache.read(startURL: startURL),
           fromFile.expiresAt > (state.token?.expiresAt ?? .min) || state.token == nil {
            var adopted = fromFile
            adopted.region = region
            state.token = adopted
        }
        guard let token = state.token else { throw loginNeeded("has no session") }
        let remaining = token.expiresAt - now
        if remaining >= max(Int64(minimumValidity), Self.refreshWindow) { return credential(token) }

        guard let refresh = token.refreshToken, let registration = token.registration, registration.expiresAt > now else {
            if remaining >= Int64(minimumValidity) { return credential(token) }
            throw loginNeeded(remaining > 0 ? "has a session that is about to expire and cannot be renewed" : "has a session that expired and cannot be renewed")
        }
        do {
            let grant = try client(context).createToken(clientID: registration.clientID, clientSecret: registration.clientSecret, refreshToken: refresh)
            var renewed = token
            renewed.accessToken = grant.accessToken
            renewed.expiresAt = context.clock.now() + grant.expiresIn
            if let next = grant.refreshToken { renewed.refreshToken = next }
            state.token = renewed
            try? tokenCache(context)?.write(renewed)
            return credential(renewed)
        } catch let error as SSOError where error.status < 500 && error.status != 429 {
            if remaining >= Int64(minimumValidity) { return credential(token) }
            // The refresh token expired or was revoked: only a person can open a new session.
            throw loginNeeded("could not renew its session (\(error.code))")
        }
    }

    public func sessionExpiry(context: ResolveContext) -> Int64? {
        let state = state(context)
        state.lock.lock(); defer { state.lock.unlock() }
        let fromFile = tokenCache(context)?.read(startURL: startURL)?.expiresAt
        return [state.token?.expiresAt, fromFile].compactMap { $0 }.max()
    }

    func credential(_ token: SSOToken) -> Credential {
        Credential(.token(token.accessToken, scheme: "Bearer"), expiresAt: token.expiresAt, persistable: false)
    }

    /// Role credentials of `roleName` in `accountID`, from the portal with the session's token.
    public func roleCredentials(accountID: String, roleName: String, session: Credential, context: ResolveContext) throws -> STSCredentials {
        guard let (token, _) = session.token else {
            throw BrokerFailure(.internal, "provider \"\(name)\" handed over a session that is not a token")
        }
        do {
            return try client(context).getRoleCredentials(accountID: accountID, roleName: roleName, accessToken: token)
        } catch let error as SSOError where error.status == 401 {
            // The service ended the session (a logout elsewhere, an admin): the token is of no use any more.
            let state = state(context)
            state.lock.lock()
            if state.token?.accessToken == token { state.token?.expiresAt = 0 }
            state.lock.unlock()
            throw loginNeeded("has a session the portal no longer accepts")
        } catch let error as SSOError where error.status == 403 || error.status == 404 {
            throw BrokerFailure(.upstream, error.message,
                                hint: "check account-id and permission-set; `brokerctl list --provider \(name)` shows what the session may use")
        }
    }

    public func logout(context: ResolveContext) throws -> [String] {
        let state = state(context)
        state.lock.lock(); defer { state.lock.unlock() }
        var removed: [String] = []
        let cache = tokenCache(context)
        let fromFile = cache?.read(startURL: startURL)
        if let token = state.token ?? fromFile {
            // Best effort: the tokens are forgotten here whatever the portal says.
            if (try? client(context).logout(accessToken: token.accessToken)) != nil { removed.append("the portal session") }
        }
        if state.token != nil { removed.append("the session in memory") }
        state.token = nil
        state.pendingRegistration = nil
        state.offers = nil
        if let cache, fromFile != nil {
            cache.remove()
            removed.append(cache.path)
        }
        return removed
    }

    public var deviceLogin: (any DeviceLoginFlow)? { DeviceFlow(provider: self) }

    struct DeviceFlow: DeviceLoginFlow {
        let provider: AWSIdentityCenterProvider

        func start(context: ResolveContext) throws -> DeviceAuthorization {
            let state = provider.state(context)
            let now = context.clock.now()
            let client = try provider.client(context)
            state.lock.lock()
            let known = state.token?.registration ?? provider.tokenCache(context)?.read(startURL: provider.startURL)?.registration
            state.lock.unlock()
            // A registration is reused until an hour before it expires (the AWS CLI does the same).
            let registration: SSOClientRegistration
            if let known, known.expiresAt > now + 3600 {
                registration = known
            } else {
                registration = try client.registerClient(name: "credential-broker", scopes: provider.scopes, now: now)
            }
            state.lock.lock(); state.pendingRegistration = registration; state.lock.unlock()
            return try client.startDeviceAuthorization(registration, startURL: provider.startURL, now: now)
        }

        func poll(_ authorization: DeviceAuthorization, context: ResolveContext) throws -> DevicePoll {
            let state = provider.state(context)
            state.lock.lock()
            let pending = state.pendingRegistration
            state.lock.unlock()
            guard let registration = pending else {
                throw BrokerFailure(.denied, "the login of provider \"\(provider.name)\" was cancelled")
            }
            let grant: SSOTokenGrant
            do {
                grant = try provider.client(context).createToken(registration, deviceCode: authorization.deviceCode)
            } catch let error as SSOError {
                switch error.code {
                case "authorization_pending", "AuthorizationPendingException": return .pending
                case "slow_down", "SlowDownException": return .slowDown
                case "expired_token", "ExpiredTokenException":
                    throw BrokerFailure(.denied, "the device code of provider \"\(provider.name)\" expired before the login was approved",
                                        hint: "run `brokerctl login \(provider.name)` again and approve it within the time shown")
                case "access_denied", "AccessDeniedException":
                    throw BrokerFailure(.denied, "the login of provider \"\(provider.name)\" was denied in the browser",
                                        hint: "run `brokerctl login \(provider.name)` again and choose Allow")
                default: throw error
                }
            }
            let token = SSOToken(startURL: provider.startURL, region: provider.region, accessToken: grant.accessToken,
                                 expiresAt: context.clock.now() + grant.expiresIn, refreshToken: grant.refreshToken,
                                 clientID: registration.clientID, clientSecret: registration.clientSecret,
                                 registrationExpiresAt: registration.expiresAt)
            state.lock.lock()
            state.token = token
            state.pendingRegistration = nil
            state.lock.unlock()
            try provider.tokenCache(context)?.write(token)
            return .approved(expiresAt: token.expiresAt)
        }
    }

    // MARK: - Offered identities

    public func offeredIdentities(context: ResolveContext, maximumAge: Int64) throws -> [OfferedIdentity] {
        let state = state(context)
        state.lock.lock()
        if maximumAge > 0, let known = state.offers, context.clock.now() - known.at <= maximumAge {
            state.lock.unlock()
            return known.identities
        }
        state.lock.unlock()
        let session = try session(minimumValidity: 60, context: context)
        guard let (token, _) = session.token else { return [] }
        let client = try client(context)
        var offered: [OfferedIdentity] = []
        do {
            for account in try client.listAccounts(accessToken: token).sorted(by: { $0.id < $1.id }) {
                for role in try client.listAccountRoles(accountID: account.id, accessToken: token).sorted() {
                    offered.append(offer(accountID: account.id, role: role, accountName: account.name))
                }
            }
        } catch let error as SSOError where error.status == 401 {
            throw loginNeeded("has a session the portal no longer accepts")
        }
        state.lock.lock()
        state.offers = (context.clock.now(), offered)
        state.lock.unlock()
        return offered
    }

    func offer(accountID: String, role: String, accountName: String?) -> OfferedIdentity {
        OfferedIdentity(name: "\(accountID)/\(role)", kind: AWSPermissionSetIdentity.descriptor.name,
                        settings: [("via", "provider:\(name)"), ("account-id", accountID), ("permission-set", role)],
                        notes: accountName.map { [("account-name", $0)] } ?? [])
    }

    /// `ACCOUNT-ID/ROLE`: twelve digits, a slash, a role name.
    public func offeredIdentity(named name: String) -> OfferedIdentity? {
        let bytes = name.utf8
        guard bytes.count > 13, bytes.count <= 13 + 64, let slash = bytes.firstIndex(of: UInt8(ascii: "/")),
              bytes.distance(from: bytes.startIndex, to: slash) == 12,
              bytes[..<slash].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        let role = name[name.utf8.index(after: slash)...]
        guard role.allSatisfy(AWSNames.isNameCharacter) else { return nil }
        return offer(accountID: String(name[..<slash]), role: String(role), accountName: nil)
    }
}
