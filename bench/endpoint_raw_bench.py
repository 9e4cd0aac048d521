"""Runs bench/endpoint-raw: the server's answer time per loopback-endpoint route; asserts nothing."""
import json, os, re, shutil, subprocess, sys, tempfile

BIN, HERE, FIXTURES, REQUESTS, RUNS = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
TENANT, CLIENT, SECRET = "72f988bf-86f1-41af-91ab-2d7cd011db47", "0b5e3f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "bench-client-secret"
env0 = {k: v for k, v in os.environ.items()
        if not k.startswith(("AWS_", "BROKER_", "GCE_", "GOOGLE_", "CLOUDSDK_", "AZURE_", "IDENTITY_", "MSI_"))}
root = tempfile.mkdtemp(prefix="cb-rawendpoint-", dir="/tmp")
os.chmod(root, 0o700)
subprocess.run(["cc", "-O2", "-o", root + "/client", HERE + "/endpoint_raw_client.c"], check=True)
env = dict(env0, HOME=root, XDG_CONFIG_HOME=root + "/config", XDG_CACHE_HOME=root + "/cache", XDG_STATE_HOME=root + "/state",
           BROKER_SOCKET_DIR=root + "/run", BENCH_AZURE_SECRET=SECRET)
google = subprocess.Popen([sys.executable, FIXTURES + "/google_fake.py", root], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)
with open(root + "/entra.json", "w") as f:
    json.dump({"apps": [{"tenant": TENANT, "client_id": CLIENT, "secret": SECRET}], "lifetime": 3600}, f)
entra = subprocess.Popen([sys.executable, FIXTURES + "/entra_fake.py", root + "/entra.json", root + "/entra-ca.pem"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env0, text=True)
try:
    info = json.loads(google.stdout.readline())
    entra_port = int(entra.stdout.readline())
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
[identity "sp"]
    kind = azure/client-secret
    tenant-id = {TENANT}
    client-id = {CLIENT}
    client-secret = env:BENCH_AZURE_SECRET
    authority = http://127.0.0.1:{entra_port}
""")
    runs = []
    for _ in range(RUNS):
        done = subprocess.run([BIN + "/broker-env-wrap", "--identity", "keys", "--identity", "gcp", "--identity", "sp", "--",
                               root + "/client", str(REQUESTS)], env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise SystemExit("broker-env-wrap failed: " + done.stderr[-600:])
        run = {}
        for line in done.stdout.splitlines():
            name, *fields = line.split()
            run[name] = {k: float(v) for k, v in (f.split("=") for f in fields)}
        runs.append(run)
    print(f"loopback endpoint, server alone: a compiled C client (bench/endpoint_raw_client.c), a fresh connection per")
    print(f"request, connect -> end of answer, routes interleaved, warm credentials; {RUNS} runs x {REQUESTS} requests per route (us);")
    print("403: the same request with a wrong secret of the same length (everything but the answer itself);")
    print("floor: the same requests to a canned server replaying each one's recorded answer (the shapes' cost, no server work);")
    print("own: the endpoint's median less the floor's, the time the endpoint itself adds:")
    for run in runs:
        for label, suffix in (("answered", ""), ("403", "403")):
            a, g, z = (run[name + suffix] for name in ("aws", "gcp", "azure"))
            fa, fg, fz = (run[name + suffix + "_floor"] for name in ("aws", "gcp", "azure"))
            oa, og, oz = (x["median_us"] - f["median_us"] for x, f in ((a, fa), (g, fg), (z, fz)))
            print(f"  {label:8}  AWS {a['median_us']:6.1f} ({a['bytes']:4.0f} B)  GCP {g['median_us']:6.1f} ({g['bytes']:4.0f} B)  "
                  f"Azure {z['median_us']:6.1f} ({z['bytes']:4.0f} B)   GCP/AWS {g['median_us'] / a['median_us']:5.3f}  "
                  f"Azure/AWS {z['median_us'] / a['median_us']:5.3f}")
            print(f"    floor   AWS {fa['median_us']:6.1f}          GCP {fg['median_us']:6.1f}          Azure {fz['median_us']:6.1f}"
                  f"            GCP/AWS {fg['median_us'] / fa['median_us']:5.3f}  Azure/AWS {fz['median_us'] / fa['median_us']:5.3f}")
            print(f"    own     AWS {oa:6.1f}          GCP {og:6.1f}          Azure {oz:6.1f}"
                  f"            GCP/AWS {og / oa:5.3f}  Azure/AWS {oz / oa:5.3f}")
        print(f"  errors {sum(r['errors'] for r in run.values()):.0f}")
finally:
    subprocess.run([BIN + "/brokerctl", "stop"], env=env, capture_output=True)
    for fixture in (google, entra):
        fixture.stdin.close()
        fixture.wait(timeout=20)
    shutil.rmtree(root, ignore_errors=True)
