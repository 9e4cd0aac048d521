"""Runs the agent-load benchmark; see bench/agent-load. Prints figures, asserts nothing.

One asyncio process holds CLIENTS real connections to one broker-agent at once (all connected before
any sends, so the agent sees them together), speaking the wire protocol straight to its Unix socket.
Request kinds: git get answered from the agent's memory (unbound host, approved first), git get
bound to an exec identity (warm; cold = the identity logged out first), aws.credentials for an
aws/credentials identity backed by a fast script, env.plan for a static identity with `env = X`.
Then 500 idle connections (connect, send nothing) beside one real client making 100 requests."""
import asyncio, os, random, resource, shutil, socket, statistics, subprocess, sys, tempfile, time

BIN, CLIENTS, ROUNDS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
IDLE_FLOOD, REAL_REQUESTS = 500, 100

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = min(hard, max(soft, CLIENTS + IDLE_FLOOD + 512))
resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

root = tempfile.mkdtemp(prefix="cb-load-", dir="/tmp")
env = {k: v for k, v in os.environ.items() if k not in ("BROKER_CONFIG", "XDG_RUNTIME_DIR")}
env.update(HOME=root, XDG_CONFIG_HOME=root + "/config", XDG_CACHE_HOME=root + "/cache",
           XDG_STATE_HOME=root + "/state", BROKER_SOCKET_DIR=root + "/run", GIT_CONFIG_NOSYSTEM="1")
sock_path = root + "/run/agent.sock"
os.makedirs(root + "/config/credential-broker", mode=0o700)
os.makedirs(root + "/bin")


