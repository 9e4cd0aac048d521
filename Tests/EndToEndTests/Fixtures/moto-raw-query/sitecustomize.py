"""Makes moto verify S3 signatures over the query string exactly as it arrived on the wire.

On PYTHONPATH only for the env-wrap tests' moto. moto's verifier rebuilds the request URL from
werkzeug's `request.url`, which decodes `%3A`/`%2F` in the query (terraform's `prefix=env%3A%2F`),
so a correctly signed request fails with SignatureDoesNotMatch (TESTING.md, "moto gaps"). This
patch hands the verifier werkzeug's RAW_URI instead. It also hands the verifier the empty body of
a POST whose parameters are all in its query (google-auth's serialized GetCallerIdentity, which
Google replays to STS): moto would sign its parsed parameters as a form body, and a correctly
signed request fails the same way. It loads lazily: only a process that imports
moto's access control (moto_server) is touched.
"""

import importlib.abc
import sys

TARGET = "moto.iam.access_control"


def patch(module):
    original = module.IAMRequestBase.__init__

    def init(self, account_id, method, path, data, body, headers, action):
        try:
            from flask import has_request_context, request
            if has_request_context():
                raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
                if raw and raw.startswith("/"):
                    path = raw
        except ImportError:
            pass
        if method == "POST" and not body and "?" in path:
            data = {}
        original(self, account_id, method, path, data, body, headers, action)

    module.IAMRequestBase.__init__ = init


class Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        sys.meta_path.remove(self)
        try:
            import importlib.util
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def patched_exec(module):
            exec_module(module)
            patch(module)

        loader.exec_module = patched_exec
        return spec


sys.meta_path.insert(0, Finder())
