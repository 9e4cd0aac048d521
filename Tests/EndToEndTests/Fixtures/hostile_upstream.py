#!/usr/bin/env python3
"""Hostile answers from the upstreams of CI and fleet identities, for the bad-input matrix and the
leak scan, on 127.0.0.1. Every wrong answer echoes the caller's secrets back where it can (the
bearer, the session token), so a client that quotes an answer verbatim leaks in the test.

The mode is part of the URL (or of the secret's name), so one server serves every row:

GET  /oidc/MODE?audience=A   the Actions ID token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL); a bearer
                             other than --request-token gets 401. MODE: ok (a JWT valid 10 min),
                             status500 (500 echoing the bearer), badjson (200, not JSON), noexp (a
                             JWT without exp), expired (exp 10 min ago), crlf (CR LF inside the token).
GET  /sts/MODE/sts/exchange  an octo-sts style exchange (github/sts url = http://HOST/sts/MODE).
                             MODE: ok ({"token": --sts-token}), missing ({}), crlf (CR LF inside the
                             token), control (a control character inside), huge (a 2 MiB token),
                             echo (403 whose message is the bearer).
POST /aws                    AWS JSON 1.1 (Secrets Manager GetSecretValue, SSM GetParameter): the
                             SecretId or Name picks the answer: ok / /ok (--secret-value), malformed
                             (200, not JSON), denied (AccessDeniedException echoing the session token), binary / /missing (no SecretString, no Parameter.Value).
POST /azure/MODE/TENANT/oauth2/v2.0/token  the Microsoft identity platform's token endpoint
                             (azure/client-secret authority = http://HOST/azure/MODE). MODE: badjson
                             (200, not JSON), missing (no access_token), nan (expires_in not a
                             number), huge (a 2 MiB token), echo (400 whose description quotes the
                             client secret).
POST /google/MODE/token      Google's OAuth 2.0 token endpoint (gcp/adc token-uri = http://HOST/google/MODE/token),
                             answering a refresh-token grant. MODE: badjson (200, not JSON, echoing the
                             refresh token), missing (no access_token), nan (expires_in not a number),
                             huge (a 2 MiB token), invalid_grant (400 whose description quotes the
                             refresh token), html502 (a proxy's HTML 502 page quoting the client secret).
GET  /__count                {"requests": N}

Usage: hostile_upstream.py --request-token T --sts-token S --secret-value V; prints the port and
serves until stdin closes or --lifetime ends.
"""
import argparse, json, time, urllib.parse

from fixture_http import JSONHandler, b64url, serve


def jwt(claims):
    header = {"alg": "RS256", "typ": "JWT", "kid": "hostile"}
    return b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode()) + "." + b64url(b"not-a-signature")


