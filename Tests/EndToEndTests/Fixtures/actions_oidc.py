#!/usr/bin/env python3
"""A GitHub Actions OIDC token service for tests, on 127.0.0.1.

GET /token?audience=AUD with `Authorization: bearer REQUEST_TOKEN` answers {"value": JWT}, as
the Actions runtime does for ACTIONS_ID_TOKEN_REQUEST_URL: an RS256 JWT with the real claim set
(iss, sub repo:OWNER/REPO:ref:..., aud, repository, repository_owner, ref, job_workflow_ref,
iat, nbf, exp) and a `kid` that names the key in GET /.well-known/jwks. A wrong or missing
bearer gets 401. GET /__count answers how many tokens were issued.

Usage: actions_oidc.py REQUEST_TOKEN [--lifetime SECONDS] [--token-lifetime SECONDS (default 300)];
prints the port, then serves until stdin closes (or the lifetime ends).
"""
import json, sys, time, urllib.parse

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fixture_http import JSONHandler, b64url, serve

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "fixture-key-1"
REPO = "acme/app"


TOKEN_LIFETIME = int(sys.argv[sys.argv.index("--token-lifetime") + 1]) if "--token-lifetime" in sys.argv else 300


def jwt(audience, issuer):
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "kid": KID}
    claims = {"iss": issuer, "sub": "repo:%s:ref:refs/heads/main" % REPO, "aud": audience,
              "repository": REPO, "repository_owner": REPO.split("/")[0], "ref": "refs/heads/main",
              "job_workflow_ref": "%s/.github/workflows/ci.yml@refs/heads/main" % REPO,
              "iat": now, "nbf": now - 5, "exp": now + TOKEN_LIFETIME}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    signature = KEY.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(signature)


class Handler(JSONHandler):
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/__count":
            return self.reply(200, {"issued": self.server.issued})
        if url.path == "/.well-known/jwks":
            numbers = KEY.public_key().public_numbers()
            n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
            e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
            return self.reply(200, {"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": KID, "n": b64url(n), "e": b64url(e)}]})
        if url.path != "/token":
            return self.reply(404, {"message": "Not Found"})
        if self.headers.get("Authorization", "") != "bearer " + self.server.request_token:
            return self.reply(401, {"message": "Bad credentials"})
        audience = dict(urllib.parse.parse_qsl(url.query)).get("audience", "https://github.com/" + REPO.split("/")[0])
        self.server.issued += 1
        self.reply(200, {"count": 1, "value": jwt(audience, "http://127.0.0.1:%d" % self.server.server_port)})


def main():
    lifetime = int(sys.argv[sys.argv.index("--lifetime") + 1]) if "--lifetime" in sys.argv else 120
    serve(Handler, lifetime, request_token=sys.argv[1], issued=0)


if __name__ == "__main__":
    main()
