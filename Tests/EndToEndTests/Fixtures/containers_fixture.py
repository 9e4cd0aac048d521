#!/usr/bin/env python3
"""The container test bed: moto (ECR, STS, IAM; signature checks on), the CNCF registry with
htpasswd auth, and a fake EKS API server that authenticates k8s-aws-v1 tokens as
aws-iam-authenticator does. Prints one JSON line, then runs until stdin closes (or --lifetime).

  {"aws_endpoint", "account", "access_key_id", "secret_access_key", "user_arn",
   "deployer_role_arn", "outsider_role_arn", "registry", "static_user", "static_password",
   "oci_layout", "api_server", "ca_data", "cluster", "eks_endpoint", "eks_ca"}

* moto runs in this process (ThreadedMotoServer), so the API server can look up the secret of
  the access key a presigned URL names. IAM: user `dev` may assume roles `deployer` and
  `outsider`; all three may call sts:GetCallerIdentity, ecr:GetAuthorizationToken and
  eks:DescribeCluster. moto's EKS has cluster `cluster` (us-east-1): `eks_endpoint`, `eks_ca`.
* `aws_endpoint` is a proxy in front of moto that forwards bytes (and Host) unchanged, counts
  requests (GET /__counts: {"ecr:GetAuthorizationToken": n, "ecr-region:eu-west-1": n,
  "sts:AssumeRole": n, "eks:GET /clusters/NAME": n, ...}; POST /__counts/reset; POST /__auth with
  "on" or "off" for moto's signature checks) and gives ECR tokens a real 12-hour
  expiresAt (moto's is 2015-01-01).
* The registry (docker-registry, plain HTTP on 127.0.0.1) accepts `AWS` with the password
  moto's ECR token decodes to (`<account>-auth-token`), and `static_user`/`static_password`.
  `oci_layout` is a one-layer image in an OCI layout directory (`oci:DIR:v1`) to copy in.
* The API server (HTTPS, its own CA in `ca_data`) accepts `Authorization: Bearer k8s-aws-v1.…`
  only when: base64url decodes to a URL on the STS endpoint (`aws_endpoint`) with path `/`; query
  keys are all in aws-iam-authenticator's whitelist, each once; Action=GetCallerIdentity;
  x-k8s-aws-id is among X-Amz-SignedHeaders; X-Amz-Expires is 0..60; X-Amz-Date is at most 15
  minutes old. It then replays the URL as STS would check it, with `x-k8s-aws-id: <cluster>`: the
  query signature is recomputed by botocore's SigV4QueryAuth with the key's secret from moto, and
  the same credentials call moto's GetCallerIdentity directly, not through the counting proxy (signature checks on). The ARN
  (assumed-role → role) must be in the aws-auth mapping (`deployer` only). Then /version, /api,
  /apis, /api/v1 and the pod list of `default` are served; anything else is 401.
  GET /__fixture/stats (no auth), also as GET aws_endpoint/__api_stats over plain HTTP:
  {"accepted": n, "rejected": [reasons], "amz_dates": [X-Amz-Date of each accepted token]}.
"""

import argparse, base64, datetime, http.client, http.server, json, os, signal, socket, ssl
import subprocess, sys, tempfile, threading, time, urllib.parse, urllib.request, hashlib, tarfile, io, gzip

ACCOUNT = "123456789012"
CLUSTER = "test-cluster"
WHITELIST = {"action", "version", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires",
             "x-amz-security-token", "x-amz-signature", "x-amz-signedheaders"}


def log(text):
    sys.stderr.write("containers_fixture: %s\n" % text)
    sys.stderr.flush()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url, body, content_type="text/plain"):
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def provision(endpoint):
    import boto3
    admin = dict(endpoint_url=endpoint, region_name="us-east-1",
                 aws_access_key_id="AKIAFIXTUREADMIN0000", aws_secret_access_key="fixture-admin-secret")
    iam = boto3.client("iam", **admin)
    user_arn = iam.create_user(UserName="dev")["User"]["Arn"]
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}]})
    roles = {name: iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
             for name in ("deployer", "outsider")}
    allowed = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": list(roles.values())},
        {"Effect": "Allow", "Action": ["sts:GetCallerIdentity", "ecr:GetAuthorizationToken", "eks:DescribeCluster"], "Resource": "*"}]})
    iam.put_user_policy(UserName="dev", PolicyName="containers", PolicyDocument=allowed)
    for name in roles:
        iam.put_role_policy(RoleName=name, PolicyName="containers", PolicyDocument=allowed)
    cluster = boto3.client("eks", **admin).create_cluster(
        name=CLUSTER, roleArn="arn:aws:iam::%s:role/eks-cluster" % ACCOUNT, resourcesVpcConfig={})["cluster"]
    return {"eks_endpoint": cluster["endpoint"], "eks_ca": cluster["certificateAuthority"]["data"],
            "access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"], "user_arn": user_arn,
            "deployer_role_arn": roles["deployer"], "outsider_role_arn": roles["outsider"]}


