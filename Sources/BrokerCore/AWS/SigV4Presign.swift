// SigV4 in query-string form (a presigned URL), as botocore's SigV4QueryAuth builds it: the EKS token is one.

import BrokerWire
import Foundation

extension SigV4Signer {
    /// A presigned URL for `request`: its query parameters first, in order, then `X-Amz-Algorithm`,
    /// `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`, `X-Amz-SignedHeaders`,
    /// `X-Amz-Security-Token` (temporary credentials; signed, as part of the query) and last
    /// `X-Amz-Signature`. The request's own headers (plus `Host`) are the signed headers; the
    /// payload hash is that of the empty body, as botocore signs a GET it presigns.
    /// The result holds the session token: it is a secret.
    public func presign(_ request: SigV4Request, credentials: AWSCredentials, date: Date, expires: Int) -> Secret {
        let amzDate = Self.amzDate(date)
        let scope = Self.credentialScope(day: String(amzDate.prefix(8)), region: region, service: service)
        var headers = request.headers.filter { $0.name.lowercased() != "authorization" }
        if !headers.contains(where: { $0.name.lowercased() == "host" }) {
            headers.append((name: "Host", value: request.hostHeader))
        }
        let canonical = Self.canonicalHeaders(headers)
        let signedHeaders = canonical.map(\.name).joined(separator: ";")
        var authParams: [(name: String, value: String)] = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope)"),
            ("X-Amz-Date", amzDate),
            ("X-Amz-Expires", String(expires)),
            ("X-Amz-SignedHeaders", signedHeaders),
        ]
        if let token = credentials.sessionToken { authParams.append(("X-Amz-Security-Token", token.reveal())) }
        let query = request.query + authParams
        let canonicalRequest = [
            request.method.uppercased(),
            canonicalURI(request.encodedPath),
            AWSURIEncoding.canonicalQuery(query),
            canonical.map { "\($0.name):\($0.value)\n" }.joined(),
            signedHeaders,
            SHA256.hash(request.body).hexString,
        ].joined(separator: "\n")
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, SHA256.hash(canonicalRequest).hexString].joined(separator: "\n")
        let signature = HMACSHA256.authenticate(
            message: stringToSign,
            key: Self.signingKey(secret: credentials.secretAccessKey, day: String(amzDate.prefix(8)), region: region, service: service)
        ).hexString
        var unsigned = request
        unsigned.query = query
        return Secret(unsigned.urlString + "&X-Amz-Signature=" + signature)
    }
}
