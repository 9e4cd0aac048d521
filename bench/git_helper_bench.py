"""Runs the git-helper benchmark; see bench/git-helper. Prints medians and ratios, asserts nothing.

Also times a URL bound to a github/app identity: warm gets against credential-cache, and cold mints
against the loopback fake of GitHub's token API."""
import os, shutil, socket, statistics, subprocess, sys, tempfile, time, urllib.request
from multiprocessing import Pool

BIN, ITERATIONS = sys.argv[1], int(sys.argv[2])
CRED = b"protocol=https\nhost=bench.example\nusername=bench\npassword=bench-password\n"
QUERY = b"protocol=https\nhost=bench.example\n"

root = tempfile.mkdtemp(prefix="cb-bench-", dir="/tmp")
env = dict(os.environ, HOME=root, XDG_CONFIG_HOME=root + "/config", XDG_CACHE_HOME=root + "/cache",
           XDG_STATE_HOME=root + "/state", BROKER_SOCKET_DIR=root + "/run",
           GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
for k in ("BROKER_CONFIG", "XDG_RUNTIME_DIR"):
    env.pop(k, None)
ours = f"{BIN}/git-credential-broker"
cache_sock = root + "/cc/socket"
os.makedirs(root + "/cc", mode=0o700)
theirs = f"cache --socket={cache_sock}"


def git(helper, op, data):
    return subprocess.run(["git", "-c", f"credential.helper={helper}", "credential", op], input=data,
                          env=env, capture_output=True, check=True)


def timed(argv, data):
    start = time.perf_counter()
    subprocess.run(argv, input=data, env=env, capture_output=True, check=True)
    return (time.perf_counter() - start) * 1000


def median_ms(samples):
    return statistics.median(samples)


# The bench is one caller asking hundreds of times a second: per-caller rate limits would refuse it.
os.makedirs(root + "/config/credential-broker", exist_ok=True)
NO_LIMITS = "[agent]\n\trate-limits = false\n"
with open(root + "/config/credential-broker/config", "w") as f:
    f.write(NO_LIMITS)

try:
    git(ours, "approve", CRED)
    git(theirs, "approve", CRED)
    assert b"bench-password" in git(ours, "fill", QUERY).stdout
    assert b"bench-password" in git(theirs, "fill", QUERY).stdout

    import json

    def rss_kib(p):
        for line in open(f"/proc/{p}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

    agent_pid = json.loads(subprocess.run([f"{BIN}/brokerctl", "status", "--format", "json"], env=env,
                                          capture_output=True, check=True).stdout)["pid"]
    time.sleep(0.5)
    idle_rss = rss_kib(agent_pid)

    # The helper as `brokerctl git-setup` configures it: its value, with the installed programs
    # on PATH (git finds git-credential-broker there).
    setup_lines = subprocess.run([f"{BIN}/brokerctl", "git-setup"], env=env, capture_output=True, text=True, check=True).stdout
    setup_helper = next(line.split()[-1] for line in setup_lines.splitlines() if " credential.helper " in line)
    setup_env = dict(env, PATH=BIN + os.pathsep + env.get("PATH", ""))

    def timed_setup(data):
        start = time.perf_counter()
        subprocess.run(["git", "-c", f"credential.helper={setup_helper}", "credential", "fill"], input=data, env=setup_env,
                       capture_output=True, check=True)
        return (time.perf_counter() - start) * 1000

    fill_ours, fill_setup, fill_theirs, get_ours, get_theirs = [], [], [], [], []
    for _ in range(ITERATIONS):
        fill_ours.append(timed(["git", "-c", f"credential.helper={ours}", "credential", "fill"], QUERY))
        fill_setup.append(timed_setup(QUERY))
        fill_theirs.append(timed(["git", "-c", f"credential.helper={theirs}", "credential", "fill"], QUERY))
        get_ours.append(timed([ours, "get"], QUERY))
        get_theirs.append(timed(["git", "credential-cache", f"--socket={cache_sock}", "get"], QUERY))

    print(f"git credential fill, warm, {ITERATIONS} alternating runs (median ms):")
    print(f"  via credential.helper={setup_helper} (as git-setup writes it) {median_ms(fill_setup):7.3f}")
    print(f"  via the absolute path of git-credential-broker   {median_ms(fill_ours):7.3f}")
    print(f"  via git credential-cache                         {median_ms(fill_theirs):7.3f}")
    print(f"  ratio, as git-setup writes it                    {median_ms(fill_setup) / median_ms(fill_theirs):7.3f}   (target <= 1.05)")
    print(f"  ratio, absolute path                             {median_ms(fill_ours) / median_ms(fill_theirs):7.3f}")
    print(f"helper get alone (median ms):")
    print(f"  git-credential-broker get   {median_ms(get_ours):7.3f}")
    print(f"  git credential-cache get    {median_ms(get_theirs):7.3f}")
    print(f"  ratio                       {median_ms(get_ours) / median_ms(get_theirs):7.3f}")

    # Agent throughput: parallel clients speaking the wire protocol straight to the socket.
    sock_path = root + "/run/agent.sock"
    request = b"v=1\nop=git.get\nadapter=git\nprotocol=https\nhost=bench.example\n\n"

    def client(seconds):
        done, deadline = 0, time.monotonic() + seconds
        while time.monotonic() < deadline:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sock_path)
            s.sendall(request)
            answer = b""
            while not answer.endswith(b"\n\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
            s.close()
            assert b"status=ok" in answer and b"bench-password" in answer
            done += 1
        return done

    for clients in (1, 4, 16):
        with Pool(clients) as pool:
            start = time.monotonic()
            total = sum(pool.map(client, [3.0] * clients))
            elapsed = time.monotonic() - start
        print(f"agent throughput, {clients:2d} parallel clients: {total / elapsed:9.0f} requests/s")

    time.sleep(1)
    loaded_rss = rss_kib(agent_pid)
    # Baseline: a minimal static Swift program importing the same system module (Foundation).
    base_src = root + "/baseline.swift"
    with open(base_src, "w") as f:
        # The same system modules the agent links: Foundation and FoundationNetworking (URLSession
        # for STS and GitHub). Touching a type makes the linker keep the module.
        f.write("import Foundation\nimport FoundationNetworking\nlet configuration = URLSessionConfiguration.ephemeral\n"
                "FileHandle.standardOutput.write(Data(\"ready \\(configuration.timeoutIntervalForRequest)\\n\".utf8))\n"
                "while true { sleep(60) }\n")
    # Static like the installed agent; where the static FoundationNetworking cannot link (no
    # libcurl development symlink), the dynamic runtime; without swiftc, no baseline.
    base_kind = None
    for kind, flags in (("static", ["-static-stdlib"]), ("dynamic", [])):
        try:
            made = subprocess.run(["swiftc", "-O", *flags, base_src, "-o", root + "/baseline"], capture_output=True)
        except FileNotFoundError:
            break
        if made.returncode == 0:
            base_kind = kind
            break
    print(f"agent RSS, idle after start:     {idle_rss / 1024:6.1f} MiB")
    print(f"agent RSS, 1 s after the load:   {loaded_rss / 1024:6.1f} MiB")
    if base_kind:
        baseline = subprocess.Popen([root + "/baseline"], stdout=subprocess.PIPE)
        baseline.stdout.readline()
        time.sleep(0.5)
        base_rss = rss_kib(baseline.pid)
        baseline.kill()
        print(f"minimal {base_kind} Swift program linking Foundation + FoundationNetworking: {base_rss / 1024:6.1f} MiB; "
              f"agent idle / it {idle_rss / base_rss:5.2f} (target <= 1.25)")
    else:
        print("no baseline Swift program: swiftc could not build one here")

    # GitHub App: a URL bound to a github/app identity whose tokens come from the loopback fake of
    # GitHub's token API (Tests/EndToEndTests/Fixtures/github_api_fake.py), which verifies each JWT.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    app_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fd = os.open(root + "/app.pem", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, app_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    os.close(fd)
    with open(root + "/app.pub", "wb") as f:
        f.write(app_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    fixture = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "EndToEndTests", "Fixtures", "github_api_fake.py")
    github_fake = subprocess.Popen([sys.executable, fixture, "--public-key", root + "/app.pub", "--app-id", "123456",
                                    "--installation-id", "7", "--tokens-file", root + "/github-tokens", "--lifetime", "600"],
                                   stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    fake_url = "http://127.0.0.1:%d" % int(github_fake.stdout.readline())
    os.makedirs(root + "/config/credential-broker", exist_ok=True)
    with open(root + "/config/credential-broker/config", "w") as f:
        f.write(NO_LIMITS + f'[identity "app"]\n\tkind = github/app\n\tapp-id = 123456\n\tinstallation-id = 7\n'
                f'\tprivate-key = file:{root}/app.pem\n\tapi-url = {fake_url}\n'
                f'[git "https://github.bench"]\n\tidentity = app\n')
    APP_QUERY = b"protocol=https\nhost=github.bench\n"
    try:
        # Cold: the cached token dropped before each get, so each one signs a JWT and mints.
        cold = []
        for _ in range(max(10, ITERATIONS // 20)):
            subprocess.run([f"{BIN}/brokerctl", "logout", "app"], env=env, capture_output=True, check=True)
            cold.append(timed([ours, "get"], APP_QUERY))
        mints = json.loads(urllib.request.urlopen(fake_url + "/__counts").read())["mint"]
        assert b"x-access-token" in git(ours, "fill", APP_QUERY).stdout
        app_fill, app_get, cache_fill, cache_get = [], [], [], []
        for _ in range(ITERATIONS):
            app_fill.append(timed(["git", "-c", f"credential.helper={ours}", "credential", "fill"], APP_QUERY))
            cache_fill.append(timed(["git", "-c", f"credential.helper={theirs}", "credential", "fill"], QUERY))
            app_get.append(timed([ours, "get"], APP_QUERY))
            cache_get.append(timed(["git", "credential-cache", f"--socket={cache_sock}", "get"], QUERY))
        print(f"GitHub App-bound URL, warm (token cached in the agent), {ITERATIONS} alternating runs (median ms):")
        print(f"  git credential fill via broker (App)   {median_ms(app_fill):7.3f}")
        print(f"  git credential fill via cache          {median_ms(cache_fill):7.3f}")
        print(f"  ratio                                  {median_ms(app_fill) / median_ms(cache_fill):7.3f}   (target <= 1.10)")
        print(f"  git-credential-broker get (App)        {median_ms(app_get):7.3f}")
        print(f"  git credential-cache get               {median_ms(cache_get):7.3f}")
        print(f"  ratio                                  {median_ms(app_get) / median_ms(cache_get):7.3f}   (target <= 1.10)")
        print(f"GitHub App cold mint against the fake API, {len(cold)} runs ({mints} tokens minted): "
              f"get median {median_ms(cold):.1f} ms, min {min(cold):.1f} ms (JWT signing, one POST, cache write)")
    finally:
        github_fake.kill()
        github_fake.wait()
finally:
    subprocess.run([f"{BIN}/brokerctl", "stop"], env=env, capture_output=True)
    subprocess.run(["git", "credential-cache", f"--socket={cache_sock}", "exit"], env=env, capture_output=True)
    shutil.rmtree(root, ignore_errors=True)
