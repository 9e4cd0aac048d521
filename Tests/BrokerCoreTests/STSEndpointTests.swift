// Which STS endpoint a call goes to: partitions, regional endpoints, and the override precedence.

@testable import BrokerCore
import BrokerWire
import XCTest

final class STSEndpointTests: XCTestCase {
    let none = Environment([:])

    func testPartitions() {
        XCTAssertEqual(STSEndpoint.partition(of: "us-east-1"), "aws")
        XCTAssertEqual(STSEndpoint.partition(of: "eu-west-1"), "aws")
        XCTAssertEqual(STSEndpoint.partition(of: "ap-southeast-4"), "aws")
        XCTAssertEqual(STSEndpoint.partition(of: "cn-north-1"), "aws-cn")
        XCTAssertEqual(STSEndpoint.partition(of: "cn-northwest-1"), "aws-cn")
        XCTAssertEqual(STSEndpoint.partition(of: "us-gov-west-1"), "aws-us-gov")
        XCTAssertEqual(STSEndpoint.partition(of: "us-gov-east-1"), "aws-us-gov")
    }

    func testRegionalEndpointsOfTheThreePartitions() throws {
        let table = [
            ("us-east-1", "https://sts.us-east-1.amazonaws.com"),
            ("eu-west-1", "https://sts.eu-west-1.amazonaws.com"),
            ("cn-north-1", "https://sts.cn-north-1.amazonaws.com.cn"),
            ("cn-northwest-1", "https://sts.cn-northwest-1.amazonaws.com.cn"),
            ("us-gov-west-1", "https://sts.us-gov-west-1.amazonaws.com"),
        ]
        for (region, url) in table {
            XCTAssertEqual(try STSEndpoint.resolve(region: region, override: nil, environment: none),
                           STSEndpoint(url: url, region: region))
        }
    }

    func testRegionComesFromTheArgumentThenAWSRegionThenAWSDefaultRegionThenUSEast1() throws {
        let both = Environment(["AWS_REGION": "eu-central-1", "AWS_DEFAULT_REGION": "ap-south-1"])
        XCTAssertEqual(try STSEndpoint.resolve(region: "eu-west-2", override: nil, environment: both).region, "eu-west-2")
        XCTAssertEqual(try STSEndpoint.resolve(region: nil, override: nil, environment: both).region, "eu-central-1")
        XCTAssertEqual(try STSEndpoint.resolve(region: nil, override: nil, environment: Environment(["AWS_DEFAULT_REGION": "ap-south-1"])),
                       STSEndpoint(url: "https://sts.ap-south-1.amazonaws.com", region: "ap-south-1"))
        XCTAssertEqual(try STSEndpoint.resolve(region: nil, override: nil, environment: none),
                       STSEndpoint(url: "https://sts.us-east-1.amazonaws.com", region: "us-east-1"))
        // An empty variable counts as unset, as in the SDKs.
        XCTAssertEqual(try STSEndpoint.resolve(region: nil, override: nil, environment: Environment(["AWS_REGION": ""])).region,
                       "us-east-1")
    }

    func testOverrideThenAWSEndpointURLSTSThenAWSEndpointURL() throws {
        let environment = Environment([
            "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:5001",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:5002",
        ])
        XCTAssertEqual(try STSEndpoint.resolve(region: "eu-west-1", override: "http://127.0.0.1:5000", environment: environment),
                       STSEndpoint(url: "http://127.0.0.1:5000", region: "eu-west-1"))
        XCTAssertEqual(try STSEndpoint.resolve(region: "eu-west-1", override: nil, environment: environment).url,
                       "http://127.0.0.1:5001")
        XCTAssertEqual(try STSEndpoint.resolve(region: "eu-west-1", override: "", environment: environment).url,
                       "http://127.0.0.1:5001", "an empty override is no override")
        XCTAssertEqual(try STSEndpoint.resolve(region: "eu-west-1", override: nil,
                                               environment: Environment(["AWS_ENDPOINT_URL": "http://127.0.0.1:5002"])).url,
                       "http://127.0.0.1:5002")
    }

