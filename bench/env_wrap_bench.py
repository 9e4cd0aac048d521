"""Runs bench/env-wrap; prints medians and ratios, asserts nothing."""
import json, os, shutil, statistics, subprocess, sys, tempfile, time

BIN, FIXTURE, N, REQUESTS = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
env0 = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("BROKER_")}
moto = subprocess.Popen([sys.executable, FIXTURE, "--lifetime", "900"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL, env=env0, text=True)
root = tempfile.mkdtemp(prefix="cb-wrapbench-", dir="/tmp")
env = dict(env0, HOME=root, XDG_CONFIG_HOME=root + "/config", XDG_CACHE_HOME=root + "/cache",
           XDG_STATE_HOME=root + "/state", BROKER_SOCKET_DIR=root + "/run", BENCH_TOKEN="ghp_bench")
try:
    m = json.loads(moto.stdout.readline())
    os.makedirs(root + "/config/credential-broker")
    with open(root + "/secret", "w") as f:
        f.write(m["secret_access_key"])
    os.chmod(root + "/secret", 0o600)
    with open(root + "/config/credential-broker/config", "w") as f:
        # One caller asking hundreds of times a second: per-caller rate limits would refuse it.
        f.write(f"""[agent]
    rate-limits = false
[identity "token"]
    kind = static
    username = bench
    secret = env:BENCH_TOKEN
    env = GITHUB_TOKEN
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
""")
    wrap = f"{BIN}/broker-env-wrap"
    true = shutil.which("true")

    def timed(argv):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True)
        if done.returncode != 0:
            raise SystemExit(f"{argv[0]} failed ({done.returncode}): {done.stderr.decode()[-400:]}")
        return (time.perf_counter() - start) * 1000

    for identity in ("token", "role"):
        timed([wrap, "--identity", identity, "--", true])  # starts the agent, warms the cache
    print(f"broker-env-wrap -- true against plain true, warm agent, {N} alternating runs (median ms):")
    for identity, what in (("token", "static token exported as GITHUB_TOKEN"), ("role", "AWS role, endpoint delivery")):
        wrapped, plain = [], []
        for _ in range(N):
            wrapped.append(timed([wrap, "--identity", identity, "--", true]))
            plain.append(timed([true]))
        w, p = statistics.median(wrapped), statistics.median(plain)
        print(f"  {what}:")
        print(f"    broker-env-wrap -- true   {w:7.3f}")
        print(f"    true                      {p:7.3f}")
        print(f"    overhead                  {w - p:7.3f} ms  (target <= 3 ms)   ratio {w / p:5.2f}")

    client = f"""
import http.client, json, os, statistics, time
url, token = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"], os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
host, port = url.split("/")[2].split(":")
samples, floor = [], []
for _ in range({REQUESTS}):
    start = time.perf_counter()
    c = http.client.HTTPConnection(host, int(port), timeout=5)
    c.request("GET", "/credentials", headers={{"Authorization": token}})
    r = c.getresponse(); body = r.read(); c.close()
    samples.append((time.perf_counter() - start) * 1000)
    assert r.status == 200 and b"AccessKeyId" in body
    start = time.perf_counter()
    c = http.client.HTTPConnection(host, int(port), timeout=5)
    c.request("GET", "/credentials")
    r = c.getresponse(); r.read(); c.close()
    floor.append((time.perf_counter() - start) * 1000)
samples.sort(); floor.sort()
print(json.dumps({{"median": statistics.median(samples), "p90": samples[int(len(samples) * 0.9)],
                  "refused": statistics.median(floor)}}))
"""
    done = subprocess.run([wrap, "--identity", "role", "--", sys.executable, "-c", client], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"endpoint client failed: {done.stderr[-400:]}")
    r = json.loads(done.stdout)
    print(f"credentials endpoint, warm credential, {REQUESTS} requests from a loopback Python client (ms):")
    print(f"  answer, median              {r['median']:7.3f}  (target <= 1 ms)")
    print(f"  answer, p90                 {r['p90']:7.3f}")
    print(f"  403 without a token, median {r['refused']:7.3f}  (the same round trip without resolving)")
    print(f"  ratio answer / refusal      {r['median'] / r['refused']:7.3f}")
finally:
    subprocess.run([f"{BIN}/brokerctl", "stop"], env=env, capture_output=True)
    moto.stdin.close()
    moto.wait(timeout=20)
    shutil.rmtree(root, ignore_errors=True)
