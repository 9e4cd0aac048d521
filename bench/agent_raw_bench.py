"""Runs the agent-raw benchmark; see bench/agent-raw. Prints figures and ratios, asserts nothing.

A compiled client (agent_raw_client.c, built with cc into a temp dir) drives, at each concurrency
level, broker-agent's socket and git's own `git credential-cache--daemon` socket in turn, each in
its own protocol, with a warm get: connect, send one request, read to EOF, repeat. Then the same
for the agent's aws.credentials (an aws/user identity, keys from env:, no network) and env.plan
(a static identity, as broker-env-wrap asks). Requests carry exactly the fields the adapters send."""
import os, shutil, socket, subprocess, sys, tempfile, time

BIN, SECONDS = sys.argv[1], float(sys.argv[2])
LEVELS = [1, 4, 16, 64]
here = os.path.dirname(os.path.abspath(__file__))

root = tempfile.mkdtemp(prefix="cb-raw-", dir="/tmp")
env = {k: v for k, v in os.environ.items()
       if k not in ("BROKER_CONFIG", "XDG_RUNTIME_DIR", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
env.update(HOME=root, XDG_CONFIG_HOME=root + "/config", XDG_CACHE_HOME=root + "/cache",
           XDG_STATE_HOME=root + "/state", BROKER_SOCKET_DIR=root + "/run", GIT_CONFIG_NOSYSTEM="1",
           GIT_TERMINAL_PROMPT="0", BENCH_AWS_SECRET="bench-secret-access-key")
agent_sock = root + "/run/agent.sock"
daemon_sock = root + "/cc/socket"
os.makedirs(root + "/config/credential-broker", mode=0o700)
os.makedirs(root + "/cc", mode=0o700)


def write(path, data, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.write(fd, data if isinstance(data, bytes) else data.encode())
    os.close(fd)
    return path


# One process poses as every client: per-caller rate limits would refuse most of it.
write(root + "/config/credential-broker/config",
      "[agent]\n\trate-limits = false\n"
      '[identity "keys"]\n\tkind = aws/user\n\taccess-key-id = AKIDRAWBENCH\n\tsecret-access-key = env:BENCH_AWS_SECRET\n\tlong-lived-keys = true\n'
      f'[identity "tok"]\n\tkind = static\n\tusername = u\n\tsecret = file:{write(root + "/token", "static-token")}\n\tenv = BENCH_TOKEN\n')


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


def load(name, clients, seconds):
    path, payload, expect, half_close = REQUESTS[name]
    request_file = write(f"{root}/request-{name.replace(' ', '-')}", payload)
    out = subprocess.run([client, path, request_file, str(clients), str(seconds), expect] + (["half-close"] if half_close else []),
                         capture_output=True, text=True, check=True).stdout
    line = out.strip()
    head, _, first_error = line.partition(" first_error=")
    figures = dict(item.split("=", 1) for item in head.split())
    figures["first_error"] = first_error
    return figures


agent = daemon = None
try:
    agent = subprocess.Popen([f"{BIN}/broker-agent", "--foreground", "--idle-timeout", "1h"], env=env,
                             stdout=subprocess.PIPE, stderr=open(root + "/agent.log", "w"), stdin=subprocess.DEVNULL)
    assert agent.stdout.readline() == b"ok\n", "broker-agent did not start; see its log"
    # git's daemon, started the way credential-cache.c spawn_daemon does; "ok" means it listens.
    daemon = subprocess.Popen(["git", "credential-cache--daemon", daemon_sock], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    assert daemon.stdout.readline() == b"ok\n", "git credential-cache--daemon did not start"

    store = [("protocol", "https"), ("host", "bench.example"), ("username", "bench"), ("password", "bench-password")]
    exchange(agent_sock, agent_message(("op", "git.store"), ("adapter", "git"), *store))
    exchange(daemon_sock, b"action=store\ntimeout=3600\n" + "".join(f"{k}={v}\n" for k, v in store).encode() + b"\n", True)
    for name in REQUESTS:  # warm, and show what fails before timing it
        figures = load(name, 1, 0.2)
        if figures["errors"] != "0" or figures["requests"] == "0":
            print(f"warning: {name}: {figures['errors']} errors while warming: {figures['first_error']}")

    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"{os.cpu_count()} CPUs; agent {BIN}/broker-agent; {git_version}'s credential-cache--daemon")
    print(f"each cell: clients connect, send one request, read to EOF, repeat, for {SECONDS:g} s; latency per request")
    print(f"{'request':24s} {'clients':>7s} {'req/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s} {'errors':>6s}")
    results = {}
    for clients in LEVELS:
        for name in REQUESTS:
            f = load(name, clients, SECONDS)
            results[(name, clients)] = f
            print(f"{name:24s} {clients:7d} {float(f['rps']):9.0f} {float(f['p50_us']) / 1000:8.3f} {float(f['p99_us']) / 1000:8.3f} "
                  f"{f['errors']:>6s}" + (f"  first error: {f['first_error'][:120]}" if f["first_error"] else ""))
    print("\nagent git.get against git credential-cache--daemon get (agent / daemon):")
    print(f"{'clients':>7s} {'req/s ratio':>12s} {'p50 ratio':>10s} {'p99 ratio':>10s}")
    for clients in LEVELS:
        a, d = results[("agent git.get", clients)], results[("daemon get", clients)]
        ratio = lambda key: float(a[key]) / float(d[key]) if float(d[key]) else float("nan")
        print(f"{clients:7d} {ratio('rps'):12.2f} {ratio('p50_us'):10.2f} {ratio('p99_us'):10.2f}")
    print("(req/s ratio > 1: the agent serves more; latency ratio < 1: the agent answers sooner)")
finally:
    if daemon is not None:
        try:
            exchange(daemon_sock, b"action=exit\n\n", True)
            daemon.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            daemon.kill()
            daemon.wait()
    if agent is not None:
        agent.terminate()
        try:
            agent.wait(10)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()
    shutil.rmtree(root, ignore_errors=True)