class Handler(JSONHandler):
    def raw(self, status, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.server.requests += 1
        a = self.server.args
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        bearer = self.headers.get("Authorization", "").partition(" ")[2]
        if url.path == "/__count":
            return self.reply(200, {"requests": self.server.requests})
        if parts[0] == "oidc" and len(parts) == 2:
            if bearer != a.request_token:
                return self.reply(401, {"message": "bad request token %s" % bearer})
            mode, now = parts[1], int(time.time())
            audience = dict(urllib.parse.parse_qsl(url.query)).get("audience", "")
            claims = {"iss": "https://token.actions.githubusercontent.com", "sub": "repo:acme/app:ref:refs/heads/main",
                      "aud": audience, "iat": now, "nbf": now - 5, "exp": now + 600}
            if mode == "ok":
                return self.reply(200, {"value": jwt(claims)})
            if mode == "status500":
                return self.reply(500, {"message": "internal error while serving bearer %s" % bearer})
            if mode == "badjson":
                return self.raw(200, b"{value: " + bearer.encode())
            if mode == "noexp":
                del claims["exp"]
                return self.reply(200, {"value": jwt(claims)})
            if mode == "expired":
                claims["exp"] = now - 600
                return self.reply(200, {"value": jwt(claims)})
            if mode == "crlf":
                return self.reply(200, {"value": jwt(claims) + "\r\nX-Injected: 1"})
        if parts[0] == "sts" and len(parts) == 4 and parts[2:] == ["sts", "exchange"]:
            mode = parts[1]
            if mode == "ok":
                return self.reply(200, {"token": a.sts_token})
            if mode == "missing":
                return self.reply(200, {})
            if mode == "crlf":
                return self.reply(200, {"token": a.sts_token + "\r\nhost=evil.example"})
            if mode == "control":
                return self.reply(200, {"token": a.sts_token + "\x01\x1b[2J"})
            if mode == "huge":
                return self.reply(200, {"token": "g" * (2 << 20)})
            if mode == "echo":
                return self.reply(403, {"message": "subject refused for token %s" % bearer})
        self.reply(404, {"message": "not found"})

    def do_POST(self):
        self.server.requests += 1
        a = self.server.args
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        parts = urllib.parse.urlsplit(self.path).path.strip("/").split("/")
        if parts[0] == "google" and len(parts) == 3 and parts[2] == "token":
            form = dict(urllib.parse.parse_qsl(body.decode()))
            mode, refresh = parts[1], form.get("refresh_token", "(no refresh token)")
            if mode == "badjson":
                return self.raw(200, b"{access_token: " + refresh.encode())
            if mode == "missing":
                return self.reply(200, {"token_type": "Bearer", "expires_in": 3599, "scope": "openid"})
            if mode == "nan":
                return self.reply(200, {"token_type": "Bearer", "expires_in": "soon", "access_token": "ya29.hunter2"})
            if mode == "huge":
                return self.reply(200, {"token_type": "Bearer", "expires_in": 3599, "access_token": "g" * (2 << 20)})
            if mode == "invalid_grant":
                return self.reply(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked: %s" % refresh})
            if mode == "html502":
                page = "<html><head><title>502 Bad Gateway</title></head><body>upstream failed for %s</body></html>"
                return self.raw(502, (page % form.get("client_secret", "")).encode(), "text/html")
            return self.reply(404, {"error": "not_found"})
        if parts[0] == "azure" and len(parts) == 6:
            form = dict(urllib.parse.parse_qsl(body.decode()))
            mode, secret = parts[1], form.get("client_secret", "(no secret)")
            if mode == "badjson":
                return self.raw(200, b"{access_token: " + secret.encode())
            if mode == "missing":
                return self.reply(200, {"token_type": "Bearer", "expires_in": 3599})
            if mode == "nan":
                return self.reply(200, {"token_type": "Bearer", "expires_in": "soon", "access_token": "eyJhunter2"})
            if mode == "huge":
                return self.reply(200, {"token_type": "Bearer", "expires_in": 3599, "access_token": "g" * (2 << 20)})
            if mode == "echo":
                return self.reply(400, {"error": "invalid_client",
                                        "error_description": "AADSTS7000215: Invalid client secret provided: %s" % secret})
            return self.reply(404, {"error": "not_found"})
        request = json.loads(body or b"{}")
        target = self.headers.get("X-Amz-Target", "")
        name = request.get("SecretId") or request.get("Name") or ""
        echoed = self.headers.get("X-Amz-Security-Token", "(no session token)")
        if name.lstrip("/") == "malformed":
            return self.raw(200, b"{\"SecretString\": " + a.secret_value.encode(), "application/x-amz-json-1.1")
        if name.lstrip("/") == "denied":
            return self.reply(400, {"__type": "AccessDeniedException",
                                    "message": "User is not authorized to perform %s with session token %s" % (target, echoed)})
        if target == "secretsmanager.GetSecretValue":
            if name == "ok":
                return self.reply(200, {"ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:ok", "Name": "ok",
                                        "SecretString": a.secret_value, "VersionId": "v1"})
            if name == "binary":
                return self.reply(200, {"ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:binary", "Name": "binary",
                                        "SecretBinary": "AAEC", "VersionId": "v1"})
        if target == "AmazonSSM.GetParameter":
            if name == "/ok":
                return self.reply(200, {"Parameter": {"Name": "/ok", "Type": "SecureString", "Value": a.secret_value, "Version": 1}})
            if name == "/missing":
                return self.reply(200, {"Parameter": {"Name": "/missing", "Type": "SecureString", "Version": 1}})
        self.reply(400, {"__type": "ResourceNotFoundException", "message": "no such thing: %s" % name})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--request-token", required=True)
    parser.add_argument("--sts-token", required=True)
    parser.add_argument("--secret-value", required=True)
    parser.add_argument("--lifetime", type=int, default=600)
    args = parser.parse_args()
    serve(Handler, args.lifetime, args=args, requests=0)


if __name__ == "__main__":
    main()
