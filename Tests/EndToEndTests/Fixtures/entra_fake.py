#!/usr/bin/env python3
"""A strict fake of the Microsoft identity platform (v2 token endpoint) and of Azure Resource
Manager's subscriptions list, for tests, on 127.0.0.1.

Serves the same routes twice: plain http (for the broker, which may use loopback http) and https
with a certificate from a test CA written to CA_PATH (azure-identity refuses http authorities;
point it at the CA with REQUESTS_CA_BUNDLE, never turning verification off).

Config (a JSON file): {"apps": [{"tenant", "client_id", "secret"?, "certificate_pem"?,
  "federated": [{"issuer", "subject", "audience", "jwks_url"}]?, "public": bool?}],
  "lifetime": seconds of each access token, "subscriptions": [{"id", "tenant", "name"}]}

Routes:
  POST /TENANT/oauth2/v2.0/token       client_credentials with client_secret, or a client
      assertion: signed by the app's certificate (RS256, x5t#S256 = SHA-256 of its DER, aud =
      this endpoint, iss = sub = client, exp in the future, at most 10 minutes long), or a
      federated OIDC token (signature against the issuer's JWKS, iss/sub/aud as registered).
      Also the device_code grant (authorization_pending until approved) and refresh_token.
  POST /TENANT/oauth2/v2.0/devicecode  device authorization for a public client.
  GET  /TENANT/v2.0/.well-known/openid-configuration   what MSAL reads first.
  GET  /subscriptions?api-version=...  ARM: only a live token for https://management.azure.com.
  GET  /__info, /__count, /__pending, /__approve?user_code=C, /__expire (every token dies), /__log.

Usage: entra_fake.py CONFIG_JSON CA_PATH; prints the http port, then serves until stdin closes.
"""
import base64, datetime, hashlib, http.server, json, os, secrets, ssl, sys, threading, time, urllib.parse, urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from fixture_http import b64url, unb64

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
ARM = "https://management.azure.com"


def normalized_resource(scope):
    value = scope[:-len("/.default")] if scope.endswith("/.default") else scope
    return value.rstrip("/")


