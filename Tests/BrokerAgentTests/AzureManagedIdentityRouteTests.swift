// The managed-identity route's query reader, as a table: what MSAL sends is read, the rest refused with App Service's error shape.

@testable import BrokerAgent
import BrokerWire
import XCTest

final class AzureManagedIdentityRouteTests: XCTestCase {
    func read(_ target: String) -> String {
        switch AzureManagedIdentityRoute.query(of: target) {
        case .success(let query): return "ok \(query.resource) \(query.clientID ?? "-")"
        case .failure(let reply): return "\(reply.status) \(reply.body.encoded())"
        }
    }

    func testWhatMSALSendsIsRead() {
        XCTAssertEqual(read("/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fmanagement.azure.com"), "ok https://management.azure.com -")
        XCTAssertEqual(read("/msi/token?api-version=2019-08-01&resource=https://management.azure.com/&client_id=abc"), "ok https://management.azure.com abc")
        XCTAssertEqual(read("/msi/token?resource=https%3A%2F%2Fvault.azure.net%2F.default&api-version=2019-08-01"), "ok https://vault.azure.net -")
    }

    func testEverythingElseIsRefusedWith400() {
        let rows: [(String, String)] = [
            ("/msi/token", "the query must name api-version and resource"),
            ("/msi/token?", "the query must name api-version and resource"),
            ("/msi/token?resource=https%3A%2F%2Fmanagement.azure.com", "api-version must be 2019-08-01 (App Service's managed identity protocol)"),
            ("/msi/token?api-version=2017-09-01&resource=x:y", "api-version must be 2019-08-01 (App Service's managed identity protocol)"),
            ("/msi/token?api-version=2019-08-01", "resource must be a URI such as https://management.azure.com"),
            ("/msi/token?api-version=2019-08-01&resource=management", "resource must be a URI such as https://management.azure.com"),
            ("/msi/token?api-version=2019-08-01&resource=a:b&resource=c:d", "resource is given twice"),
            ("/msi/token?api-version=2019-08-01&resource=%ZZ", "the query is not name=value pairs with valid %-escapes"),
            ("/msi/token?api-version=2019-08-01&resource=a:b%0a", "the query is not name=value pairs with valid %-escapes"),
            ("/msi/token?api-version=2019-08-01&resource", "the query is not name=value pairs with valid %-escapes"),
            ("/msi/token?api-version=2019-08-01&resource=a:b&secret=1", "unknown query parameter secret"),
            ("/msi/token?api-version=2019-08-01&resource=a:b&mi_res_id=x", "this endpoint serves one identity, named by client_id only"),
        ]
        for (target, message) in rows {
            XCTAssertEqual(read(target), "400 {\"statusCode\":400,\"message\":\"\(message)\"}", target)
        }
    }

    func testTheRouteOwnsItsPathAndReadsItsHeader() throws {
        let route = AzureManagedIdentityRoute(token: { _, _ in LoopbackReply(status: 200, body: .null) })
        func head(_ target: String, _ headers: [(String, String)]) -> HTTPRequestHead { HTTPRequestHead(method: "GET", target: target, headers: headers) }
        XCTAssertTrue(route.matches(head("/msi/token?x=1", [])))
        XCTAssertFalse(route.matches(head("/credentials", [])))
        XCTAssertFalse(route.matches(head("/msi/tokenx", [])))
        if case .failure(let reply) = route.presentedSecret(in: head("/msi/token", [("Authorization", "abc")])) {
            XCTAssertEqual(reply.status, 401)
        } else { XCTFail("a request without X-IDENTITY-HEADER presented a secret") }
        if case .failure(let reply) = route.presentedSecret(in: head("/msi/token", [("X-IDENTITY-HEADER", "a"), ("x-identity-header", "b")])) {
            XCTAssertEqual(reply.status, 400)
        } else { XCTFail("two headers were accepted") }
        XCTAssertEqual(try route.presentedSecret(in: head("/msi/token", [("x-identity-header", "abc")])).get().reveal(), "abc")
    }

    func testEachRequestIsAnsweredForItsOwnQueryWhateverCameBefore() throws {
        let route = AzureManagedIdentityRoute(token: { query, _ in LoopbackReply(status: 200, text: query.resource + " " + (query.clientID ?? "-")) })
        let grant = LoopbackEndpoint.Grant(id: 1, token: Secret("s"), identity: "sp", pid: 1, route: AzureManagedIdentityRoute.name)
        func answer(_ target: String) throws -> String {
            let reply = try route.answer(HTTPRequestHead(method: "GET", target: target, headers: []), grant: grant)
            return "\(reply.status) \(reply.text ?? reply.body.encoded())"
        }
        let arm = "/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fmanagement.azure.com%2F"
        let vault = "/msi/token?api-version=2019-08-01&resource=https://vault.azure.net&client_id=abc"
        let bad = "/msi/token?api-version=2017-09-01&resource=https://vault.azure.net"
        for target in [arm, arm, vault, arm, bad, bad, vault] {
            let expected = target == arm ? "200 https://management.azure.com -" : target == vault ? "200 https://vault.azure.net abc"
                : "400 {\"statusCode\":400,\"message\":\"api-version must be 2019-08-01 (App Service's managed identity protocol)\"}"
            XCTAssertEqual(try answer(target), expected, target)
        }
    }
}
