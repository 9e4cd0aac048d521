// Specifies the macOS Keychain backend; compiled and run only on Darwin (a throwaway name in the login Keychain).
#if os(macOS)
@testable import BrokerCore
import BrokerWire
import XCTest

final class KeychainKeyringTests: XCTestCase {
    func testRoundTripInTheLoginKeychain() throws {
        let keychain = KeychainKeyring()
        let name = "credential-broker-test-\(UInt32.random(in: 0...UInt32.max))"
        defer { _ = try? keychain.remove(name) }
        XCTAssertNil(try keychain.read(name))
        try keychain.write(name, Secret("first"))
        try keychain.write(name, Secret("second"))
        XCTAssertEqual(try keychain.read(name)?.reveal(), "second")
        XCTAssertTrue(try keychain.list().contains { $0.name == name && $0.backend == .system })
        XCTAssertTrue(try keychain.remove(name))
        XCTAssertFalse(try keychain.remove(name))
    }
}
#endif
