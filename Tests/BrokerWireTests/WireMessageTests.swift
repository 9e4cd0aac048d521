// The key=value codec: what it accepts, what it refuses, and that it never emits a broken line.

import BrokerWire
import XCTest

final class WireMessageTests: XCTestCase {
    func decode(_ text: String) throws -> WireMessage { try WireCodec.decode(Array(text.utf8)) }

    func testDecodesLinesInOrderWithRepeatedKeys() throws {
        let message = try decode("capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=example.com\n")
        XCTAssertEqual(message.values("capability[]"), ["authtype", "state"])
        XCTAssertEqual(message["protocol"], "https")
        XCTAssertEqual(message.fields.map(\.key), ["capability[]", "capability[]", "protocol", "host"])
    }

    func testStopsAtBlankLine() throws {
        let message = try decode("a=1\n\nb=2\n")
        XCTAssertEqual(message.fields, [.init("a", "1")])
    }

    func testAcceptsCRLFAndMissingFinalNewline() throws {
        XCTAssertEqual(try decode("a=1\r\nb=2").fields, [.init("a", "1"), .init("b", "2")])
    }

    func testValueMayContainEqualsSigns() throws {
        XCTAssertEqual(try decode("password=a=b=c\n")["password"], "a=b=c")
    }

    func testEmptyValueIsKept() throws {
        XCTAssertEqual(try decode("username=\n")["username"], "")
    }

    func testRefusesLineWithoutEquals() {
        XCTAssertThrowsError(try decode("a=1\nhunter2\n")) { error in
            XCTAssertEqual("\(error)", "malformed line 2 (7 bytes) has no '='")
        }
    }

    func testRefusesControlCharactersInKeysSoWhatIsReadCanBeWritten() {
        XCTAssertThrowsError(try decode("ho\u{1}st=x\n")) { XCTAssertEqual("\($0)", "key \"ho\\x01st\" contains a control character") }
        XCTAssertThrowsError(try WireCodec.decode(Array("ho".utf8) + [0] + Array("st=x\n".utf8)))
    }

    func testRefusesNulAndBareCarriageReturnInValue() {
        XCTAssertThrowsError(try WireCodec.decode(Array("password=a".utf8) + [0] + Array("b\n".utf8)))
        XCTAssertThrowsError(try decode("password=a\rb\n"))
    }

    func testRefusesInvalidUTF8WithoutEchoingIt() {
        XCTAssertThrowsError(try WireCodec.decode(Array("password=".utf8) + [0xff, 0xfe] + [10])) { error in
            XCTAssertTrue("\(error)".contains("not valid UTF-8"))
        }
    }

    func testRefusesLineLongerThanLimit() {
        let long = "password=" + String(repeating: "x", count: 65536) + "\n"
        XCTAssertThrowsError(try decode(long)) { XCTAssertTrue("\($0)".contains("longer than 65535")) }
    }

    func testAcceptsLineAtTheLimit() throws {
        let value = String(repeating: "x", count: 65535 - "password=".count)
        XCTAssertEqual(try decode("password=\(value)\n")["password"]?.count, value.count)
    }

    func testEncodeRefusesNewlineInValueAndNamesOnlyTheKey() {
        let message = WireMessage([.init("password", "sec\nret")])
        XCTAssertThrowsError(try message.encoded()) { error in
            XCTAssertTrue("\(error)".contains("\"password\""))
            XCTAssertFalse("\(error)".contains("sec"))
        }
    }

    func testEncodeRefusesEqualsInKey() {
        XCTAssertThrowsError(try WireMessage([.init("a=b", "c")]).encoded())
    }

    func testRoundTrip() throws {
        let message = WireMessage([.init("protocol", "https"), .init("host", "h:8080"), .init("password", "p=ä")])
        XCTAssertEqual(try WireCodec.decode(message.encoded()), message)
    }
}

