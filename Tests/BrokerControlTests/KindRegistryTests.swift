// The registry is the one place kinds are named: a kind's name is written in its own file only.

import BrokerControl
import BrokerCore
import Foundation
import XCTest

final class KindRegistryTests: XCTestCase {
    var sources: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources").path
    }

    /// Swift files under Sources, with comment lines dropped (comments may mention kinds freely).
    func codeFiles() throws -> [(path: String, code: String)] {
        let enumerator = FileManager.default.enumerator(atPath: sources)
        var files: [(String, String)] = []
        while let relative = enumerator?.nextObject() as? String {
            guard relative.hasSuffix(".swift") else { continue }
            let text = try String(contentsOfFile: sources + "/" + relative, encoding: .utf8)
            let code = text.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("//") }.joined(separator: "\n")
            files.append((relative, code))
        }
        return files
    }

    func testEachKindsNameLiteralAppearsInExactlyOneSourceFile() throws {
        let files = try codeFiles()
        XCTAssertGreaterThan(files.count, 20)
        for name in IdentityKinds.names + IdentityKinds.providerNames {
            let holders = files.filter { $0.code.contains("\"\(name)\"") || $0.code.contains("`\(name)`") }.map(\.path)
            XCTAssertEqual(holders.count, 1, "kind \(name) is named in \(holders): name it only in its own file and read the registry elsewhere")
        }
    }

    func testRegistryNamesAreUniqueAndFindable() {
        XCTAssertEqual(Set(IdentityKinds.names).count, IdentityKinds.all.count)
        for name in IdentityKinds.names { XCTAssertEqual(IdentityKinds.named(name)?.descriptor.name, name) }
    }

    func testEveryRequiredSettingIsEnforcedByValidation() throws {
        // Validation reads the same declarations: a section without a required key fails naming it.
        for kind in IdentityKinds.all {
            for setting in kind.descriptor.settings where setting.required {
                let text = "[identity \"x\"]\nkind = \(kind.descriptor.name)\n"
                    + (kind.descriptor.upstream == .required ? "via = identity:y\n[identity \"y\"]\nkind = static\nusername = u\nsecret = env:T\n" : "")
                XCTAssertThrowsError(try BrokerConfig.parse(ConfigSyntax.parse(text: text, file: "cfg")), kind.descriptor.name) { error in
                    XCTAssertTrue("\(error)".contains("needs"), "\(kind.descriptor.name): \(error)")
                }
            }
        }
    }

    func testTheManualsKindSectionsComeFromTheDescriptors() {
        let page = Documentation.files().first { $0.path == "man/man5/credential-broker.5" }?.contents ?? ""
        for kind in IdentityKinds.all as [Any.Type] + IdentityKinds.providers as [Any.Type] {
            let kind = KindDescriptorBox(kind)
            XCTAssertTrue(page.contains(".SS \"\(kind.descriptor.name.replacingOccurrences(of: "-", with: "\\-"))\""), kind.descriptor.name)
            if let first = kind.descriptor.description.first {
                let lead = String(first.prefix { $0 != "`" }.prefix(20))
                XCTAssertTrue(page.replacingOccurrences(of: "\\-", with: "-").contains(lead), "\(kind.descriptor.name): \(lead)")
            }
        }
    }
}

/// Identity and provider kinds' descriptors through one door, for the manual test.
private struct KindDescriptorBox {
    let descriptor: KindDescriptor
    init(_ type: Any.Type) {
        if let identity = type as? any IdentityKind.Type { descriptor = identity.descriptor } else { descriptor = (type as! any ProviderKind.Type).descriptor }
    }
}
