#!/usr/bin/env python3
"""A moto_server for STS tests: provisioned, signature checks on, behind a counting proxy.

Starts moto on a free loopback port, provisions (with auth still off) an IAM user `dev` with an
access key, a role `first` the user may assume and a role `second` that `first`'s sessions may
assume only with ExternalId `ext-123`, then turns moto's SigV4 verification on and prints one
JSON line:

  {"port", "endpoint", "moto_endpoint", "access_key_id", "secret_access_key", "user_arn",
   "first_role_arn", "second_role_arn", "chain_session_name", "external_id", "account"}

`endpoint` is a counting proxy in front of moto. It forwards each request's bytes, and its Host
header, unchanged (so signatures still verify) and answers:

  GET  /__counts        {"AssumeRole": 2, ..., "__total": 3, "__unsigned": 1}: STS requests received
                        per Action, in all, and without an Authorization header
  GET  /__requests      [{"method", "path", "content_type", "authorization", "has_security_token",
                          "params"}]: what each STS request looked like (parameter names only)
  POST /__counts/reset  zero the counts and forget the requests
  POST /__faults        body {"status": 503, "count": 2, "code": "ServiceUnavailable"}: answer the
                        next `count` requests with that status and an STS error body instead of
                        forwarding them (they are counted); with "body": "...", send that body instead;
                        "headers": {"Location": "..."} adds headers
  POST /__auth          body "on" or "off": moto's signature and policy checks
  POST /__federation/verify  body {"sessionId", "sessionKey", "sessionToken"}: {"arn": FederatedUser
                        ARN} when moto issued exactly these credentials through GetFederationToken
                        (after checking that request's signature and the user's policy), else 404.
                        moto keeps no record of them and refuses them while auth is on, so the
                        proxy remembers each one it relayed.

It runs until stdin closes or --lifetime seconds pass (a safety net), then stops moto.
"""

import argparse
import http.client
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

ACCOUNT = "123456789012"
EXTERNAL_ID = "ext-123"
# moto matches a trust policy's principal against the caller's ARN by exact string, so the
# session ARN of the first hop must be listed as is; AWS itself would accept the role ARN alone.
CHAIN_SESSION_NAME = "broker-chain"


def log(text):
    sys.stderr.write("moto_fixture: %s\n" % text)
    sys.stderr.flush()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url, body, content_type="text/plain"):
    # moto's reset-auth reads the raw body: a form content type would make Flask swallow it.
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def die_with_parent():
    # Linux: moto gets SIGTERM if this fixture dies without cleaning up (SIGKILL, a crash).
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def start_moto(port, environment):
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=sys.stderr, env=environment,
        start_new_session=True, preexec_fn=die_with_parent)
    deadline = time.time() + 30
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit("moto_fixture: moto_server exited with status %d" % process.returncode)
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/moto-api/" % port, timeout=1):
                return process
        except Exception:
            time.sleep(0.05)
    stop_moto(process)
    raise SystemExit("moto_fixture: moto_server did not answer within 30 s")


def stop_moto(process):
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def provision(moto_endpoint):
    import boto3  # imported late: boto3 takes a while, and moto starts meanwhile

    admin = dict(endpoint_url=moto_endpoint, region_name="us-east-1",
                 aws_access_key_id="AKIAFIXTUREADMIN0000", aws_secret_access_key="fixture-admin-secret")
    iam = boto3.client("iam", **admin)
    user_arn = iam.create_user(UserName="dev")["User"]["Arn"]
    key = iam.create_access_key(UserName="dev")["AccessKey"]

    first_trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}]}
    first_arn = iam.create_role(RoleName="first", AssumeRolePolicyDocument=json.dumps(first_trust))["Role"]["Arn"]
    second_trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": [first_arn,
                              "arn:aws:sts::%s:assumed-role/first/%s" % (ACCOUNT, CHAIN_SESSION_NAME)]},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}}]}
    second_arn = iam.create_role(RoleName="second", AssumeRolePolicyDocument=json.dumps(second_trust))["Role"]["Arn"]

    may_assume = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": [first_arn, second_arn]},
        {"Effect": "Allow", "Action": ["sts:GetCallerIdentity", "sts:GetSessionToken", "sts:GetFederationToken"], "Resource": "*"}]})
    iam.put_user_policy(UserName="dev", PolicyName="assume", PolicyDocument=may_assume)
    iam.put_role_policy(RoleName="first", PolicyName="assume", PolicyDocument=may_assume)
    return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"],
            "user_arn": user_arn, "first_role_arn": first_arn, "second_role_arn": second_arn}


