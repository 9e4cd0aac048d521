// How `aws-secretsmanager:` and `aws-ssm:` references are written, and what a typo in one says.

@testable import BrokerCore
import BrokerWire
import XCTest

final class RemoteSecretReferenceTests: XCTestCase {
    let here = SourceLocation(file: "cfg", line: 9)

    func remote(_ text: String) throws -> RemoteSecret {
        let reference = try SecretReference(text, at: here)
        return try XCTUnwrap(reference.remote, "\(text) is not a remote reference")
    }

    func testNamesARNsKeysAndOptions() throws {
        let plain = try remote("aws-secretsmanager:team/github")
        XCTAssertEqual(plain.store, .secretsManager)
        XCTAssertEqual(plain.id, "team/github")
        XCTAssertNil(plain.jsonKey)
        XCTAssertNil(plain.arnRegion)

        let full = try remote("aws-secretsmanager:arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/app-AbCdEf#private_key?version-stage=AWSPREVIOUS&identity=ci&region=us-east-2")
        XCTAssertEqual(full.id, "arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/app-AbCdEf")
        XCTAssertEqual(full.jsonKey, "private_key")
        XCTAssertEqual(full.versionStage, "AWSPREVIOUS")
        XCTAssertEqual(full.identity, "ci")
        XCTAssertEqual(full.region, "us-east-2")
        XCTAssertEqual(full.arnRegion, "eu-west-1", "the ARN says where the secret is")

        let parameter = try remote("aws-ssm:/team/ci/password?identity=reader")
        XCTAssertEqual(parameter.store, .parameterStore)
        XCTAssertEqual(parameter.id, "/team/ci/password")
        XCTAssertEqual(parameter.identity, "reader")
    }

    func testTheDescriptionIsTheWholeReferenceSoAnEditedOptionMakesANewCacheKey() throws {
        let a = try SecretReference("aws-secretsmanager:x#k?version-stage=AWSCURRENT", at: here)
        let b = try SecretReference("aws-secretsmanager:x#k?version-stage=AWSPREVIOUS", at: here)
        XCTAssertEqual(a.description, "aws-secretsmanager:x#k?version-stage=AWSCURRENT")
        XCTAssertNotEqual(a.keyMaterial, b.keyMaterial)
    }

    func testMistakesAreConfigErrorsAtTheLine() {
        let cases: [(String, String)] = [
            ("aws-secretsmanager:", "a secret name or ARN must follow the colon"),
            ("aws-secretsmanager:has space", "a secret name or ARN must follow the colon"),
            ("aws-secretsmanager:x#", "nothing follows #"),
            ("aws-secretsmanager:x?stage=AWSCURRENT", "unknown option \"stage\""),
            ("aws-ssm:/x?version-stage=AWSCURRENT", "unknown option \"version-stage\""),
            ("aws-ssm:/x?region", "\"region\" is not a KEY=VALUE option"),
            ("aws-ssm:/x?region=", "\"region=\" is not a KEY=VALUE option"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try SecretReference(text, at: here), text) { error in
                let config = error as? ConfigError
                XCTAssertEqual(config?.location, here, text)
                XCTAssertTrue("\(error)".contains(expected), "\(text): \(error)")
            }
        }
    }

    func testOutsideTheAgentARemoteReferenceSaysWhoReadsIt() throws {
        let reference = try SecretReference("aws-ssm:/x", at: here)
        XCTAssertThrowsError(try reference.resolve(ResolveContext(environment: Environment([:])), timeout: 1)) { error in
            XCTAssertTrue("\(error)".contains("aws-ssm: references are read by broker-agent"), "\(error)")
        }
    }
}
