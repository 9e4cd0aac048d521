// credential-cache's store/get/erase rules, as a table of steps against one store.

@testable import BrokerAgent
import BrokerCore
import BrokerWire
import XCTest

final class GitCredentialStoreTests: XCTestCase {
    final class TestClock: @unchecked Sendable { var now: Int64 = 1_000_000 }

    func credential(_ pairs: KeyValuePairs<String, String>) -> GitCredential { GitCredential(WireMessage(pairs)) }

    func testStoreThenGetAnswersUsernameAndPassword() {
        let store = GitCredentialStore()
        XCTAssertEqual(store.store(credential(["protocol": "https", "host": "h", "username": "u", "password": "p"]), timeout: 900), .stored)
        let found = store.get(credential(["protocol": "https", "host": "h"]))
        // credential-cache's daemon always leads with its capability; git ≤ 2.45 ignores the line.
        XCTAssertEqual(found?.answer(for: GitCredential()).fields,
                       [.init("capability[]", "authtype"), .init("username", "u"), .init("password", "p")])
    }

    func testStoreReplacesSameUserAndKeepsOthers() {
        let store = GitCredentialStore()
        _ = store.store(credential(["protocol": "https", "host": "h", "username": "u1", "password": "old"]), timeout: 900)
        _ = store.store(credential(["protocol": "https", "host": "h", "username": "u2", "password": "p2"]), timeout: 900)
        _ = store.store(credential(["protocol": "https", "host": "h", "username": "u1", "password": "new"]), timeout: 900)
        XCTAssertEqual(store.count, 2)
        XCTAssertEqual(store.get(credential(["protocol": "https", "host": "h", "username": "u1"]))?.password?.reveal(), "new")
    }

    func testEraseWithPasswordRemovesOnlyAMatchingPassword() {
        let store = GitCredentialStore()
        _ = store.store(credential(["protocol": "https", "host": "h", "username": "u", "password": "right"]), timeout: 900)
        XCTAssertEqual(store.erase(credential(["protocol": "https", "host": "h", "username": "u", "password": "wrong"])), 0)
        XCTAssertEqual(store.erase(credential(["protocol": "https", "host": "h", "username": "u", "password": "right"])), 1)
    }

    func testEraseWithoutUsernameRemovesEveryUserOfTheHost() {
        let store = GitCredentialStore()
        _ = store.store(credential(["protocol": "https", "host": "h", "username": "a", "password": "1"]), timeout: 900)
        _ = store.store(credential(["protocol": "https", "host": "h", "username": "b", "password": "2"]), timeout: 900)
        _ = store.store(credential(["protocol": "https", "host": "other", "username": "a", "password": "3"]), timeout: 900)
        XCTAssertEqual(store.erase(credential(["protocol": "https", "host": "h"])), 2)
        XCTAssertEqual(store.count, 1)
    }

    func testEntriesExpireAfterTheirTimeout() {
        let clock = TestClock()
        let store = GitCredentialStore(clock: Clock { clock.now })
        _ = store.store(credential(["protocol": "https", "host": "h", "username": "u", "password": "p"]), timeout: 10)
        clock.now += 9
        XCTAssertNotNil(store.get(credential(["protocol": "https", "host": "h"])))
        clock.now += 1
        XCTAssertNil(store.get(credential(["protocol": "https", "host": "h"])))
    }

    /// `op=git.store … timeout=9223372036854775807` from any local peer overflowed the expiry and trapped the agent.
    func testTimeoutsPastTheClocksRangeSaturateInsteadOfCrashing() {
        let clock = TestClock()
        let store = GitCredentialStore(clock: Clock { clock.now })
        XCTAssertEqual(store.store(credential(["protocol": "https", "host": "h", "username": "u", "password": "p"]), timeout: .max), .stored)
        clock.now = .max - 1
        XCTAssertNotNil(store.get(credential(["protocol": "https", "host": "h"])), "kept for as long as the clock runs")
        clock.now = -2
        XCTAssertEqual(store.store(credential(["protocol": "https", "host": "h2", "username": "u", "password": "p"]), timeout: .min), .stored)
        XCTAssertNil(store.get(credential(["protocol": "https", "host": "h2"])), "a timeout before the epoch has expired")
    }

    func testPasswordPastItsExpiryIsStillAnsweredSoGitKeepsTheUsername() {
        // As the daemon does: git ≥ 2.40 drops the expired password itself and asks only for a
        // new password, keeping the cached username.
        let clock = TestClock()
        let store = GitCredentialStore(clock: Clock { clock.now })
        _ = store.store(credential(["protocol": "https", "host": "h", "username": "u", "password": "p",
                                    "password_expiry_utc": String(clock.now + 5)]), timeout: 900)
        clock.now += 5
        XCTAssertEqual(store.get(credential(["protocol": "https", "host": "h"]))?.passwordExpiryUTC, clock.now)
    }

    func testEphemeralAndPartialCredentialsAreNotStored() {
        let store = GitCredentialStore()
        XCTAssertEqual(store.store(credential(["protocol": "https", "host": "h", "username": "u", "password": "p", "ephemeral": "1"]), timeout: 900), .ephemeral)
        XCTAssertEqual(store.store(credential(["protocol": "https", "host": "h", "username": "u"]), timeout: 900), .partial)
        XCTAssertEqual(store.count, 0)
    }

