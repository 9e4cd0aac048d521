"""Runs the agent-raw benchmark; see bench/agent-raw. Prints figures, ratios and the targets of
issue 13 met or not; asserts nothing.

A compiled client (agent_raw_client.c, built with cc into a temp dir) drives, at each concurrency
level, broker-agent's socket and git's own `git credential-cache--daemon` socket in turn, each in
its own protocol, with a warm get: connect, send one request, read to EOF, repeat. Then the same
for the agent's aws.credentials (an aws/user identity, keys from env:, no network) and env.plan
(a static identity, as broker-env-wrap asks). Requests carry exactly the fields the adapters send.
Every cell runs three times, interleaved, and the median of the three is shown.

Beside them, the floor: a C server (agent_floor_server.c) that does only what the agent's own rules
require of a warm answer — the peer's uid checked, the request read to its blank line, the agent's
audit line for it appended before the answer, the agent's answer bytes sent — so that the agent's
own cost shows apart from its rules' (issue 13's one-client row).

Beyond throughput: the CPU time each server spends per request (from /proc/PID/stat), the
agent's resident memory idle and under 1,000 concurrent clients, the cost of a warm git get for
the last of N identities each bound to its own host (N = 10 and 10,000: it must not grow with the
configuration), and `brokerctl validate` of the 10,000."""
import os, shutil, socket, statistics, subprocess, sys, tempfile, threading, time

BIN, SECONDS = sys.argv[1], float(sys.argv[2])
LEVELS = [1, 4, 16, 64]
REPEATS = 3
here = os.path.dirname(os.path.abspath(__file__))
TICK = os.sysconf("SC_CLK_TCK")

