// XMLText: element text from STS-shaped XML, entities, nesting, and hostile input that must never crash or hang.

import BrokerCore
import XCTest

final class XMLTextTests: XCTestCase {
    let callerIdentity = """
        <?xml version="1.0" encoding="UTF-8"?>
        <GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
          <GetCallerIdentityResult>
            <Arn>arn:aws:iam::123456789012:user/Alice</Arn>
            <UserId>AKIAI44QH8DHBEXAMPLE</UserId>
            <Account>123456789012</Account>
          </GetCallerIdentityResult>
          <ResponseMetadata>
            <RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>
          </ResponseMetadata>
        </GetCallerIdentityResponse>
        """

    func testElementTextByNameAndByPath() {
        let document = XMLText(callerIdentity)
        XCTAssertEqual(document.text("Arn"), "arn:aws:iam::123456789012:user/Alice")
        XCTAssertEqual(document.text("GetCallerIdentityResult", "Account"), "123456789012")
        XCTAssertEqual(document.text("ResponseMetadata", "RequestId"), "01234567-89ab-cdef-0123-456789abcdef")
        XCTAssertEqual(document.element("GetCallerIdentityResult")?.text("UserId"), "AKIAI44QH8DHBEXAMPLE")
    }

    func testMissingElementsAreNil() {
        let document = XMLText(callerIdentity)
        XCTAssertNil(document.text("Credentials"))
        XCTAssertNil(document.text("ResponseMetadata", "Arn"), "a path looks only inside the element before it")
        XCTAssertNil(document.text("Ar"), "names match whole, not by prefix")
        XCTAssertNil(XMLText("").text("Arn"))
    }

    func testNamesMatchWholeSoErrorsDoesNotMatchError() {
        let moto = "<ErrorResponse><Errors><Error><Code>AccessDenied</Code></Error></Errors></ErrorResponse>"
        XCTAssertEqual(XMLText(moto).text("Error", "Code"), "AccessDenied")
        XCTAssertEqual(XMLText(moto).element("Errors")?.text("Code"), "AccessDenied")
    }

    func testNamespacePrefixesAndAttributesAreSkipped() {
        let xml = #"<sts:R xmlns:sts="urn:x"><sts:Code a="1>2" b='x'>Throttling</sts:Code></sts:R>"#
        XCTAssertEqual(XMLText(xml).text("Code"), "Throttling")
        XCTAssertEqual(XMLText(xml).text("R", "Code"), "Throttling")
    }

    func testTheFiveEntitiesAndCharacterReferences() {
        let xml = "<M>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#65;&#x42;&#X43; &#233; &#x1F600;</M>"
        XCTAssertEqual(XMLText(xml).text("M"), "a & b <c> \"d\" 'e' ABC é 😀")
    }

    func testDoubleEscapedTextIsDecodedOnce() {
        XCTAssertEqual(XMLText("<M>&amp;lt;</M>").text("M"), "&lt;")
    }

    func testUnknownBrokenAndInvalidReferencesDoNotCrash() {
        XCTAssertEqual(XMLText("<M>&nbsp; &bogus &; &#; &#xZZ; a&b</M>").text("M"), "&nbsp; &bogus &; &#; &#xZZ; a&b")
        XCTAssertEqual(XMLText("<M>&#0;&#xD800;&#x110000;</M>").text("M"), "\u{FFFD}\u{FFFD}\u{FFFD}")
        XCTAssertEqual(XMLText("<M>&#99999999999999999999;</M>").text("M"), "&#99999999999999999999;")
        XCTAssertEqual(XMLText("<M>&</M>").text("M"), "&")
    }

    func testNestedElementsOfTheSameName() {
        let xml = "<A><A><B>inner</B></A><B>outer</B></A>"
        XCTAssertEqual(XMLText(xml).element("A")?.element(path: ["A", "B"])?.text, "inner")
        // The content of the outer A ends at its own closing tag, not the inner one's.
        XCTAssertEqual(XMLText(xml).element("A")?.text, "innerouter")
    }

    func testSelfClosingEmptyCommentsAndCDATA() {
        XCTAssertEqual(XMLText("<R><Token/><Arn>x</Arn></R>").text("Token"), "")
        XCTAssertEqual(XMLText("<R><Token /></R>").text("Token"), "")
        XCTAssertEqual(XMLText("<R><Token></Token></R>").text("Token"), "")
        XCTAssertEqual(XMLText("<R><!-- <Arn>no</Arn> --><Arn>yes</Arn></R>").text("Arn"), "yes")
        XCTAssertEqual(XMLText("<R><Arn>a<!-- c -->b</Arn></R>").text("Arn"), "ab")
        XCTAssertEqual(XMLText("<R><![CDATA[<Arn>no</Arn>]]><Arn><![CDATA[x&amp;<y>]]></Arn></R>").text("Arn"), "x&amp;<y>")
    }

    func testMarkupInsideAnElementIsDroppedFromItsText() {
        XCTAssertEqual(XMLText("<M>one <b>two</b> three</M>").text("M"), "one two three")
    }

    func testUnterminatedInputIsNil() {
        for xml in ["<Arn>abc", "<Arn>abc</Ar", "<Arn", "<Arn attr=\"x>", "<R><Arn>x</R>", "<!-- <Arn>x</Arn>",
                    "<![CDATA[ <Arn>x</Arn>", "<?xml <Arn>x</Arn>"] {
            XCTAssertNil(XMLText(xml).text("Arn"), xml)
        }
    }

    func testTruncatedSTSAnswerYieldsNoCredentials() {
        let whole = "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIA</AccessKeyId>"
            + "<SecretAccessKey>s</SecretAccessKey></Credentials></AssumeRoleResult></AssumeRoleResponse>"
        for cut in stride(from: 0, to: whole.count, by: 7) {
            let truncated = String(whole.prefix(cut))
            let credentials = XMLText(truncated).element(path: ["AssumeRoleResult", "Credentials"])
            if credentials != nil { XCTAssertTrue(truncated.contains("</Credentials>"), truncated) }
        }
    }

    func testInvalidUTF8BecomesReplacementCharacters() {
        let bytes: [UInt8] = Array("<M>a".utf8) + [0xff, 0xfe] + Array("b</M>".utf8)
        XCTAssertEqual(XMLText(bytes: bytes).text("M"), "a\u{FFFD}\u{FFFD}b")
    }

    func testHostileInputsFinishQuickly() {
        let started = Date()
        let huge = String(repeating: "<A>", count: 200_000)
        XCTAssertNil(XMLText(huge).text("A"), "deeply nested and never closed")
        XCTAssertNil(XMLText(huge).text("B"))
        XCTAssertNil(XMLText(String(repeating: "<", count: 300_000)).text("A"))
        XCTAssertNil(XMLText(String(repeating: "<!--", count: 100_000)).text("A"))
        XCTAssertNil(XMLText("<A " + String(repeating: "\"", count: 300_001)).text("A"))
        let manyEntities = "<M>" + String(repeating: "&amp", count: 100_000) + "</M>"
        XCTAssertEqual(XMLText(manyEntities).text("M")?.count, 400_000)
        let wide = "<R>" + String(repeating: "<X>1</X>", count: 50_000) + "<Arn>found</Arn></R>"
        XCTAssertEqual(XMLText(wide).text("Arn"), "found")
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        _ = XMLText(bytes: bytes).text("Arn")
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "every scan is linear")
    }
}
