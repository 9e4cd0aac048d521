#!/usr/bin/env python3
"""An octo-sts style token exchange for tests, on 127.0.0.1.

GET /sts/exchange?scope=SCOPE&identity=POLICY with `Authorization: Bearer OIDC_JWT` answers
{"token": TOKEN} only when, as octo-sts checks: the JWT's RS256 signature verifies against the
issuer's JWKS (fetched from --jwks-url, key chosen by `kid`), `iss` is --issuer, `aud` is
--audience, `exp`/`nbf` hold, SCOPE and POLICY are the configured ones, and `sub` matches the
trust policy's --subject-pattern (a full-match regex). Otherwise 401/404 with {"message": why}.
GET /__count answers {"exchanged": N, "refused": M}.

With --mint-url (github_api_fake.py's /__issue) each exchange answers a new installation token
minted there, as octo-sts mints one through its GitHub App, so the GitHub fake knows, serves and
revokes it; otherwise every exchange answers --token.

Prints the port; serves until stdin closes or --lifetime ends.
"""
import argparse, json, re, time, urllib.parse, urllib.request

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fixture_http import JSONHandler, serve, unb64


class Handler(JSONHandler):
    def refuse(self, status, why):
        self.server.refused += 1
        self.reply(status, {"message": why})

    def do_GET(self):
        a = self.server.args
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/__count":
            return self.reply(200, {"exchanged": self.server.exchanged, "refused": self.server.refused})
        if url.path != "/sts/exchange":
            return self.reply(404, {"message": "not found"})
        query = dict(urllib.parse.parse_qsl(url.query))
        if query.get("scope") != a.scope or query.get("identity") != a.policy:
            return self.refuse(404, "unable to find trust policy %r in %r" % (query.get("identity"), query.get("scope")))
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return self.refuse(401, "missing bearer token")
        token = auth[len("Bearer "):]
        try:
            header_b64, claims_b64, signature_b64 = token.split(".")
            header = json.loads(unb64(header_b64))
            claims = json.loads(unb64(claims_b64))
            if header.get("alg") != "RS256":
                return self.refuse(401, "unsupported alg")
            jwks = json.loads(urllib.request.urlopen(a.jwks_url, timeout=5).read())
            key = next(k for k in jwks["keys"] if k["kid"] == header.get("kid"))
            public = rsa.RSAPublicNumbers(int.from_bytes(unb64(key["e"]), "big"), int.from_bytes(unb64(key["n"]), "big")).public_key()
            public.verify(unb64(signature_b64), (header_b64 + "." + claims_b64).encode(), padding.PKCS1v15(), hashes.SHA256())
        except Exception as error:  # any malformed or unverifiable token
            return self.refuse(401, "invalid token: %s" % type(error).__name__)
        now = time.time()
        if claims.get("iss") != a.issuer:
            return self.refuse(401, "issuer %r is not trusted" % claims.get("iss"))
        if claims.get("aud") != a.audience:
            return self.refuse(401, "audience %r is not %r" % (claims.get("aud"), a.audience))
        if not (claims.get("nbf", 0) - 30 <= now < claims.get("exp", 0)):
            return self.refuse(401, "token expired or not yet valid")
        if not re.fullmatch(a.subject_pattern, claims.get("sub", "")):
            return self.refuse(403, "subject %r does not match the trust policy" % claims.get("sub"))
        self.server.exchanged += 1
        if a.mint_url:
            minted = urllib.request.urlopen(urllib.request.Request(a.mint_url, data=b"", method="POST"), timeout=5).read()
            return self.reply(200, {"token": json.loads(minted)["token"]})
        self.reply(200, {"token": a.token})


def main():
    parser = argparse.ArgumentParser()
    for name in ("--jwks-url", "--issuer", "--audience", "--scope", "--policy", "--subject-pattern"):
        parser.add_argument(name, required=True)
    parser.add_argument("--token", default="")
    parser.add_argument("--mint-url", default="")
    parser.add_argument("--lifetime", type=int, default=120)
    args = parser.parse_args()
    serve(Handler, args.lifetime, args=args, exchanged=0, refused=0)


if __name__ == "__main__":
    main()
