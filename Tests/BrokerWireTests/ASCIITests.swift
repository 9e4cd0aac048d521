// ASCII case folding: the same answer through the pointer path (contiguous bytes) and the
// iterator path (any other sequence).

import BrokerWire
import XCTest

final class ASCIITests: XCTestCase {
    func testCaseFoldsOnlyAToZ() {
        let rows: [(String, String, Bool)] = [
            ("Metadata-Flavor", "metadata-flavor", true), ("HTTPS://Management.Azure.COM", "https://management.azure.com", true),
            ("host", "hosts", false), ("", "", true), ("É", "é", false), ("[", "{", false), ("@", "`", false),
            ("abc", "abd", false),
        ]
        for (a, b, equal) in rows {
            XCTAssertEqual(equalIgnoringASCIICase(a.utf8, b.utf8), equal, "\(a) \(b)")
            XCTAssertEqual(equalIgnoringASCIICase(Array(a.utf8), b.utf8), equal, "\(a) \(b): arrays")
            XCTAssertEqual(equalIgnoringASCIICase(a.utf8.lazy.map { $0 }, AnySequence(b.utf8)), equal, "\(a) \(b): iterators")
        }
    }
}
