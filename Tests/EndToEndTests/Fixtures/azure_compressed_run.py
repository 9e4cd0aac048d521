#!/usr/bin/env python3
"""A 20-minute Azure run, compressed: started by the test under libfaketime (LD_PRELOAD, FAKETIME
"+0 xN"), so this driver, the fake Entra/ARM it starts, broker-env-wrap, the agent it spawns and
the wrapped azure-identity client all share one accelerated clock (libfaketime's shared memory,
inherited through FAKETIME_SHARED).

The fake mints TOKEN_LIFETIME-second tokens; the wrapped client lists subscriptions through the
managed-identity endpoint every PAUSE (faked) seconds for MINUTES (faked) minutes with one
DefaultAzureCredential, as a long job would. Prints one JSON line: rounds, failures, tokens the
fake issued, ARM calls it accepted, faked and real seconds.

Usage: azure_compressed_run.py BIN_DIR CONFIG_PATH WORK_DIR MINUTES PAUSE TOKEN_LIFETIME
(HOME, XDG_* and BROKER_SOCKET_DIR come from the environment, the sandbox's.)
"""
import json, os, subprocess, sys, time, urllib.request

BIN, CONFIG, WORK, MINUTES, PAUSE, LIFETIME = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
TENANT, CLIENT, SECRET, SUBSCRIPTION = ("72f988bf-86f1-41af-91ab-2d7cd011db47", "0b5e3f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
                                        "compressed-run-secret", "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
here = os.path.dirname(os.path.abspath(__file__))
os.makedirs(WORK, exist_ok=True)
with open(WORK + "/entra.json", "w") as f:
    json.dump({"apps": [{"tenant": TENANT, "client_id": CLIENT, "secret": SECRET}], "lifetime": LIFETIME,
               "subscriptions": [{"id": SUBSCRIPTION, "tenant": TENANT, "name": "long-run"}]}, f)
entra = subprocess.Popen([sys.executable, here + "/entra_fake.py", WORK + "/entra.json", WORK + "/entra-ca.pem"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
try:
    port = int(entra.stdout.readline())
    info = json.load(urllib.request.urlopen("http://127.0.0.1:%d/__info" % port))
    https = info["ports"]["https"]
    with open(CONFIG, "w") as f:
        f.write("""[identity "long"]
    kind = azure/client-secret
    tenant-id = %s
    client-id = %s
    client-secret = env:COMPRESSED_SECRET
    authority = http://127.0.0.1:%d
""" % (TENANT, CLIENT, port))
    os.chmod(CONFIG, 0o600)
    client = """
import json, sys, time
from azure.identity import DefaultAzureCredential
from azure.core import PipelineClient
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
from azure.core.rest import HttpRequest
credential = DefaultAzureCredential()
client = PipelineClient(base_url="https://127.0.0.1:%(https)d", policies=[
    RetryPolicy(retry_total=0), BearerTokenCredentialPolicy(credential, "https://management.azure.com/.default")])
start, rounds, failures = time.time(), 0, []
while time.time() - start < %(seconds)d:
    response = client.send_request(HttpRequest("GET", "https://127.0.0.1:%(https)d/subscriptions?api-version=2022-12-01"))
    rounds += 1
    if response.status_code != 200 or [s["subscriptionId"] for s in response.json()["value"]] != ["%(subscription)s"]:
        failures.append("%%.0f s: HTTP %%d %%s" %% (time.time() - start, response.status_code, response.text[:200]))
    time.sleep(%(pause)d)
print(json.dumps({"rounds": rounds, "failures": failures, "faked_seconds": round(time.time() - start)}))
""" % {"https": https, "seconds": MINUTES * 60, "subscription": SUBSCRIPTION, "pause": PAUSE}
    env = dict(os.environ, COMPRESSED_SECRET=SECRET, REQUESTS_CA_BUNDLE=WORK + "/entra-ca.pem")
    real = time.monotonic()
    real_wall = os.times().elapsed
    done = subprocess.run([BIN + "/broker-env-wrap", "--identity", "long", "--", sys.executable, "-c", client],
                          env=env, capture_output=True, text=True, timeout=MINUTES * 60 + 120)
    if done.returncode != 0:
        print(json.dumps({"error": done.stderr[-800:]}))
        sys.exit(1)
    result = json.loads(done.stdout)
    counts = json.load(urllib.request.urlopen("http://127.0.0.1:%d/__count" % port))
    result.update(issued=counts.get("issued", 0), arm_ok=counts.get("arm_ok", 0), real_seconds=round(os.times().elapsed - real_wall, 1))
    subprocess.run([BIN + "/brokerctl", "stop"], env=env, capture_output=True)
    print(json.dumps(result))
finally:
    entra.stdin.close()
    entra.wait(timeout=20)
