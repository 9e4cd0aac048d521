// kind = azure/device-code: a provider holding a person's Microsoft Entra session from a device-code login.

import BrokerWire
import Foundation

/// `brokerctl login NAME` runs the identity platform's device-code flow (RFC 8628) for a public
/// client; afterwards the access token is renewed silently with the refresh token. Identities
/// chain from it with `via = provider:NAME` (an Azure subscription identity, say). The refresh
/// token is held in the agent's memory and, when the keyring is a system one that needs no
/// passphrase (Secret Service, Keychain), there as well, so a restarted agent needs no new login.
public struct AzureDeviceCodeProvider: ProviderKind {
    public static let descriptor = KindDescriptor(
        name: "azure/device-code",
        summary: "a person's Microsoft Entra session, opened with a device-code login",
        family: .providers,
        settings: [
            SettingSpec("tenant-id", "TENANT", required: true, "the directory (tenant) ID or domain; organizations for any work account",
                        details: "The directory (tenant) ID, a verified domain, or `organizations` for whichever work or school account signs in."),
            SettingSpec("client-id", "GUID", "the public client to log in as (default the Azure CLI's, 04b07795-8ddb-461a-bbee-02f9e1bf7b46)"),
            AzureApplication.authoritySpec,
            AzureApplication.resourceSpec,
        ],
        upstream: .none, produces: .token, tokenForm: .accessToken,
        description: ["A person's session with the Microsoft identity platform. `brokerctl login NAME` starts the device-code flow (`AUTHORITY/TENANT/oauth2/v2.0/devicecode`, scope `RESOURCE/.default offline_access`), shows the code and https://microsoft.com/devicelogin, and the agent polls the token endpoint at the interval it asks while the answer is `authorization_pending`. Afterwards the access token (about an hour) is renewed silently with the refresh token; when that fails, requests say to log in again. The refresh token stays in the agent's memory, and in the keyring when that is a system keyring (Secret Service, Keychain) that needs no passphrase. Identities start from it with `via = provider:NAME`, such as an azure/subscription identity."],
        notes: [.code("""
            [provider "me"]
                kind = azure/device-code
                tenant-id = contoso.onmicrosoft.com
            [identity "dev"]
                kind = azure/subscription
                via = provider:me
                subscription-id = 9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d
            """)])

    static let azureCLIClient = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
    static let deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"
    /// Renewed this long before expiry: azure-identity asks again once fewer than 5 minutes remain.
    static let refreshWindow: Int64 = 300

    public let name: String
    public let tenant: String
    public let clientID: String
    public let authority: String
    public let resource: String

    public init(_ definition: IdentityDefinition) throws {
        name = definition.name
        let (tenantText, location) = try definition.require("tenant-id")
        guard AzureApplication.isTenant(tenantText) || ["organizations", "common"].contains(tenantText.lowercased()) else {
            throw ConfigError("tenant-id must be a directory ID (a GUID), a domain or organizations, not \"\(STSEndpoint.printable(tenantText))\"", at: location)
        }
        tenant = tenantText
        if let entry = definition.entry("client-id") {
            guard let value = entry.value, AzureApplication.isGUID(value) else {
                throw ConfigError("client-id must be an application (client) ID, a GUID", at: entry.location)
            }
            clientID = value.lowercased()
        } else {
            clientID = Self.azureCLIClient
        }
        authority = try AzureApplication.authority(definition)
        resource = try AzureApplication.resource(definition)
    }

    var endpoint: AzureTokenEndpoint { AzureTokenEndpoint(authority: authority, tenant: tenant) }
    var scope: String { resource + "/.default offline_access" }
    var keyringName: String { "azure-device-code.\(name)" }

    public func cacheParameters(in context: ResolveContext) -> [CacheParameter] {
        [CacheParameter("authority", authority), CacheParameter("tenant-id", tenant.lowercased()),
         CacheParameter("client-id", clientID), CacheParameter("resource", resource)]
    }

    /// The session's memory, shared by every build of this provider from the same settings.
    final class State: @unchecked Sendable {
        let lock = NSLock()
        var token: AzureToken?
    }

    func state(_ context: ResolveContext) -> State {
        context.providerSessions.state("\(Self.descriptor.name)\n\(name)\n\(authority)\n\(tenant)\n\(clientID)\n\(resource)") { State() }
    }

    /// A keyring that needs no person: the file keyring may be locked behind a passphrase.
    func keyring(_ context: ResolveContext) -> KeyringService? {
        guard let keyring = context.keyring else { return nil }
        let status = keyring.status()
        return status.backend != "file" && status.state == "unlocked" ? keyring : nil
    }

    func loginNeeded(_ why: String) -> BrokerFailure {
        BrokerFailure(.denied, "provider \"\(name)\" \(why); run: brokerctl login \(name)", hint: "run: brokerctl login \(name)")
    }

