"""Runs bench/containers; prints medians and ratios, asserts nothing."""
import json, os, shutil, statistics, subprocess, sys, tempfile, time

BIN, FIXTURE, N = sys.argv[1], sys.argv[2], int(sys.argv[3])
env0 = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("REGISTRY_")}
bed = subprocess.Popen([sys.executable, FIXTURE, "--lifetime", "900"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, env=env0, text=True)
root = tempfile.mkdtemp(prefix="cb-ctrbench-", dir="/tmp")
env = env0
try:
    f = json.loads(bed.stdout.readline())
    env = dict(env0, HOME=root, XDG_CONFIG_HOME=root + "/config", XDG_CACHE_HOME=root + "/cache",
               XDG_STATE_HOME=root + "/state", BROKER_SOCKET_DIR=root + "/run", AWS_ENDPOINT_URL=f["aws_endpoint"],
               DEV_SECRET=f["secret_access_key"],
               KUBERNETES_EXEC_INFO='{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}')
    os.makedirs(root + "/config/credential-broker")
    path = root + "/config/credential-broker/config"
    with open(path, "w") as out:
        out.write(f"""[agent]
    rate-limits = false
[identity "dev"]
    kind = aws/user
    access-key-id = {f['access_key_id']}
    secret-access-key = env:DEV_SECRET
[identity "deployer"]
    kind = aws/assume-role
    via = identity:dev
    role-arn = {f['deployer_role_arn']}
[identity "ecr"]
    kind = aws/ecr
    via = identity:deployer
[identity "eks"]
    kind = aws/eks
    via = identity:deployer
    cluster = {f['cluster']}
[registry "{f['registry']}"]
    identity = ecr
""")
    os.chmod(path, 0o600)

    def timed(argv, stdin=b""):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, input=stdin, capture_output=True)
        if done.returncode != 0:
            raise SystemExit(f"{argv[0]} failed ({done.returncode}): {(done.stdout + done.stderr).decode()[-400:]}")
        return (time.perf_counter() - start) * 1000, done.stdout

    docker = [f"{BIN}/docker-credential-broker", "get"]
    kube = [f"{BIN}/kube-credential-broker", "--identity", "eks"]
    for name, argv, stdin in [("docker-credential-broker get", docker, f["registry"].encode()),
                              ("kube-credential-broker", kube, b"")]:
        _, document = timed(argv, stdin)
        with open(root + "/doc.json", "wb") as out:
            out.write(document)
        ours, floor = [], []
        for _ in range(N):
            ours.append(timed(argv, stdin)[0])
            floor.append(timed(["cat", root + "/doc.json"])[0])
        a, c = statistics.median(ours), statistics.median(floor)
        print(f"warm {name}, {N} alternating runs (median ms):")
        print(f"  {name:28}{a:7.3f}")
        print(f"  {'cat of the same JSON':28}{c:7.3f}")
        print(f"  {'ratio':28}{a / c:7.3f}   (target <= 2)")
finally:
    subprocess.run([f"{BIN}/brokerctl", "stop"], env=env, capture_output=True)
    bed.stdin.close()
    bed.wait(timeout=20)
    shutil.rmtree(root, ignore_errors=True)
