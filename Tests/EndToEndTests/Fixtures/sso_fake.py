#!/usr/bin/env python3
"""A strict fake of AWS IAM Identity Center: SSO OIDC and the SSO portal, on one loopback port.

Written from botocore's own service models (sso-oidc and sso, 2019-06-10, rest-json): the paths,
members, required members and error shapes below are read from those models at start-up, so a
request the real service would refuse for its shape is refused here too.

SSO OIDC:  POST /client/register, POST /device_authorization, POST /token (device_code and
           refresh_token grants). Errors: HTTP 400 (401 invalid_client) with header
           x-amzn-ErrorType: <Shape>Exception and body {"error": "<oauth code>", "error_description"}.
           Polling faster than the device code's interval answers slow_down, and (RFC 8628) adds
           5 s to that code's interval.
Portal:    GET /federation/credentials?role_name&account_id, GET /assignment/accounts,
           GET /assignment/roles?account_id, POST /logout; the access token in the
           x-amz-sso_bearer_token header; 401 UnauthorizedException {"message"} otherwise.
           GetRoleCredentials mints real credentials with moto's STS AssumeRole (signed with the
           base user's keys given on the command line), so they pass moto's signature checks.

Control (JSON bodies):
  POST /__control/config      {"interval", "device_expires_in", "access_token_lifetime",
                               "refresh_token_lifetime", "page_size", "slow_down_next",
                               "registration_lifetime"}
  GET  /__control/pending     [user codes waiting for approval]
  POST /__control/approve     {"user_code"} (or {} for every pending code): the person clicks Allow
  POST /__control/deny        {"user_code"} (or {}): the person clicks Deny
  POST /__control/expire      {"what": "access" | "refresh" | "device"}: every such token now expired
  GET  /__control/counts      {"RegisterClient": n, "CreateToken.device_code": n, ...}
  GET  /__control/polls       [monotonic seconds of each device-code CreateToken]
  GET  /__control/used        [access tokens GetRoleCredentials accepted, in order]
  GET  /__control/signins     [{"arn", "duration"}] of each SigninToken the /federation endpoint issued
Federation: GET /federation?Action=getSigninToken&SessionDuration&Session={sessionId,sessionKey,
           sessionToken}: the session is checked with moto's GetCallerIdentity (a role session), or
           for a federated user's session with moto_fixture's proxy, which saw moto issue it;
           SessionDuration is refused for a federated user's session, as AWS does.
  POST /__control/reset       zero counts and polls
It runs until stdin closes or --lifetime seconds pass.
"""

import argparse
import gzip
import glob
import http.server
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
import urllib.request

import botocore

ACCOUNTS = [
    # (id, name, [roles]); only the first account's `first` role is backed by a moto role.
    ("123456789012", "sandbox", ["first", "ReadOnly", "Billing"]),
    ("210987654321", "production", ["AdministratorAccess", "ReadOnly"]),
    ("333333333333", "audit", ["SecurityAudit"]),
]


def load_model(name):
    path = glob.glob(os.path.join(os.path.dirname(botocore.__file__), "data", name, "*", "service-2.json*"))[0]
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        return json.load(f)


OIDC = load_model("sso-oidc")
PORTAL = load_model("sso")


def operation(model, name):
    op = model["operations"][name]
    shape = model["shapes"][op["input"]["shape"]] if "input" in op else {"members": {}, "required": []}
    return op["http"], shape