    public func session(minimumValidity: Int, context: ResolveContext) throws -> Credential {
        let state = state(context)
        state.lock.lock(); defer { state.lock.unlock() }
        let now = context.clock.now()
        if let token = state.token, token.expiresAt - now >= max(Int64(minimumValidity), Self.refreshWindow) {
            return credential(token)
        }
        let remembered = state.token?.refreshToken ?? (try? keyring(context)?.get(keyringName)) ?? nil
        guard let refresh = remembered else {
            if let token = state.token, token.expiresAt - now >= Int64(minimumValidity) { return credential(token) }
            throw loginNeeded(state.token == nil ? "has no session" : "has a session that expired and cannot be renewed")
        }
        do {
            let form = [("grant_type", "refresh_token"), ("client_id", clientID), ("refresh_token", refresh.reveal()), ("scope", scope)]
            var renewed = try endpoint.request(form, purpose: "provider \"\(name)\"", secrets: [refresh.reveal()], now: context.clock.now())
            if renewed.refreshToken == nil { renewed.refreshToken = refresh }
            remember(renewed, in: state, context: context)
            return credential(renewed)
        } catch let failure as BrokerFailure where failure.kind == .denied {
            // The refresh token expired or was revoked: only a person can open a new session.
            state.token = nil
            _ = try? keyring(context)?.remove(keyringName)
            throw loginNeeded("could not renew its session (\(failure.message))")
        }
    }

    /// Called with `state.lock` held.
    func remember(_ token: AzureToken, in state: State, context: ResolveContext) {
        state.token = token
        if let refresh = token.refreshToken { _ = try? keyring(context)?.set(keyringName, refresh) }
    }

    func credential(_ token: AzureToken) -> Credential {
        Credential(.token(token.accessToken, scheme: "Bearer"), expiresAt: token.expiresAt, persistable: false)
    }

    public func sessionExpiry(context: ResolveContext) -> Int64? {
        let state = state(context)
        state.lock.lock(); defer { state.lock.unlock() }
        return state.token?.expiresAt
    }

    public func logout(context: ResolveContext) throws -> [String] {
        let state = state(context)
        state.lock.lock(); defer { state.lock.unlock() }
        var removed: [String] = []
        if state.token != nil { removed.append("the session in memory") }
        state.token = nil
        if (try? keyring(context)?.remove(keyringName)) == true { removed.append("the refresh token in the keyring") }
        return removed
    }

    public var deviceLogin: (any DeviceLoginFlow)? { DeviceFlow(provider: self) }

    struct DeviceFlow: DeviceLoginFlow {
        let provider: AzureDeviceCodeProvider

        func start(context: ResolveContext) throws -> DeviceAuthorization {
            let url = "\(provider.authority)/\(provider.tenant)/oauth2/v2.0/devicecode"
            let outcome = provider.endpoint.post([("client_id", provider.clientID), ("scope", provider.scope)], path: url)
            let purpose = "provider \"\(provider.name)\""
            guard case .response(let status, let body) = outcome else {
                if case .transport(let problem) = outcome {
                    throw BrokerFailure(.unavailable, "\(purpose): cannot reach the Microsoft identity platform at \(provider.authority): \(problem.reason)")
                }
                throw BrokerFailure(.internal, "\(purpose): no answer")
            }
            return try Self.authorization(status: status, body: body, purpose: purpose, now: context.clock.now())
        }

        /// Reads the device authorization answer. Public through the fuzz target's door below.
        static func authorization(status: Int, body: [UInt8], purpose: String, now: Int64) throws -> DeviceAuthorization {
            let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
            guard status == 200 else { throw AzureTokenEndpoint.refusal(status: status, object: object, purpose: purpose, secrets: []) }
            func printable(_ key: String, limit: Int) -> String? {
                guard let text = object?[key] as? String, !text.isEmpty, text.utf8.count <= limit,
                      text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return nil }
                return text
            }
            guard let device = printable("device_code", limit: 4096), let user = printable("user_code", limit: 64),
                  let uri = printable("verification_uri", limit: 512), uri.hasPrefix("https://"),
                  let lifetime = AzureTokenEndpoint.seconds(object?["expires_in"]), (1...86400).contains(lifetime) else {
                throw AzureTokenEndpoint.invalid(purpose, "the device authorization lacks device_code, user_code, an https verification_uri or expires_in")
            }
            let interval = AzureTokenEndpoint.seconds(object?["interval"]).map { Int(min(max($0, 1), 60)) } ?? 5
            return DeviceAuthorization(verificationURI: uri, verificationURIComplete: nil, userCode: user, deviceCode: Secret(device),
                                       interval: interval, expiresAt: now + lifetime)
        }

        func poll(_ authorization: DeviceAuthorization, context: ResolveContext) throws -> DevicePoll {
            let purpose = "provider \"\(provider.name)\""
            let form = [("grant_type", AzureDeviceCodeProvider.deviceGrant), ("client_id", provider.clientID),
                        ("device_code", authorization.deviceCode.reveal())]
            let outcome = provider.endpoint.post(form, path: provider.endpoint.url)
            guard case .response(let status, let body) = outcome else { return .pending }  // the network may come back
            if status == 400, let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] {
                switch object["error"] as? String {
                case "authorization_pending": return .pending
                case "slow_down": return .slowDown
                case "expired_token", "code_expired":
                    throw BrokerFailure(.denied, "the device code of provider \"\(provider.name)\" expired before the login was approved",
                                        hint: "run `brokerctl login \(provider.name)` again and approve it within the time shown")
                case "authorization_declined", "access_denied":
                    throw BrokerFailure(.denied, "the login of provider \"\(provider.name)\" was declined in the browser",
                                        hint: "run `brokerctl login \(provider.name)` again and accept")
                default: break
                }
            }
            let token = try AzureTokenEndpoint.token(status: status, body: body, purpose: purpose,
                                                     secrets: [authorization.deviceCode.reveal()], now: context.clock.now())
            let state = provider.state(context)
            state.lock.lock()
            provider.remember(token, in: state, context: context)
            state.lock.unlock()
            return .approved(expiresAt: token.expiresAt)
        }
    }
}
