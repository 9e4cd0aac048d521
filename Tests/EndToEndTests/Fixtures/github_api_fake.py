#!/usr/bin/env python3
"""Loopback fake of GitHub's App token API for the end-to-end tests (stdlib + `cryptography`).

It checks what GitHub checks before it mints an installation token, with GitHub's own rules:

* `Authorization: Bearer <JWT>`: RS256, signature verified against the app's public key
  (--public-key, PEM); `iss` is the app id (--app-id, a string); `iat` and `exp` are integers,
  `exp - iat <= 600`, `exp` not passed, `iat` at most 60 s in the future (GitHub's clock-skew
  allowance). Anything else: 401 with a GitHub-shaped `{"message": ...}`.
* `Accept: application/vnd.github+json`, `X-GitHub-Api-Version: 2022-11-28`, a `User-Agent`
  (GitHub refuses requests without one): 400 otherwise, so a client that drops them is caught.

API:
  POST /app/installations/{id}/access_tokens   201 {"token", "expires_at", "permissions", ...};
       an optional JSON body narrows the token: "repositories" must be among --repositories and
       "permissions" at most the --permissions granted, else 422 as GitHub answers.
  GET  /orgs/{owner}/installation, /users/{owner}/installation   200 {"id", "account"} or 404.
With an installation token as the bearer (not a JWT), as GitHub answers them:
  GET    /installation/repositories   200 {"total_count", "repositories"}; 401 "Bad credentials" for a
         token that was never issued, has expired or was revoked.
  DELETE /installation/token          204, and the token is refused from then on (also by the git server).
Control (no JWT):
  GET  /__counts     {"mint", "lookup", "rejected", "total"}
  GET  /__requests   one record per API request: method, path, headers we check, body, claims, status
  POST /__revoke     forgets every issued token (the git server then refuses them)
  POST /__issue      {"token", "expires_at"}: a new installation token, as an app would mint it (for
                     sts_exchange.py --mint-url, standing in for octo-sts's own GitHub App)
  POST /__faults     {"status": 502, "count": 2}: the next N API requests get that status

Issued tokens are written to --tokens-file as `TOKEN EXPIRY_UNIX` lines (write-then-rename), which
the git server (git_http_server.py --tokens-file) reads on every request. Binds 127.0.0.1 on an
ephemeral port, prints the port as its first stdout line, and exits by itself after --lifetime s.
"""

import argparse
import base64
import http.server
import json
import os
import re
import secrets
import socket
import string
import sys
import threading
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

LEVELS = {"read": 1, "write": 2, "admin": 3}
DOCS = "https://docs.github.com/rest"


