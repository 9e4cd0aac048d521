"""Runs bench/aws-credential-process; prints medians and ratios, asserts nothing."""
import json, os, shutil, statistics, subprocess, sys, tempfile, time

BIN, FIXTURE, N, CLI_N = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
env0 = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
moto = subprocess.Popen([sys.executable, FIXTURE, "--lifetime", "900"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                        env=env0, text=True)
root = tempfile.mkdtemp(prefix="cb-awsbench-", dir="/tmp")
try:
    m = json.loads(moto.stdout.readline())
    env = dict(env0, HOME=root, XDG_CONFIG_HOME=root + "/config", XDG_CACHE_HOME=root + "/cache",
               XDG_STATE_HOME=root + "/state", BROKER_SOCKET_DIR=root + "/run")
    os.makedirs(root + "/config/credential-broker")
    with open(root + "/secret", "w") as f:
        f.write(m["secret_access_key"])
    os.chmod(root + "/secret", 0o600)
    with open(root + "/config/credential-broker/config", "w") as f:
        # One caller asking hundreds of times a second: per-caller rate limits would refuse it.
        f.write(f"""[agent]
    rate-limits = false
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
[identity "chained"]
    kind = aws/assume-role
    via = identity:first
    role-arn = {m['second_role_arn']}
    external-id = {m['external_id']}
    sts-endpoint = {m['endpoint']}
""")
    adapter = [f"{BIN}/aws-credential-process", "--identity", "chained"]
    document = subprocess.run(adapter, env=env, capture_output=True, check=True).stdout
    with open(root + "/doc.json", "wb") as f:
        f.write(document)

    def timed(argv, e=env):
        start = time.perf_counter()
        done = subprocess.run(argv, env=e, capture_output=True)
        if done.returncode != 0:
            raise SystemExit(f"{argv[0]} failed ({done.returncode}): {done.stderr.decode()[-400:]}")
        return (time.perf_counter() - start) * 1000

    ours, floor = [], []
    for _ in range(N):
        ours.append(timed(adapter))
        floor.append(timed(["cat", root + "/doc.json"]))
    a, c = statistics.median(ours), statistics.median(floor)
    print(f"warm credential fetch, {N} alternating runs (median ms):")
    print(f"  aws-credential-process      {a:7.3f}")
    print(f"  cat of the same JSON        {c:7.3f}")
    print(f"  ratio                       {a / c:7.3f}   (target <= 3)")

    keys = json.loads(document)
    with open(root + "/aws-config", "w") as f:
        f.write(f"[profile broker]\ncredential_process = {' '.join(adapter)}\nregion = us-east-1\n")
    cli_env = dict(env, AWS_CONFIG_FILE=root + "/aws-config", AWS_SHARED_CREDENTIALS_FILE=root + "/none",
                   AWS_ENDPOINT_URL_STS=m["endpoint"], AWS_EC2_METADATA_DISABLED="true")
    via_process = dict(cli_env, AWS_PROFILE="broker")
    static = dict(cli_env, AWS_ACCESS_KEY_ID=keys["AccessKeyId"], AWS_SECRET_ACCESS_KEY=keys["SecretAccessKey"],
                  AWS_SESSION_TOKEN=keys["SessionToken"], AWS_DEFAULT_REGION="us-east-1")
    aws = shutil.which("aws")
    p, s = [], []
    for _ in range(CLI_N):
        p.append(timed([aws, "sts", "get-caller-identity"], via_process))
        s.append(timed([aws, "sts", "get-caller-identity"], static))
    mp, ms = statistics.median(p), statistics.median(s)
    print(f"aws sts get-caller-identity, {CLI_N} alternating runs (median ms):")
    print(f"  through credential_process  {mp:7.1f}")
    print(f"  static keys in environment  {ms:7.1f}")
    print(f"  overhead                    {(mp / ms - 1) * 100:6.1f} %  (target <= 5 %)")
finally:
    subprocess.run([f"{BIN}/brokerctl", "stop"], env=env if 'env' in dir() else env0, capture_output=True)
    moto.stdin.close()
    moto.wait(timeout=20)
    shutil.rmtree(root, ignore_errors=True)
