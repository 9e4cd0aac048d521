// credential-broker(5) lives in BrokerWire, which cannot see the kinds: this keeps them in step.

import BrokerCore
import BrokerWire
import XCTest

final class ConfigDocumentationTests: XCTestCase {
    var page: String {
        // roff writes a hyphen as \-; compare against plain text.
        (Documentation.files().first { $0.path == "man/man5/credential-broker.5" }?.contents ?? "")
            .replacingOccurrences(of: "\\-", with: "-")
    }

    func testEveryIdentityKindAndSettingIsDocumented() {
        XCTAssertFalse(page.isEmpty)
        for kind in IdentityKinds.all {
            XCTAssertTrue(page.contains(kind.kindName), "credential-broker(5) does not mention kind \(kind.kindName)")
            for setting in kind.settings {
                XCTAssertTrue(page.contains(setting.name),
                              "credential-broker(5) does not document \(kind.kindName).\(setting.name)")
            }
        }
    }

    func testEveryAgentGitAndAuditKeyIsDocumented() {
        for key in ["idle-timeout", "max-connections", "request-timeout", "refresh-ahead", "command-timeout", "cache-timeout", "minimum-validity", "max-size", "keep"] {
            XCTAssertTrue(page.contains(key), "credential-broker(5) does not document \(key)")
        }
    }
}
