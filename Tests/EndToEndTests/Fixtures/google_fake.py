#!/usr/bin/env python3
"""Strict fakes of Google's token endpoint, STS, IAM Credentials and a Cloud Storage list, on 127.0.0.1.

Verifies what Google verifies, with the `cryptography` library:

  POST /token            OAuth 2.0 token endpoint.
                         jwt-bearer: the assertion's RS256 signature against the public key its
                         `kid` names, `iss` = that key's client_email, `aud` = this URL, `iat` not
                         in the future (60 s slack), `exp` - `iat` <= 3600 and not expired, a `scope`.
                         With `target_audience` instead of `scope` it answers {"id_token"} only, as
                         Google does (google-auth's service_account.IDTokenCredentials).
                         refresh_token: client_id, client_secret and refresh_token of the one user.
  POST /v1/token         STS token exchange. `audience` must be the pool provider below; a `jwt`
                         subject is verified against the OIDC issuer's JWKS (--oidc-jwks, the
                         Actions fake's) with `aud` = https://iam.googleapis.com/<provider path>;
                         an `aws4_request` subject (google-auth's serialized GetCallerIdentity) must
                         name the provider in x-goog-cloud-target-resource and is replayed to the
                         STS at --moto (moto with signature checks on), whose answer names the caller.
  POST /v1/projects/-/serviceAccounts/EMAIL:generateAccessToken (and :generateIdToken)
                         IAM Credentials. The bearer must be a live token; its principal must hold
                         token-creator on the first delegate, each delegate on the next, the last on
                         EMAIL (TOKEN_CREATORS below); lifetime <= 3600 s (43200 with --allow-12h).
  GET  /storage/v1/b?project=P   Cloud Storage bucket list; only live tokens (401 otherwise).
  GET  /oauth2/v1/certs  the ID-token signing key, {kid: PEM}, the shape google-auth's
                         id_token.verify_token reads.
  GET  /__stats          {"minted": {grant: n}, "listed": [principal, ...], "refused": n}

Every minted token lives --lifetime seconds (default 3600). Usage:
  google_fake.py DIR [--lifetime S] [--oidc-jwks URL] [--moto URL] [--allow-12h]
writes DIR/key.json (a service-account key for caller@...) and DIR/adc.json (an authorized_user
file), prints one JSON line {"port", "token_uri", "key", "adc", "audience", ...}, and serves
until stdin closes.
"""
import base64, datetime, http.client, json, os, secrets, sys, threading, time, urllib.parse, urllib.request

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers
from cryptography.exceptions import InvalidSignature

from fixture_http import JSONHandler, b64url, unb64, serve

PROJECT = "fake-project"
CALLER = "caller@fake-project.iam.gserviceaccount.com"
DELEGATE = "delegate@fake-project.iam.gserviceaccount.com"
TARGET = "target@fake-project.iam.gserviceaccount.com"
WIF_TARGET = "wif-target@fake-project.iam.gserviceaccount.com"
PROVIDER = "projects/123456789/locations/global/workloadIdentityPools/pool/providers/provider"
AUDIENCE = "//iam.googleapis.com/" + PROVIDER
USER = {"client_id": "fake-client.apps.googleusercontent.com", "client_secret": "fake-client-secret",
        "refresh_token": "1//fake-refresh-token", "principal": "user:alice@example.com"}
# target -> principals (or principal prefixes ending in '*') holding roles/iam.serviceAccountTokenCreator on it.
TOKEN_CREATORS = {
    DELEGATE: {CALLER},
    TARGET: {DELEGATE},
    WIF_TARGET: {"principal://iam.googleapis.com/" + PROVIDER + "/*"},
}

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEY_ID = secrets.token_hex(20)
SIGNER = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # Google's own, for ID tokens


def now():
    return int(time.time())


def id_token(audience, email, lifetime):
    """An ID token signed with Google's (the fake's) key, the claims Google's carry."""
    header = {"alg": "RS256", "typ": "JWT", "kid": "google-fake"}
    claims = {"iss": "https://accounts.google.com", "aud": audience, "azp": email, "sub": email, "email": email,
              "email_verified": True, "iat": now(), "exp": now() + min(lifetime, 3600)}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    return signing_input + "." + b64url(SIGNER.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()))