def make_ca(path):
    """A test CA and a server certificate for 127.0.0.1 and localhost signed by it."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "entra_fake test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    import ipaddress
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    with open(path, "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    directory = os.path.dirname(os.path.abspath(path))
    cert_path, key_path = os.path.join(directory, "entra-server.pem"), os.path.join(directory, "entra-server.key")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


class State:
    def __init__(self, config, directory):
        self.lock = threading.Lock()
        # Every token issued, one a line, for leak scans to search for.
        self.issued_path = os.path.join(directory, "issued-tokens")
        self.apps = config["apps"]
        self.lifetime = int(config.get("lifetime", 3600))
        self.subscriptions = config.get("subscriptions", [])
        self.tokens = {}      # access token -> {resource, client_id, tenant, expires}
        self.refresh = {}     # refresh token -> {client_id, tenant, scope}
        self.devices = {}     # device code -> {user_code, approved, client_id, tenant, scope, expires}
        self.counts = {}
        self.log = []         # what each refusal said, for tests that check the reason
        self.jwks = {}
        self.ports = {}

    def count(self, what):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def mint(self, app, resource, with_refresh=False, scope=None):
        token = "fake-entra-at-" + secrets.token_hex(24)
        answer = {"token_type": "Bearer", "expires_in": self.lifetime, "ext_expires_in": self.lifetime, "access_token": token}
        with self.lock:
            self.tokens[token] = {"resource": resource, "client_id": app["client_id"], "tenant": app["tenant"],
                                  "expires": time.time() + self.lifetime}
            if with_refresh:
                refresh = "fake-entra-rt-" + secrets.token_hex(24)
                self.refresh[refresh] = {"client_id": app["client_id"], "tenant": app["tenant"], "scope": scope}
                answer["refresh_token"] = refresh
                answer["scope"] = scope
            with open(self.issued_path, "a") as f:
                f.write(token + "\n" + (answer.get("refresh_token", "") + "\n" if with_refresh else ""))
        return answer

    def app(self, tenant, client_id):
        for app in self.apps:
            if app["tenant"].lower() == tenant.lower() and app["client_id"].lower() == (client_id or "").lower():
                return app
        return None


def jwt_parts(token):
    header_text, claims_text, signature_text = token.split(".")
    return json.loads(unb64(header_text)), json.loads(unb64(claims_text)), (header_text + "." + claims_text).encode(), unb64(signature_text)


def verify_rs256(public_key, signing_input, signature):
    public_key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    @property
    def state(self):
        return self.server.state

    def reply(self, status, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def oauth_error(self, status, error, description, code):
        with self.state.lock:
            self.state.log.append("%s: %s" % (error, description))
        self.reply(status, {"error": error, "error_description": "AADSTS%d: %s\r\nTrace ID: %s" % (code, description, secrets.token_hex(8)),
                            "error_codes": [code], "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())})

    def own_urls(self, tenant, tail):
        return ["%s://127.0.0.1:%d/%s/%s" % (scheme, port, tenant, tail) for scheme, port in self.state.ports.items()] + \
               ["%s://localhost:%d/%s/%s" % (scheme, port, tenant, tail) for scheme, port in self.state.ports.items()]

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        parts = url.path.strip("/").split("/")
        if url.path == "/__info":
            return self.reply(200, {"ports": self.state.ports})
        if url.path == "/__count":
            with self.state.lock:
                return self.reply(200, dict(self.state.counts))
        if url.path == "/__log":
            with self.state.lock:
                return self.reply(200, {"log": list(self.state.log)})
        if url.path == "/__pending":
            with self.state.lock:
                return self.reply(200, {"user_codes": [d["user_code"] for d in self.state.devices.values() if not d["approved"]]})
        if url.path == "/__approve":
            with self.state.lock:
                for device in self.state.devices.values():
                    if device["user_code"] == query.get("user_code"):
                        device["approved"] = True
                        return self.reply(200, {"approved": True})
            return self.reply(404, {"approved": False})
        if url.path == "/__expire":
            with self.state.lock:
                for token in self.state.tokens.values():
                    token["expires"] = 0
            return self.reply(200, {})
        if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            tenant = parts[0]
            base = "https://127.0.0.1:%d/%s" % (self.state.ports["https"], tenant)
            return self.reply(200, {"token_endpoint": base + "/oauth2/v2.0/token", "authorization_endpoint": base + "/oauth2/v2.0/authorize",
                                    "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
                                    "issuer": "https://127.0.0.1:%d/%s/v2.0" % (self.state.ports["https"], tenant),
                                    "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"]})
        if url.path == "/subscriptions":
            return self.subscriptions(query)
        self.reply(404, {"error": {"code": "NotFound", "message": "no such route"}})

    def subscriptions(self, query):
        self.state.count("arm")
        if not query.get("api-version"):
            return self.reply(400, {"error": {"code": "MissingApiVersionParameter", "message": "The api-version query parameter (?api-version=) is required for all requests."}})
        auth = self.headers.get("Authorization", "")
        challenge = [("WWW-Authenticate", 'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token"')]
        if not auth.startswith("Bearer "):
            return self.reply(401, {"error": {"code": "AuthenticationFailed", "message": "Authentication failed. The 'Authorization' header is missing."}}, challenge)
        with self.state.lock:
            token = self.state.tokens.get(auth[len("Bearer "):])
        if token is None:
            return self.reply(401, {"error": {"code": "InvalidAuthenticationToken", "message": "The access token is invalid."}}, challenge)
        if token["expires"] <= time.time():
            return self.reply(401, {"error": {"code": "ExpiredAuthenticationToken", "message": "The access token expiry UTC time is earlier than current UTC time."}}, challenge)
        if token["resource"] != ARM:
            return self.reply(401, {"error": {"code": "InvalidAuthenticationToken", "message": "The access token has been obtained for wrong audience or resource '%s'." % token["resource"]}}, challenge)
        self.state.count("arm_ok")
        value = [{"id": "/subscriptions/" + s["id"], "subscriptionId": s["id"], "tenantId": s["tenant"], "displayName": s["name"], "state": "Enabled"}
                 for s in self.state.subscriptions if s["tenant"].lower() == token["tenant"].lower()]
        self.reply(200, {"value": value, "count": {"type": "Total", "value": len(value)}})

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode()
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            return self.oauth_error(400, "invalid_request", "The request body must contain the following parameter: 'grant_type'.", 900144)
        form = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
        if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
            return self.token(parts[0], form)
        if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "devicecode"]:
            return self.devicecode(parts[0], form)
        self.reply(404, {"error": "not_found"})

    def devicecode(self, tenant, form):
        app = self.state.app(tenant, form.get("client_id"))
        if app is None or not app.get("public"):
            return self.oauth_error(400, "unauthorized_client", "Application '%s' is not a public client in tenant '%s'." % (form.get("client_id"), tenant), 700016)
        device = secrets.token_hex(20)
        user = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9))
        with self.state.lock:
            self.state.devices[device] = {"user_code": user, "approved": False, "client_id": app["client_id"], "tenant": tenant,
                                          "scope": form.get("scope", ""), "expires": time.time() + 900}
        self.state.count("devicecode")
        self.reply(200, {"device_code": device, "user_code": user, "verification_uri": "https://microsoft.com/devicelogin",
                         "expires_in": 900, "interval": 1,
                         "message": "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code %s to authenticate." % user})

    def token(self, tenant, form):
        grant = form.get("grant_type")
        app = self.state.app(tenant, form.get("client_id"))
        if app is None:
            return self.oauth_error(400, "unauthorized_client", "Application with identifier '%s' was not found in the directory '%s'." % (form.get("client_id"), tenant), 700016)
        if grant == DEVICE_GRANT:
            return self.device_grant(app, form)
        if grant == "refresh_token":
            return self.refresh_grant(app, form)
        if grant != "client_credentials":
            return self.oauth_error(400, "unsupported_grant_type", "The provided value for the input parameter 'grant_type' is not valid.", 70003)
        scope = form.get("scope", "")
        if not scope.endswith("/.default") or " " in scope:
            return self.oauth_error(400, "invalid_scope", "The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier." % scope, 1002012)
        if "client_secret" in form:
            if not app.get("secret") or not secrets.compare_digest(form["client_secret"], app["secret"]):
                return self.oauth_error(401, "invalid_client", "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'." % app["client_id"], 7000215)
            self.state.count("secret")
        elif form.get("client_assertion_type") == ASSERTION_TYPE and form.get("client_assertion"):
            problem = self.check_assertion(app, tenant, form["client_assertion"])
            if problem:
                return self.oauth_error(*problem)
        else:
            return self.oauth_error(401, "invalid_client", "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", 7000218)
        self.state.count("issued")
        self.reply(200, self.state.mint(app, normalized_resource(scope)))

    def check_assertion(self, app, tenant, assertion):
        try:
            header, claims, signing_input, signature = jwt_parts(assertion)
        except Exception:
            return (401, "invalid_client", "The client assertion is not a JWT.", 50027)
        if header.get("alg") != "RS256":
            return (401, "invalid_client", "The client assertion's algorithm is not RS256.", 5002738)
        now = time.time()
        if "x5t#S256" in header or "x5t" in header:
            pem = app.get("certificate_pem")
            if not pem:
                return (401, "invalid_client", "No certificate is registered for app '%s'." % app["client_id"], 700027)
            cert = x509.load_pem_x509_certificate(pem.encode())
            der = cert.public_bytes(serialization.Encoding.DER)
            if header.get("x5t#S256") != b64url(hashlib.sha256(der).digest()):
                return (401, "invalid_client", "The certificate with identifier used to sign the client assertion is not registered on application.", 700027)
            try:
                verify_rs256(cert.public_key(), signing_input, signature)
            except Exception:
                return (401, "invalid_client", "Client assertion failed signature validation.", 7000274)
            if claims.get("aud") not in self.own_urls(tenant, "oauth2/v2.0/token"):
                return (401, "invalid_client", "The audience claim value is invalid '%s'." % claims.get("aud"), 700212)
            if claims.get("iss") != app["client_id"] or claims.get("sub") != app["client_id"]:
                return (401, "invalid_client", "The issuer and subject of the client assertion must be the client id.", 700021)
            if not claims.get("jti"):
                return (401, "invalid_client", "The client assertion has no jti.", 700024)
            if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
                return (401, "invalid_client", "Client assertion is not within its valid time range.", 700024)
            if isinstance(claims.get("nbf"), int) and claims["nbf"] > now + 300:
                return (401, "invalid_client", "Client assertion is not within its valid time range.", 700024)
            if claims["exp"] - claims.get("nbf", claims.get("iat", now)) > 660 + 300:
                return (401, "invalid_client", "Client assertion's lifetime is too long.", 700024)
            self.state.count("certificate")
            return None
        # A federated credential: an issuer's token, verified against that issuer's keys.
        for federated in app.get("federated", []):
            if claims.get("iss") != federated["issuer"]:
                continue
            jwks = self.server.state.jwks.get(federated["jwks_url"])
            if jwks is None:
                with urllib.request.urlopen(federated["jwks_url"], timeout=5) as response:
                    jwks = json.loads(response.read())
                self.server.state.jwks[federated["jwks_url"]] = jwks
            key = next((k for k in jwks["keys"] if k.get("kid") == header.get("kid")), None)
            if key is None:
                return (400, "invalid_request", "AADSTS70021-like: no key with kid '%s' at the issuer." % header.get("kid"), 70021)
            numbers = rsa.RSAPublicNumbers(int.from_bytes(unb64(key["e"]), "big"), int.from_bytes(unb64(key["n"]), "big"))
            try:
                verify_rs256(numbers.public_key(), signing_input, signature)
            except Exception:
                return (400, "invalid_request", "The federated token's signature does not verify.", 50013)
            audiences = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
            if federated["audience"] not in audiences:
                return (400, "invalid_request", "No matching federated identity record found for presented assertion audience '%s'." % claims.get("aud"), 700212)
            if claims.get("sub") != federated["subject"]:
                return (400, "invalid_request", "No matching federated identity record found for presented assertion subject '%s'." % claims.get("sub"), 70021)
            if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
                return (400, "invalid_request", "The presented assertion has expired.", 700024)
            self.state.count("federated")
            return None
        return (400, "invalid_request", "No matching federated identity record found for presented assertion issuer '%s'." % claims.get("iss"), 70021)

    def device_grant(self, app, form):
        with self.state.lock:
            device = self.state.devices.get(form.get("device_code", ""))
        if device is None or device["client_id"] != app["client_id"]:
            return self.oauth_error(400, "invalid_grant", "The provided value for the input parameter 'device_code' is not valid.", 70000)
        if device["expires"] <= time.time():
            return self.oauth_error(400, "expired_token", "The device code has expired.", 70020)
        if not device["approved"]:
            self.state.count("pending")
            return self.oauth_error(400, "authorization_pending", "The user has not yet completed authentication.", 70016)
        with self.state.lock:
            del self.state.devices[form["device_code"]]
        self.state.count("device")
        scope = device["scope"]
        self.reply(200, self.state.mint(app, normalized_resource(scope.split()[0]), with_refresh=True, scope=scope))

    def refresh_grant(self, app, form):
        with self.state.lock:
            entry = self.state.refresh.pop(form.get("refresh_token", ""), None)
        if entry is None or entry["client_id"] != app["client_id"]:
            return self.oauth_error(400, "invalid_grant", "The refresh token has expired or is invalid.", 700082)
        scope = form.get("scope") or entry["scope"]
        self.state.count("refresh")
        self.reply(200, self.state.mint(app, normalized_resource(scope.split()[0]), with_refresh=True, scope=scope))


def main():
    with open(sys.argv[1]) as f:
        config = json.load(f)
    state = State(config, os.path.dirname(os.path.abspath(sys.argv[2])))
    cert_path, key_path = make_ca(sys.argv[2])
    plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    secure = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    secure.socket = context.wrap_socket(secure.socket, server_side=True)
    for server in (plain, secure):
        server.daemon_threads = True
        server.state = state
    state.ports = {"http": plain.server_port, "https": secure.server_port}
    print(plain.server_port, flush=True)
    for server in (plain, secure):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()
    plain.shutdown()
    secure.shutdown()


if __name__ == "__main__":
    main()
