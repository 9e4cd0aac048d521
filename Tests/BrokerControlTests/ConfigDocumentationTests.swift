// credential-broker(5) is written by hand beside the kinds, not from them: this keeps them in step.

import BrokerControl
import BrokerCore
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
            let name = kind.descriptor.name
            XCTAssertTrue(page.contains(name), "credential-broker(5) does not mention kind \(name)")
            for setting in kind.descriptor.settings {
                XCTAssertTrue(page.contains(setting.name),
                              "credential-broker(5) does not document \(name).\(setting.name)")
            }
        }
    }

    func testEveryAgentGitAndAuditKeyIsDocumented() {
        for key in ["idle-timeout", "max-connections", "request-timeout", "refresh-ahead", "command-timeout", "cache-timeout", "minimum-validity", "max-size", "keep"] {
            XCTAssertTrue(page.contains(key), "credential-broker(5) does not document \(key)")
        }
    }
}