def write(path, text, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.write(fd, text.encode())
    os.close(fd)
    return path


mint = write(root + "/bin/mint", "#!/bin/sh\necho run >> %s/mint.runs\necho username=minted\n"
             "echo password=tok-$$\necho password_expiry_utc=$(( $(date +%%s) + 3600 ))\n" % root, 0o755)
source = write(root + "/bin/aws-source", "#!/bin/sh\necho run >> %s/aws.runs\n"
               "printf '{\"Version\": 1, \"AccessKeyId\": \"AKIDLOAD\", \"SecretAccessKey\": \"s\", \"SessionToken\": \"t\", "
               "\"Expiration\": \"%%s\"}\\n' $(date -u -d @$(( $(date +%%s) + 3600 )) +%%Y-%%m-%%dT%%H:%%M:%%SZ)\n" % root, 0o755)
token = write(root + "/token", "static-token\n")


def configure(max_connections):
    # One process poses as every client, so the per-caller rate limits (hits 50/s burst 100) would
    # answer most of it "try again": switch them off to measure the agent itself.
    agent = "[agent]\n\trate-limits = false\n" + (f"\tmax-connections = {max_connections}\n" if max_connections else "")
    write(root + "/config/credential-broker/config", agent +
          f'[identity "minted"]\n\tkind = exec\n\tcommand = {mint}\n'
          f'[identity "src"]\n\tkind = aws/credentials\n\tcommand = {source}\n'
          f'[identity "tok"]\n\tkind = static\n\tusername = u\n\tsecret = file:{token}\n\tenv = LOAD_TOKEN\n'
          f'[git "https://exec.bench"]\n\tidentity = minted\n')


def message(**fields):
    return ("v=1\n" + "".join(f"{k.replace('_list', '[]')}={v}\n" for k, v in fields.items()) + "\n").encode()


REQUEST = {
    "git-hit": message(op="git.get", adapter="git", protocol="https", host="cache.bench"),
    "git-exec": message(op="git.get", adapter="git", protocol="https", host="exec.bench"),
    "aws": message(op="aws.credentials", adapter="aws", identity="src"),
    "env": message(op="env.plan", adapter="env-wrap", identity_list="tok", delivery="env", pid=os.getpid()),
}
STORE = message(op="git.store", adapter="git", protocol="https", host="cache.bench", username="bench", password="bench-password")
MIX = ["git-hit", "git-exec", "aws", "env"]


def proc_status(pid):
    fields = {}
    try:
        for line in open(f"/proc/{pid}/status"):
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                fields[key] = int(value.split()[0])
    except OSError:
        pass
    return fields


def mib(kib):
    return f"{kib / 1024:6.1f} MiB"


async def connect():
    """A non-blocking connect; a full accept backlog answers EAGAIN, so wait and try again."""
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(sock_path)
            return s
        except (BlockingIOError, InterruptedError):
            s.close()
            await asyncio.sleep(0.002)


async def exchange(s, payload, timeout=30):
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_sendall(s, payload)
    except (BrokenPipeError, ConnectionResetError):
        pass  # a busy agent answers and closes before reading: the answer is still there to read
    answer = b""
    try:
        while True:
            chunk = await asyncio.wait_for(loop.sock_recv(s, 65536), timeout)
            if not chunk:
                break
            answer += chunk
    except ConnectionResetError:
        pass
    finally:
        s.close()
    return answer


def outcome(answer):
    if b"status=ok" in answer:
        return "ok"
    if b"connections; try again" in answer:
        return "busy"
    return "error: " + (answer.decode(errors="replace").strip().replace("\n", " ")[:160] or "(no answer)")


async def one(payload):
    start = time.perf_counter()
    answer = await exchange(await connect(), payload)
    return (time.perf_counter() - start) * 1000, outcome(answer)


def pct(samples, p):
    if not samples:
        return float("nan")
    samples = sorted(samples)
    return samples[min(len(samples) - 1, int(round(p / 100 * (len(samples) - 1))))]


class Agent:
    def __init__(self, max_connections):
        configure(max_connections)
        self.log = open(root + "/agent-%s.log" % (max_connections or "default"), "w")
        self.process = subprocess.Popen([f"{BIN}/broker-agent", "--foreground", "--idle-timeout", "1h"], env=env,
                                        stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL)
        ready = self.process.stdout.readline()
        assert ready == b"ok\n", ready
        self.pid = self.process.pid

    def alive(self):
        return self.process.poll() is None

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


async def sample_memory(pid, peak, stop):
    while not stop.is_set():
        status = proc_status(pid)
        for key in ("VmRSS", "Threads"):
            peak[key] = max(peak.get(key, 0), status.get(key, 0))
        await asyncio.sleep(0.02)


async def burst(kinds, retry_busy=False):
    """Connects len(kinds) clients, then lets them all send at once. Returns [(kind, ms, outcome, tries)]."""
    sockets = await asyncio.gather(*(connect() for _ in kinds))
    go = asyncio.Event()

    async def client(kind, s):
        await go.wait()
        start = time.perf_counter()
        tries = 1
        result = outcome(await exchange(s, REQUEST[kind]))
        while retry_busy and result == "busy" and tries < 200:
            await asyncio.sleep(random.uniform(0.005, 0.05))
            tries += 1
            result = outcome(await exchange(await connect(), REQUEST[kind]))
        return kind, (time.perf_counter() - start) * 1000, result, tries

    tasks = [asyncio.create_task(client(kind, s)) for kind, s in zip(kinds, sockets)]
    await asyncio.sleep(0.05)
    go.set()
    return await asyncio.gather(*tasks)


async def logout(identity):
    await one(message(op="identity.logout", identity=identity))


def runs(name):
    try:
        return len(open(f"{root}/{name}.runs").read().splitlines())
    except OSError:
        return 0


async def load_phase(max_connections, label):
    agent = Agent(max_connections)
    try:
        await one(STORE)
        for kind in MIX:  # warm every kind once
            await one(REQUEST[kind])
        await asyncio.sleep(0.5)
        before = proc_status(agent.pid)
        peak, stop = {}, asyncio.Event()
        sampler = asyncio.create_task(sample_memory(agent.pid, peak, stop))
        results, elapsed = [], 0.0
        mints_before, aws_before = runs("mint"), runs("aws")
        for round_index in range(ROUNDS):
            cold = round_index == 0
            if cold:  # the exec and aws/credentials identities start this round with nothing cached
                await logout("minted")
                await logout("src")
            kinds = [MIX[i % len(MIX)] for i in range(CLIENTS)]
            start = time.perf_counter()
            for kind, ms, result, tries in await burst(kinds, retry_busy=max_connections is None and round_index == ROUNDS - 1):
                suffix = "-cold" if cold and kind in ("git-exec", "aws") else ""
                results.append((kind + suffix, ms, result, tries, round_index))
            elapsed += time.perf_counter() - start
        stop.set()
        await sampler
        at_peak = proc_status(agent.pid)
        await asyncio.sleep(1)
        after_1s = proc_status(agent.pid)
        await asyncio.sleep(11)  # one sweep period: the agent hands burst memory back to the OS
        after_12s = proc_status(agent.pid)

        limit = max_connections or 128
        print(f"\n== {label}: {CLIENTS} concurrent clients x {ROUNDS} rounds, max-connections {limit} ==")
        ok = [r for r in results if r[2] == "ok"]
        busy = [r for r in results if r[2] == "busy"]
        errors = [r for r in results if r[2] not in ("ok", "busy")]
        retried = max_connections is None
        print(f"  answers: {len(ok)} ok, {len(busy)} busy (documented 'try again'), {len(errors)} other errors"
              + ("; last round retries busy answers after 5-50 ms" if retried else ""))
        for e in sorted(set(r[2] for r in errors))[:5]:
            print(f"    {e}")
        print(f"  throughput: {len(ok) / elapsed:8.0f} ok answers/s ({len(results) / elapsed:.0f} answers/s incl. busy) over {elapsed:.2f} s")
        print(f"  {'kind':16s} {'n ok':>6s} {'busy':>6s} {'p50 ms':>8s} {'p99 ms':>8s} {'max ms':>8s}")
        for kind in ["git-hit", "git-exec", "git-exec-cold", "aws", "aws-cold", "env"]:
            mine = [r for r in results if r[0] == kind]
            if not mine:
                continue
            lat = [r[1] for r in mine if r[2] == "ok"]
            print(f"  {kind:16s} {len(lat):6d} {sum(r[2] == 'busy' for r in mine):6d} {pct(lat, 50):8.1f} {pct(lat, 99):8.1f} "
                  f"{max(lat) if lat else float('nan'):8.1f}")
        if retried:
            last = [r for r in results if r[4] == ROUNDS - 1]
            print(f"  last round with retries: {sum(r[2] == 'ok' for r in last)}/{len(last)} ok, "
                  f"max tries {max(r[3] for r in last)}, p50 {pct([r[1] for r in last], 50):.1f} ms, p99 {pct([r[1] for r in last], 99):.1f} ms")
        print(f"  upstream runs during the load: exec script {runs('mint') - mints_before}, aws source {runs('aws') - aws_before} "
              f"(cold round coalesced by single-flight)")
        print(f"  agent RSS before {mib(before['VmRSS'])}, peak sampled {mib(peak.get('VmRSS', 0))} (VmHWM {mib(at_peak['VmHWM'])}, "
              f"threads peak {peak.get('Threads', 0)}), after 1 s {mib(after_1s['VmRSS'])}, after 12 s {mib(after_12s['VmRSS'])}")
        print(f"  agent alive after the load: {agent.alive()}")

        # Idle flood: IDLE_FLOOD connections that never send, while one real client asks REAL_REQUESTS times.
        idle = await asyncio.gather(*(connect() for _ in range(IDLE_FLOOD)))
        await asyncio.sleep(0.3)
        flood_status = proc_status(agent.pid)
        flood_start = time.perf_counter()
        real = [await one(REQUEST["git-hit"]) for _ in range(REAL_REQUESTS)]
        recovered = None
        if any(r != "ok" for _, r in real):
            # The silent connections hold their slots until the agent's request-timeout drops them.
            while time.perf_counter() - flood_start < 20:
                if (await one(REQUEST["git-hit"]))[1] == "ok":
                    recovered = time.perf_counter() - flood_start
                    break
                await asyncio.sleep(0.1)
        for s in idle:
            s.close()
        lat = [ms for ms, result in real if result == "ok"]
        print(f"  idle flood of {IDLE_FLOOD} silent connections, one real client making {REAL_REQUESTS} git gets:")
        print(f"    real client: {len(lat)} ok, {sum(r == 'busy' for _, r in real)} busy, "
              f"{sum(r not in ('ok', 'busy') for _, r in real)} other; p50 {pct(lat, 50):.2f} ms, p99 {pct(lat, 99):.2f} ms")
        if recovered is not None:
            print(f"    first ok answer {recovered:.1f} s after the flood began, with the silent connections still open")
        print(f"    agent during the flood: RSS {mib(flood_status.get('VmRSS', 0))}, threads {flood_status.get('Threads', 0)}; "
              f"alive {agent.alive()}")
        return agent
    finally:
        agent.stop()


async def uncontended():
    agent = Agent(None)
    try:
        await one(STORE)
        out = {}
        for kind in MIX:
            await one(REQUEST[kind])
            out[kind] = [(await one(REQUEST[kind]))[0] for _ in range(200)]
        cold = []
        for _ in range(30):
            await logout("minted")
            cold.append((await one(REQUEST["git-exec"]))[0])
        out["git-exec-cold"] = cold
        print(f"== one client at a time (no contention), ms ==")
        for kind, lat in out.items():
            print(f"  {kind:16s} p50 {pct(lat, 50):7.2f}  p99 {pct(lat, 99):7.2f}")
        idle = proc_status(agent.pid)
        print(f"  agent idle RSS {mib(idle['VmRSS'])}, threads {idle['Threads']}")
    finally:
        agent.stop()


async def main():
    print(f"RLIMIT_NOFILE {want}; {os.cpu_count()} CPUs; agent {BIN}/broker-agent")
    await uncontended()
    await load_phase(None, "default config")
    await load_phase(max(2048, CLIENTS + IDLE_FLOOD + 16), "max-connections raised")
    # From Sources/BrokerAgent/AgentServer.swift and BrokerWire: one thread per admitted connection
    # (stackSize 512 KiB), an 8 KiB read chunk, and a request of at most WireLimits.maxMessageBytes
    # (1 MiB) held while it is parsed; connections past max-connections get one busy line, no thread.
    stack, chunk, request = 512, 8, 1024
    for n in (128, 1024):
        print(f"memory bound, max-connections {n}: {n} x ({stack} KiB stack + {chunk} KiB chunk + {request} KiB request) "
              f"= {n * (stack + chunk + request) / 1024:.0f} MiB above the idle agent (stacks are reserved, "
              f"resident only as touched); a silent connection holds its slot for request-timeout (10 s)")


try:
    asyncio.run(main())
finally:
    shutil.rmtree(root, ignore_errors=True)