    func testAuthtypeAndCredentialGoOnlyToCapableCallers() {
        let store = GitCredentialStore()
        _ = store.store(credential(["capability[]": "authtype", "protocol": "https", "host": "h", "authtype": "Bearer", "credential": "tok"]), timeout: 900)
        let capable = credential(["capability[]": "authtype", "protocol": "https", "host": "h"])
        XCTAssertEqual(store.get(capable)?.answer(for: capable).fields,
                       [.init("capability[]", "authtype"), .init("authtype", "Bearer"), .init("credential", "tok")])
        let plain = credential(["protocol": "https", "host": "h"])
        XCTAssertEqual(store.get(plain)?.answer(for: plain).fields, [.init("capability[]", "authtype")])
    }

    // MARK: [git] store = keyring

    /// A keyring stand-in: the JSON text a KeyringService would hold, or an error while "locked".
    final class TestVault: GitCredentialVault, @unchecked Sendable {
        var text: Secret?
        var locked = false
        var generationNumber = 0
        var saves = 0
        func generation() -> Int { generationNumber }
        func load() throws -> [GitCredential] {
            if locked { throw BrokerFailure(.denied, "the test keyring is locked") }
            return try text.map { try XCTUnwrap(GitCredential.list(fromJSON: $0)) } ?? []
        }
        func save(_ credentials: [GitCredential]) throws {
            if locked { throw BrokerFailure(.denied, "the test keyring is locked") }
            text = GitCredential.json(credentials)
            saves += 1
        }
    }

    func testKeptCredentialsOutliveTheStoreAndItsTimeout() throws {
        let clock = TestClock()
        let vault = TestVault()
        let first = GitCredentialStore(clock: Clock { clock.now }, vault: vault)
        XCTAssertNil(try first.prepare(persistent: true))
        _ = first.store(credential(["protocol": "https", "host": "h", "username": "u", "password": "p"]), timeout: 10)
        XCTAssertNil(first.saveChanges())
        XCTAssertFalse(first.keepsAgentAlive, "the keyring holds it, not the agent")
        clock.now += 3600
        let second = GitCredentialStore(clock: Clock { clock.now }, vault: vault)
        XCTAssertNil(try second.prepare(persistent: true))
        XCTAssertEqual(second.get(credential(["protocol": "https", "host": "h"]))?.password?.reveal(), "p")
    }

    func testEveryAttributeSurvivesTheKeyringInTheDaemonsOrder() throws {
        let vault = TestVault()
        let store = GitCredentialStore(vault: vault)
        _ = try store.prepare(persistent: true)
        let full = credential(["capability[]": "authtype", "protocol": "https", "host": "h:8443", "path": "a/b.git", "username": "u=1",
                               "password": "p w\u{00e9}", "authtype": "Bearer", "credential": "tok", "password_expiry_utc": "2000000000",
                               "oauth_refresh_token": "refresh"])
        _ = store.store(full, timeout: 900)
        _ = store.store(credential(["protocol": "https", "host": "h:8443", "username": "second", "password": "2"]), timeout: 900)
        _ = store.saveChanges()
        let reread = GitCredentialStore(vault: vault)
        _ = try reread.prepare(persistent: true)
        XCTAssertEqual(reread.get(credential(["protocol": "https", "host": "h:8443"])), full)
        XCTAssertEqual(reread.count, 2)
        XCTAssertFalse(vault.text!.reveal().contains("\n"), "one line, as every backend can carry")
    }

    func testChangesMadeWhileTheKeyringIsLockedAreAppliedToItsCopyLater() throws {
        let vault = TestVault()
        vault.text = GitCredential.json([credential(["protocol": "https", "host": "old", "username": "u", "password": "gone"])])
        vault.locked = true
        let store = GitCredentialStore(vault: vault)
        XCTAssertEqual(try store.prepare(persistent: true)?.contains("the test keyring is locked"), true)
        _ = store.store(credential(["protocol": "https", "host": "new", "username": "u", "password": "kept"]), timeout: 900)
        // git rejected a password only the keyring holds: the erase must reach it.
        _ = store.erase(credential(["protocol": "https", "host": "old", "username": "u", "password": "gone"]))
        XCTAssertEqual(store.get(credential(["protocol": "https", "host": "new"]))?.password?.reveal(), "kept", "served from memory meanwhile")
        XCTAssertTrue(store.keepsAgentAlive, "only this agent has the change")

        vault.locked = false
        XCTAssertNil(try store.prepare(persistent: true))
        XCTAssertFalse(store.keepsAgentAlive)
        let saved = try XCTUnwrap(GitCredential.list(fromJSON: vault.text!))
        XCTAssertEqual(saved.map(\.host), ["new"])
    }

    func testANewKeyringGenerationForgetsTheDecryptedCopy() throws {
        let vault = TestVault()
        let store = GitCredentialStore(vault: vault)
        _ = try store.prepare(persistent: true)
        _ = store.store(credential(["protocol": "https", "host": "h", "username": "u", "password": "p"]), timeout: 900)
        _ = store.saveChanges()
        vault.locked = true
        vault.generationNumber += 1   // `brokerctl lock`
        XCTAssertNotNil(try store.prepare(persistent: true))
        XCTAssertNil(store.get(credential(["protocol": "https", "host": "h"])))
        XCTAssertEqual(vault.saves, 1)
    }

    func testSwitchingToTheKeyringTakesWhatMemoryHeld() throws {
        let vault = TestVault()
        let store = GitCredentialStore(vault: vault)
        _ = try store.prepare(persistent: false)
        _ = store.store(credential(["protocol": "https", "host": "h", "username": "u", "password": "p"]), timeout: 900)
        XCTAssertNil(vault.text, "memory stays memory")
        _ = try store.prepare(persistent: true)
        XCTAssertEqual(try GitCredential.list(fromJSON: XCTUnwrap(vault.text)).map { $0.map(\.host) }, ["h"])
    }
}
