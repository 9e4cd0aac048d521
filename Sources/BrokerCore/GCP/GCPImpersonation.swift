// IAM Credentials generateAccessToken / generateIdToken: impersonation shared by gcp/service-account
// and gcp/workload-identity-federation's `service-account`.

import BrokerWire

struct GCPImpersonation {
    var iamEndpoint: String
    var serviceAccount: String
    var delegates: [String]

    func token(caller: Secret, scopes: [String], lifetime: Int, audience: String?, now: Int64) throws -> (token: Secret, expiresAt: Int64) {
        let base = iamEndpoint.hasSuffix("/") ? String(iamEndpoint.dropLast()) : iamEndpoint
        let resource = "\(base)/v1/projects/-/serviceAccounts/\(serviceAccount)"
        let chain = JSONValue.array(delegates.map { .string("projects/-/serviceAccounts/\($0)") })
        if let audience {
            let (status, body) = try GCPClient.jsonRequest(resource + ":generateIdToken", bearer: caller, body: .object([
                ("delegates", chain), ("audience", .string(audience)), ("includeEmail", .bool(true)),
            ]), what: "IAM Credentials generateIdToken")
            return try Self.parseIDToken(status: status, body: body, now: now, secrets: [caller.reveal()])
        }
        let (status, body) = try GCPClient.jsonRequest(resource + ":generateAccessToken", bearer: caller, body: .object([
            ("delegates", chain), ("scope", .array(scopes.map(JSONValue.string))), ("lifetime", .string("\(lifetime)s")),
        ]), what: "IAM Credentials generateAccessToken")
        return try Self.parseAccessToken(status: status, body: body, secrets: [caller.reveal()])
    }

    /// `{"accessToken", "expireTime": RFC 3339}`. Public to the bad-input tests through BrokerCore.
    static func parseAccessToken(status: Int, body: [UInt8], secrets: [String] = []) throws -> (token: Secret, expiresAt: Int64) {
        let what = "IAM Credentials generateAccessToken"
        let object = try? JSONValue.parse(body)
        guard (200..<300).contains(status) else { throw GCPClient.errorAnswer(status: status, object: object, what: what, secrets: secrets) }
        guard let token = object?[member: "accessToken"]?.stringValue, !token.isEmpty, token.utf8.count <= GCPClient.longestToken,
              token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw BrokerFailure(.upstream, "\(what) answered without a usable accessToken")
        }
        guard let expiry = object?[member: "expireTime"]?.stringValue.flatMap({ parseRFC3339($0, allowingSpaceSeparator: false) }) else {
            throw BrokerFailure(.upstream, "\(what) answered without a readable expireTime")
        }
        return (Secret(token), expiry)
    }

    static func parseIDToken(status: Int, body: [UInt8], now: Int64, secrets: [String] = []) throws -> (token: Secret, expiresAt: Int64) {
        let what = "IAM Credentials generateIdToken"
        let object = try? JSONValue.parse(body)
        guard (200..<300).contains(status) else { throw GCPClient.errorAnswer(status: status, object: object, what: what, secrets: secrets) }
        guard let token = object?[member: "token"]?.stringValue, token.utf8.count <= GCPClient.longestToken,
              token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }), let left = GCPIDToken.lifetime(token, now: now), left > 0 else {
            throw BrokerFailure(.upstream, "\(what) answered without a usable ID token")
        }
        return (Secret(token), now + left)
    }
}

/// Names Google's APIs take, checked when the configuration is read.
enum GCPNames {
    static func checkEmail(_ email: String, at location: SourceLocation) throws {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
              email.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.@".contains($0)) }) else {
            throw ConfigError("\"\(WireCodec.printable(email, limit: 80))\" is not a service account email", at: location,
                              hint: "write it as NAME@PROJECT.iam.gserviceaccount.com")
        }
    }
}
