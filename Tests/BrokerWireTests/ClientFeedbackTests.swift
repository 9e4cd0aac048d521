// What BROKER_TRACE shows of a message: names, hosts, tiers and expiries; never a secret's value.

import BrokerWire
import XCTest

final class ClientFeedbackTests: XCTestCase {
    func testSummaryShowsRoutingFieldsAndWithholdsSecrets() {
        let answer = WireMessage([
            .init("status", "ok"), .init("username", "x-access-token"), .init("password", "CANARY-pw"),
            .init("broker.identity", "bot"), .init("broker.tier", "upstream"),
            .init("secret_access_key", "CANARY-sk"), .init("session_token", "CANARY-st"),
        ])
        let text = ClientFeedback.summary(answer)
        XCTAssertEqual(text, "status=ok username=x-access-token broker.identity=bot broker.tier=upstream (withheld: password, secret_access_key, session_token)")
        XCTAssertFalse(text.contains("CANARY"))
    }

    func testExpiryIsShownAsATimeAndTheSecondsLeft() {
        let text = ClientFeedback.summary(WireMessage([.init("expiration", "2000000000")]))
        XCTAssertTrue(text.hasPrefix("expiration=2000000000 (2033-05-18T03:33:20Z, in "), text)
    }

    func testUnknownFieldsAreNamedNotShown() {
        let text = ClientFeedback.summary(WireMessage([.init("op", "env.plan"), .init("step[]", "set GITHUB_TOKEN CANARY"), .init("step[]", "x")]))
        XCTAssertEqual(text, "op=env.plan (withheld: step[])")
    }

    func testSilentFeedbackNeitherTracesNorShowsProgress() {
        XCTAssertFalse(ClientFeedback.silent.trace)
        XCTAssertFalse(ClientFeedback.silent.progress)
        XCTAssertTrue(ClientFeedback(program: "p", environment: Environment(["BROKER_TRACE": "1"])).trace)
        XCTAssertFalse(ClientFeedback(program: "p", environment: Environment(["BROKER_TRACE": "0"])).trace)
    }
}
