#!/usr/bin/env python3
"""A registry front that accepts GitHub App installation tokens, as ghcr.io does: HTTP Basic with
any user name and a password among the live tokens in --tokens-file (`TOKEN EXPIRY_UNIX` lines,
written by github_api_fake.py; re-read on every request, so a revoked token stops working at
once). Valid requests go on to the CNCF registry at --upstream with its own Basic credentials;
anything else gets 401 with `WWW-Authenticate: Basic`. Pulls and pushes (request bodies by
Content-Length or chunked). Prints its port
as the first stdout line; exits when stdin closes or after --lifetime seconds.

  GET /__counts   {"accepted": n, "refused": n}
"""
import argparse, base64, http.client, http.server, json, sys, threading, time

parser = argparse.ArgumentParser()
parser.add_argument("--tokens-file", required=True)
parser.add_argument("--upstream", required=True)
parser.add_argument("--upstream-user", required=True)
parser.add_argument("--upstream-password", required=True)
parser.add_argument("--lifetime", type=float, default=120)
args = parser.parse_args()
counts = {"accepted": 0, "refused": 0}
lock = threading.Lock()


def live_tokens():
    try:
        with open(args.tokens_file) as f:
            lines = [line.split() for line in f if line.strip()]
    except FileNotFoundError:
        return set()
    return {parts[0] for parts in lines if len(parts) == 2 and int(parts[1]) > time.time()}


class Gate(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def refuse(self):
        with lock:
            counts["refused"] += 1
        body = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="token-gate"')
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def forward(self):
        if self.path == "/__counts":
            body = json.dumps(counts).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return self.wfile.write(body)
        body = self.read_body() if self.command in ("POST", "PUT", "PATCH") else b""
        header = self.headers.get("Authorization", "")
        try:
            _, password = base64.b64decode(header[len("Basic "):]).decode().split(":", 1) if header.startswith("Basic ") else ("", None)
        except Exception:
            password = None
        if password is None or password not in live_tokens():
            return self.refuse()
        with lock:
            counts["accepted"] += 1
        host, port = args.upstream.rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in ("authorization", "connection", "keep-alive", "transfer-encoding", "content-length"):
                    connection.putheader(name, value)
            if self.command in ("POST", "PUT", "PATCH"):
                connection.putheader("Content-Length", str(len(body)))
            upstream = base64.b64encode(("%s:%s" % (args.upstream_user, args.upstream_password)).encode()).decode()
            connection.putheader("Authorization", "Basic " + upstream)
            connection.endheaders(body if body else None)
            response = connection.getresponse()
            data = response.read()
            self.send_response(response.status)
            for name, value in response.getheaders():
                if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data) if self.command != "HEAD" else response.getheader("Content-Length") or 0))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        finally:
            connection.close()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = forward


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Gate)
server.daemon_threads = True
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdout.write("%d\n" % server.server_address[1])
sys.stdout.flush()
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
done.wait(args.lifetime)
