// docker's credential-helper protocol and client-go's ExecCredential, without a process: input to request, answer to output.

@testable import BrokerFrontends
import BrokerWire
import XCTest

final class DockerCredentialFrontendTests: XCTestCase {
    func message(_ error: Error) -> String? { (error as? DockerCredentialFrontend.ProtocolMessage)?.text }

    func testGetSendsTheTrimmedServerURL() throws {
        let request = try DockerCredentialFrontend.agentRequest(.get, input: Array(" https://r.example:5000/v2/ \n".utf8))
        XCTAssertEqual(request.operation, .dockerGet)
        XCTAssertEqual(request[WireKey.serverURL], "https://r.example:5000/v2/")
    }

    func testAnEmptyServerURLGetsTheProtocolsMessage() {
        for action in [DockerCredentialFrontend.Action.get, .erase] {
            XCTAssertThrowsError(try DockerCredentialFrontend.agentRequest(action, input: Array(" \n".utf8))) { error in
                XCTAssertEqual(message(error), "no credentials server URL")
            }
        }
    }

    func testStoreReadsTheCredentialsDocument() throws {
        let request = try DockerCredentialFrontend.agentRequest(.store, input: Array(#"{"ServerURL":"r.example","Username":"me","Secret":"s\u00e9"}"#.utf8))
        XCTAssertEqual(request.operation, .dockerStore)
        XCTAssertEqual(request[WireKey.serverURL], "r.example")
        XCTAssertEqual(request[WireKey.username], "me")
        XCTAssertEqual(request[WireKey.secret], "sé")
    }

    func testStoreRefusesMissingFieldsWithTheProtocolsMessages() {
        XCTAssertThrowsError(try DockerCredentialFrontend.agentRequest(.store, input: Array(#"{"Username":"me"}"#.utf8))) {
            XCTAssertEqual(message($0), "no credentials server URL")
        }
        XCTAssertThrowsError(try DockerCredentialFrontend.agentRequest(.store, input: Array(#"{"ServerURL":"r","Secret":"s"}"#.utf8))) {
            XCTAssertEqual(message($0), "no credentials username")
        }
        XCTAssertThrowsError(try DockerCredentialFrontend.agentRequest(.store, input: Array("not json".utf8))) {
            XCTAssertTrue("\($0)".contains("not JSON"), "\($0)")
        }
        XCTAssertThrowsError(try DockerCredentialFrontend.agentRequest(.store, input: Array(#"{"ServerURL":"r","Username":"a\nb"}"#.utf8)))
    }

    func testGetPrintsTheDocumentOrTheMissMessage() throws {
        let found = WireMessage.ok([.init(WireKey.username, "AWS"), .init(WireKey.secret, "tok\"en")])
        XCTAssertEqual(try DockerCredentialFrontend.getDocument(serverURL: "r.example", answer: found),
                       #"{"ServerURL":"r.example","Username":"AWS","Secret":"tok\"en"}"# + "\n")
        XCTAssertThrowsError(try DockerCredentialFrontend.getDocument(serverURL: "r.example", answer: .ok())) {
            XCTAssertEqual(message($0), "credentials not found in native keychain")
        }
    }

    func testListPrintsAMapSortedAsGoEncodesIt() {
        var answer = WireMessage.ok()
        answer.appendRecord("registry", [(WireKey.serverURL, "https://z.example"), (WireKey.username, "z")])
        answer.appendRecord("registry", [(WireKey.serverURL, "a.example:5000"), (WireKey.username, "a")])
        XCTAssertEqual(DockerCredentialFrontend.listDocument(answer: answer), #"{"a.example:5000":"a","https://z.example":"z"}"# + "\n")
        XCTAssertEqual(DockerCredentialFrontend.listDocument(answer: .ok()), "{}\n")
    }

    func testArgumentsAreOneActionAndTheSocketDirectory() throws {
        XCTAssertEqual(try DockerCredentialFrontend.parse(["get"]).action, .get)
        XCTAssertEqual(try DockerCredentialFrontend.parse(["--socket-dir", "/d", "list"]), .init(action: .list, socketDirectory: "/d"))
        XCTAssertEqual(try DockerCredentialFrontend.parse(["-v"]).action, .version)
        XCTAssertThrowsError(try DockerCredentialFrontend.parse([]))
        XCTAssertThrowsError(try DockerCredentialFrontend.parse(["fetch"]))
        XCTAssertThrowsError(try DockerCredentialFrontend.parse(["get", "erase"]))
    }
}

final class KubeCredentialFrontendTests: XCTestCase {
    func testAnswersInTheVersionClientGoAsksFor() throws {
        for version in ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"] {
            let info = #"{"kind":"ExecCredential","apiVersion":"\#(version)","spec":{"interactive":false}}"#
            XCTAssertEqual(try KubeCredentialFrontend.apiVersion(execInfo: info), version)
        }
        XCTAssertEqual(try KubeCredentialFrontend.apiVersion(execInfo: nil), "client.authentication.k8s.io/v1beta1")
    }

    func testRefusesExecInfoItCannotAnswer() {
        XCTAssertThrowsError(try KubeCredentialFrontend.apiVersion(execInfo: #"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1alpha1"}"#)) {
            XCTAssertTrue("\($0)".contains("v1alpha1"), "\($0)")
        }
        XCTAssertThrowsError(try KubeCredentialFrontend.apiVersion(execInfo: "{"))
        XCTAssertThrowsError(try KubeCredentialFrontend.apiVersion(execInfo: #"{"kind":"Pod","apiVersion":"client.authentication.k8s.io/v1"}"#))
    }

    func testDocumentCarriesTokenAndExpiry() throws {
        let answer = WireMessage.ok([.init(WireKey.token, "k8s-aws-v1.abc"), .init(WireKey.expiration, "1790000840")])
        XCTAssertEqual(try KubeCredentialFrontend.document(apiVersion: "client.authentication.k8s.io/v1", answer: answer),
                       #"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{},"status":{"expirationTimestamp":"2026-09-21T14:27:20Z","token":"k8s-aws-v1.abc"}}"# + "\n")
        XCTAssertThrowsError(try KubeCredentialFrontend.document(apiVersion: "v", answer: .ok()))
    }

    func testIdentityComesFromTheFlagOrTheEnvironment() throws {
        XCTAssertEqual(try KubeCredentialFrontend.parse(["--identity", "eks"], environment: Environment([:])).identity, "eks")
        XCTAssertEqual(try KubeCredentialFrontend.parse([], environment: Environment(["BROKER_IDENTITY": "e"])).identity, "e")
        XCTAssertThrowsError(try KubeCredentialFrontend.parse([], environment: Environment([:])))
    }
}
