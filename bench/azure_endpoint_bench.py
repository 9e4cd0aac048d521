"""Runs bench/azure-endpoint; prints medians and the Azure/AWS ratio, asserts nothing."""
import json, os, shutil, subprocess, sys, tempfile

BIN, FIXTURES, REQUESTS = sys.argv[1], sys.argv[2], int(sys.argv[3])
TENANT, CLIENT, SECRET = "72f988bf-86f1-41af-91ab-2d7cd011db47", "0b5e3f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "bench-client-secret"
env0 = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BROKER_", "AZURE_", "IDENTITY_", "MSI_"))}
root = tempfile.mkdtemp(prefix="cb-azbench-", dir="/tmp")
env = dict(env0, HOME=root, XDG_CONFIG_HOME=root + "/config", XDG_CACHE_HOME=root + "/cache",
           XDG_STATE_HOME=root + "/state", BROKER_SOCKET_DIR=root + "/run", BENCH_AZURE_SECRET=SECRET)
moto = subprocess.Popen([sys.executable, FIXTURES + "/moto_fixture.py", "--lifetime", "900"], stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env0, text=True)
with open(root + "/entra.json", "w") as f:
    json.dump({"apps": [{"tenant": TENANT, "client_id": CLIENT, "secret": SECRET}], "lifetime": 3600}, f)
entra = subprocess.Popen([sys.executable, FIXTURES + "/entra_fake.py", root + "/entra.json", root + "/entra-ca.pem"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env0, text=True)
try:
    m = json.loads(moto.stdout.readline())
    entra_port = int(entra.stdout.readline())
    os.makedirs(root + "/config/credential-broker")
    with open(root + "/secret", "w") as f:
        f.write(m["secret_access_key"])
    os.chmod(root + "/secret", 0o600)
    with open(root + "/config/credential-broker/config", "w") as f:
        f.write(f"""[agent]
    rate-limits = false
[identity "dev"]
    kind = aws/user
    access-key-id = {m['access_key_id']}
    secret-access-key = file:{root}/secret
    sts-endpoint = {m['endpoint']}
[identity "role"]
    kind = aws/assume-role
    via = identity:dev
    role-arn = {m['first_role_arn']}
    sts-endpoint = {m['endpoint']}
[identity "sp"]
    kind = azure/client-secret
    tenant-id = {TENANT}
    client-id = {CLIENT}
    client-secret = env:BENCH_AZURE_SECRET
    authority = http://127.0.0.1:{entra_port}
""")
    client = f"""
import http.client, json, os, statistics, time
def target(url):
    hostport, path = url.split("/", 3)[2], "/" + url.split("/", 3)[3]
    host, port = hostport.split(":")
    return host, int(port), path
aws = target(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"]) + ({{"Authorization": os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]}},)
azure = target(os.environ["IDENTITY_ENDPOINT"] + "?api-version=2019-08-01&resource=https%3A%2F%2Fmanagement.azure.com") + \\
        ({{"X-IDENTITY-HEADER": os.environ["IDENTITY_HEADER"], "Metadata": "true"}},)
def ask(host, port, path, headers, expect, status=200):
    start = time.perf_counter()
    c = http.client.HTTPConnection(host, port, timeout=5)
    c.request("GET", path, headers=headers)
    r = c.getresponse(); body = r.read(); c.close()
    assert r.status == status and expect in body, (r.status, body[:200])
    return (time.perf_counter() - start) * 1000
def wrong(route):
    host, port, path, headers = route
    return (host, port, path, {{name: "0" * 64 for name in headers}})
for _ in range(20):
    ask(*aws, b"AccessKeyId"); ask(*azure, b"access_token")
a, z, ra, rz = [], [], [], []
for _ in range({REQUESTS}):
    a.append(ask(*aws, b"AccessKeyId"))
    z.append(ask(*azure, b"access_token"))
    ra.append(ask(*wrong(aws), b"", status=403))
    rz.append(ask(*wrong(azure), b"", status=403))
a.sort(); z.sort()
# The floor: the same client against a canned server that answers each route with the bytes the
# agent answered (captured once): what the two protocols' request and reply shapes cost the client.
import socket, threading
def raw(host, port, path, headers):
    s = socket.create_connection((host, port))
    s.sendall(("GET %s HTTP/1.1\\r\\nHost: %s:%d\\r\\n" % (path, host, port) + "".join("%s: %s\\r\\n" % kv for kv in headers.items()) + "\\r\\n").encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk: break
        data += chunk
    s.close()
    return data
aws_reply, azure_reply = raw(*aws), raw(*azure)
canned = socket.socket(); canned.bind(("127.0.0.1", 0)); canned.listen(128)
def serve():
    while True:
        c, _ = canned.accept()
        head = b""
        while b"\\r\\n\\r\\n" not in head: head += c.recv(4096)
        c.sendall(azure_reply if b"api-version" in head else aws_reply); c.close()
threading.Thread(target=serve, daemon=True).start()
fport = canned.getsockname()[1]
fa, fz = [], []
for _ in range({REQUESTS}):
    fa.append(ask("127.0.0.1", fport, aws[2], aws[3], b"AccessKeyId"))
    fz.append(ask("127.0.0.1", fport, azure[2], azure[3], b"access_token"))
print(json.dumps({{"aws": statistics.median(a), "azure": statistics.median(z), "aws90": a[int(len(a) * .9)], "azure90": z[int(len(z) * .9)],
                  "aws403": statistics.median(ra), "azure403": statistics.median(rz),
                  "floor_aws": statistics.median(fa), "floor_azure": statistics.median(fz)}}))
"""
    done = subprocess.run([f"{BIN}/broker-env-wrap", "--identity", "role", "--identity", "sp", "--", sys.executable, "-c", client],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"endpoint client failed: {done.stderr[-600:]}")
    r = json.loads(done.stdout)
    print(f"loopback endpoint, warm credentials, {REQUESTS} alternating requests per route from one wrapped Python client (ms):")
    print(f"  AWS container credentials, median      {r['aws']:7.3f}   p90 {r['aws90']:7.3f}")
    print(f"  Azure managed identity, median         {r['azure']:7.3f}   p90 {r['azure90']:7.3f}")
    print(f"  ratio Azure / AWS (median)             {r['azure'] / r['aws']:7.3f}   (target <= 1)")
    print(f"  403 for a wrong secret, AWS / Azure    {r['aws403']:7.3f} / {r['azure403']:7.3f}   (the same round trip without an answer)")
    print(f"  the same client against a canned server replaying each route's bytes: AWS {r['floor_aws']:.3f}, Azure {r['floor_azure']:.3f},")
    print(f"  ratio {r['floor_azure'] / r['floor_aws']:7.3f}   (what the protocols' request and reply shapes alone cost the client)")
finally:
    subprocess.run([f"{BIN}/brokerctl", "stop"], env=env, capture_output=True)
    for fixture in (moto, entra):
        fixture.stdin.close()
        fixture.wait(timeout=20)
    shutil.rmtree(root, ignore_errors=True)