final class SecretTests: XCTestCase {
    func testEveryPrintingPathIsRedacted() {
        let secret = Secret("hunter2")
        XCTAssertEqual("\(secret)", "<redacted>")
        XCTAssertEqual(String(describing: secret), "<redacted>")
        XCTAssertEqual(String(reflecting: secret), "<redacted>")
        var dumped = ""
        dump(secret, to: &dumped)
        XCTAssertFalse(dumped.contains("hunter2"))
        XCTAssertFalse("\(["k": secret])".contains("hunter2"))
        XCTAssertFalse("\(Optional(secret) as Any)".contains("hunter2"))
    }

    func testRevealGivesTheValue() {
        XCTAssertEqual(Secret("hunter2").reveal(), "hunter2")
    }

    func testConstantTimeEquality() {
        XCTAssertTrue(Secret("abc").constantTimeEquals(Secret("abc")))
        XCTAssertFalse(Secret("abc").constantTimeEquals(Secret("abd")))
        XCTAssertFalse(Secret("abc").constantTimeEquals(Secret("abcd")))
    }

    func testMaskedShowsOnlyTheTail() {
        XCTAssertEqual(Secret.masked("AKIAIOSFODNN7EXAMPLE"), "****************MPLE")
    }
}

final class BrokerPathsTests: XCTestCase {
    func testFollowsXDGDirectories() throws {
        let paths = try BrokerPaths.resolve(Environment([
            "HOME": "/h", "XDG_RUNTIME_DIR": "/run/user/1", "XDG_CACHE_HOME": "/c", "XDG_STATE_HOME": "/s", "XDG_CONFIG_HOME": "/cfg",
        ]))
        XCTAssertEqual(paths.socketPath, "/run/user/1/credential-broker/agent.sock")
        XCTAssertEqual(paths.cacheEntriesDirectory, "/c/credential-broker/entries")
        XCTAssertEqual(paths.auditLogPath, "/s/credential-broker/audit.log")
        XCTAssertEqual(paths.configFile, "/cfg/credential-broker/config")
        XCTAssertFalse(paths.configFileIsExplicit)
    }

    func testFallsBackUnderHomeAndCacheDirectory() throws {
        let paths = try BrokerPaths.resolve(Environment(["HOME": "/h"]))
        XCTAssertEqual(paths.runtimeDirectory, "/h/.cache/credential-broker/run")
        XCTAssertEqual(paths.stateDirectory, "/h/.local/state/credential-broker")
        XCTAssertEqual(paths.configFile, "/h/.config/credential-broker/config")
    }

    func testRelativeXDGValuesAreIgnoredAsTheSpecSays() throws {
        let paths = try BrokerPaths.resolve(Environment(["HOME": "/h", "XDG_CACHE_HOME": "relative"]))
        XCTAssertEqual(paths.cacheDirectory, "/h/.cache/credential-broker")
    }

    func testBrokerConfigOverridesAndIsExplicit() throws {
        let paths = try BrokerPaths.resolve(Environment(["HOME": "/h", "BROKER_CONFIG": "/etc/x"]))
        XCTAssertEqual(paths.configFile, "/etc/x")
        XCTAssertTrue(paths.configFileIsExplicit)
    }

    func testPrivateDirectoryIsCreated0700AndLooseOneRefusedWithChmodHint() throws {
        let base = NSTemporaryDirectory() + "paths-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: base) }
        try ensurePrivateDirectory(base + "/a/b")
        var st = stat()
        XCTAssertEqual(stat(base + "/a/b", &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o700)
        chmod(base + "/a/b", 0o755)
        XCTAssertThrowsError(try ensurePrivateDirectory(base + "/a/b")) { error in
            XCTAssertEqual((error as? BrokerFailure)?.hint, "chmod 0700 \(base)/a/b")
        }
    }

    func testSymlinkedDirectoryIsRefused() throws {
        let base = NSTemporaryDirectory() + "paths-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: base) }
        try ensurePrivateDirectory(base + "/real")
        symlink(base + "/real", base + "/link")
        XCTAssertThrowsError(try ensurePrivateDirectory(base + "/link")) { XCTAssertTrue("\($0)".contains("symbolic link")) }
    }
}

import Foundation