class State:
    def __init__(self, moto_endpoint, base_key, base_secret, chain_session_name):
        self.lock = threading.Lock()
        self.moto_endpoint = moto_endpoint
        self.base_key = base_key
        self.base_secret = base_secret
        self.session_name = chain_session_name
        self.config = {"interval": 1, "device_expires_in": 600, "access_token_lifetime": 3600,
                       "refresh_token_lifetime": 28800, "page_size": 2, "slow_down_next": 0,
                       "registration_lifetime": 90 * 86400}
        self.clients = {}        # client_id -> {"secret", "expires"}
        self.devices = {}        # device_code -> {"client_id", "user_code", "expires", "interval", "last", "state"}
        self.access = {}         # token -> expires
        self.refresh = {}        # token -> {"client_id", "expires"}
        self.counts = {}
        self.polls = []
        self.used = []           # access tokens GetRoleCredentials accepted, in order
        self.signins = []        # {"arn", "duration"} of each SigninToken issued

    def count(self, name):
        self.counts[name] = self.counts.get(name, 0) + 1


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    # -- replies

    def reply(self, status, obj, headers=()):
        body = json.dumps(obj).encode() if obj is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def oauth_error(self, shape, code, description):
        status = OIDC["shapes"][shape]["error"]["httpStatusCode"]
        self.reply(status, {"error": code, "error_description": description}, [("x-amzn-ErrorType", shape)])

    def portal_error(self, shape, message):
        status = PORTAL["shapes"][shape]["error"]["httpStatusCode"]
        self.reply(status, {"message": message}, [("x-amzn-ErrorType", shape)])

    # -- routing

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def route(self, method):
        split = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if split.path.startswith("/__control/"):
            return self.control(method, split.path[len("/__control/"):], raw)
        if split.path == "/federation" and method == "GET":
            return self.federation(urllib.parse.parse_qs(split.query, keep_blank_values=True))
        for name in ("RegisterClient", "StartDeviceAuthorization", "CreateToken"):
            http_, shape = operation(OIDC, name)
            if http_["method"] == method and http_["requestUri"] == split.path:
                return self.oidc(name, shape, raw)
        for name in ("GetRoleCredentials", "ListAccounts", "ListAccountRoles", "Logout"):
            http_, shape = operation(PORTAL, name)
            if http_["method"] == method and http_["requestUri"] == split.path:
                return self.portal(name, shape, urllib.parse.parse_qs(split.query, keep_blank_values=True))
        self.reply(404, {"message": "no such operation: %s %s" % (method, split.path)})

    # -- SSO OIDC

    def oidc(self, name, shape, raw):
        state = self.server.state
        try:
            body = json.loads(raw or b"{}")
            assert isinstance(body, dict)
        except Exception:
            return self.oauth_error("InvalidRequestException", "invalid_request", "the body is not a JSON object")
        unknown = set(body) - set(shape["members"])
        missing = [m for m in shape.get("required", []) if m not in body]
        if unknown or missing:
            return self.oauth_error("InvalidRequestException", "invalid_request",
                                    "unknown members %s, missing %s" % (sorted(unknown), missing))
        now = time.time()
        with state.lock:
            if name == "RegisterClient":
                state.count(name)
                if body["clientType"] != "public":
                    return self.oauth_error("InvalidClientMetadataException", "invalid_client_metadata", "clientType must be public")
                client_id = "client-" + secrets.token_hex(8)
                expires = int(now + state.config["registration_lifetime"])
                state.clients[client_id] = {"secret": "csecret-" + secrets.token_hex(16), "expires": expires}
                return self.reply(200, {"clientId": client_id, "clientSecret": state.clients[client_id]["secret"],
                                        "clientIdIssuedAt": int(now), "clientSecretExpiresAt": expires})
            client = state.clients.get(body["clientId"])
            if not client or client["secret"] != body["clientSecret"] or client["expires"] < now:
                state.count(name + ".invalid_client")
                return self.oauth_error("InvalidClientException", "invalid_client", "unknown client or wrong secret")
            if name == "StartDeviceAuthorization":
                state.count(name)
                code = "device-" + secrets.token_hex(16)
                user_code = "%s-%s" % (secrets.token_hex(2).upper(), secrets.token_hex(2).upper())
                state.devices[code] = {"client_id": body["clientId"], "user_code": user_code,
                                       "expires": now + state.config["device_expires_in"],
                                       "interval": state.config["interval"], "last": None, "state": "pending"}
                base = "http://%s:%d/start" % self.server.server_address[:2]
                return self.reply(200, {"deviceCode": code, "userCode": user_code, "verificationUri": base,
                                        "verificationUriComplete": base + "?user_code=" + user_code,
                                        "expiresIn": state.config["device_expires_in"], "interval": state.config["interval"]})
            grant = body["grantType"]
            if grant == "urn:ietf:params:oauth:grant-type:device_code":
                state.count("CreateToken.device_code")
                state.polls.append(time.monotonic())
                device = state.devices.get(body.get("deviceCode"))
                if not device or device["client_id"] != body["clientId"]:
                    return self.oauth_error("InvalidGrantException", "invalid_grant", "unknown device code")
                if device["expires"] < now:
                    return self.oauth_error("ExpiredTokenException", "expired_token", "the device code expired")
                if device["state"] == "denied":
                    return self.oauth_error("AccessDeniedException", "access_denied", "the user denied the authorization")
                last, device["last"] = device["last"], time.monotonic()
                if state.config["slow_down_next"] > 0:
                    state.config["slow_down_next"] -= 1
                    device["interval"] += 5
                    return self.oauth_error("SlowDownException", "slow_down", "slow down")
                if last is not None and device["last"] - last < device["interval"] - 0.25:
                    device["interval"] += 5
                    state.count("CreateToken.too_fast")
                    return self.oauth_error("SlowDownException", "slow_down", "polled faster than the interval")
                if device["state"] == "pending":
                    return self.oauth_error("AuthorizationPendingException", "authorization_pending", "not yet approved")
                if device["state"] == "used":
                    return self.oauth_error("InvalidGrantException", "invalid_grant", "the device code was used")
                device["state"] = "used"
                return self.reply(200, self.issue(state, body["clientId"], now))
            if grant == "refresh_token":
                state.count("CreateToken.refresh_token")
                refresh = state.refresh.get(body.get("refreshToken"))
                if not refresh or refresh["client_id"] != body["clientId"]:
                    return self.oauth_error("InvalidGrantException", "invalid_grant", "unknown refresh token")
                if refresh["expires"] < now:
                    return self.oauth_error("InvalidGrantException", "invalid_grant", "the refresh token expired")
                answer = self.issue(state, body["clientId"], now, refresh_expires=refresh["expires"])
                del state.refresh[body["refreshToken"]]  # rotated, as the service does
                return self.reply(200, answer)
            return self.oauth_error("UnsupportedGrantTypeException", "unsupported_grant_type", "grant %s" % grant)

    def issue(self, state, client_id, now, refresh_expires=None):
        access = "atoken-" + secrets.token_hex(24)
        refresh = "rtoken-" + secrets.token_hex(24)
        state.access[access] = now + state.config["access_token_lifetime"]
        state.refresh[refresh] = {"client_id": client_id,
                                  "expires": refresh_expires or now + state.config["refresh_token_lifetime"]}
        return {"accessToken": access, "tokenType": "Bearer", "expiresIn": state.config["access_token_lifetime"],
                "refreshToken": refresh}

    # -- SSO portal

    def portal(self, name, shape, query):
        state = self.server.state
        values = {}
        for member, spec in shape["members"].items():
            if spec.get("location") == "header":
                value = self.headers.get(spec["locationName"])
            else:
                value = (query.get(spec.get("locationName", member)) or [None])[0]
            if value is not None:
                values[member] = value
        missing = [m for m in shape.get("required", []) if m not in values]
        with state.lock:
            state.count(name)
            if "accessToken" in missing:
                return self.portal_error("UnauthorizedException", "Session token not found or invalid")
            if missing:
                return self.portal_error("InvalidRequestException", "missing %s" % missing)
            expires = state.access.get(values["accessToken"])
            if expires is None or expires < time.time():
                return self.portal_error("UnauthorizedException", "Session token not found or invalid")
            if name == "Logout":
                del state.access[values["accessToken"]]
                return self.reply(200, None)
            size = int(values.get("maxResults") or 100)
            size = min(size, state.config["page_size"])
            start = int(values.get("nextToken", "0").lstrip("p") or 0)
            if name == "ListAccounts":
                items = [{"accountId": a, "accountName": n, "emailAddress": "%s@example.com" % n} for a, n, _ in ACCOUNTS]
                key = "accountList"
            elif name == "ListAccountRoles":
                roles = [r for a, _, rs in ACCOUNTS if a == values["accountId"] for r in rs]
                items = [{"roleName": r, "accountId": values["accountId"]} for r in roles]
                key = "roleList"
            else:
                state.used.append(values["accessToken"])
                return self.role_credentials(values)
            page = items[start:start + size]
            answer = {key: page}
            if start + size < len(items):
                answer["nextToken"] = "p%d" % (start + size)
            return self.reply(200, answer)

    def role_credentials(self, values):
        state = self.server.state
        if not any(values["accountId"] == a and values["roleName"] in rs for a, _, rs in ACCOUNTS):
            return self.portal_error("ResourceNotFoundException", "No access")
        import boto3
        sts = boto3.client("sts", endpoint_url=state.moto_endpoint, region_name="us-east-1",
                           aws_access_key_id=state.base_key, aws_secret_access_key=state.base_secret)
        arn = "arn:aws:iam::%s:role/%s" % (values["accountId"], values["roleName"])
        try:
            answer = sts.assume_role(RoleArn=arn, RoleSessionName=state.session_name, DurationSeconds=3600)
        except Exception as error:
            return self.portal_error("ResourceNotFoundException", "the role cannot be assumed here: %s" % type(error).__name__)
        c = answer["Credentials"]
        return self.reply(200, {"roleCredentials": {
            "accessKeyId": c["AccessKeyId"], "secretAccessKey": c["SecretAccessKey"], "sessionToken": c["SessionToken"],
            "expiration": int(c["Expiration"].timestamp() * 1000)}})

    # -- AWS sign-in federation (signin.aws.amazon.com/federation?Action=getSigninToken)

    def federation(self, query):
        state = self.server.state
        def one(name):
            values = query.get(name, [])
            return values[0] if len(values) == 1 else None
        if one("Action") != "getSigninToken":
            return self.reply(400, {"message": "Action must be getSigninToken"})
        duration = one("SessionDuration")
        if duration is not None and not (duration.isdigit() and 900 <= int(duration) <= 43200):
            return self.reply(400, {"message": "SessionDuration must be 900 to 43200"})
        try:
            session = json.loads(one("Session") or "")
            assert set(session) == {"sessionId", "sessionKey", "sessionToken"}
        except Exception:
            return self.reply(400, {"message": "Session must be a JSON object of sessionId, sessionKey, sessionToken"})
        import boto3
        sts = boto3.client("sts", endpoint_url=state.moto_endpoint, region_name="us-east-1",
                           aws_access_key_id=session["sessionId"], aws_secret_access_key=session["sessionKey"],
                           aws_session_token=session["sessionToken"])
        try:
            arn = sts.get_caller_identity()["Arn"]
        except Exception:
            # moto refuses its own federation tokens while auth is on; its proxy vouches for those it issued.
            arn = self.federation_arn(session)
            if arn is None:
                return self.reply(400, {"message": "the session credentials are not valid"})
        if ":assumed-role/" not in arn and ":federated-user/" not in arn:
            return self.reply(400, {"message": "only role or federation sessions may sign in"})
        if ":federated-user/" in arn and duration is not None:
            return self.reply(400, {"message": "SessionDuration is only for role sessions; a federation token's lasts as the token does"})
        with state.lock:
            state.signins.append({"arn": arn, "duration": int(duration) if duration else None})
        return self.reply(200, {"SigninToken": "signin-" + secrets.token_hex(32)})

    def federation_arn(self, session):
        request = urllib.request.Request(self.server.state.moto_endpoint + "/__federation/verify",
                                         data=json.dumps(session).encode(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return json.loads(answer.read())["arn"]
        except Exception:
            return None

    # -- control

    def control(self, method, what, raw):
        state = self.server.state
        body = json.loads(raw or b"{}") if method == "POST" else {}
        with state.lock:
            if what == "config":
                state.config.update(body)
                return self.reply(200, state.config)
            if what == "pending":
                return self.reply(200, [d["user_code"] for d in state.devices.values() if d["state"] == "pending"])
            if what in ("approve", "deny"):
                hits = 0
                for device in state.devices.values():
                    if device["state"] == "pending" and body.get("user_code") in (None, device["user_code"]):
                        device["state"] = "approved" if what == "approve" else "denied"
                        hits += 1
                return self.reply(200 if hits else 404, {"changed": hits})
            if what == "expire":
                past = time.time() - 1
                table = {"access": state.access, "device": state.devices}.get(body.get("what"))
                if body.get("what") == "refresh":
                    for r in state.refresh.values():
                        r["expires"] = past
                elif body.get("what") == "device":
                    for d in state.devices.values():
                        d["expires"] = past
                else:
                    for t in list(table):
                        table[t] = past
                return self.reply(200, {})
            if what == "counts":
                return self.reply(200, state.counts)
            if what == "polls":
                return self.reply(200, state.polls)
            if what == "used":
                return self.reply(200, state.used)
            if what == "signins":
                return self.reply(200, state.signins)
            if what == "reset":
                state.counts = {}
                state.polls = []
                return self.reply(200, {})
        self.reply(404, {"message": "no such control"})


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--moto", required=True)
    parser.add_argument("--access-key-id", required=True)
    parser.add_argument("--secret-access-key", required=True)
    parser.add_argument("--session-name", default="broker-chain")
    parser.add_argument("--lifetime", type=float, default=600)
    args = parser.parse_args()
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]
    server = Server(("127.0.0.1", 0), Handler)
    server.state = State(args.moto, args.access_key_id, args.secret_access_key, args.session_name)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    sys.stdout.write(json.dumps({"port": port, "endpoint": "http://127.0.0.1:%d" % port}) + "\n")
    sys.stdout.flush()
    closed = threading.Event()

    def watch():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            closed.set()

    threading.Thread(target=watch, daemon=True).start()
    closed.wait(args.lifetime)
    server.shutdown()


if __name__ == "__main__":
    main()
