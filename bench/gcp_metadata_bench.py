"""Runs bench/gcp-metadata; prints medians and the ratio, asserts nothing."""
import json, os, shutil, subprocess, sys, tempfile

BIN, FAKE, REQUESTS = sys.argv[1], sys.argv[2], int(sys.argv[3])
root = tempfile.mkdtemp(prefix="cb-gcpbench-", dir="/tmp")
os.chmod(root, 0o700)
env0 = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BROKER_", "GCE_", "GOOGLE_", "CLOUDSDK_"))}
fake = subprocess.Popen([sys.executable, FAKE, root], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
env = dict(env0, HOME=root, XDG_CONFIG_HOME=root + "/config", XDG_CACHE_HOME=root + "/cache", XDG_STATE_HOME=root + "/state",
           BROKER_SOCKET_DIR=root + "/run")
try:
    info = json.loads(fake.stdout.readline())
    os.makedirs(root + "/config/credential-broker", mode=0o700)
    with open(os.open(root + "/aws-secret", os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
    with open(os.open(root + "/config/credential-broker/config", os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(f"""[agent]
    rate-limits = false
[identity "keys"]
    kind = aws/user
    access-key-id = AKIAIOSFODNN7EXAMPLE
    secret-access-key = file:{root}/aws-secret
    delivery = endpoint
    long-lived-keys = true
[identity "gcp"]
    kind = gcp/service-account-key
    key = file:{info['key']}
    project = fake-project
""")
    client = f"""
import http.client, json, os, statistics, time
aws_url, token = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"], os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
host, rest = os.environ["GCE_METADATA_HOST"].split("/", 1)
def ask(h, path, headers):
    address, port = h.split(":")
    start = time.perf_counter()
    c = http.client.HTTPConnection(address, int(port), timeout=5)
    c.request("GET", path, headers=headers)
    r = c.getresponse(); r.read(); c.close()
    assert r.status == 200, (path, r.status)
    return (time.perf_counter() - start) * 1000
aws, gcp = [], []
for _ in range({REQUESTS}):
    aws.append(ask(aws_url.split("/")[2], "/credentials", {{"Authorization": token}}))
    gcp.append(ask(host, "/" + rest + "/computeMetadata/v1/instance/service-accounts/default/token", {{"Metadata-Flavor": "Google"}}))
# The floor: the same client against a canned server that answers each route with the bytes the
# agent answered (captured once): what the two protocols' request and reply shapes cost the client.
import socket, threading
def raw(h, path, headers):
    address, port = h.split(":")
    s = socket.create_connection((address, int(port)))
    s.sendall(("GET %s HTTP/1.1\\r\\nHost: %s\\r\\n" % (path, h) + "".join("%s: %s\\r\\n" % kv for kv in headers.items()) + "\\r\\n").encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk: break
        data += chunk
    s.close()
    return data
aws_reply = raw(aws_url.split("/")[2], "/credentials", {{"Authorization": token}})
gcp_reply = raw(host, "/" + rest + "/computeMetadata/v1/instance/service-accounts/default/token", {{"Metadata-Flavor": "Google"}})
canned = socket.socket(); canned.bind(("127.0.0.1", 0)); canned.listen(128)
def serve():
    while True:
        c, _ = canned.accept()
        head = b""
        while b"\\r\\n\\r\\n" not in head: head += c.recv(4096)
        c.sendall(gcp_reply if b"computeMetadata" in head else aws_reply); c.close()
threading.Thread(target=serve, daemon=True).start()
floor = "127.0.0.1:%d" % canned.getsockname()[1]
faws, fgcp = [], []
for _ in range({REQUESTS}):
    faws.append(ask(floor, "/credentials", {{"Authorization": token}}))
    fgcp.append(ask(floor, "/" + rest + "/computeMetadata/v1/instance/service-accounts/default/token", {{"Metadata-Flavor": "Google"}}))
print(json.dumps({{"aws": statistics.median(aws), "gcp": statistics.median(gcp), "floor_aws": statistics.median(faws), "floor_gcp": statistics.median(fgcp)}}))
"""
    done = subprocess.run([BIN + "/broker-env-wrap", "--identity", "keys", "--identity", "gcp", "--", sys.executable, "-c", client],
                          env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit("broker-env-wrap failed: " + done.stderr[-400:])
    result = json.loads(done.stdout)
    print(f"loopback endpoint answer time, warm credentials, {REQUESTS} alternating requests (median ms):")
    print(f"  AWS  GET /credentials                                   {result['aws']:7.3f}")
    print(f"  GCP  GET .../service-accounts/default/token (metadata)  {result['gcp']:7.3f}")
    print(f"  ratio GCP / AWS  {result['gcp'] / result['aws']:5.2f}   (target <= 1)")
    print(f"  the same client against a canned server replaying each route's bytes: AWS {result['floor_aws']:.3f}, GCP {result['floor_gcp']:.3f},")
    print(f"  ratio {result['floor_gcp'] / result['floor_aws']:5.2f}   (what the protocols' request and reply shapes alone cost the client)")
finally:
    subprocess.run([BIN + "/brokerctl", "stop"], env=env, capture_output=True)
    fake.stdin.close()
    fake.wait(timeout=10)
    shutil.rmtree(root, ignore_errors=True)
