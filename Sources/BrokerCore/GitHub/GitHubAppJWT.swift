// The RS256 JSON Web Token a GitHub App signs to prove it is itself, before it may mint installation tokens.

import BrokerWire

/// GitHub accepts an app JWT whose `exp` is at most 10 minutes after its `iat`, and rejects one
/// whose `iat` lies in its future. We backdate `iat` so a clock a little ahead of GitHub's still
/// works, and keep the lifetime under the limit so a clock a little behind does too.
public enum GitHubAppJWT {
    /// Seconds `iat` lies before now: GitHub's own advice for clock drift.
    public static let backdate: Int64 = 30
    /// Seconds from `iat` to `exp`: 9 minutes, one under GitHub's ceiling of 10.
    public static let lifetime: Int64 = 540

    /// `header.claims.signature`, each base64url without padding. The token is a bearer secret
    /// for its few minutes, so it comes back boxed.
    public static func make(appID: String, key: RSAPrivateKey, now: Int64) throws -> Secret {
        let signingInput = signingInput(appID: appID, now: now)
        let signature = try key.signPKCS1v15SHA256(Array(signingInput.utf8))
        return Secret(signingInput + "." + base64URLEncoded(signature))
    }

    /// The part the signature covers: the encoded header and claims joined by a dot.
    static func signingInput(appID: String, now: Int64) -> String {
        let header = JSONValue.object([("alg", .string("RS256")), ("typ", .string("JWT"))])
        let issuedAt = now - backdate
        // `iss` is a string: GitHub takes the numeric App ID or the Client ID there.
        let claims = JSONValue.object([("iat", .int(issuedAt)), ("exp", .int(issuedAt + lifetime)), ("iss", .string(appID))])
        return base64URLEncoded(Array(header.encoded().utf8)) + "." + base64URLEncoded(Array(claims.encoded().utf8))
    }
}
