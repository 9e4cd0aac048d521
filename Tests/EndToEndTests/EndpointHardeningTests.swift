// The loopback credentials endpoint against hostile neighbours: slow clients of another user, and
// web pages (DNS rebinding, cross-origin fetches) that can reach 127.0.0.1 through a browser.

import BrokerWire
import Foundation
import XCTest

final class EndpointHardeningTests: XCTestCase {
    /// An aws/user identity delivered through the endpoint: no STS needed.
    func endpointSandbox() -> Sandbox {
        let sandbox = Sandbox()
        let secret = sandbox.write("secrets/keys", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
        sandbox.writeConfig("""
            [identity "keys"]
                kind = aws/user
                access-key-id = AKIAIOSFODNN7EXAMPLE
                secret-access-key = file:\(secret)
                delivery = endpoint
                long-lived-keys = true

            """)
        return sandbox
    }

    /// Runs `script` (python) wrapped, with `port`, `token` and a `raw(bytes)` helper predefined.
    func wrapped(_ sandbox: Sandbox, _ script: String, timeout: TimeInterval = 30) -> ProcessResult {
        let prelude = """
            import json, os, socket, subprocess, sys, time
            url, token = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"], os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
            port = int(url.split(":")[2].split("/")[0])
            def raw(data):
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(data)
                reply = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk: break
                    reply += chunk
                s.close()
                return int(reply.split(b" ")[1]) if reply else 0
            def get(host, extra=b""):
                return raw(b"GET /credentials HTTP/1.1\\r\\nHost: " + host.encode() + b"\\r\\nAuthorization: " + token.encode() + b"\\r\\n" + extra + b"\\r\\n")

            """
        return sandbox.run(Sandbox.executable("broker-env-wrap"), ["--identity", "keys", "--", "/usr/bin/python3", "-c", prelude + script],
                           timeout: timeout)
    }

    func testOnlyLoopbackHostHeadersAreServed() {
        let sandbox = endpointSandbox()
        let result = wrapped(sandbox, """
            print(get("127.0.0.1:%d" % port), get("localhost:%d" % port), get("evil.example:%d" % port),
                  get("127.0.0.1"), get("127.0.0.1:%d" % (port + 1)),
                  raw(b"GET /credentials HTTP/1.1\\r\\nAuthorization: " + token.encode() + b"\\r\\n\\r\\n"))
            """)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "200 200 421 421 421 421\n")
    }

    func testARequestFromAWebPageIsRefusedBeforeTheToken() {
        let sandbox = endpointSandbox()
        let result = wrapped(sandbox, """
            print(get("127.0.0.1:%d" % port, b"Origin: http://evil.example\\r\\n"),
                  get("127.0.0.1:%d" % port, b"Origin: null\\r\\n"),
                  get("127.0.0.1:%d" % port, b"origin: http://127.0.0.1:%d\\r\\n" % port))
            """)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "403 403 403\n")
        XCTAssertFalse(sandbox.auditLines.contains { ($0["adapter"] as? String) == "endpoint" }, "no credential was issued")
    }

    /// 200 connections from another user, each dribbling a byte every 1.5 s, neither delay the
    /// wrapped command's real request nor outlive the 2 s whole-request deadline.
    func testSlowClientsOfAnotherUserDoNotDelayTheRealRequest() throws {
        let sandbox = endpointSandbox()
        let slow = sandbox.write("slow.py", """
            import select, socket, sys, time
            port, count = int(sys.argv[1]), int(sys.argv[2])
            socks = []
            for _ in range(count):
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(b"G")
                socks.append(s)
            print("ready", flush=True)
            start, closed, opened = time.time(), {}, {s: time.time() for s in socks}
            next_byte = start + 1.5
            while time.time() - start < 5 and len(closed) < count:
                live = [s for s in socks if s not in closed]
                readable, _, _ = select.select(live, [], [], 0.1)
                for s in readable:
                    closed[s] = time.time() - opened[s]
                if time.time() >= next_byte:
                    next_byte += 1.5
                    for s in live:
                        if s in closed: continue
                        try: s.send(b"E")
                        except OSError: closed[s] = time.time() - opened[s]
            print(len(closed), max(closed.values()) if closed else 0, flush=True)
            """, mode: 0o644)
        chmod(sandbox.root, 0o711)  // the other user reaches slow.py, nothing else
        let result = wrapped(sandbox, """
            p = subprocess.Popen(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                  "/usr/bin/python3", "\(slow)", str(port), "200"], stdout=subprocess.PIPE, text=True)
            assert p.stdout.readline() == "ready\\n"
            time.sleep(0.3)
            started = time.time()
            status = get("127.0.0.1:%d" % port)
            elapsed = time.time() - started
            closed, longest = p.stdout.readline().split()
            p.wait(timeout=10)
            print(json.dumps({"status": status, "elapsed": elapsed, "closed": int(closed), "longest": float(longest)}))
            """, timeout: 40)
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], result.stdout)
        XCTAssertEqual(report["status"] as? Int, 200)
        XCTAssertLessThan(report["elapsed"] as? Double ?? 99, 1, "the real request waited behind slow ones")
        XCTAssertEqual(report["closed"] as? Int, 200, "every slow client was cut off")
        XCTAssertLessThan(report["longest"] as? Double ?? 99, 3.5, "a slow client outlived the whole-request deadline")
    }
}