def credentials_for(access_key_id):
    """(secret, session token) of a key moto issued, looked up in moto's own backends."""
    from moto.sts.models import sts_backends
    from moto.iam.models import iam_backends
    for role in sts_backends[ACCOUNT]["global"].assumed_roles:
        if role.access_key_id == access_key_id:
            return role.secret_access_key, role.session_token
    for user in iam_backends[ACCOUNT]["global"].users.values():
        for key in user.access_keys:
            if key.access_key_id == access_key_id:
                return key.secret_access_key, None
    return None, None


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.values = {}

    def add(self, *keys):
        with self.lock:
            for key in keys:
                self.values[key] = self.values.get(key, 0) + 1


class AWSProxy(http.server.ThreadingHTTPServer):
    daemon_threads = True


class AWSProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/__counts":
            with self.server.counts.lock:
                return self.reply(200, json.dumps(self.server.counts.values).encode())
        if self.path == "/__api_stats":
            api = self.server.api
            with api.lock:
                return self.reply(200, json.dumps({"accepted": api.accepted, "rejected": api.rejected,
                                                   "amz_dates": api.amz_dates}).encode())
        self.forward(b"")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path == "/__counts/reset":
            with self.server.counts.lock:
                self.server.counts.values = {}
            return self.reply(200, b"{}")
        if self.path == "/__auth":
            # moto mis-verifies EKS's signed GETs (botocore's own DescribeCluster fails too): such a case turns checks off around it.
            count = b"0" if body.strip() == b"on" else b"inf"
            return self.reply(200, post("http://127.0.0.1:%d/moto-api/reset-auth" % self.server.moto_port, count))
        self.forward(body)

    def forward(self, body):
        target = self.headers.get("X-Amz-Target", "")
        authorization = self.headers.get("Authorization", "")
        region = authorization.split("Credential=")[1].split("/")[2] if "Credential=" in authorization else "?"
        if self.path.startswith("/clusters/"):
            self.server.counts.add("eks:%s %s" % (self.command, urllib.parse.urlsplit(self.path).path))
        elif target:
            action = "ecr:" + target.split(".")[-1]
            self.server.counts.add(action, "ecr-region:" + region)
        else:
            fields = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
            fields.update(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            self.server.counts.add("sts:" + fields.get("Action", "(none)"))
        connection = http.client.HTTPConnection("127.0.0.1", self.server.moto_port, timeout=30)
        try:
            connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in ("connection", "keep-alive", "transfer-encoding"):
                    connection.putheader(name, value)
            connection.endheaders(body)
            response = connection.getresponse()
            data = response.read()
            if target.endswith("GetAuthorizationToken") and response.status == 200:
                document = json.loads(data)
                for item in document.get("authorizationData", []):
                    item["expiresAt"] = time.time() + 12 * 3600
                data = json.dumps(document).encode()
            self.reply(response.status, data, response.getheader("Content-Type") or "text/xml")
        finally:
            connection.close()


def start_registry(workdir, users):
    htpasswd = os.path.join(workdir, "htpasswd")
    with open(htpasswd, "w") as out:
        for user, password in users:
            line = subprocess.run(["htpasswd", "-nbB", user, password], check=True, capture_output=True, text=True).stdout.strip()
            out.write(line + "\n")
    port = free_port()
    config = os.path.join(workdir, "registry.yml")
    with open(config, "w") as out:
        out.write("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n"
                  "http:\n  addr: 127.0.0.1:%d\nauth:\n  htpasswd:\n    realm: test-registry\n    path: %s\n"
                  % (os.path.join(workdir, "storage"), port, htpasswd))
    environment = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    process = subprocess.Popen(["docker-registry", "serve", config], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=sys.stderr, env=environment, start_new_session=True)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/v2/" % port, timeout=1)
        except urllib.error.HTTPError as error:
            if error.code == 401:
                return process, "127.0.0.1:%d" % port
        except Exception:
            time.sleep(0.05)
    raise SystemExit("containers_fixture: docker-registry did not answer within 20 s")


def write_oci_layout(directory):
    """A one-layer image (a text file) in an OCI image layout, tag v1."""
    blobs = os.path.join(directory, "blobs", "sha256")
    os.makedirs(blobs)

    def blob(data):
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, digest), "wb") as out:
            out.write(data)
        return {"digest": "sha256:" + digest, "size": len(data)}

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        content = b"hello from the container test bed\n"
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime = len(content), 0
        tar.addfile(info, io.BytesIO(content))
    layer_tar = raw.getvalue()
    layer = blob(gzip.compress(layer_tar, mtime=0))
    layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
    config = blob(json.dumps({"architecture": "amd64", "os": "linux",
                              "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()]},
                              "config": {}}).encode())
    config["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                "config": config, "layers": [layer]}).encode())
    manifest["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
    manifest["annotations"] = {"org.opencontainers.image.ref.name": "v1"}
    with open(os.path.join(directory, "oci-layout"), "w") as out:
        json.dump({"imageLayoutVersion": "1.0.0"}, out)
    with open(os.path.join(directory, "index.json"), "w") as out:
        json.dump({"schemaVersion": 2, "manifests": [manifest]}, out)


def make_tls(workdir):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "containers-fixture-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = os.path.join(workdir, "server.crt"), os.path.join(workdir, "server.key")
    with open(cert_path, "wb") as out:
        out.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path, base64.b64encode(ca.public_bytes(serialization.Encoding.PEM)).decode()


class APIServer(http.server.ThreadingHTTPServer):
    daemon_threads = True


class APIHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, document):
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authenticate(self):
        """The ARN the token proves, mapped to a user name; raises ValueError with the reason."""
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise ValueError("no bearer token")
        token = header[len("Bearer "):]
        if not token.startswith("k8s-aws-v1."):
            raise ValueError("token is missing the k8s-aws-v1. prefix")
        encoded = token[len("k8s-aws-v1."):]
        if "=" in encoded:
            raise ValueError("token is padded")
        url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        parts = urllib.parse.urlsplit(url)
        sts = urllib.parse.urlsplit(self.server.sts_endpoint)
        if (parts.scheme, parts.netloc) != (sts.scheme, sts.netloc):
            raise ValueError("unexpected STS host %s://%s" % (parts.scheme, parts.netloc))
        if parts.path != "/":
            raise ValueError("unexpected path in pre-signed URL")
        pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        lowered = {}
        for name, value in pairs:
            if name.lower() not in WHITELIST:
                raise ValueError("non-whitelisted query parameter %s" % name)
            if name.lower() in lowered:
                raise ValueError("duplicate query parameter %s" % name)
            lowered[name.lower()] = value
        if lowered.get("action") != "GetCallerIdentity":
            raise ValueError("unexpected action parameter in pre-signed URL")
        if "x-k8s-aws-id" not in lowered.get("x-amz-signedheaders", "").split(";"):
            raise ValueError("client did not sign the x-k8s-aws-id header in the pre-signed URL")
        expires = int(lowered.get("x-amz-expires", "-1"))
        if not 0 <= expires <= 60:
            raise ValueError("invalid X-Amz-Expires parameter in pre-signed URL: %d" % expires)
        signed_at = datetime.datetime.strptime(lowered["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        age = (datetime.datetime.now(datetime.timezone.utc) - signed_at).total_seconds()
        if age > 15 * 60:
            raise ValueError("X-Amz-Date parameter is expired (15 minute expiration)")
        if age < -300:
            raise ValueError("X-Amz-Date parameter is in the future")
        # Replay as STS checks it: the query signature, with the cluster header this server expects.
        access_key_id, day, region, service, _ = lowered["x-amz-credential"].split("/")
        secret, session_token = credentials_for(access_key_id)
        if secret is None:
            raise ValueError("InvalidClientTokenId: unknown access key")
        if session_token is not None and lowered.get("x-amz-security-token") != session_token:
            raise ValueError("InvalidClientTokenId: wrong session token")
        from botocore.auth import SigV4QueryAuth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        operation = [(n, v) for n, v in pairs if n.lower() in ("action", "version")]
        request = AWSRequest(method="GET", url="%s://%s/?%s" % (parts.scheme, parts.netloc, urllib.parse.urlencode(operation)),
                             headers={"x-k8s-aws-id": self.server.cluster})
        auth = SigV4QueryAuth(Credentials(access_key_id, secret, session_token), service, region, expires=expires)
        request.context["timestamp"] = lowered["x-amz-date"]
        auth._modify_request_before_signing(request)
        string_to_sign = auth.string_to_sign(request, auth.canonical_request(request))
        if auth.signature(string_to_sign, request) != lowered.get("x-amz-signature"):
            raise ValueError("SignatureDoesNotMatch")
        import boto3
        identity = boto3.client("sts", endpoint_url=self.server.moto_endpoint, region_name=region,
                                aws_access_key_id=access_key_id, aws_secret_access_key=secret,
                                aws_session_token=session_token).get_caller_identity()
        arn = identity["Arn"]
        if ":assumed-role/" in arn:
            account_part, rest = arn.split(":assumed-role/")
            arn = account_part.replace(":sts:", ":iam:") + ":role/" + rest.split("/")[0]
        if arn not in self.server.mapping:
            raise ValueError("ARN %s is not mapped" % arn)
        with self.server.lock:
            self.server.amz_dates.append(lowered["x-amz-date"])
        return self.server.mapping[arn]

    def do_GET(self):
        if self.path == "/__fixture/stats":
            with self.server.lock:
                return self.reply(200, {"accepted": self.server.accepted, "rejected": self.server.rejected,
                                        "amz_dates": self.server.amz_dates})
        try:
            user = self.authenticate()
        except Exception as error:
            with self.server.lock:
                self.server.rejected.append(str(error))
            return self.reply(401, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                    "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
        with self.server.lock:
            self.server.accepted += 1
        path = urllib.parse.urlsplit(self.path).path
        if path == "/version":
            return self.reply(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0-fake-eks", "platform": "linux/amd64"})
        if path == "/api":
            return self.reply(200, {"kind": "APIVersions", "versions": ["v1"],
                                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
        if path == "/apis":
            return self.reply(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
        if path == "/api/v1":
            return self.reply(200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
                 "verbs": ["get", "list"], "shortNames": ["po"]}]})
        if path == "/api/v1/namespaces/default/pods":
            return self.reply(200, {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": [
                {"metadata": {"name": "hello-%s" % user, "namespace": "default", "creationTimestamp": "2026-01-01T00:00:00Z"},
                 "spec": {"containers": [{"name": "c", "image": "busybox"}]}, "status": {"phase": "Running"}}]})
        return self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lifetime", type=float, default=600)
    args = parser.parse_args()
    started = time.time()
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]
    from moto.server import ThreadedMotoServer
    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    workdir = tempfile.mkdtemp(prefix="containers-fixture-")
    registry = None
    try:
        moto_endpoint = "http://127.0.0.1:%d" % moto_port
        fields = provision(moto_endpoint)
        post(moto_endpoint + "/moto-api/reset-auth", b"0")

        proxy = AWSProxy(("127.0.0.1", 0), AWSProxyHandler)
        proxy.moto_port, proxy.counts = moto_port, Counts()
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        aws_endpoint = "http://127.0.0.1:%d" % proxy.server_address[1]

        static_user, static_password = "static-user", "static-pass-%d" % os.getpid()
        registry, registry_host = start_registry(workdir, [("AWS", "%s-auth-token" % ACCOUNT), (static_user, static_password)])
        layout = os.path.join(workdir, "layout")
        write_oci_layout(layout)

        cert, key, ca_data = make_tls(workdir)
        api = APIServer(("127.0.0.1", 0), APIHandler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        api.socket = context.wrap_socket(api.socket, server_side=True)
        api.sts_endpoint, api.moto_endpoint, api.cluster, api.lock = aws_endpoint, moto_endpoint, CLUSTER, threading.Lock()
        api.mapping = {fields["deployer_role_arn"]: "deployer"}
        api.accepted, api.rejected, api.amz_dates = 0, [], []
        proxy.api = api
        threading.Thread(target=api.serve_forever, daemon=True).start()

        fields.update({"aws_endpoint": aws_endpoint, "account": ACCOUNT, "registry": registry_host,
                       "static_user": static_user, "static_password": static_password, "oci_layout": layout,
                       "api_server": "https://127.0.0.1:%d" % api.server_address[1], "ca_data": ca_data, "cluster": CLUSTER})
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()
        log("ready in %.1f s" % (time.time() - started))
        closed = threading.Event()

        def watch():
            try:
                while sys.stdin.buffer.read(4096):
                    pass
            finally:
                closed.set()

        threading.Thread(target=watch, daemon=True).start()
        closed.wait(max(0.0, args.lifetime - (time.time() - started)))
    finally:
        if registry is not None and registry.poll() is None:
            os.killpg(registry.pid, signal.SIGTERM)
            registry.wait(timeout=5)
        moto.stop()
        subprocess.run(["rm", "-rf", workdir])


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    main()
