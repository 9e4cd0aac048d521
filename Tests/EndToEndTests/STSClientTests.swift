// STSClient against a real moto_server with signature and trust-policy checks on, and its answer handling on its own.

@testable import BrokerCore
import BrokerWire
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class STSClientTests: XCTestCase {
    static var moto: MotoServer?

    override class func setUp() {
        super.setUp()
        moto = try? MotoServer()
    }

    override class func tearDown() {
        moto?.stop()
        moto = nil
        super.tearDown()
    }

    var moto: MotoServer!

    override func setUpWithError() throws {
        moto = try XCTUnwrap(Self.moto, "moto_server did not start (needs python3 with moto and boto3 on PATH)")
        moto.resetCounts()
        moto.injectFaults(status: 503, count: 0, code: "none")
        moto.setAuthentication(true)
    }

    /// Fast backoff so retry tests take milliseconds, not seconds.
    var quickRetry: RetryPolicy {
        var policy = RetryPolicy()
        policy.baseDelay = 0.01
        policy.maxDelay = 0.05
        return policy
    }

    func client(retry: RetryPolicy? = nil, timeout: Double = 10) -> STSClient {
        STSClient(endpoint: STSEndpoint(url: moto.endpoint, region: "us-east-1"), timeout: timeout, retry: retry ?? quickRetry)
    }

    var user: AWSCredentials {
        AWSCredentials(accessKeyID: moto.accessKeyID, secretAccessKey: Secret(moto.secretAccessKey))
    }

    func firstSession(_ name: String? = nil) throws -> STSCredentials {
        try client().assumeRole(user, roleARN: moto.firstRoleARN, sessionName: name ?? moto.chainSessionName, durationSeconds: 900)
    }

    func stsError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> STSError? {
        do {
            try body()
            XCTFail("expected an STS error", file: file, line: line)
        } catch let error as STSError {
            return error
        } catch {
            XCTFail("expected an STS error, got \(error)", file: file, line: line)
        }
        return nil
    }

    // MARK: - Signed calls

    func testGetCallerIdentityWithTheUsersKeysIsTheUser() throws {
        let identity = try client().getCallerIdentity(user)
        XCTAssertEqual(identity.arn, moto.userARN)
        XCTAssertEqual(identity.account, moto.account)
        XCTAssertFalse(identity.userID.isEmpty)
        XCTAssertEqual(moto.counts()["GetCallerIdentity"], 1)
    }

    func testAssumeRoleGivesCredentialsWhoseIdentityIsTheAssumedRole() throws {
        let before = Int64(Date().timeIntervalSince1970)
        let session = try firstSession("first-session")
        let expectedARN = "arn:aws:sts::\(moto.account):assumed-role/first/first-session"
        XCTAssertEqual(session.assumedRoleARN, expectedARN)
        XCTAssertTrue(session.credentials.accessKeyID.hasPrefix("ASIA"), session.credentials.accessKeyID)
        XCTAssertNotNil(session.credentials.sessionToken)
        XCTAssertEqual(Double(session.expiration - before), 900, accuracy: 5, "expiry follows DurationSeconds")

        let identity = try client().getCallerIdentity(session.credentials)
        XCTAssertEqual(identity.arn, expectedARN)
        XCTAssertEqual(moto.counts(), ["AssumeRole": 1, "GetCallerIdentity": 1, "__total": 2])
    }

    func testChainingFirstIntoSecondWithTheRightExternalIDWorks() throws {
        let first = try firstSession()
        let second = try client().assumeRole(first.credentials, roleARN: moto.secondRoleARN, sessionName: "second-session",
                                             durationSeconds: 900, externalID: moto.externalID)
        XCTAssertEqual(second.assumedRoleARN, "arn:aws:sts::\(moto.account):assumed-role/second/second-session")
        XCTAssertEqual(try client().getCallerIdentity(second.credentials).arn, second.assumedRoleARN)
    }

    func testChainingWithAWrongExternalIDIsAccessDeniedWithTheTrustPolicyHintAndNoRetry() throws {
        let first = try firstSession()
        moto.resetCounts()
        let error = stsError {
            _ = try client().assumeRole(first.credentials, roleARN: moto.secondRoleARN, sessionName: "second-session",
                                        durationSeconds: 900, externalID: "ext-wrong")
        }
        XCTAssertEqual(error?.code, "AccessDenied")
        XCTAssertEqual(error?.httpStatus, 403)
        XCTAssertEqual(error?.hint?.contains("trust policy (and ExternalId / MFA conditions)"), true, "\(String(describing: error))")
        XCTAssertEqual(error?.message.hasPrefix("sts AssumeRole of \(moto.secondRoleARN) with access key ****"), true,
                       "\(String(describing: error))")
        XCTAssertEqual(moto.counts()["AssumeRole"], 1, "a 4xx answer is never retried")
    }

    func testAWrongSecretIsSignatureDoesNotMatchAndTheMessageHoldsNoSecret() throws {
        let wrongSecret = "wrong-secret-0123456789abcdefghijklmnopq"
        let credentials = AWSCredentials(accessKeyID: moto.accessKeyID, secretAccessKey: Secret(wrongSecret))
        let error = stsError { _ = try client().getCallerIdentity(credentials) }
        XCTAssertEqual(error?.code, "SignatureDoesNotMatch")
        XCTAssertEqual(error?.hint, "the secret access key does not match the access key id")
        let text = String(describing: error)
        XCTAssertFalse(text.contains(wrongSecret) || text.contains(moto.secretAccessKey) || text.contains(moto.accessKeyID), text)
        XCTAssertTrue(text.contains(Secret.masked(moto.accessKeyID)), text)
        XCTAssertEqual(moto.counts()["GetCallerIdentity"], 1)
    }

    func testSessionCredentialsWithoutTheirTokenAreInvalidClientTokenId() throws {
        let session = try firstSession()
        let tokenless = AWSCredentials(accessKeyID: session.credentials.accessKeyID,
                                       secretAccessKey: session.credentials.secretAccessKey)
        let error = stsError { _ = try client().getCallerIdentity(tokenless) }
        XCTAssertEqual(error?.code, "InvalidClientTokenId")
        XCTAssertEqual(error?.hint?.contains("a session token is missing"), true)
        let text = String(describing: error)
        XCTAssertFalse(text.contains(session.credentials.secretAccessKey.reveal()), text)
    }

    func testAnUnknownAccessKeyIsInvalidClientTokenId() throws {
        let stranger = AWSCredentials(accessKeyID: "AKIAUNKNOWNKEY000000", secretAccessKey: Secret("x"))
        XCTAssertEqual(stsError { _ = try client().getCallerIdentity(stranger) }?.code, "InvalidClientTokenId")
    }

    func testAssumeRoleWithTagsAndSourceIdentityIsSignedCorrectly() throws {
        // Dotted parameter names and values that need percent-encoding (a space, '+', '/', UTF-8)
        // must reach moto's verifier intact.
        let session = try client().assumeRole(user, roleARN: moto.firstRoleARN, sessionName: "tagged@example.com",
                                              durationSeconds: 1800, sourceIdentity: "alice@example.com",
                                              tags: [("team", "platform/infra"), ("cost center", "42:a=b+c"), ("owner", "Zoë")])
        XCTAssertEqual(session.assumedRoleARN, "arn:aws:sts::\(moto.account):assumed-role/first/tagged@example.com")
        XCTAssertEqual(moto.requests().first?["params"] as? [String], [
            "Action", "Version", "RoleArn", "RoleSessionName", "DurationSeconds", "SourceIdentity",
            "Tags.member.1.Key", "Tags.member.1.Value", "Tags.member.2.Key", "Tags.member.2.Value",
            "Tags.member.3.Key", "Tags.member.3.Value",
        ])
    }

    func testTransitiveTagKeysAndPolicyARNsAreNamedAsBotocoreNamesThem() throws {
        let session = try client().assumeRole(user, roleARN: moto.firstRoleARN, sessionName: "scoped-down", durationSeconds: 900,
                                              tags: [("team", "platform")], transitiveTagKeys: ["team"],
                                              policyARNs: ["arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::\(moto.account):policy/extra"])
        XCTAssertEqual(session.assumedRoleARN, "arn:aws:sts::\(moto.account):assumed-role/first/scoped-down")
        let ours = try XCTUnwrap(moto.requests().first?["params"] as? [String])
        // botocore's own query serializer, from the same values.
        let script = """
            import botocore.session, json, sys
            from botocore.serialize import create_serializer
            model = botocore.session.get_session().get_service_model("sts").operation_model("AssumeRole")
            body = create_serializer("query").serialize_to_request(json.loads(sys.argv[1]), model)["body"]
            print("\\n".join(body))
            """
        let input = #"{"RoleArn": "\#(moto.firstRoleARN)", "RoleSessionName": "scoped-down", "DurationSeconds": 900, "Tags": [{"Key": "team", "Value": "platform"}], "TransitiveTagKeys": ["team"], "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}, {"arn": "arn:aws:iam::\#(moto.account):policy/extra"}]}"#
        let process = Process()
        process.executableURL = URL(fileURLWithPath: MotoServer.python)
        process.arguments = ["-c", script, input]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let names = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n").map(String.init)
        process.waitUntilExit()
        XCTAssertEqual(Set(ours), Set(names))
        XCTAssertTrue(ours.contains("TransitiveTagKeys.member.1") && ours.contains("PolicyArns.member.2.arn"), "\(ours)")
    }

    func testRequestsArePOSTFormsSignedForTheEndpointsRegionAndService() throws {
        // moto checks neither the region nor the service in the scope (TESTING.md): the proxy's record does.
        let client = STSClient(endpoint: STSEndpoint(url: moto.endpoint, region: "eu-west-3"), retry: quickRetry)
        let session = try client.assumeRole(user, roleARN: moto.firstRoleARN, sessionName: "scoped", durationSeconds: 900)
        _ = try client.getCallerIdentity(session.credentials)
        let requests = moto.requests()
        XCTAssertEqual(requests.count, 2)
        for (request, hasToken) in zip(requests, [false, true]) {
            XCTAssertEqual(request["method"] as? String, "POST")
            XCTAssertEqual(request["path"] as? String, "/", "parameters travel in the body, never the query")
            XCTAssertEqual(request["content_type"] as? String, "application/x-www-form-urlencoded; charset=utf-8")
            XCTAssertEqual(request["has_security_token"] as? Bool, hasToken)
            let authorization = try XCTUnwrap(SigV4Authorization(header: request["authorization"] as? String ?? ""))
            XCTAssertEqual(authorization.region, "eu-west-3")
            XCTAssertEqual(authorization.service, "sts")
            XCTAssertTrue(SigV4Signer(service: "sts", region: "eu-west-3").scopeMatches(authorization, at: Date()))
            let expectedHeaders = ["content-type", "host", "x-amz-date"] + (hasToken ? ["x-amz-security-token"] : [])
            XCTAssertEqual(authorization.signedHeaders, expectedHeaders)
        }
        XCTAssertEqual((requests.first?["params"] as? [String])?.prefix(2), ["Action", "Version"])
    }

    func testGetSessionTokenGivesExpiringCredentialsWithoutARole() throws {
        let before = Int64(Date().timeIntervalSince1970)
        let session = try client().getSessionToken(user, durationSeconds: 3600)
        XCTAssertNil(session.assumedRoleARN)
        XCTAssertFalse(session.credentials.accessKeyID.isEmpty)
        XCTAssertEqual(Double(session.expiration - before), 3600, accuracy: 5)
        XCTAssertEqual(moto.counts()["GetSessionToken"], 1)
    }

    func testGetFederationTokenGivesAFederatedUsersSession() throws {
        let before = Int64(Date().timeIntervalSince1970)
        let session = try client().getFederationToken(user, name: "broker-dev", durationSeconds: 7200,
                                                      policy: #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
        XCTAssertEqual(session.assumedRoleARN, "arn:aws:sts::\(moto.account):federated-user/broker-dev")
        XCTAssertNotNil(session.credentials.sessionToken)
        XCTAssertEqual(Double(session.expiration - before), 7200, accuracy: 5)
        let params = (moto.requests().last?["params"] as? [String]) ?? []
        XCTAssertEqual(Set(params), ["Action", "Version", "Name", "DurationSeconds", "Policy"])
    }

    func testAUserWithoutGetFederationTokenIsToldWhichPermissionIsMissing() {
        let error = STSClient.error(status: 403, body: Array(#"<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>"#.utf8),
                                    call: STSClient.Call(action: "GetFederationToken", target: nil, credentials: user),
                                    endpoint: try! STSEndpoint.resolve(region: "us-east-1", override: moto.endpoint, environment: Environment([:])))
        XCTAssertEqual(error.hint, "allow sts:GetFederationToken in the IAM user's policy")
    }

    func testAssumeRoleWithWebIdentityIsUnsigned() throws {
        // moto answers this call with HTTP 500 while its auth is on (TESTING.md): off for this case.
        moto.setAuthentication(false)
        defer { moto.setAuthentication(true) }
        let session = try client().assumeRoleWithWebIdentity(roleARN: moto.firstRoleARN, sessionName: "web",
                                                             webIdentityToken: Secret("eyJ.fake.jwt"), durationSeconds: 900)
        XCTAssertEqual(session.assumedRoleARN, "arn:aws:sts::\(moto.account):assumed-role/first/web")
        XCTAssertEqual(moto.counts()["__unsigned"], 1, "\(moto.counts())")
    }

    // MARK: - Retries and broken peers

    func testServiceUnavailableTwiceThenSuccessIsRetried() throws {
        moto.injectFaults(status: 503, count: 2, code: "ServiceUnavailable")
        XCTAssertEqual(try client().getCallerIdentity(user).arn, moto.userARN)
        XCTAssertEqual(moto.counts()["GetCallerIdentity"], 3)
    }

    func testThrottlingIsRetriedUpToMaxAttemptsThenReported() throws {
        moto.injectFaults(status: 400, count: 100, code: "Throttling")
        var policy = quickRetry
        policy.maxAttempts = 3
        let error = stsError { _ = try client(retry: policy).getCallerIdentity(user) }
        XCTAssertEqual(error?.code, "Throttling")
        XCTAssertEqual(moto.counts()["GetCallerIdentity"], 3)
    }

    func testHTTP429IsRetriedLikeThrottling() throws {
        moto.injectFaults(status: 429, count: 1, code: "TooManyRequests")
        XCTAssertEqual(try client().getCallerIdentity(user).arn, moto.userARN)
        XCTAssertEqual(moto.counts()["GetCallerIdentity"], 2)
    }

    func testAServerErrorWithoutAnSTSBodyIsRetriedThenInvalidResponseWithoutTheToken() throws {
        // With auth on, moto fails AssumeRoleWithWebIdentity with an HTML 500 page: a real broken peer.
        let token = "eyJhbGciOiJSUzI1NiJ9.secret-web-identity-token.sig"
        let error = stsError {
            _ = try client().assumeRoleWithWebIdentity(roleARN: moto.firstRoleARN, sessionName: "web",
                                                       webIdentityToken: Secret(token), durationSeconds: 900)
        }
        XCTAssertEqual(error?.code, "InvalidResponse")
        XCTAssertEqual(error?.httpStatus, 500)
        XCTAssertEqual(moto.counts()["AssumeRoleWithWebIdentity"], RetryPolicy().maxAttempts, "5xx is retried, boundedly")
        let text = String(describing: error)
        XCTAssertFalse(text.contains(token), text)
        XCTAssertTrue(text.contains("Internal Server Error"), text)
    }

    func testAPortalPageIsInvalidResponseQuotingAShortExcerpt() throws {
        let page = "<html><title>Hotel Wi-Fi</title>" + String(repeating: "login please ", count: 5000) + "</html>"
        moto.injectFaults(status: 200, count: 1, code: "none", body: page)
        let error = stsError { _ = try client().getCallerIdentity(user) }
        XCTAssertEqual(error?.code, "InvalidResponse")
        XCTAssertEqual(error?.httpStatus, 200)
        let message = error?.message ?? ""
        XCTAssertTrue(message.contains("Hotel Wi-Fi"), message)
        XCTAssertLessThan(message.count, 500, message)
        XCTAssertEqual(moto.counts()["GetCallerIdentity"], 1, "a 200 is not retried")
    }

    func testAnIncompleteCredentialsAnswerIsInvalidResponseAndNeverQuoted() throws {
        let body = """
            <AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId>\
            <SecretAccessKey>leaked-secret-value</SecretAccessKey><SessionToken>leaked-token</SessionToken>\
            </Credentials></AssumeRoleResult></AssumeRoleResponse>
            """
        moto.injectFaults(status: 200, count: 1, code: "none", body: body)
        let error = stsError { _ = try firstSession() }
        XCTAssertEqual(error?.code, "InvalidResponse")
        let text = String(describing: error)
        XCTAssertTrue(text.contains("Expiration"), text)
        XCTAssertFalse(text.contains("leaked-secret-value") || text.contains("leaked-token"), text)
    }

    func testARedirectIsNotFollowed() throws {
        // Following it would carry a signed request, session token included, to wherever Location says.
        moto.injectFaults(status: 307, count: 1, code: "none", body: "moved", headers: ["Location": moto.motoEndpoint + "/"])
        let error = stsError { _ = try client().getCallerIdentity(user) }
        XCTAssertEqual(error?.code, "InvalidResponse")
        XCTAssertEqual(error?.httpStatus, 307)
        XCTAssertEqual(moto.counts()["__total"], 1)
    }

    func testConnectionRefusedIsUnavailableQuicklyAfterABoundedNumberOfAttempts() throws {
        let port = Self.closedPort()
        let client = STSClient(endpoint: STSEndpoint(url: "http://127.0.0.1:\(port)", region: "us-east-1"), retry: quickRetry)
        let before = STSClient.requestCount
        let started = Date()
        XCTAssertThrowsError(try client.getCallerIdentity(user)) { error in
            guard let failure = error as? BrokerFailure else { return XCTFail("\(error)") }
            XCTAssertEqual(failure.kind, .unavailable)
            XCTAssertTrue(failure.message.hasPrefix("cannot reach STS at http://127.0.0.1:\(port): connection refused"),
                          failure.message)
            XCTAssertNotNil(failure.hint)
        }
        XCTAssertEqual(STSClient.requestCount - before, RetryPolicy().maxAttempts)
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
    }

    func testAPeerThatNeverAnswersTimesOut() throws {
        // Listens (so connect succeeds) but never reads or writes.
        let (listener, port) = Self.loopbackSocket()
        defer { close(listener) }
        listen(listener, 16)

        var policy = quickRetry
        policy.maxAttempts = 2
        let client = STSClient(endpoint: STSEndpoint(url: "http://127.0.0.1:\(port)", region: "us-east-1"),
                               timeout: 1, retry: policy)
        let before = STSClient.requestCount
        let started = Date()
        XCTAssertThrowsError(try client.getCallerIdentity(user)) { error in
            guard let failure = error as? BrokerFailure else { return XCTFail("\(error)") }
            XCTAssertEqual(failure.kind, .unavailable)
            XCTAssertTrue(failure.message.contains("no answer within 1 s"), failure.message)
        }
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertGreaterThan(elapsed, 2, "two attempts of one second each")
        XCTAssertLessThan(elapsed, 3.5, "the timeout bounds each attempt")
        XCTAssertEqual(STSClient.requestCount - before, 2, "a timeout is retried like any transport error")
    }

    /// Bound, never listened on, then closed: connecting is refused.
    static func closedPort() -> Int {
        let (fd, port) = loopbackSocket()
        close(fd)
        return port
    }

    /// A TCP socket bound to a free port on 127.0.0.1.
    static func loopbackSocket() -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }
}

/// How STS answers become results and errors, without a server.
final class STSAnswerTests: XCTestCase {
    let endpoint = STSEndpoint(url: "https://sts.eu-west-1.amazonaws.com", region: "eu-west-1")
    let credentials = AWSCredentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: Secret("wJalrXUtnFEMI/K7MDENG"),
                                     sessionToken: Secret("FwoGZXIvYXdzEXAMPLETOKEN"))

    func call(_ action: String = "AssumeRole", target: String? = "arn:aws:iam::123456789012:role/x") -> STSClient.Call {
        STSClient.Call(action: action, target: target, credentials: credentials)
    }

    /// AWS's own error shape (no `<Errors>` wrapper, pretty-printed).
    func awsError(_ code: String, _ message: String) -> [UInt8] {
        Array("""
            <ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
              <Error>
                <Type>Sender</Type>
                <Code>\(code)</Code>
                <Message>\(message)</Message>
              </Error>
              <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
            </ErrorResponse>

            """.utf8)
    }

    func testEachKnownErrorCodeCarriesItsHint() {
        let table: [(code: String, hint: String?)] = [
            ("AccessDenied", "check the role's trust policy (and ExternalId / MFA conditions) and the caller's sts:AssumeRole permission"),
            ("ExpiredToken", "the source credentials have expired; refresh them, or run brokerctl logout to drop cached ones"),
            ("InvalidClientTokenId", "the access key id is not valid (deleted key, wrong partition, or a session token is missing)"),
            ("SignatureDoesNotMatch", "the secret access key does not match the access key id"),
            ("RegionDisabledException", "activate STS in that region (eu-west-1) or use another region"),
            ("MalformedPolicyDocument", nil),
            ("ValidationError", nil),
            ("PackedPolicyTooLarge", nil),
        ]
        for row in table {
            let error = STSClient.error(status: 403, body: awsError(row.code, "Something about \(row.code)."), call: call(),
                                        endpoint: endpoint)
            XCTAssertEqual(error.code, row.code)
            XCTAssertEqual(error.hint, row.hint, row.code)
            XCTAssertEqual(error.httpStatus, 403)
            XCTAssertEqual(error.message, "sts AssumeRole of arn:aws:iam::123456789012:role/x with access key "
                           + "****************MPLE failed: \(row.code): Something about \(row.code).")
        }
    }

    func testValidationErrorPassesSTSsMessageThrough() {
        let text = "1 validation error detected: Value '10' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
        let error = STSClient.error(status: 400, body: awsError("ValidationError", text), call: call(), endpoint: endpoint)
        XCTAssertTrue(error.message.hasSuffix("ValidationError: " + text), error.message)
    }

    func testAnEchoedSecretTokenOrKeyIdIsScrubbedFromTheMessage() {
        let echo = "key AKIAIOSFODNN7EXAMPLE secret wJalrXUtnFEMI/K7MDENG token FwoGZXIvYXdzEXAMPLETOKEN"
        let error = STSClient.error(status: 403, body: awsError("SignatureDoesNotMatch", echo), call: call(), endpoint: endpoint)
        XCTAssertFalse(error.message.contains("AKIAIOSFODNN7EXAMPLE"), error.message)
        XCTAssertFalse(error.message.contains("wJalrXUtnFEMI/K7MDENG"), error.message)
        XCTAssertFalse(error.message.contains("FwoGZXIvYXdzEXAMPLETOKEN"), error.message)
        XCTAssertTrue(error.message.contains("key ****************MPLE secret <redacted> token <redacted>"), error.message)
    }

    func testAnErrorBodyThatIsNotXMLIsInvalidResponseWithAShortPrintableExcerpt() {
        let body = Array(("Bad Gateway\u{1}\u{7f}\n\n" + String(repeating: "x", count: 10_000)).utf8)
        let error = STSClient.error(status: 502, body: body, call: call(), endpoint: endpoint)
        XCTAssertEqual(error.code, "InvalidResponse")
        XCTAssertEqual(error.httpStatus, 502)
        XCTAssertTrue(error.message.contains("HTTP 502 without an STS error (body starts: Bad Gateway xxx"), error.message)
        XCTAssertLessThan(error.message.count, 420, error.message)
        XCTAssertTrue(RetryPolicy.isRetryable(error))
    }

    func testRetryClassification() {
        func error(_ code: String, _ status: Int) -> STSError { STSError(code: code, message: "", hint: nil, httpStatus: status) }
        for retryable in [error("Throttling", 400), error("ThrottlingException", 400), error("RequestLimitExceeded", 400),
                          error("Anything", 429), error("InternalFailure", 500), error("InvalidResponse", 503),
                          error("IDPCommunicationError", 400)] {
            XCTAssertTrue(RetryPolicy.isRetryable(retryable), retryable.code)
        }
        for final in [error("AccessDenied", 403), error("SignatureDoesNotMatch", 403), error("InvalidClientTokenId", 403),
                      error("ExpiredToken", 400), error("ValidationError", 400), error("InvalidResponse", 200)] {
            XCTAssertFalse(RetryPolicy.isRetryable(final), final.code)
        }
    }

    func testBackoffIsExponentialWithFullJitterAndCapped() {
        let policy = RetryPolicy()
        XCTAssertEqual(policy.delay(afterAttempt: 1, random: 1), 0.2, accuracy: 1e-9)
        XCTAssertEqual(policy.delay(afterAttempt: 2, random: 1), 0.4, accuracy: 1e-9)
        XCTAssertEqual(policy.delay(afterAttempt: 3, random: 1), 0.8, accuracy: 1e-9)
        XCTAssertEqual(policy.delay(afterAttempt: 10, random: 1), 5.0, accuracy: 1e-9)
        XCTAssertEqual(policy.delay(afterAttempt: 1000, random: 1), 5.0, accuracy: 1e-9)
        XCTAssertEqual(policy.delay(afterAttempt: 3, random: 0), 0)
        XCTAssertEqual(policy.delay(afterAttempt: 3, random: 0.5), 0.4, accuracy: 1e-9)
        for _ in 0..<100 { XCTAssertTrue((0...0.8).contains(policy.delay(afterAttempt: 3))) }
    }

    func testCredentialsAreReadFromAPrettyPrintedAnswer() throws {
        let body = """
            <AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
              <AssumeRoleResult>
                <SourceIdentity>alice</SourceIdentity>
                <AssumedRoleUser>
                  <Arn>arn:aws:sts::123456789012:assumed-role/demo/TestAR</Arn>
                  <AssumedRoleId>ARO123EXAMPLE123:TestAR</AssumedRoleId>
                </AssumedRoleUser>
                <Credentials>
                  <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
                  <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
                  <SessionToken>AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQW</SessionToken>
                  <Expiration>2019-11-09T13:34:41Z</Expiration>
                </Credentials>
                <PackedPolicySize>6</PackedPolicySize>
              </AssumeRoleResult>
              <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
            </AssumeRoleResponse>
            """
        let result = try STSClient.credentials(in: Array(body.utf8), call: call(), endpoint: endpoint)
        XCTAssertEqual(result.credentials.accessKeyID, "ASIAIOSFODNN7EXAMPLE")
        XCTAssertEqual(result.credentials.secretAccessKey.reveal(), "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY")
        XCTAssertEqual(result.credentials.sessionToken?.reveal(), "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQW")
        XCTAssertEqual(result.expiration, 1_573_306_481)
        XCTAssertEqual(result.assumedRoleARN, "arn:aws:sts::123456789012:assumed-role/demo/TestAR")
    }

    func testExpirationTimesInEveryFormSTSAndFriendsUse() {
        let cases: [(String, Int64?)] = [
            ("2019-11-09T13:34:41Z", 1_573_306_481),
            ("2019-11-09T13:34:41.123Z", 1_573_306_481),
            ("2026-11-22T00:51:45.381214Z", 1_795_308_705),
            ("2019-11-09T14:34:41+01:00", 1_573_306_481),
            ("2019-11-09T12:34:41-01:00", 1_573_306_481),
            ("1970-01-01T00:00:00Z", 0),
            ("2024-02-29T00:00:00Z", 1_709_164_800),
            ("2019-11-09 13:34:41Z", nil),
            ("2019-11-09T13:34:41", nil),
            ("2019-13-09T13:34:41Z", nil),
            ("2019-11-09T13:34:41.Z", nil),
            ("2019-11-09T13:34:41Zjunk", nil),
            ("", nil),
            ("tomorrow", nil),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(STSClient.unixSeconds(iso8601: text), expected, text)
        }
    }
}
