"""Runs the keyring benchmark; see bench/keyring. Prints figures, asserts nothing.

A warm `keyring:` secret (file keyring, served from the agent's memory) against a warm `file:`
secret, alternating git gets over the agent's socket in one run; then a cold read from the system
keyring (a real GNOME Keyring in a private D-Bus session): `brokerctl lock` drops the decrypted
copy and the credentials made from it before each timed get, so each one runs `secret-tool`."""
import os, shutil, socket, statistics, subprocess, sys, tempfile, time

BIN, ROUNDS = sys.argv[1], int(sys.argv[2])
root = tempfile.mkdtemp(prefix="cb-kr-", dir="/tmp")
env = {k: v for k, v in os.environ.items() if k not in ("BROKER_CONFIG", "XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS")}
env.update(HOME=root, XDG_CONFIG_HOME=root + "/config", XDG_CACHE_HOME=root + "/cache", XDG_STATE_HOME=root + "/state",
           XDG_DATA_HOME=root + "/data", BROKER_SOCKET_DIR=root + "/run", GIT_CONFIG_NOSYSTEM="1",
           BROKER_KEYRING_PASSWORD="bench pass phrase")
os.makedirs(root + "/config/credential-broker", mode=0o700)
sock_path = root + "/run/agent.sock"


def write(path, text, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.write(fd, text.encode())
    os.close(fd)
    return path


def configure(backend):
    token = write(root + "/token", "file-token\n")
    write(root + "/config/credential-broker/config",
          f"[keyring]\n\tbackend = {backend}\n\twork-factor = 18\n"
          f'[identity "kr"]\n\tkind = static\n\tusername = u\n\tsecret = keyring:kr\n'
          f'[identity "fl"]\n\tkind = static\n\tusername = u\n\tsecret = file:{token}\n'
          '[git "https://kr.bench"]\n\tidentity = kr\n[git "https://fl.bench"]\n\tidentity = fl\n')


def brokerctl(*args, stdin=""):
    return subprocess.run([BIN + "/brokerctl", *args], input=stdin.encode(), env=env, capture_output=True, timeout=300)


def get(host):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    s.sendall(f"v=1\nop=git.get\nadapter=git\nprotocol=https\nhost={host}\n\n".encode())
    answer = b""
    while not answer.endswith(b"\n\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        answer += chunk
    s.close()
    assert b"password=" in answer, answer
    return answer


def timed(host):
    start = time.perf_counter()
    get(host)
    return (time.perf_counter() - start) * 1e6


def ms(us):
    return f"{us / 1000:.3f} ms"


# Warm: the file keyring at age -p's work factor; scrypt runs once, then memory serves.
configure("file")
print(brokerctl("secret", "set", "kr", stdin="keyring-token\n").stdout.decode().strip())
brokerctl("stop")
brokerctl("secret", "list")   # a new agent, which has decrypted nothing yet
first = timed("kr.bench")
get("fl.bench")
warm = {"kr.bench": [], "fl.bench": []}
for _ in range(ROUNDS):
    for host in ("kr.bench", "fl.bench"):
        warm[host].append(timed(host))
kr, fl = statistics.median(warm["kr.bench"]), statistics.median(warm["fl.bench"])
print(f"first keyring: get of a new agent (one scrypt 2^18 decrypt): {ms(first)}")
print(f"warm keyring: secret, git get over the socket, median of {ROUNDS}: {ms(kr)}  (p90 {ms(sorted(warm['kr.bench'])[int(ROUNDS * 0.9)])})")
print(f"warm file: secret,    git get over the socket, median of {ROUNDS}: {ms(fl)}  (p90 {ms(sorted(warm['fl.bench'])[int(ROUNDS * 0.9)])})")
print(f"ratio keyring/file: {kr / fl:.2f}")
brokerctl("stop")

# Cold: the system keyring, each get after `brokerctl lock`.
if all(shutil.which(t) for t in ("dbus-daemon", "gnome-keyring-daemon", "secret-tool")):
    bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1", f"--address=unix:path={root}/bus"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().decode().strip()
    subprocess.run(["gnome-keyring-daemon", "--unlock", "--components=secrets"], input=b"login-password", env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)
    configure("system")
    print(brokerctl("secret", "set", "kr", stdin="keyring-token\n").stdout.decode().strip())
    cold = []
    for _ in range(max(5, ROUNDS // 20)):
        brokerctl("lock")
        cold.append(timed("kr.bench"))
    warm_system = [timed("kr.bench") for _ in range(ROUNDS)]
    print(f"cold system keyring: get (secret-tool lookup), median of {len(cold)}: {ms(statistics.median(cold))}")
    print(f"warm system keyring: get, median of {ROUNDS}: {ms(statistics.median(warm_system))}")
    brokerctl("stop")
    bus.terminate()
    bus.wait()
else:
    print("cold system keyring: skipped (dbus-daemon, gnome-keyring-daemon or secret-tool missing)")
shutil.rmtree(root, ignore_errors=True)
