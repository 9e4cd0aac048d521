#!/usr/bin/env python3
"""Loopback git smart-HTTP server for the end-to-end tests (Python stdlib only).

Serves the bare repositories under --root through `git http-backend` (CGI), demands HTTP Basic
auth matching the `user:password` line in --credentials (re-read on every request, so a test can
"revoke" a password by rewriting the file), answers 401 with `WWW-Authenticate: Basic
realm="test"` otherwise, and appends one line per request to --log:

    <METHOD> <path> <auth user or -> <status>

Binds 127.0.0.1 on an ephemeral port and prints that port as its first stdout line. Exits by
itself after --lifetime seconds as a safety net; the tests kill it in teardown.

With --tokens-file, --credentials is ignored: any user name is accepted whose password is a
token listed in that file (`TOKEN EXPIRY_UNIX` lines, as github_api_fake.py writes them) and not
yet expired, so the server accepts only currently valid GitHub App installation tokens.
"""

import argparse
import base64
import http.server
import os
import subprocess
import sys
import threading
import time
import urllib.parse


def read_chunked(rfile):
    body = bytearray()
    while True:
        size_line = rfile.readline(1024)
        if not size_line:
            raise ValueError("truncated chunked body")
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            # Trailer lines up to the blank line.
            while True:
                line = rfile.readline(8192)
                if line in (b"\r\n", b"\n", b""):
                    return bytes(body)
        chunk = rfile.read(size)
        if len(chunk) != size:
            raise ValueError("truncated chunk")
        body += chunk
        rfile.readline(8)  # CRLF after the chunk


class Handler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, the body ends when the connection closes.
    protocol_version = "HTTP/1.0"
    server_version = "git-test-http/1"

    def log_message(self, fmt, *args):  # keep stderr quiet; the request log is the record
        pass

    def record(self, user, status):
        line = "%s %s %s %d\n" % (self.command, self.path, user or "-", status)
        with self.server.log_lock:
            with open(self.server.log_path, "a") as log:
                log.write(line)

    def expected_credentials(self):
        try:
            with open(self.server.credentials_path) as f:
                text = f.read().strip()
        except OSError:
            return None
        user, sep, password = text.partition(":")
        return (user, password) if sep else None

    def valid_token(self, password):
        """True when `password` is listed in --tokens-file with an expiry still ahead."""
        try:
            with open(self.server.tokens_path) as f:
                lines = f.read().splitlines()
        except OSError:
            return False
        for line in lines:
            token, _, expiry = line.partition(" ")
            if token and token == password and expiry.isdigit() and int(expiry) > time.time():
                return True
        return False

    def presented_credentials(self):
        header = self.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except Exception:
            return None
        user, sep, password = decoded.partition(":")
        return (user, password) if sep else None

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return read_chunked(self.rfile)
        length = int(self.headers.get("Content-Length") or 0)
        data = b""
        while len(data) < length:
            part = self.rfile.read(length - len(data))
            if not part:
                raise ValueError("truncated body")
            data += part
        return data

    def handle_any(self):
        try:
            body = self.read_body() if self.command == "POST" else b""
        except ValueError:
            self.send_response(400)
            self.end_headers()
            self.record(None, 400)
            return
        presented = self.presented_credentials()
        if self.server.tokens_path:
            accepted = presented is not None and self.valid_token(presented[1])
        else:
            expected = self.expected_credentials()
            accepted = presented is not None and expected is not None and presented == expected
        if not accepted:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="test"')
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "13")
            self.end_headers()
            self.wfile.write(b"unauthorized\n")
            self.record(presented[0] if presented else None, 401)
            return
        user = presented[0]
        parsed = urllib.parse.urlsplit(self.path)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.server.root,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_PROJECT_ROOT": self.server.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": urllib.parse.unquote(parsed.path),
            "QUERY_STRING": parsed.query,
            "REMOTE_USER": user,
            "REMOTE_ADDR": self.client_address[0],
            "AUTH_TYPE": "Basic",
            "SERVER_PROTOCOL": "HTTP/1.0",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "CONTENT_LENGTH": str(len(body)),
        }
        for header, name in (("Content-Type", "CONTENT_TYPE"), ("Content-Encoding", "HTTP_CONTENT_ENCODING"),
                             ("Git-Protocol", "GIT_PROTOCOL")):
            if self.headers.get(header):
                env[name] = self.headers[header]
        proc = subprocess.run(["git", "http-backend"], input=body, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        output = proc.stdout
        split = output.find(b"\r\n\r\n")
        sep_len = 4
        if split < 0 or (output.find(b"\n\n") >= 0 and output.find(b"\n\n") < split):
            split, sep_len = output.find(b"\n\n"), 2
        if split < 0:
            self.send_response(500)
            self.end_headers()
            self.record(user, 500)
            return
        header_text = output[:split].decode("latin-1")
        payload = output[split + sep_len:]
        status = 200
        headers = []
        for line in header_text.splitlines():
            name, _, value = line.partition(":")
            if name.strip().lower() == "status":
                status = int(value.strip().split()[0])
            elif name.strip():
                headers.append((name.strip(), value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        self.record(user, status)

    do_GET = handle_any
    do_POST = handle_any


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True, help="directory holding the bare repositories")
    parser.add_argument("--credentials", required=True, help="file holding user:password")
    parser.add_argument("--tokens-file", help="accept any user whose password is an unexpired token listed here instead")
    parser.add_argument("--log", required=True, help="request log file")
    parser.add_argument("--lifetime", type=float, default=120, help="exit after this many seconds")
    args = parser.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.root = os.path.abspath(args.root)
    server.credentials_path = args.credentials
    server.tokens_path = args.tokens_file
    server.log_path = args.log
    server.log_lock = threading.Lock()

    timer = threading.Timer(args.lifetime, lambda: os._exit(0))
    timer.daemon = True
    timer.start()

    sys.stdout.write("%d\n" % server.server_address[1])
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