root = tempfile.mkdtemp(prefix="cb-raw-", dir="/tmp")
base_env = {k: v for k, v in os.environ.items()
            if k not in ("BROKER_CONFIG", "XDG_RUNTIME_DIR", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}


def sandbox(name):
    """A home of its own for one agent: config, cache, state and socket directories."""
    home = f"{root}/{name}"
    os.makedirs(home + "/config/credential-broker", mode=0o700)
    env = dict(base_env, HOME=home, XDG_CONFIG_HOME=home + "/config", XDG_CACHE_HOME=home + "/cache",
               XDG_STATE_HOME=home + "/state", BROKER_SOCKET_DIR=home + "/run", GIT_CONFIG_NOSYSTEM="1",
               GIT_TERMINAL_PROMPT="0", BENCH_AWS_SECRET="bench-secret-access-key")
    return home, env


def write(path, data, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.write(fd, data if isinstance(data, bytes) else data.encode())
    os.close(fd)
    return path


home, env = sandbox("main")
agent_sock = home + "/run/agent.sock"
daemon_sock = home + "/cc/socket"
os.makedirs(home + "/cc", mode=0o700)
# One process poses as every client: per-caller rate limits would refuse most of it.
write(home + "/config/credential-broker/config",
      "[agent]\n\trate-limits = false\n"
      '[identity "keys"]\n\tkind = aws/user\n\taccess-key-id = AKIDRAWBENCH\n\tsecret-access-key = env:BENCH_AWS_SECRET\n\tlong-lived-keys = true\n'
      f'[identity "tok"]\n\tkind = static\n\tusername = u\n\tsecret = file:{write(home + "/token", "static-token")}\n\tenv = BENCH_TOKEN\n')


def agent_message(*fields):
    return ("v=1\n" + "".join(f"{k}={v}\n" for k, v in fields) + "\n").encode()


CREDENTIAL = [("protocol", "https"), ("host", "bench.example")]
REQUESTS = {
    # GitCredentialFrontend.agentRequest: op, adapter, then git's credential lines.
    "agent git.get": (agent_sock, agent_message(("op", "git.get"), ("adapter", "git"), *CREDENTIAL), "password=bench-password", False),
    # credential-cache.c do_cache: action, timeout, the credential lines; credential_write's blank end.
    "daemon get": (daemon_sock, b"action=get\ntimeout=900\nprotocol=https\nhost=bench.example\n\n", "password=bench-password", True),
    # AWSCredentialProcessFrontend: op, adapter, identity.
    "agent aws.credentials": (agent_sock, agent_message(("op", "aws.credentials"), ("adapter", "aws"), ("identity", "keys")),
                              "AKIDRAWBENCH", False),
    # EnvWrapFrontend.request without --delivery: op, adapter, identity[], pid (the caller), bin_dir.
    "agent env.plan": (agent_sock, agent_message(("op", "env.plan"), ("adapter", "env-wrap"), ("identity[]", "tok"),
                                                 ("pid", "@PID@"), ("bin_dir", BIN)), "status=ok", False),
}


def exchange(path, payload, half_close=False):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(payload)
    if half_close:
        s.shutdown(socket.SHUT_WR)
    answer = b""
    while chunk := s.recv(65536):
        answer += chunk
    s.close()
    return answer


client = root + "/agent_raw_client"
subprocess.run(["cc", "-O2", "-pthread", "-o", client, here + "/agent_raw_client.c"], check=True)
floor_server = root + "/agent_floor_server"
subprocess.run(["cc", "-O2", "-o", floor_server, here + "/agent_floor_server.c"], check=True)
floor_sock = home + "/floor/socket"


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14 and 15)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def load(path, payload, expect, half_close, clients, seconds, server_pid=None, name="x"):
    """One cell: the client's figures, plus the server's CPU time per request."""
    request_file = write(f"{root}/request-{name.replace(' ', '-')}", payload)
    before = cpu_seconds(server_pid) if server_pid else 0
    out = subprocess.run([client, path, request_file, str(clients), str(seconds), expect] + (["half-close"] if half_close else []),
                         capture_output=True, text=True, check=True).stdout
    after = cpu_seconds(server_pid) if server_pid else 0
    head, _, first_error = out.strip().partition(" first_error=")
    figures = {k: float(v) for k, v in (item.split("=", 1) for item in head.split())}
    figures["first_error"] = first_error
    figures["cpu_us"] = (after - before) * 1e6 / figures["requests"] if figures["requests"] else float("nan")
    return figures


def median_cell(runs):
    keys = ["rps", "p50_us", "p99_us", "cpu_us", "errors"]
    merged = {k: statistics.median(r[k] for r in runs) for k in keys}
    merged["first_error"] = next((r["first_error"] for r in runs if r["first_error"]), "")
    return merged


def start_agent(env_):
    agent = subprocess.Popen([f"{BIN}/broker-agent", "--foreground", "--idle-timeout", "1h"], env=env_,
                             stdout=subprocess.PIPE, stderr=open(env_["HOME"] + "/agent.log", "w"), stdin=subprocess.DEVNULL)
    assert agent.stdout.readline() == b"ok\n", "broker-agent did not start; see its log"
    return agent


def stop(process):
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def size_config(home_, n):
    """N static identities, each bound to its own host; the bench asks for the last."""
    token = write(home_ + "/token", "static-token")
    parts = ["[agent]\n\trate-limits = false\n"]
    for i in range(n):
        parts.append(f'[identity "id{i}"]\n\tkind = static\n\tusername = u{i}\n\tsecret = file:{token}\n'
                     f'[git "https://host{i}.example"]\n\tidentity = id{i}\n')
    return write(home_ + "/config/credential-broker/config", "".join(parts))


agents = []
daemon = floor = None
try:
    agent = start_agent(env)
    agents.append(agent)
    # git's daemon, started the way credential-cache.c spawn_daemon does; "ok" means it listens.
    daemon = subprocess.Popen(["git", "credential-cache--daemon", daemon_sock], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    assert daemon.stdout.readline() == b"ok\n", "git credential-cache--daemon did not start"
    pids = {"agent": agent.pid, "daemon": daemon.pid}

    store = [("protocol", "https"), ("host", "bench.example"), ("username", "bench"), ("password", "bench-password")]
    exchange(agent_sock, agent_message(("op", "git.store"), ("adapter", "git"), *store))
    exchange(daemon_sock, b"action=store\ntimeout=3600\n" + "".join(f"{k}={v}\n" for k, v in store).encode() + b"\n", True)
    for name, (path, payload, expect, half) in REQUESTS.items():  # warm, and show what fails before timing it
        figures = load(path, payload, expect, half, 1, 0.2, name=name)
        if figures["errors"] or not figures["requests"]:
            print(f"warning: {name}: {figures['errors']:.0f} errors while warming: {figures['first_error']}")
    # The floor moves the agent's own bytes: its answer to the warm get and the audit line for it.
    agent_get = REQUESTS["agent git.get"][1]
    answer_file = write(root + "/floor-answer", exchange(agent_sock, agent_get))
    with open(home + "/state/credential-broker/audit.log", "rb") as f:
        line_file = write(root + "/floor-line", f.read().rstrip(b"\n").rsplit(b"\n", 1)[-1] + b"\n")
    os.makedirs(home + "/floor", mode=0o700)
    floor = subprocess.Popen([floor_server, floor_sock, root + "/floor-audit.log", line_file, answer_file],
                             stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert floor.stdout.readline() == b"ok\n", "agent_floor_server did not start"
    pids["floor"] = floor.pid
    REQUESTS["C floor git.get"] = (floor_sock, agent_get, "password=bench-password", False)
    time.sleep(1.5)  # one idle poll tick: the agent hands the warm-up's memory back
    idle_rss = rss_kib(agent.pid)

    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"{os.cpu_count()} CPUs; agent {BIN}/broker-agent; {git_version}'s credential-cache--daemon")
    print(f"each cell: clients connect, send one request, read to EOF, repeat, for {SECONDS:g} s; "
          f"median of {REPEATS} runs, interleaved; latency per request; cpu = the server's CPU time per request")
    print(f"{'request':24s} {'clients':>7s} {'req/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s} {'cpu us':>7s} {'errors':>6s}")
    runs = {}
    for _ in range(REPEATS):
        for clients in LEVELS:
            for name, (path, payload, expect, half) in REQUESTS.items():
                server = pids["daemon" if name.startswith("daemon") else "floor" if name.startswith("C floor") else "agent"]
                runs.setdefault((name, clients), []).append(load(path, payload, expect, half, clients, SECONDS, server, name))
    results = {cell: median_cell(r) for cell, r in runs.items()}
    for clients in LEVELS:
        for name in REQUESTS:
            f = results[(name, clients)]
            print(f"{name:24s} {clients:7d} {f['rps']:9.0f} {f['p50_us'] / 1000:8.3f} {f['p99_us'] / 1000:8.3f} {f['cpu_us']:7.1f} "
                  f"{f['errors']:6.0f}" + (f"  first error: {f['first_error'][:120]}" if f["first_error"] else ""))

    # 1,000 clients at once; the agent's resident memory sampled while they run.
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(agent.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    path, payload, expect, half = REQUESTS["agent git.get"]
    crowd = load(path, payload, expect, half, 1000, max(SECONDS, 2), agent.pid, "crowd")
    done.set()
    sampler.join()
    time.sleep(1.5)
    after_rss = rss_kib(agent.pid)
    stop(agent)

    # The configuration's size: a warm get for the last of N bound identities, N = 10 and 10,000.
    size = {}
    validate = None
    for n in (10, 10000):
        home_n, env_n = sandbox(f"size{n}")
        size_config(home_n, n)
        agent_n = start_agent(env_n)
        agents.append(agent_n)
        request = agent_message(("op", "git.get"), ("adapter", "git"), ("protocol", "https"), ("host", f"host{n - 1}.example"))
        sock = home_n + "/run/agent.sock"
        load(sock, request, f"username=u{n - 1}", False, 1, 0.2, name=f"size{n}")
        size[n] = {c: median_cell([load(sock, request, f"username=u{n - 1}", False, c, SECONDS, agent_n.pid, f"size{n}")
                                   for _ in range(REPEATS)]) for c in (1, 16)}
        stop(agent_n)
        if n == 10000 and os.path.exists(f"{BIN}/brokerctl"):
            times = []
            for _ in range(REPEATS):
                start = time.monotonic()
                done_ = subprocess.run([f"{BIN}/brokerctl", "validate"], env=env_n, capture_output=True, text=True)
                times.append(time.monotonic() - start)
            validate = (statistics.median(times), done_.returncode, done_.stdout.strip()[:100] or done_.stderr.strip()[:100])

    print(f"\n{'config size':24s} {'clients':>7s} {'req/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s} {'cpu us':>7s} {'errors':>6s}")
    for n, cells in size.items():
        for c, f in cells.items():
            print(f"{f'git.get, {n} bound ids':24s} {c:7d} {f['rps']:9.0f} {f['p50_us'] / 1000:8.3f} {f['p99_us'] / 1000:8.3f} "
                  f"{f['cpu_us']:7.1f} {f['errors']:6.0f}" + (f"  first error: {f['first_error'][:120]}" if f["first_error"] else ""))
    print(f"\nagent RSS: idle {idle_rss / 1024:.1f} MiB; peak with 1000 concurrent clients {peak[0] / 1024:.1f} MiB "
          f"({crowd['rps']:.0f} req/s, {crowd['errors']:.0f} errors); after {after_rss / 1024:.1f} MiB")
    if validate:
        print(f"brokerctl validate, 10000 identities and bindings: {validate[0]:.3f} s (exit {validate[1]}: {validate[2]})")

    print("\nagent git.get against git credential-cache--daemon get (agent / daemon):")
    print(f"{'clients':>7s} {'req/s ratio':>12s} {'p50 ratio':>10s} {'p99 ratio':>10s} {'cpu ratio':>10s}")
    for clients in LEVELS:
        a, d = results[("agent git.get", clients)], results[("daemon get", clients)]
        ratio = lambda key: a[key] / d[key] if d[key] else float("nan")
        print(f"{clients:7d} {ratio('rps'):12.2f} {ratio('p50_us'):10.2f} {ratio('p99_us'):10.2f} {ratio('cpu_us'):10.2f}")
    print("(req/s ratio > 1: the agent serves more; latency and cpu ratios < 1: the agent answers sooner, spends less)")
    print("\nagent git.get against the C floor doing the agent's rules alone (agent / floor):")
    print(f"{'clients':>7s} {'req/s ratio':>12s} {'p50 ratio':>10s} {'p99 ratio':>10s} {'cpu ratio':>10s}  floor / daemon req/s")
    for clients in LEVELS:
        a, f, d = results[("agent git.get", clients)], results[("C floor git.get", clients)], results[("daemon get", clients)]
        ratio = lambda key: a[key] / f[key] if f[key] else float("nan")
        print(f"{clients:7d} {ratio('rps'):12.2f} {ratio('p50_us'):10.2f} {ratio('p99_us'):10.2f} {ratio('cpu_us'):10.2f}  "
              f"{f['rps'] / d['rps']:.2f}")

    def verdict(ok):
        return "met" if ok else "NOT met"

    git = [results[("agent git.get", c)] for c in LEVELS]
    dmn = [results[("daemon get", c)] for c in LEVELS]
    aws = [results[("agent aws.credentials", c)] for c in LEVELS]
    rps_ok = all(a["rps"] >= d["rps"] for a, d in zip(git, dmn))
    p99_ok = git[-1]["p99_us"] <= dmn[-1]["p99_us"]
    aws_ratio = max(g["rps"] / a["rps"] for g, a in zip(git, aws))
    cpu = max(g["cpu_us"] for g in git)
    size_ratio = max(size[10000][c]["p50_us"] / size[10][c]["p50_us"] for c in (1, 16))
    size_cpu_ratio = size[10000][16]["cpu_us"] / size[10][16]["cpu_us"]
    print("\ntargets (issue 13):")
    print(f"  agent req/s >= daemon's at 1/4/16/64: " + " ".join(f"{a['rps'] / d['rps']:.2f}" for a, d in zip(git, dmn)) + f"  {verdict(rps_ok)}")
    print(f"  agent p99 <= daemon's at 64: {git[-1]['p99_us'] / 1000:.2f} vs {dmn[-1]['p99_us'] / 1000:.2f} ms  {verdict(p99_ok)}")
    print(f"  warm aws.credentials within 1.2x of warm git (worst req/s ratio): {aws_ratio:.2f}  {verdict(aws_ratio <= 1.2)}")
    print(f"  agent CPU per warm request <= 50 us (worst level): {cpu:.1f} us  {verdict(cpu <= 50)}")
    print(f"  idle RSS <= ~21 MiB (issue 13's figure, static runtime; this build may be dynamic, ~6 MiB more): "
          f"{idle_rss / 1024:.1f} MiB  {verdict(idle_rss <= 21.5 * 1024)}")
    print(f"  RSS at 1000 clients <= 2x idle: {peak[0] / idle_rss:.2f}x  {verdict(peak[0] <= 2 * idle_rss)}")
    print(f"  warm cost 10000 vs 10 identities within 1.2x (p50): {size_ratio:.2f} (cpu {size_cpu_ratio:.2f})  {verdict(size_ratio <= 1.2)}")
    if validate:
        print(f"  brokerctl validate of 10000 under 0.2 s: {validate[0]:.3f} s  {verdict(validate[0] < 0.2 and validate[1] == 0)}")
finally:
    stop(floor)
    if daemon is not None:
        try:
            exchange(daemon_sock, b"action=exit\n\n", True)
            daemon.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            daemon.kill()
            daemon.wait()
    for agent in agents:
        stop(agent)
    shutil.rmtree(root, ignore_errors=True)