class Proxy(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, moto_port, moto_endpoint):
        super().__init__(("127.0.0.1", 0), ProxyHandler)
        self.moto_port = moto_port
        self.moto_endpoint = moto_endpoint
        self.lock = threading.Lock()
        self.counts = {}
        self.requests = []
        self.fault = None  # (status, remaining, code, body, headers)
        self.federation = {}  # access key id -> (secret, token, arn) that moto's GetFederationToken issued

    def count(self, action, signed, record):
        with self.lock:
            self.requests.append(record)
            keys = [action, "__total"] + ([] if signed else ["__unsigned"])
            for key in keys:
                self.counts[key] = self.counts.get(key, 0) + 1

    def remember_federation(self, data):
        import xml.etree.ElementTree as ET
        root = ET.fromstring(data)
        def text(name):
            found = [e.text for e in root.iter() if e.tag.split("}")[-1] == name]
            return found[0] if found else None
        with self.lock:
            self.federation[text("AccessKeyId")] = (text("SecretAccessKey"), text("SessionToken"), text("Arn"))

    def take_fault(self):
        with self.lock:
            if not self.fault or self.fault[1] <= 0:
                return None
            status, remaining, code, body, headers = self.fault
            self.fault = (status, remaining - 1, code, body, headers)
            return status, code, body, headers


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def reply(self, status, body, content_type="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        if self.path in ("/__counts", "/__requests"):
            with self.server.lock:
                data = self.server.counts if self.path == "/__counts" else self.server.requests
                self.reply(200, json.dumps(data).encode())
            return
        self.forward(b"")

    def do_POST(self):
        body = self.read_body()
        if self.path == "/__counts/reset":
            with self.server.lock:
                self.server.counts = {}
                self.server.requests = []
            self.reply(200, b"{}")
        elif self.path == "/__faults":
            spec = json.loads(body or b"{}")
            with self.server.lock:
                self.server.fault = (int(spec.get("status", 503)), int(spec.get("count", 1)),
                                     spec.get("code", "ServiceUnavailable"), spec.get("body"),
                                     list(spec.get("headers", {}).items()))
            self.reply(200, b"{}")
        elif self.path == "/__federation/verify":
            session = json.loads(body or b"{}")
            with self.server.lock:
                issued = self.server.federation.get(session.get("sessionId"))
            if issued and issued[:2] == (session.get("sessionKey"), session.get("sessionToken")):
                self.reply(200, json.dumps({"arn": issued[2]}).encode())
            else:
                self.reply(404, b"{}")
        elif self.path == "/__auth":
            count = b"0" if body.strip() == b"on" else b"inf"
            self.reply(200, post(self.server.moto_endpoint + "/moto-api/reset-auth", count))
        else:
            self.forward(body)

    def forward(self, body):
        pairs = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        pairs += urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query, keep_blank_values=True)
        fields = dict(pairs)
        record = {"method": self.command, "path": self.path, "content_type": self.headers.get("Content-Type"),
                  "authorization": self.headers.get("Authorization"),
                  "has_security_token": "X-Amz-Security-Token" in self.headers,
                  "params": [name for name, _ in pairs]}
        self.server.count(fields.get("Action", "(none)"), "Authorization" in self.headers, record)

        fault = self.server.take_fault()
        if fault:
            status, code, body, headers = fault
            if body is not None:
                self.reply(status, body.encode(), "text/html", headers)
                return
            error = ('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
                     '<Code>%s</Code><Message>injected by moto_fixture</Message></Error>'
                     '<RequestId>fixture</RequestId></ErrorResponse>' % code).encode()
            self.reply(status, error, "text/xml")
            return

        connection = http.client.HTTPConnection("127.0.0.1", self.server.moto_port, timeout=30)
        try:
            # putrequest with skip_host: the client's Host header (which it signed) goes through as is.
            connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() in ("connection", "keep-alive", "proxy-connection", "transfer-encoding"):
                    continue
                connection.putheader(name, value)
            connection.endheaders(body)
            response = connection.getresponse()
            data = response.read()
            if fields.get("Action") == "GetFederationToken" and response.status == 200:
                self.server.remember_federation(data)
            headers = [(n, v) for n, v in response.getheaders()
                       if n.lower() not in ("connection", "content-length", "transfer-encoding", "content-type")]
            self.reply(response.status, data, response.getheader("Content-Type") or "text/xml", headers)
        finally:
            connection.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lifetime", type=float, default=300, help="stop after this many seconds regardless")
    args = parser.parse_args()
    started = time.time()

    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("AWS_") and k not in ("BOTO_CONFIG",)}
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    os.environ.clear()
    os.environ.update(environment)

    moto_port = free_port()
    moto = start_moto(moto_port, environment)
    try:
        moto_endpoint = "http://127.0.0.1:%d" % moto_port
        fields = provision(moto_endpoint)
        post(moto_endpoint + "/moto-api/reset-auth", b"0")

        proxy = Proxy(moto_port, moto_endpoint)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        port = proxy.server_address[1]
        fields.update({"port": port, "endpoint": "http://127.0.0.1:%d" % port, "moto_endpoint": moto_endpoint,
                       "chain_session_name": CHAIN_SESSION_NAME, "external_id": EXTERNAL_ID, "account": ACCOUNT})
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()
        log("ready in %.1f s" % (time.time() - started))

        stdin_closed = threading.Event()

        def watch_stdin():
            try:
                while sys.stdin.buffer.read(4096):
                    pass
            finally:
                stdin_closed.set()

        threading.Thread(target=watch_stdin, daemon=True).start()
        stdin_closed.wait(max(0.0, args.lifetime - (time.time() - started)))
        proxy.shutdown()
    finally:
        stop_moto(moto)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    main()
