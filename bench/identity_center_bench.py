"""Runs bench/identity-center; prints medians and ratios, asserts nothing."""
import json, os, shutil, statistics, subprocess, sys, tempfile, time, urllib.request

BIN, FIXTURES, N = sys.argv[1], sys.argv[2], int(sys.argv[3])
env0 = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
moto = subprocess.Popen([sys.executable, FIXTURES + "/moto_fixture.py", "--lifetime", "900"], stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env0, text=True)
fake = None
root = tempfile.mkdtemp(prefix="cb-ssobench-", dir="/tmp")
env = None
try:
    m = json.loads(moto.stdout.readline())
    fake = subprocess.Popen([sys.executable, FIXTURES + "/sso_fake.py", "--moto", m["endpoint"], "--access-key-id", m["access_key_id"],
                             "--secret-access-key", m["secret_access_key"], "--session-name", m["chain_session_name"], "--lifetime", "900"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env0, text=True)
    sso = json.loads(fake.stdout.readline())["endpoint"]

    def control(what, body=None):
        data = None if body is None else json.dumps(body).encode()
        with urllib.request.urlopen(urllib.request.Request(sso + "/__control/" + what, data=data), timeout=10) as answer:
            return json.loads(answer.read() or b"null")

    env = dict(env0, HOME=root + "/home", XDG_CONFIG_HOME=root + "/config", XDG_CACHE_HOME=root + "/cache",
               XDG_STATE_HOME=root + "/state", BROKER_SOCKET_DIR=root + "/run")
    os.makedirs(root + "/config/credential-broker")
    os.makedirs(root + "/home")
    with open(root + "/secret", "w") as f:
        f.write(m["secret_access_key"])
    os.chmod(root + "/secret", 0o600)
    account = m["account"]
    with open(root + "/config/credential-broker/config", "w") as f:
        # One caller asking hundreds of times a second: per-caller rate limits would refuse it.
        f.write(f"""[agent]
    rate-limits = false
[provider "corp"]
    kind = aws/iam-identity-center
    start-url = https://d-1234567890.awsapps.com/start
    region = eu-west-1
    session-name = corp
    auto-provision = true
    oidc-endpoint = {sso}
    portal-endpoint = {sso}
[identity "sandbox"]
    kind = aws/permission-set
    via = provider:corp
    account-id = {account}
    permission-set = first
    sts-endpoint = {m['endpoint']}
[identity "dev"]
    kind = aws/user
    access-key-id = {m['access_key_id']}
    secret-access-key = file:{root}/secret
    sts-endpoint = {m['endpoint']}
[identity "first"]
    kind = aws/assume-role
    via = identity:dev
    role-arn = {m['first_role_arn']}
    session-name = {m['chain_session_name']}
    sts-endpoint = {m['endpoint']}
""")
    login = subprocess.Popen([f"{BIN}/brokerctl", "login", "corp", "--no-browser"], env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if control("pending"):
            break
        time.sleep(0.1)
    control("approve", {})
    if login.wait(timeout=60) != 0:
        raise SystemExit("brokerctl login corp failed")

    def timed(argv):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True)
        if done.returncode != 0:
            raise SystemExit(f"{argv[0]} failed ({done.returncode}): {done.stderr.decode()[-400:]}")
        return (time.perf_counter() - start) * 1000

    adapter = f"{BIN}/aws-credential-process"
    runs = {"sandbox": [], f"{account}/first": [], "first": []}
    for name in runs:
        timed([adapter, "--identity", name])  # warm: each is cached before timing
    for _ in range(N):
        for name, times in runs.items():
            times.append(timed([adapter, "--identity", name]))
    ps, pv, ar = (statistics.median(t) for t in runs.values())
    print(f"warm aws-credential-process, {N} alternating runs (median ms):")
    print(f"  aws/permission-set (section)       {ps:7.3f}")
    print(f"  aws/permission-set (virtual)       {pv:7.3f}")
    print(f"  aws/assume-role                    {ar:7.3f}")
    print(f"  ratio section / assume-role        {ps / ar:7.3f}   (target <= 1.1)")
    print(f"  ratio virtual / assume-role        {pv / ar:7.3f}   (target <= 1.1)")
finally:
    if env:
        subprocess.run([f"{BIN}/brokerctl", "stop"], env=env, capture_output=True)
    for process in (fake, moto):
        if process:
            process.stdin.close()
            process.wait(timeout=20)
    shutil.rmtree(root, ignore_errors=True)