def verify_rs256(token, public_key):
    header_b64, claims_b64, signature_b64 = token.split(".")
    public_key.verify(unb64(signature_b64), (header_b64 + "." + claims_b64).encode(), padding.PKCS1v15(), hashes.SHA256())
    return json.loads(unb64(header_b64)), json.loads(unb64(claims_b64))


class Handler(JSONHandler):
    def oauth_error(self, status, error, description):
        self.server.refused += 1
        self.reply(status, {"error": error, "error_description": description})

    def api_error(self, status, state, message):
        self.server.refused += 1
        self.reply(status, {"error": {"code": status, "message": message, "status": state}})

    def mint(self, grant, principal, lifetime=None):
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        lifetime = lifetime or self.server.lifetime
        with self.server.lock:
            self.server.tokens[token] = (principal, now() + lifetime)
            self.server.minted[grant] = self.server.minted.get(grant, 0) + 1
        return token, lifetime

    def bearer(self):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return None
        principal, expiry = self.server.tokens.get(auth[7:], (None, 0))
        return principal if principal and expiry > now() else None

    def form(self):
        length = int(self.headers.get("Content-Length", "0"))
        return dict(urllib.parse.parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/__stats":
            return self.reply(200, {"minted": self.server.minted, "listed": self.server.listed, "refused": self.server.refused})
        if url.path == "/oauth2/v1/certs":
            pem = SIGNER.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            return self.reply(200, {"google-fake": pem.decode()})
        if url.path == "/storage/v1/b":
            principal = self.bearer()
            if not principal:
                return self.api_error(401, "UNAUTHENTICATED", "Invalid Credentials")
            project = dict(urllib.parse.parse_qsl(url.query)).get("project")
            if project != PROJECT:
                return self.api_error(400, "INVALID_ARGUMENT", "unknown project")
            self.server.listed.append(principal)
            return self.reply(200, {"kind": "storage#buckets", "items": [
                {"kind": "storage#bucket", "id": "fake-bucket", "name": "fake-bucket", "projectNumber": "123456789",
                 "location": "US", "storageClass": "STANDARD", "timeCreated": "2026-01-01T00:00:00.000Z",
                 "updated": "2026-01-01T00:00:00.000Z", "metageneration": "1", "etag": "CAE="}]})
        self.reply(404, {"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND"}})

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/token":
            return self.token(self.form())
        if url.path == "/v1/token":
            return self.sts(self.form())
        prefix = "/v1/projects/-/serviceAccounts/"
        if url.path.startswith(prefix) and ":" in url.path:
            target, method = url.path[len(prefix):].rsplit(":", 1)
            length = int(self.headers.get("Content-Length", "0"))
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                return self.api_error(400, "INVALID_ARGUMENT", "body is not JSON")
            return self.iam(target, method, body)
        self.reply(404, {"error": "not_found"})

    # OAuth 2.0 token endpoint
    def token(self, form):
        grant = form.get("grant_type")
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            assertion = form.get("assertion", "")
            try:
                header = json.loads(unb64(assertion.split(".")[0]))
            except Exception:
                return self.oauth_error(400, "invalid_grant", "Invalid JWT: not a JWT")
            if header.get("alg") != "RS256" or header.get("kid") != KEY_ID:
                return self.oauth_error(400, "invalid_grant", "Invalid JWT Signature.")
            try:
                _, claims = verify_rs256(assertion, KEY.public_key())
            except (InvalidSignature, ValueError):
                return self.oauth_error(400, "invalid_grant", "Invalid JWT Signature.")
            if claims.get("iss") != CALLER:
                return self.oauth_error(400, "invalid_grant", "Invalid issuer")
            if claims.get("aud") != self.server.token_uri:
                return self.oauth_error(400, "invalid_grant", "Invalid JWT: Failed audience check.")
            iat, exp = claims.get("iat", 0), claims.get("exp", 0)
            if iat > now() + 60 or exp <= now() or exp - iat > 3600:
                return self.oauth_error(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
            if not claims.get("scope") and not claims.get("target_audience"):
                return self.oauth_error(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
            if claims.get("target_audience") and not claims.get("scope"):
                with self.server.lock:
                    self.server.minted["jwt-bearer-id-token"] = self.server.minted.get("jwt-bearer-id-token", 0) + 1
                return self.reply(200, {"id_token": id_token(claims["target_audience"], CALLER, self.server.lifetime)})
            token, lifetime = self.mint("jwt-bearer", CALLER)
            return self.reply(200, {"access_token": token, "expires_in": lifetime, "token_type": "Bearer"})
        if grant == "refresh_token":
            if any(form.get(k) != USER[k] for k in ("client_id", "client_secret")):
                return self.oauth_error(401, "invalid_client", "The OAuth client was not found.")
            if form.get("refresh_token") != USER["refresh_token"]:
                return self.oauth_error(400, "invalid_grant", "Bad Request")
            token, lifetime = self.mint("refresh_token", USER["principal"])
            return self.reply(200, {"access_token": token, "expires_in": lifetime, "token_type": "Bearer",
                                    "scope": "https://www.googleapis.com/auth/cloud-platform"})
        self.oauth_error(400, "unsupported_grant_type", "Invalid grant_type: " + str(grant))

    # STS token exchange
    def sts(self, form):
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange":
            return self.oauth_error(400, "unsupported_grant_type", "Unsupported grant_type")
        if form.get("audience") != AUDIENCE:
            return self.oauth_error(400, "invalid_target", "The target service indicated by the \"audience\" parameters is invalid.")
        if form.get("requested_token_type") != "urn:ietf:params:oauth:token-type:access_token":
            return self.oauth_error(400, "invalid_request", "Invalid requested_token_type")
        kind, subject = form.get("subject_token_type"), form.get("subject_token", "")
        if kind in ("urn:ietf:params:oauth:token-type:jwt", "urn:ietf:params:oauth:token-type:id_token"):
            principal = self.oidc_subject(subject)
        elif kind == "urn:ietf:params:aws:token-type:aws4_request":
            principal = self.aws_subject(subject)
        else:
            return self.oauth_error(400, "invalid_request", "Invalid subject_token_type")
        if isinstance(principal, tuple):
            return self.oauth_error(400, *principal)
        token, lifetime = self.mint("token-exchange", principal)
        self.reply(200, {"access_token": token, "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                         "token_type": "Bearer", "expires_in": lifetime})

    def oidc_subject(self, token):
        if not self.server.oidc_jwks:
            return ("invalid_grant", "no OIDC issuer is configured")
        try:
            header = json.loads(unb64(token.split(".")[0]))
            keys = json.loads(urllib.request.urlopen(self.server.oidc_jwks, timeout=5).read())["keys"]
            jwk = next(k for k in keys if k["kid"] == header.get("kid"))
            public = RSAPublicNumbers(int.from_bytes(unb64(jwk["e"]), "big"), int.from_bytes(unb64(jwk["n"]), "big")).public_key()
            _, claims = verify_rs256(token, public)
        except (StopIteration, InvalidSignature, ValueError, KeyError, IndexError):
            return ("invalid_grant", "The subject token's signature could not be verified.")
        if claims.get("aud") != "https://iam.googleapis.com/" + PROVIDER:
            return ("invalid_grant", "The audience in ID Token does not match the expected audience.")
        if claims.get("exp", 0) <= now():
            return ("invalid_grant", "The subject token has expired.")
        return "principal://iam.googleapis.com/%s/subject/%s" % (PROVIDER, claims.get("sub"))

    def aws_subject(self, subject):
        try:
            request = json.loads(urllib.parse.unquote(subject))
            headers = {h["key"]: h["value"] for h in request["headers"]}
            target = urllib.parse.urlsplit(request["url"])
        except (ValueError, KeyError, TypeError):
            return ("invalid_request", "The subject token is not a serialized AWS request.")
        if headers.get("x-goog-cloud-target-resource") != AUDIENCE:
            return ("invalid_grant", "The subject token's target resource does not match the audience.")
        if request.get("method") != "POST" or target.scheme != "https" or not target.hostname.startswith("sts.") \
                or not target.hostname.endswith(".amazonaws.com") or urllib.parse.parse_qs(target.query).get("Action") != ["GetCallerIdentity"]:
            return ("invalid_grant", "The subject token is not a GetCallerIdentity request to AWS STS.")
        # Replay to moto with exactly the signed headers (Host included): moto checks the signature.
        moto = urllib.parse.urlsplit(self.server.moto)
        connection = http.client.HTTPConnection(moto.hostname, moto.port, timeout=10)
        connection.putrequest("POST", "/?" + target.query, skip_host=True, skip_accept_encoding=True)
        for key, value in headers.items():
            if key != "x-goog-cloud-target-resource":
                connection.putheader(key, value)
        connection.putheader("Content-Length", "0")
        connection.endheaders()
        answer = connection.getresponse()
        body = answer.read().decode()
        connection.close()
        if answer.status != 200 or "<Arn>" not in body:
            return ("invalid_grant", "AWS did not accept the signed GetCallerIdentity request (HTTP %d)." % answer.status)
        arn = body.split("<Arn>")[1].split("</Arn>")[0]
        return "principal://iam.googleapis.com/%s/aws/%s" % (PROVIDER, arn)

    # IAM Credentials
    def iam(self, target, method, body):
        caller = self.bearer()
        if not caller:
            return self.api_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        chain = [d.split("/")[-1] for d in body.get("delegates", [])] + [target]
        holder = caller
        for account in chain:
            allowed = TOKEN_CREATORS.get(account, set())
            if not any(holder == p or (p.endswith("*") and holder.startswith(p[:-1])) for p in allowed):
                return self.api_error(403, "PERMISSION_DENIED", "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).")
            holder = account
        if method == "generateAccessToken":
            lifetime = body.get("lifetime", "3600s")
            if not lifetime.endswith("s") or not lifetime[:-1].isdigit():
                return self.api_error(400, "INVALID_ARGUMENT", "Invalid lifetime")
            seconds = int(lifetime[:-1])
            if seconds > (43200 if self.server.allow_12h else 3600):
                return self.api_error(400, "INVALID_ARGUMENT", "The lifetime exceeds the maximum allowed.")
            if not body.get("scope"):
                return self.api_error(400, "INVALID_ARGUMENT", "Scope required.")
            token, lifetime = self.mint("generateAccessToken", target, min(seconds, self.server.lifetime))
            expiry = datetime.datetime.fromtimestamp(now() + lifetime, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            return self.reply(200, {"accessToken": token, "expireTime": expiry})
        if method == "generateIdToken":
            if not body.get("audience"):
                return self.api_error(400, "INVALID_ARGUMENT", "Audience required.")
            with self.server.lock:
                self.server.minted["generateIdToken"] = self.server.minted.get("generateIdToken", 0) + 1
            return self.reply(200, {"token": id_token(body["audience"], target, self.server.lifetime)})
        self.api_error(404, "NOT_FOUND", "unknown method")


def main():
    directory = sys.argv[1]
    option = lambda name, default: sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default
    import http.server
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port = server.server_port
    server.lock = threading.Lock()
    server.tokens, server.minted, server.listed, server.refused = {}, {}, [], 0
    server.lifetime = int(option("--lifetime", "3600"))
    server.oidc_jwks = option("--oidc-jwks", None)
    server.moto = option("--moto", None)
    server.allow_12h = "--allow-12h" in sys.argv
    server.token_uri = "http://127.0.0.1:%d/token" % port
    pem = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    key = {"type": "service_account", "project_id": PROJECT, "private_key_id": KEY_ID, "private_key": pem,
           "client_email": CALLER, "client_id": "1234567890", "auth_uri": "https://accounts.google.com/o/oauth2/auth",
           "token_uri": server.token_uri}
    adc = {"type": "authorized_user", "client_id": USER["client_id"], "client_secret": USER["client_secret"],
           "refresh_token": USER["refresh_token"], "quota_project_id": PROJECT}
    for name, document in (("key.json", key), ("adc.json", adc)):
        path = os.path.join(directory, name)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            json.dump(document, f)
    print(json.dumps({"port": port, "endpoint": "http://127.0.0.1:%d" % port, "token_uri": server.token_uri,
                      "key": os.path.join(directory, "key.json"), "adc": os.path.join(directory, "adc.json"),
                      "audience": AUDIENCE, "project": PROJECT, "caller": CALLER, "delegate": DELEGATE,
                      "target": TARGET, "wif_target": WIF_TARGET}), flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