    func testAnOverriddenEndpointStillSignsForTheResolvedRegion() throws {
        let endpoint = try STSEndpoint.resolve(region: nil, override: "https://sts.example.internal/",
                                               environment: Environment(["AWS_REGION": "eu-north-1"]))
        XCTAssertEqual(endpoint, STSEndpoint(url: "https://sts.example.internal", region: "eu-north-1"))
    }

    func testAcceptedOverrideShapes() throws {
        for (given, kept) in [
            ("https://sts.eu-west-1.amazonaws.com", "https://sts.eu-west-1.amazonaws.com"),
            ("https://sts.eu-west-1.amazonaws.com/", "https://sts.eu-west-1.amazonaws.com"),
            ("https://vpce-1234.sts.eu-west-1.vpce.amazonaws.com:8443/prefix", "https://vpce-1234.sts.eu-west-1.vpce.amazonaws.com:8443/prefix"),
            ("http://localhost:4566", "http://localhost:4566"),
            ("http://[::1]:5000", "http://[::1]:5000"),
            ("http://127.0.0.2:5000", "http://127.0.0.2:5000"),
        ] {
            XCTAssertEqual(try STSEndpoint.resolve(region: "eu-west-1", override: given, environment: none).url, kept, given)
        }
    }

    func testABadOverrideIsAConfigErrorNamingItsSourceWithAHint() {
        let bad = [
            "sts.eu-west-1.amazonaws.com",          // no scheme
            "ftp://sts.example.com",
            "https://",
            "https://user:pw@sts.example.com",
            "https://sts.example.com/?Action=x",
            "https://sts.example.com/#top",
            "https://sts.example.com:99999",
            "https://sts example.com",
            "http://sts.example.com",                // clear text off the machine
            "http://127.0.0.1.evil.example:5000",
        ]
        for text in bad {
            XCTAssertThrowsError(try STSEndpoint.resolve(region: "eu-west-1", override: text, environment: none), text) { error in
                guard let failure = error as? BrokerFailure else { return XCTFail("\(error)") }
                XCTAssertEqual(failure.kind, .config, text)
                XCTAssertTrue(failure.message.hasPrefix("the STS endpoint setting \""), failure.message)
                XCTAssertNotNil(failure.hint, text)
            }
        }
        XCTAssertThrowsError(try STSEndpoint.resolve(region: nil, override: nil,
                                                     environment: Environment(["AWS_ENDPOINT_URL_STS": "not a url"]))) { error in
            XCTAssertTrue("\(error)".hasPrefix("AWS_ENDPOINT_URL_STS \"not a url\" is not a usable STS endpoint"), "\(error)")
        }
        XCTAssertThrowsError(try STSEndpoint.resolve(region: nil, override: nil,
                                                     environment: Environment(["AWS_ENDPOINT_URL": "gopher://x"]))) { error in
            XCTAssertTrue("\(error)".hasPrefix("AWS_ENDPOINT_URL \"gopher://x\""), "\(error)")
        }
    }

    func testARegionThatCannotBeAHostNameIsAConfigError() {
        for region in ["", "eu west 1", "eu-west-1.evil.com", "EU-WEST-1", "-eu", "eu/1", String(repeating: "a", count: 65)] {
            XCTAssertThrowsError(try STSEndpoint.resolve(region: region, override: nil, environment: none), region) { error in
                XCTAssertEqual((error as? BrokerFailure)?.kind, .config, region)
            }
        }
        XCTAssertThrowsError(try STSEndpoint.resolve(region: nil, override: nil, environment: Environment(["AWS_REGION": "eu\nwest"]))) {
            XCTAssertFalse("\($0)".contains("\n"), "control characters are not echoed")
        }
    }
}
