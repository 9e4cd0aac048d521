// Specifies the git-config syntax of the broker's configuration file, its includes and value parsers.
import Foundation
import XCTest
import BrokerCore

final class ConfigSyntaxTests: XCTestCase {
    // MARK: Helpers

    private func parse(_ text: String) throws -> [ConfigEntry] {
        try ConfigSyntax.parse(text: text, file: "broker.conf")
    }

    /// The error a text is rejected with; fails the test when the text parses.
    private func rejection(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> ConfigError? {
        do {
            let entries = try parse(text)
            XCTFail("expected an error, got \(entries)", file: file, line: line)
            return nil
        } catch let error as ConfigError {
            return error
        } catch {
            XCTFail("unexpected error type: \(error)", file: file, line: line)
            return nil
        }
    }

    private func at(_ line: Int, _ file: String = "broker.conf") -> SourceLocation {
        SourceLocation(file: file, line: line)
    }

    private func values(_ text: String) throws -> [String?] {
        try parse(text).map(\.value)
    }

    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("config-syntax-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    @discardableResult
    private func write(_ relativePath: String, _ text: String) throws -> String {
        let url = scratch.appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    private func loadRejection(_ path: String, file: StaticString = #filePath, line: UInt = #line) -> ConfigError? {
        do {
            let entries = try ConfigSyntax.load(path: path)
            XCTFail("expected an error, got \(entries)", file: file, line: line)
            return nil
        } catch {
            guard let error = error as? ConfigError else {
                XCTFail("unexpected error type: \(error)", file: file, line: line)
                return nil
            }
            return error
        }
    }

    // MARK: Sections

    func testSectionAndKeyNamesAreLowerCased() throws {
        XCTAssertEqual(try parse("[Identity]\n  Kind = static\n"), [
            ConfigEntry(section: "identity", subsection: nil, key: "kind", value: "static", location: at(2)),
        ])
    }

    func testQuotedSubsectionKeepsCaseAndSpaces() throws {
        let entry = try XCTUnwrap(parse("[identity \"Deploy Bot\"]\nkind = static\n").first)
        XCTAssertEqual(entry.section, "identity")
        XCTAssertEqual(entry.subsection, "Deploy Bot")
    }

    func testSubsectionUnescapesQuoteAndBackslash() throws {
        let entry = try XCTUnwrap(parse(#"[s "a\"b\\c"] k = v"#).first)
        XCTAssertEqual(entry.subsection, #"a"b\c"#)
    }

    func testSubsectionDropsTheBackslashOfAnyOtherEscape() throws {
        let entry = try XCTUnwrap(parse(#"[s "a\nb\tc"] k = v"#).first)
        XCTAssertEqual(entry.subsection, "anbtc")
    }

    func testLegacyDottedSubsectionIsLowerCased() throws {
        let entry = try XCTUnwrap(parse("[Identity.Deploy.Bot]\nk = v\n").first)
        XCTAssertEqual(entry.section, "identity")
        XCTAssertEqual(entry.subsection, "deploy.bot")
    }

    func testURLSubsectionRoundTripsExactly() throws {
        let url = "https://github.com/Acme/repo.git?x=1#frag;semi"
        let entry = try XCTUnwrap(parse("[git \"\(url)\"]\nidentity = bot\n").first)
        XCTAssertEqual(entry.subsection, url)
    }

    func testEmptyQuotedSubsectionIsEmptyNotAbsent() throws {
        XCTAssertEqual(try parse("[s \"\"]\nk = v\n").first?.subsection, "")
    }

    func testEntryMayShareTheHeaderLine() throws {
        XCTAssertEqual(try parse("[s] flag\n"), [
            ConfigEntry(section: "s", subsection: nil, key: "flag", value: nil, location: at(1)),
        ])
    }

    func testLaterHeaderStartsANewSection() throws {
        let entries = try parse("[a]\nk = 1\n[b \"x\"]\nk = 2\n")
        XCTAssertEqual(entries.map(\.section), ["a", "b"])
        XCTAssertEqual(entries.map(\.subsection), [nil, "x"])
    }

    // MARK: Section header errors

    func testUnclosedSectionHeaderIsRejected() {
        let error = rejection("[ok]\n[identity\nkind = static\n")
        XCTAssertEqual(error?.location, at(2))
        XCTAssertEqual(error?.message.hasPrefix("bad section header"), true)
    }

    func testSectionNameWithIllegalCharacterIsRejected() {
        let error = rejection("[my_section]\n")
        XCTAssertEqual(error?.location, at(1))
        XCTAssertEqual(error?.message, "bad section header: '_' is not allowed in a section name")
    }

    func testUnquotedSubsectionIsRejected() {
        XCTAssertEqual(rejection("[identity deploy]\n")?.message,
                       "bad section header: the subsection must be in double quotes")
    }

    func testSubsectionWithoutClosingQuoteIsRejected() {
        XCTAssertEqual(rejection("[identity \"deploy]\n")?.location, at(1))
    }

    func testAnythingBetweenClosingQuoteAndBracketIsRejected() {
        XCTAssertNotNil(rejection("[identity \"deploy\" ]\n"))
    }

    func testEmptySectionNameIsRejected() {
        XCTAssertEqual(rejection("[]\n")?.message, "bad section header: empty section name")
    }

    // MARK: Keys

    func testKeyOutsideAnySectionIsRejected() {
        let error = rejection("# header comment\nkind = static\n")
        XCTAssertEqual(error?.location, at(2))
        XCTAssertEqual(error?.message, "key \"kind\" is outside any section")
    }

    func testKeyMustStartWithALetter() {
        let error = rejection("[s]\n1kind = static\n")
        XCTAssertEqual(error?.location, at(2))
        XCTAssertEqual(error?.message, "invalid key name \"1kind\"")
    }

    func testKeyMayNotContainUnderscore() {
        XCTAssertEqual(rejection("[s]\nmy_key = v\n")?.message, "invalid key name \"my_key\"")
    }

    func testKeyMayContainDigitsAndDashes() throws {
        XCTAssertEqual(try parse("[s]\nmax-Age2 = 1\n").first?.key, "max-age2")
    }

    func testSecondWordAfterKeyIsRejected() {
        XCTAssertEqual(rejection("[s]\nkey extra = v\n")?.message, "expected '=' after key \"key\"")
    }

    // MARK: Values

    func testSpacesAroundEqualsAreOptional() throws {
        XCTAssertEqual(try values("[s]\na=1\nb = 2\nc\t=\t3\n"), ["1", "2", "3"])
    }

    func testBareKeyHasNilValue() throws {
        XCTAssertEqual(try values("[s]\nflag\n"), [nil])
    }

    func testKeyWithEqualsAndNothingHasEmptyValue() throws {
        XCTAssertEqual(try values("[s]\nempty =\nquoted = \"\"\n"), ["", ""])
    }

    func testValueIsTrimmedOfSurroundingWhitespace() throws {
        XCTAssertEqual(try values("[s]\nk =   padded value \t \n"), ["padded value"])
    }

    func testInternalWhitespaceOutsideQuotesCollapsesToOneSpace() throws {
        XCTAssertEqual(try values("[s]\nk = a  \t  b\n"), ["a b"])
    }

    func testQuotedPartsKeepTheirWhitespace() throws {
        XCTAssertEqual(try values("[s]\nk = \"  a  \"  b \" c\"\n"), ["  a   b  c"])
    }

    func testValueEscapes() throws {
        XCTAssertEqual(try values(#"[s] k = q\"b\\n\nt\tb\b"#), ["q\"b\\n\nt\tb\u{8}"])
    }

    func testInvalidEscapeIsRejectedAtItsLine() {
        let error = rejection("[s]\nok = 1\npath = C:\\Users\n")
        XCTAssertEqual(error?.location, at(3))
        XCTAssertEqual(error?.message, "invalid escape \"\\U\"")
    }

    func testUnterminatedQuoteIsRejectedAtItsLine() {
        let error = rejection("[s]\nk = \"open\nnext = 1\n")
        XCTAssertEqual(error?.location, at(2))
        XCTAssertEqual(error?.message, "unterminated quote")
    }

    func testBackslashAtEndOfLineContinuesTheValue() throws {
        XCTAssertEqual(try values("[s]\nk = first \\\n    second\\\nthird\n"), ["first secondthird"])
    }

    func testContinuedEntryIsLocatedWhereItsKeyStarts() throws {
        let entries = try parse("[s]\nk = a\\\nb\\\nc\nnext = 1\n")
        XCTAssertEqual(entries.map(\.location.line), [2, 5])
    }

    func testRepeatedKeysAreRepeatedEntriesInOrder() throws {
        let entries = try parse("[identity \"a\"]\nchain = one\nchain = two\n")
        XCTAssertEqual(entries.map(\.key), ["chain", "chain"])
        XCTAssertEqual(entries.map(\.value), ["one", "two"])
    }

    // MARK: Comments and layout

    func testHashAndSemicolonStartWholeLineComments() throws {
        XCTAssertEqual(try values("# one\n; two\n[s]\n   # indented\nk = v\n"), ["v"])
    }

    func testCommentAfterValueIsDropped() throws {
        XCTAssertEqual(try values("[s]\na = 1 # note\nb = 2; note\n"), ["1", "2"])
    }

    func testCommentCharactersInsideQuotesAreKept() throws {
        XCTAssertEqual(try values("[s]\nk = \"a # b ; c\" # real comment\n"), ["a # b ; c"])
    }

    func testCommentAfterBareKeyLeavesItBare() throws {
        XCTAssertEqual(try values("[s]\nflag # on\n"), [nil])
    }

    func testBackslashInsideCommentDoesNotContinue() throws {
        XCTAssertEqual(try values("[s]\na = 1 # c:\\\nb = 2\n"), ["1", "2"])
    }

    func testEmptyFileHasNoEntries() throws {
        XCTAssertEqual(try parse(""), [])
    }

    func testFileOfOnlyCommentsAndBlankLinesHasNoEntries() throws {
        XCTAssertEqual(try parse("# a\n\n   \n; b\n"), [])
    }

    func testLastLineNeedsNoNewline() throws {
        XCTAssertEqual(try values("[s]\nk = v"), ["v"])
    }

    func testByteOrderMarkIsSkipped() throws {
        XCTAssertEqual(try parse("\u{FEFF}[s]\nk = v\n").first?.section, "s")
    }

    func testCRLFLineEndingsAreAccepted() throws {
        let entries = try parse("[s]\r\na = 1\r\nb = x\\\r\ny\r\n")
        XCTAssertEqual(entries.map(\.value), ["1", "xy"])
        XCTAssertEqual(entries.map(\.location.line), [2, 3])
    }

    // MARK: Errors

    func testErrorDescriptionCitesFileLineAndHint() {
        let error = ConfigError("invalid key name \"1x\"", at: SourceLocation(file: "/etc/b.conf", line: 7),
                                hint: "rename it")
        XCTAssertEqual(error.description, "/etc/b.conf:7: invalid key name \"1x\" (hint: rename it)")
    }

    func testErrorDescriptionWithoutLocationIsTheMessage() {
        XCTAssertEqual(ConfigError("cannot read it", at: nil).description, "cannot read it")
    }

    // MARK: Includes

    func testIncludeIsRelativeToTheIncludingFileAndSplicedInPlace() throws {
        try write("conf.d/extra.conf", "[s]\nmiddle = 2\n")
        let main = try write("broker.conf", "[s]\nfirst = 1\n[include]\npath = conf.d/extra.conf\n[s]\nlast = 3\n")
        let entries = try ConfigSyntax.load(path: main)
        XCTAssertEqual(entries.map(\.key), ["first", "middle", "last"])
        XCTAssertEqual(entries[1].location.file, scratch.appendingPathComponent("conf.d/extra.conf").path)
        XCTAssertEqual(entries[1].location.line, 2)
    }

    func testNestedIncludesResolveAgainstTheirOwnDirectory() throws {
        try write("a/b/leaf.conf", "[s]\nleaf = 1\n")
        try write("a/mid.conf", "[include]\npath = b/leaf.conf\n")
        let main = try write("main.conf", "[include]\npath = a/mid.conf\n")
        XCTAssertEqual(try ConfigSyntax.load(path: main).map(\.key), ["leaf"])
    }

    func testIncludeTildeExpandsFromHome() throws {
        let savedHome = getenv("HOME").map { String(cString: $0) }
        setenv("HOME", scratch.path, 1)
        defer {
            if let savedHome { setenv("HOME", savedHome, 1) } else { unsetenv("HOME") }
        }
        try write("home.conf", "[s]\nfromhome = 1\n")
        let main = try write("elsewhere/main.conf", "[include]\npath = ~/home.conf\n")
        XCTAssertEqual(try ConfigSyntax.load(path: main).map(\.key), ["fromhome"])
    }

    func testIncludeCycleIsRejectedAtTheIncludeLineThatClosesIt() throws {
        try write("a.conf", "[include]\npath = b.conf\n")
        try write("b.conf", "[s]\nk = v\n[include]\npath = ./a.conf\n")
        let error = loadRejection(scratch.appendingPathComponent("a.conf").path)
        XCTAssertEqual(error?.location, SourceLocation(file: scratch.appendingPathComponent("b.conf").path, line: 4))
        XCTAssertEqual(error?.message.hasPrefix("include cycle: "), true)
    }

    func testFileIncludingItselfIsACycle() throws {
        let main = try write("self.conf", "[include]\npath = self.conf\n")
        XCTAssertEqual(loadRejection(main)?.location, SourceLocation(file: main, line: 2))
    }

    func testSameFileIncludedTwiceWithoutACycleIsAllowed() throws {
        try write("shared.conf", "[s]\nshared = 1\n")
        let main = try write("main.conf", "[include]\npath = shared.conf\npath = shared.conf\n")
        XCTAssertEqual(try ConfigSyntax.load(path: main).map(\.key), ["shared", "shared"])
    }

    func testMissingIncludedFileIsRejectedAtTheIncludeLine() throws {
        let main = try write("main.conf", "[s]\nk = v\n[include]\n  path = nowhere.conf\n")
        let error = loadRejection(main)
        XCTAssertEqual(error?.location, SourceLocation(file: main, line: 4))
        XCTAssertEqual(error?.message.hasSuffix("does not exist"), true)
    }

    func testIncludesNestMoreThanTenLevelsDeepAreRejected() throws {
        // file0 includes file1 … file10: ten levels of includes, git's limit, are fine.
        for level in 0..<10 { try write("f\(level).conf", "[include]\npath = f\(level + 1).conf\n") }
        try write("f10.conf", "[s]\ndeep = 1\n")
        XCTAssertEqual(try ConfigSyntax.load(path: scratch.appendingPathComponent("f0.conf").path).map(\.key), ["deep"])

        try write("f10.conf", "[include]\npath = f11.conf\n")
        try write("f11.conf", "[s]\ntoo-deep = 1\n")
        let error = loadRejection(scratch.appendingPathComponent("f0.conf").path)
        XCTAssertEqual(error?.location, SourceLocation(file: scratch.appendingPathComponent("f10.conf").path, line: 2))
    }

    func testIncludeWithoutAPathIsRejected() throws {
        let main = try write("main.conf", "[include]\npath\n")
        XCTAssertEqual(loadRejection(main)?.message, "include path is empty")
    }

    func testMissingTopLevelFileIsRejectedWithoutALocation() {
        let error = loadRejection(scratch.appendingPathComponent("absent.conf").path)
        XCTAssertNil(error?.location)
    }

    // MARK: Who may have written it (D14)

    func testGroupWritableConfigFileIsRefusedWithTheChmod() throws {
        let main = try write("main.conf", "[s]\nk = v\n")
        chmod(main, 0o664)
        let error = loadRejection(main)
        XCTAssertNil(error?.location)
        XCTAssertEqual(error?.description, "config file \(main) is writable by group or others (hint: chmod go-w \(main))")
    }

    func testConfigFileOwnedByAnotherUserIsRefusedWithTheChown() throws {
        let main = try write("main.conf", "[s]\nk = v\n")
        chown(main, 65534, 65534)
        XCTAssertEqual(loadRejection(main)?.description,
                       "config file \(main) is owned by uid 65534, not by you (uid \(geteuid())) or root (hint: chown \(geteuid()) \(main))")
    }

    func testIncludedFileOwnedByAnotherUserIsRefusedAtTheIncludeLine() throws {
        let other = try write("other.conf", "[s]\nk = v\n")
        chown(other, 65534, 65534)
        let main = try write("main.conf", "[s]\nk = v\n[include]\n    path = other.conf\n")
        let error = loadRejection(main)
        XCTAssertEqual(error?.location, SourceLocation(file: main, line: 4))
        XCTAssertEqual(error?.message, "included file \(other) is owned by uid 65534, not by you (uid \(geteuid())) or root")
    }

    func testConfigUnderAWorldWritableDirectoryIsRefused() throws {
        let main = try write("open/main.conf", "[s]\nk = v\n")
        let directory = scratch.appendingPathComponent("open").path
        chmod(directory, 0o777)
        XCTAssertEqual(loadRejection(main)?.description,
                       "directory \(directory) above config file \(main) is writable by group or others (hint: chmod go-w \(directory))")
    }

    func testRootOwnedStickyDirectoryLikeTmpIsPassedOver() throws {
        let main = try write("sticky/main.conf", "[s]\nk = v\n")
        chmod(scratch.appendingPathComponent("sticky").path, 0o1777)
        XCTAssertEqual(try ConfigSyntax.load(path: main).map(\.key), ["k"])
    }

    // MARK: Booleans

    func testParseBoolAcceptsGitsSpellings() throws {
        let table: [(String?, Bool)] = [
            (nil, true), ("true", true), ("YES", true), ("On", true), ("1", true),
            ("false", false), ("No", false), ("OFF", false), ("0", false), ("", false),
        ]
        for (input, expected) in table {
            XCTAssertEqual(try ConfigSyntax.parseBool(input, at: at(1)), expected, "\(String(describing: input))")
        }
    }

    func testParseBoolRejectsAnythingElse() {
        for input in ["maybe", "2", "y", " true"] {
            XCTAssertThrowsError(try ConfigSyntax.parseBool(input, at: at(9)), input) { error in
                XCTAssertEqual((error as? ConfigError)?.location, self.at(9))
            }
        }
    }

    // MARK: Durations

    func testParseDurationReadsSecondsAndUnits() throws {
        let table: [(String, Int)] = [
            ("0", 0), ("90", 90), ("90s", 90), ("15m", 900), ("1h", 3_600), ("2d", 172_800),
            ("1h30m", 5_400), ("1d2h3m4s", 93_784), ("007m", 420),
        ]
        for (input, expected) in table {
            XCTAssertEqual(try ConfigSyntax.parseDuration(input, at: at(1)), expected, input)
        }
    }

    func testParseDurationRejectsGarbage() {
        for input in ["", "abc", "1x", "m", "1h30", "30m1h", "1m1m", "1.5h", "1 h", "+5", "1H"] {
            XCTAssertThrowsError(try ConfigSyntax.parseDuration(input, at: at(1)), input)
        }
    }

    func testParseDurationRejectsAMissingValue() {
        XCTAssertThrowsError(try ConfigSyntax.parseDuration(nil, at: at(3))) { error in
            XCTAssertEqual(error as? ConfigError, ConfigError("missing duration", at: self.at(3),
                hint: "write seconds or a number with a unit, such as 90s, 15m, 1h30m or 2d"))
        }
    }

    func testParseDurationRejectsNegatives() {
        XCTAssertThrowsError(try ConfigSyntax.parseDuration("-5m", at: at(1))) { error in
            XCTAssertEqual((error as? ConfigError)?.message, "negative duration \"-5m\"")
        }
    }

    func testParseDurationRejectsOverflow() {
        for input in ["99999999999999999999", "9223372036854775807d", "1m9223372036854775807s"] {
            XCTAssertThrowsError(try ConfigSyntax.parseDuration(input, at: at(1)), input) { error in
                XCTAssertEqual((error as? ConfigError)?.message.hasSuffix("is too large"), true, input)
            }
        }
    }

    // MARK: Integers

    func testParseIntAcceptsGitsSuffixes() throws {
        let table: [(String, Int)] = [
            ("0", 0), ("42", 42), ("-7", -7), ("+7", 7), ("2k", 2_048), ("1K", 1_024), ("3m", 3_145_728), ("1g", 1_073_741_824),
        ]
        for (input, expected) in table {
            XCTAssertEqual(try ConfigSyntax.parseInt(input, at: at(1)), expected, input)
        }
    }

    func testParseIntRejectsGarbageMissingAndOverflow() {
        for input in [nil, "", "k", "-", "1.5", "12kb", "0x10", "9223372036854775807k", "99999999999999999999"] as [String?] {
            XCTAssertThrowsError(try ConfigSyntax.parseInt(input, at: at(1)), String(describing: input))
        }
    }

    // MARK: closestMatch

    func testClosestMatchSuggestsTheNearTypo() {
        XCTAssertEqual(closestMatch(to: "identiy", among: ["chain", "identity", "git"]), "identity")
    }

    func testClosestMatchIgnoresCase() {
        XCTAssertEqual(closestMatch(to: "IDENTITY", among: ["identity"]), "identity")
    }

    func testClosestMatchCountsASwapAsOneEdit() {
        XCTAssertEqual(closestMatch(to: "ttl", among: ["tlt", "ttl-max"]), "tlt")
    }

    func testClosestMatchPrefersTheNearestCandidate() {
        XCTAssertEqual(closestMatch(to: "kinds", among: ["mind", "kind"]), "kind")
    }

    func testClosestMatchOffersNothingForFarWords() {
        XCTAssertNil(closestMatch(to: "banana", among: ["identity", "chain", "git"]))
        XCTAssertNil(closestMatch(to: "ab", among: ["cd"]))
        XCTAssertNil(closestMatch(to: "anything", among: []))
    }

    // MARK: findCycle

    func testFindCycleReportsASelfLoop() {
        XCTAssertEqual(findCycle(in: ["a": ["a"]]), ["a", "a"])
    }

    func testFindCycleReportsAThreeCycleFromItsFirstSortedNode() {
        XCTAssertEqual(findCycle(in: ["c": ["a"], "a": ["b"], "b": ["c"]]), ["a", "b", "c", "a"])
    }

    func testFindCycleReportsOnlyTheLoopNotTheWayIn() {
        XCTAssertEqual(findCycle(in: ["a": ["b"], "b": ["c"], "c": ["b"]]), ["b", "c", "b"])
    }

    func testFindCycleFindsNothingInADiamond() {
        XCTAssertNil(findCycle(in: ["a": ["b", "c"], "b": ["d"], "c": ["d"], "d": []]))
    }

    func testFindCycleTreatsTargetOnlyNodesAsLeaves() {
        XCTAssertNil(findCycle(in: ["a": ["missing"]]))
    }
}
