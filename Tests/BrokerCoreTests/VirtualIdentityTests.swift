// Virtual identities: a provider with auto-provision offers ACCOUNT-ID/ROLE identities that need no section.

@testable import BrokerCore
import BrokerWire
import Foundation
import XCTest

final class VirtualIdentityTests: XCTestCase {
    func provider(_ name: String, autoProvision: Bool = true) -> String {
        """
        [provider "\(name)"]
            kind = aws/iam-identity-center
            start-url = https://d-1234567890.awsapps.com/start
            region = eu-west-1
            auto-provision = \(autoProvision)

        """
    }

    func config(_ text: String) throws -> BrokerConfig {
        try BrokerConfig.parse(ConfigSyntax.parse(text: text, file: "cfg"))
    }

    func testAnAccountAndRoleNameIsAPermissionSetOfTheProviderWithoutASection() throws {
        let c = try config(provider("corp"))
        let identity = try c.identity("123456789012/AdministratorAccess")
        let kind = try XCTUnwrap(identity.kind as? AWSPermissionSetIdentity)
        XCTAssertEqual(kind.accountID, "123456789012")
        XCTAssertEqual(kind.permissionSet, "AdministratorAccess")
        XCTAssertEqual(identity.definition.via, .provider("corp"))
        // Its errors point at the line that made it.
        XCTAssertEqual(identity.definition.location, SourceLocation(file: "cfg", line: 5))
        let chain = try ChainResolver.chain(of: "123456789012/AdministratorAccess", in: c)
        XCTAssertEqual(chain.count, 1)
        XCTAssertEqual(chain.last?.provider?.definition.name, "corp")
        XCTAssertEqual(c.identityOrder, [], "a virtual identity is not a section")
    }

    func testAutoProvisionIsABooleanCheckedAtItsLine() {
        XCTAssertThrowsError(try config(provider("corp").replacingOccurrences(of: "auto-provision = true", with: "auto-provision = maybe"))) { error in
            XCTAssertTrue("\(error)".hasPrefix("cfg:5:"), "\(error)")
        }
    }

    func testWithoutAutoProvisionTheNameIsNotDefined() throws {
        let c = try config(provider("corp", autoProvision: false))
        XCTAssertThrowsError(try c.identity("123456789012/AdministratorAccess")) { error in
            XCTAssertTrue("\(error)".contains("identity \"123456789012/AdministratorAccess\" is not defined"), "\(error)")
        }
    }

    func testNamesOfAnotherShapeAreNotVirtualAndTheHintNamesTheListing() throws {
        let c = try config(provider("corp"))
        for name in ["12345678901/Admin", "123456789012/", "123456789012/Ad min", "1234567890123/Admin", "abcdefghijkl/Admin",
                     "123456789012/" + String(repeating: "a", count: 65), "123456789012"] {
            XCTAssertThrowsError(try c.identity(name), name) { error in
                XCTAssertEqual((error as? BrokerFailure)?.hint, "run `brokerctl list` to see the identities, or `brokerctl list --provider corp` for those provider \"corp\" offers", name)
            }
        }
    }

    func testASectionOfTheSameNameWins() throws {
        let c = try config(provider("corp") + """
            [identity "123456789012/Admin"]
                kind = aws/permission-set
                via = provider:corp
                account-id = 210987654321
                permission-set = ReadOnly
            """)
        let kind = try XCTUnwrap(try c.identity("123456789012/Admin").kind as? AWSPermissionSetIdentity)
        XCTAssertEqual(kind.accountID, "210987654321")
        XCTAssertNil(try c.virtualIdentity("123456789012/Admin"))
    }

    func testTwoAutoProvisioningProvidersNeedTheProvidersPrefix() throws {
        let c = try config(provider("corp") + provider("lab"))
        XCTAssertThrowsError(try c.identity("123456789012/Admin")) { error in
            XCTAssertTrue("\(error)".contains("identity \"123456789012/Admin\" is offered by providers \"corp\" and \"lab\", which both set auto-provision"), "\(error)")
            XCTAssertEqual((error as? BrokerFailure)?.hint, "name it with its provider: corp/123456789012/Admin")
        }
        XCTAssertEqual(try c.identity("lab/123456789012/Admin").definition.via, .provider("lab"))
        XCTAssertEqual(try c.identity("corp/123456789012/Admin").definition.via, .provider("corp"))
    }

    func testSectionsAndBindingsMayNameAVirtualIdentity() throws {
        let c = try config(provider("corp") + """
            [identity "deploy"]
                kind = aws/assume-role
                via = identity:123456789012/first
                role-arn = arn:aws:iam::123456789012:role/deploy
            [git "https://git.example.com/"]
                identity = 123456789012/first
            """)
        XCTAssertEqual(try ChainResolver.chain(of: "deploy", in: c).map(\.name), ["deploy", "123456789012/first"])
        // Without auto-provision the same file names an identity that does not exist.
        let text = provider("corp", autoProvision: false) + "[identity \"deploy\"]\nkind = aws/assume-role\nvia = identity:123456789012/first\nrole-arn = arn:aws:iam::123456789012:role/deploy\n"
        XCTAssertThrowsError(try config(text)) { error in
            XCTAssertTrue("\(error)".contains("cfg:8: identity \"deploy\" has via = identity:123456789012/first, which is not defined"), "\(error)")
        }
    }

    /// Warm requests read the memo: a virtual identity is built once per configuration, and the
    /// memo keeps at most `virtualLimit` of them (thousands of names never grow it without bound).
    func testAVirtualIdentityIsBuiltOncePerConfigurationAndTheMemoIsBounded() throws {
        let c = try config(provider("corp"))
        _ = try c.identity("123456789012/first")
        _ = try c.identity("123456789012/first")
        XCTAssertEqual(c.memo.virtualCount, 1)
        let resolver = ChainResolver(cache: CredentialCache(directory: NSTemporaryDirectory() + "/virtual-\(getpid())", log: { _ in }),
                                     context: ResolveContext(environment: Environment(["PATH": "/usr/bin:/bin"])))
        let first = try resolver.chainAndKey("123456789012/first", in: c).1
        XCTAssertEqual(try resolver.chainAndKey("123456789012/first", in: c).1, first)
        for account in 0..<(ConfigMemo.virtualLimit + 100) {
            _ = try c.identity(String(format: "%012d/Admin", account))
        }
        XCTAssertEqual(c.memo.virtualCount, ConfigMemo.virtualLimit)
        // Past the limit a name still resolves, built per request.
        let late = String(format: "%012d/Admin", ConfigMemo.virtualLimit + 50)
        XCTAssertEqual(try resolver.chainAndKey(late, in: c).1.identity, late)
        // A changed configuration starts a new memo.
        var changed = c
        changed.providerKinds = c.providerKinds
        XCTAssertEqual(changed.memo.virtualCount, 0)
    }
}