def b64url_decode(text):
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url without padding")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class State:
    def __init__(self, args):
        with open(args.public_key, "rb") as f:
            self.public_key = serialization.load_pem_public_key(f.read())
        self.app_id = args.app_id
        self.installation_id = args.installation_id
        self.owner = args.owner
        self.owner_type = args.owner_type
        self.repositories = [r for r in args.repositories.split(",") if r]
        self.permissions = dict(p.split("=", 1) for p in args.permissions.split(",") if p)
        self.tokens_file = args.tokens_file
        self.token_lifetime = args.token_lifetime
        self.lock = threading.Lock()
        self.tokens = {}
        self.counts = {"mint": 0, "lookup": 0, "rejected": 0, "total": 0, "revoked": 0}
        self.requests = []
        self.faults = []
        self.write_tokens()

    def write_tokens(self):
        temp = self.tokens_file + ".new"
        with open(temp, "w") as f:
            for token, expiry in self.tokens.items():
                f.write("%s %d\n" % (token, expiry))
        os.replace(temp, self.tokens_file)

    def issue(self):
        token = "ghs_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(36))
        expiry = int(time.time()) + self.token_lifetime
        self.tokens[token] = expiry
        self.write_tokens()
        return token, expiry


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "github-api-fake/1"

    def log_message(self, fmt, *args):  # the request records are the log
        pass

    def setup(self):
        super().setup()
        # Headers and body leave in two writes; with Nagle on, the second waits for the client's
        # delayed ACK (40 ms) and a benchmark of mint time would measure that instead.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def state(self):
        return self.server.state

    def answer(self, status, obj):
        if status == 204:
            self.send_response(204)
            self.end_headers()
            return
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def check_jwt(self):
        """The JWT's claims, or raises ValueError with GitHub's kind of message."""
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise ValueError("A JSON web token could not be decoded (no Bearer authorization)")
        parts = header[len("Bearer "):].split(".")
        if len(parts) != 3:
            raise ValueError("A JSON web token could not be decoded")
        jose = json.loads(b64url_decode(parts[0]))
        if jose.get("alg") != "RS256" or jose.get("typ", "JWT") != "JWT":
            raise ValueError("A JSON web token could not be decoded (alg must be RS256)")
        try:
            self.state.public_key.verify(b64url_decode(parts[2]), (parts[0] + "." + parts[1]).encode("ascii"),
                                         padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise ValueError("A JSON web token could not be decoded (signature does not verify)")
        claims = json.loads(b64url_decode(parts[1]))
        iat, exp, iss = claims.get("iat"), claims.get("exp"), claims.get("iss")
        if type(iat) is not int or type(exp) is not int:
            raise ValueError("'Issued at' and 'Expiration time' claims must be integers")
        now = time.time()
        if iat > now + 60:
            raise ValueError("'Issued at' claim ('iat') must be an Integer representing a time in the past")
        if exp <= now:
            raise ValueError("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")
        if exp - iat > 600:
            raise ValueError("'Expiration time' claim ('exp') is too far in the future")
        if not isinstance(iss, str) or iss != self.state.app_id:
            raise ValueError("Integration not found ('iss' claim names another app)")
        return claims

    def check_headers(self):
        if self.headers.get("Accept") != "application/vnd.github+json":
            return "fake: Accept must be application/vnd.github+json"
        if self.headers.get("X-GitHub-Api-Version") != "2022-11-28":
            return "fake: X-GitHub-Api-Version must be 2022-11-28"
        if not self.headers.get("User-Agent"):
            return "Request forbidden by administrative rules. Please make sure your request has a User-Agent header"
        return None

    def handle_any(self):
        body = self.read_body()
        path = self.path.split("?", 1)[0]
        if path.startswith("/__"):
            return self.control(path, body)
        state = self.state
        record = {"method": self.command, "path": path, "accept": self.headers.get("Accept"),
                  "user_agent": self.headers.get("User-Agent"), "api_version": self.headers.get("X-GitHub-Api-Version"),
                  "content_type": self.headers.get("Content-Type"), "body": None, "claims": None}
        status, obj = self.route(path, body, record)
        record["status"] = status
        with state.lock:
            state.counts["total"] += 1
            if status == 401:
                state.counts["rejected"] += 1
            state.requests.append(record)
        self.answer(status, obj)

    def route(self, path, body, record):
        state = self.state
        with state.lock:
            if state.faults:
                fault = state.faults[0]
                fault["count"] -= 1
                if fault["count"] <= 0:
                    state.faults.pop(0)
                return fault["status"], {"message": "Server Error (injected)", "documentation_url": DOCS}
        problem = self.check_headers()
        if problem:
            return 400, {"message": problem, "documentation_url": DOCS}
        if path in ("/installation/token", "/installation/repositories"):
            return self.route_installation(path)
        try:
            record["claims"] = self.check_jwt()
        except (ValueError, KeyError, json.JSONDecodeError) as error:
            return 401, {"message": str(error), "documentation_url": DOCS}

        lookup = re.fullmatch(r"/(orgs|users)/([^/]+)/installation", path)
        if self.command == "GET" and lookup:
            with state.lock:
                state.counts["lookup"] += 1
            account_type = "org" if lookup.group(1) == "orgs" else "user"
            if state.owner and lookup.group(2).lower() == state.owner.lower() and account_type == state.owner_type:
                return 200, {"id": state.installation_id, "app_id": int(state.app_id) if state.app_id.isdigit() else 0,
                             "account": {"login": state.owner, "type": "Organization" if account_type == "org" else "User"}}
            return 404, {"message": "Not Found", "documentation_url": DOCS}

        mint = re.fullmatch(r"/app/installations/(\d+)/access_tokens", path)
        if self.command == "POST" and mint:
            if int(mint.group(1)) != state.installation_id:
                return 404, {"message": "Not Found", "documentation_url": DOCS}
            request = {}
            if body:
                if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
                    return 415, {"message": "fake: a body must be application/json", "documentation_url": DOCS}
                try:
                    request = json.loads(body)
                except ValueError:
                    return 400, {"message": "Problems parsing JSON", "documentation_url": DOCS}
                record["body"] = request
            repositories = request.get("repositories", [])
            if any(name not in state.repositories for name in repositories):
                return 422, {"message": "There is at least one repository that does not exist or is not accessible to the parent installation.",
                             "documentation_url": DOCS}
            wanted = request.get("permissions", {})
            for name, level in wanted.items():
                if LEVELS.get(level, 99) > LEVELS.get(state.permissions.get(name), 0):
                    return 422, {"message": "The permissions requested are not granted to this installation.",
                                 "documentation_url": DOCS}
            with state.lock:
                state.counts["mint"] += 1
                token, expiry = state.issue()
            answer = {"token": token, "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expiry)),
                      "permissions": wanted or state.permissions, "repository_selection": "selected" if repositories else "all"}
            if repositories:
                answer["repositories"] = [{"name": name} for name in repositories]
            return 201, answer
        return 404, {"message": "Not Found", "documentation_url": DOCS}

    def route_installation(self, path):
        """Calls made with an installation token itself, which GitHub accepts as `Bearer` or `token`."""
        state = self.state
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        with state.lock:
            if scheme.lower() not in ("bearer", "token") or state.tokens.get(token, 0) <= time.time():
                return 401, {"message": "Bad credentials", "documentation_url": DOCS}
            if self.command == "DELETE" and path == "/installation/token":
                del state.tokens[token]
                state.counts["revoked"] += 1
                state.write_tokens()
                return 204, None
            if self.command == "GET" and path == "/installation/repositories":
                return 200, {"total_count": len(state.repositories), "repositories": [{"name": r} for r in state.repositories]}
        return 404, {"message": "Not Found", "documentation_url": DOCS}

    def control(self, path, body):
        state = self.state
        with state.lock:
            if path == "/__counts":
                return self.answer(200, state.counts)
            if path == "/__requests":
                return self.answer(200, state.requests)
            if path == "/__revoke" and self.command == "POST":
                revoked = len(state.tokens)
                state.tokens.clear()
                state.write_tokens()
                return self.answer(200, {"revoked": revoked})
            if path == "/__issue" and self.command == "POST":
                token, expiry = state.issue()
                return self.answer(200, {"token": token, "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expiry))})
            if path == "/__faults" and self.command == "POST":
                spec = json.loads(body)
                state.faults.append({"status": int(spec["status"]), "count": int(spec.get("count", 1))})
                return self.answer(200, {"ok": True})
        self.answer(404, {"message": "Not Found"})

    do_GET = handle_any
    do_POST = handle_any
    do_DELETE = handle_any


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--public-key", required=True, help="the app's public key, PEM")
    parser.add_argument("--app-id", required=True, help="the app id the JWT's iss must carry")
    parser.add_argument("--installation-id", type=int, default=1)
    parser.add_argument("--owner", default="", help="the account the installation belongs to")
    parser.add_argument("--owner-type", choices=["org", "user"], default="org")
    parser.add_argument("--repositories", default="repo", help="comma list the installation can access")
    parser.add_argument("--permissions", default="contents=write,metadata=read", help="comma list of NAME=LEVEL granted")
    parser.add_argument("--tokens-file", required=True, help="where issued tokens are listed for the git server")
    parser.add_argument("--token-lifetime", type=int, default=3600, help="seconds an issued token lives")
    parser.add_argument("--lifetime", type=float, default=120, help="exit after this many seconds")
    args = parser.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.state = State(args)

    timer = threading.Timer(args.lifetime, lambda: os._exit(0))
    timer.daemon = True
    timer.start()

    sys.stdout.write("%d\n" % server.server_address[1])
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
