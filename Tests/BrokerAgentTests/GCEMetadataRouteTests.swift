// The metadata route's target reader and the endpoint's header lookup, as tables: the byte-wise
// readers must say what the string-wise ones said.

@testable import BrokerAgent
import BrokerWire
import XCTest

final class GCEMetadataRouteTests: XCTestCase {
    static let secret = String(repeating: "0123456789abcdef", count: 4)

    func head(_ target: String, _ headers: [(String, String)] = []) -> HTTPRequestHead {
        HTTPRequestHead(method: "GET", target: target, headers: headers)
    }

    func split(_ target: String) -> String {
        guard let parts = GCEMetadataRoute.split(target) else { return "nil" }
        return "\(parts.secret.count) \(parts.path.map { $0.replacingOccurrences(of: "\u{0}", with: "NUL") } ?? "root") ?\(parts.query)"
    }

    func testTargetsSplitIntoSecretPathAndQuery() {
        let s = Self.secret
        let rows: [(String, String)] = [
            ("/\(s)", "64 root ?"),
            ("/\(s)/", "64 root ?"),
            ("/\(s)?x=1", "64 root ?x=1"),
            ("/\(s)/computeMetadata/v1/instance/service-accounts/default/token", "64 instance/service-accounts/default/token ?"),
            ("/\(s)/computeMetadata/v1/instance/service-accounts/default/identity?audience=https%3A%2F%2Fa&format=full",
             "64 instance/service-accounts/default/identity ?audience=https%3A%2F%2Fa&format=full"),
            ("/\(s)/computeMetadata/v2/x", "64 NUL/computeMetadata/v2/x ?"),
            ("/\(s)/other?/computeMetadata/v1/x", "64 NUL/other ?/computeMetadata/v1/x"),
            ("/abc/computeMetadata/v1/x", "3 x ?"),
            ("//computeMetadata/v1/x", "nil"),
            ("/", "nil"),
            ("credentials", "nil"),
        ]
        for (target, expected) in rows { XCTAssertEqual(split(target), expected, target) }
    }

    func testPathsAreToldApartAsTheHandlerReadsThem() {
        let rows: [(String, MetadataPath)] = [
            ("project/project-id", .projectID),
            ("project/numeric-project-id", .numericProjectID),
            ("universe/universe-domain", .universeDomain),
            ("instance/zone", .zone),
            ("instance/zone/", .other),
            ("project/project-idx", .other),
            ("instance/service-accounts", .other),
            ("instance/service-accounts/", .serviceAccounts),
            ("instance/service-accounts/default", .serviceAccount("default", .directory)),
            ("instance/service-accounts/default/", .serviceAccount("default", .directory)),
            ("instance/service-accounts/default/token", .serviceAccount("default", .token)),
            ("instance/service-accounts/sa@p.iam.gserviceaccount.com/identity", .serviceAccount("sa@p.iam.gserviceaccount.com", .identity)),
            ("instance/service-accounts/default/email", .serviceAccount("default", .email)),
            ("instance/service-accounts/default/scopes", .serviceAccount("default", .scopes)),
            ("instance/service-accounts/default/aliases", .serviceAccount("default", .aliases)),
            ("instance/service-accounts/default/token/x", .serviceAccount("default", .other)),
            ("instance/service-accounts/default/Token", .serviceAccount("default", .other)),
            ("instance/service-accounts//token", .serviceAccount("", .token)),
            ("", .other),
            ("\u{0}/computeMetadata/v2/x", .other),
        ]
        for (path, expected) in rows { XCTAssertEqual(MetadataPath(path), expected, path) }
    }

    func testQueryParametersAreFormDecoded() {
        XCTAssertEqual(GCEMetadataRoute.queryParameters("audience=https%3A%2F%2Fa.example%2Fx&format=full&licenses"),
                       ["audience": "https://a.example/x", "format": "full", "licenses": ""])
        XCTAssertEqual(GCEMetadataRoute.queryParameters("a=1+2&a=3&b=%zz&c=%4"), ["a": "3", "b": "%zz", "c": "%4"])
        XCTAssertEqual(GCEMetadataRoute.queryParameters("x=%E2%9C%93&y=a%2Bb"), ["x": "✓", "y": "a+b"])
    }

    func testOnlyA64HexDigitFirstSegmentIsThisRoutes() {
        let route = GCEMetadataRoute(answerRequest: { _, _, _ in LoopbackReply(status: 200, text: "") })
        let s = Self.secret
        for target in ["/\(s)", "/\(s)/", "/\(s)?a", "/\(s)/computeMetadata/v1/project/project-id"] {
            XCTAssertTrue(route.matches(head(target)), target)
        }
        for target in ["/credentials", "/msi/token?api-version=2019-08-01", "/\(s)x", "/\(s.uppercased())", "/\(s.dropLast())",
                       "/\(s.dropLast())g/x", "\(s)/x", "/\(s.dropLast())é"] {
            XCTAssertFalse(route.matches(head(target)), target)
        }
    }

    func testHeaderNamesCompareWithoutCaseAndRepeatsAreCounted() {
        let request = head("/", [("Metadata-Flavor", "Google"), ("X-IDENTITY-HEADER", "a"), ("x-identity-header", "b"), ("Hosts", "h")])
        XCTAssertEqual(request.value(of: "metadata-flavor"), "Google")
        XCTAssertEqual(request.value(of: "x-identity-header"), "a")
        XCTAssertEqual(request.count(of: "x-identity-header"), 2)
        XCTAssertNil(request.value(of: "host"), "a longer name is another header")
        XCTAssertNil(request.value(of: "metadata"))
    }

    func testTheSecretIsReadAsTheSplitReadsIt() {
        for target in ["/abc", "/abc/", "/abc?x=1", "/abc/computeMetadata/v1/instance?x=/y", "/", "/?x", "//x", "x/abc", ""] {
            XCTAssertEqual(GCEMetadataRoute.firstSegment(target), GCEMetadataRoute.split(target)?.secret, target)
        }
    }
}
