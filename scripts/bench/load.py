#!/usr/bin/env python3
"""Bounded load on the custom handler, as the Functions host drives it.

Starts `chargeback serve` on a free loopback port with a fresh data directory
(FUNCTIONS_CUSTOMHANDLER_PORT set, as under the host), then N client threads
each post BATCHES host-shaped Event Hubs invocations of SIZE events (string
form, partition = client, sequence numbers and enqueued times in the
metadata). Every tenth batch is posted twice, as the host does after a
failed checkpoint; one event in fifty is a poison record. It stops by itself
when every batch is posted (or after --max-seconds), then checks the totals
exactly: every invocation balances (received = accepted + duplicates +
dead-lettered), the ledger holds each record once, and /api/usage answers the
exact token total. It reports records/s, p50/p99 latency per invocation and
the server's peak RSS; the peer, measured in the same run, is
`chargeback ingest` of the same records from a file (same parser and
ledger, no HTTP). Exit status 1 if any total is off.

Usage: load.py --bin PATH [--clients N] [--batches M] [--size S] [--max-seconds T] [--json]
"""
import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("--bin", required=True)
parser.add_argument("--clients", type=int, default=8)
parser.add_argument("--batches", type=int, default=50)
parser.add_argument("--size", type=int, default=100)
parser.add_argument("--max-seconds", type=float, default=300)
parser.add_argument("--json", action="store_true", help="print the figures as one JSON line too")
args = parser.parse_args()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def record(client, batch, i):
    """One event body: mostly usage.v1 with an id, some APIM sample records
    without one (identity = position), one in fifty poison."""
    n = (client * 1_000_003 + batch * 1_009 + i) % 997
    if i % 50 == 49:
        return json.dumps({"AppKey": f"key-{n}", "PromptTokens": "-1"}), None
    prompt, completion = 100 + n, 10 + n % 90
    if i % 5 == 4:
        body = json.dumps({"Timestamp": "11/26/2026 11:32:47 AM", "ApiOperation": "chat.completion",
                           "AppKey": f"{client:032x}", "PromptTokens": str(prompt),
                           "CompletionTokens": str(completion), "TotalTokens": str(prompt + completion)})
    else:
        body = json.dumps({"schema": "usage.v1", "id": f"load-{client}-{batch}-{i}",
                           "timestamp": "2026-11-26T11:32:47Z", "subscription_id": f"sub-{client % 4}",
                           "deployment": "gpt-4o-prod", "model": "gpt-4o", "status": 200,
                           "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                     "total_tokens": prompt + completion}})
    return body, prompt + completion


def invocation(client, batch, bodies):
    first = batch * args.size
    sequences = list(range(first, first + len(bodies)))
    enqueued = [f"2026-11-26T11:{(s // 1000) % 60:02}:{(s // 10) % 60:02}.{s % 1000:03}Z" for s in sequences]
    return json.dumps({
        "Data": {"events": json.dumps(bodies)},
        "Metadata": {"PartitionContext": {"EventHubName": "apim-usage", "ConsumerGroup": "$Default",
                                          "PartitionId": str(client)},
                     "SequenceNumberArray": json.dumps(sequences),
                     "EnqueuedTimeUtcArray": json.dumps(enqueued)},
    })


def rss_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except FileNotFoundError:
        return 0
    return 0


def wait_ready(port, deadline):
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the handler did not answer /healthz")


# The whole workload, built before the clock starts.
plan = []  # (client, batch, payload, valid tokens of the batch, valid records, events)
expected_tokens = expected_records = 0
lines = []
for client in range(args.clients):
    for batch in range(args.batches):
        made = [record(client, batch, i) for i in range(args.size)]
        bodies = [b for b, _ in made]
        tokens = sum(t for _, t in made if t is not None)
        valid = sum(1 for _, t in made if t is not None)
        expected_tokens += tokens
        expected_records += valid
        lines.extend(bodies)
        plan.append((client, batch, invocation(client, batch, bodies), valid, len(bodies)))

work = tempfile.mkdtemp(prefix="chargeback-load.")
port = free_port()
env = dict(os.environ, FUNCTIONS_CUSTOMHANDLER_PORT=str(port), CHARGEBACK_DATA_DIR=os.path.join(work, "data"),
           RUST_LOG="warn")
for name in ("AzureWebJobsStorage", "CHARGEBACK_LEDGER", "DATABASE_URL", "CHARGEBACK_TENANT"):
    env.pop(name, None)
server = subprocess.Popen([args.bin, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
failures = []
try:
    wait_ready(port, time.time() + 30)
    lock = threading.Lock()
    latencies, outcomes = [], []
    peak = [rss_kb(server.pid, "VmRSS")]
    stop = time.time() + args.max_seconds

    def client_loop(client):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        mine = [p for p in plan if p[0] == client]
        for _, batch, payload, valid, events in mine:
            for attempt in (0, 1) if batch % 10 == 9 else (0,):
                if time.time() > stop:
                    return
                start = time.perf_counter()
                conn.request("POST", "/ingest-usage", body=payload, headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                body = response.read()
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    if response.status != 200:
                        failures.append(f"client {client} batch {batch}: HTTP {response.status} {body[:200]!r}")
                        continue
                    outcome = json.loads(body)["ReturnValue"]
                    outcomes.append((outcome, valid, events, attempt))

    def sample_rss():
        while server.poll() is None and not done.is_set():
            peak[0] = max(peak[0], rss_kb(server.pid, "VmRSS"))
            time.sleep(0.05)

    done = threading.Event()
    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    started = time.perf_counter()
    threads = [threading.Thread(target=client_loop, args=(c,)) for c in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    done.set()
    peak_rss = max(peak[0], rss_kb(server.pid, "VmHWM"))

    # Exactness.
    accepted = duplicates = 0
    for outcome, valid, events, attempt in outcomes:
        if outcome["received"] != outcome["accepted"] + outcome["duplicates"] + outcome["dead_lettered"]:
            failures.append(f"an invocation does not balance: {outcome}")
        if outcome["received"] != events:
            failures.append(f"received {outcome['received']} of {events}: {outcome}")
        expected = (valid, 0) if attempt == 0 else (0, valid)
        if (outcome["accepted"], outcome["duplicates"]) != expected:
            failures.append(f"attempt {attempt}: accepted/duplicates {outcome['accepted']}/{outcome['duplicates']}, expected {expected}")
        accepted += outcome["accepted"]
        duplicates += outcome["duplicates"]
    if accepted != expected_records:
        failures.append(f"accepted {accepted} records in all, expected {expected_records}")
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", "/api/usage?from=2026-11-01&to=2026-12-01&group_by=day")
    usage = json.loads(c.getresponse().read())
    if usage["total"]["total_tokens"] != expected_tokens or usage["total"]["requests"] != expected_records:
        failures.append(f"/api/usage total {usage['total']}, expected {expected_tokens} tokens in {expected_records} requests")
finally:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()

# The peer: the same records from a file, same parser and ledger, no HTTP.
export = os.path.join(work, "records.jsonl")
with open(export, "w") as f:
    f.write("\n".join(lines) + "\n")
peer_env = dict(env)
peer_env.pop("FUNCTIONS_CUSTOMHANDLER_PORT")
peer_env["CHARGEBACK_DATA_DIR"] = os.path.join(work, "peer")
start = time.perf_counter()
subprocess.run([args.bin, "ingest", export], env=peer_env, check=True, stdout=subprocess.DEVNULL)
peer_wall = time.perf_counter() - start
subprocess.run(["rm", "-rf", work], check=False)

events_posted = sum(o[2] for o in outcomes)
latencies.sort()
p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
figures = {
    "clients": args.clients, "batches_per_client": args.batches, "events_per_batch": args.size,
    "invocations": len(latencies), "events": events_posted, "wall_s": round(wall, 3),
    "records_per_s": round(events_posted / wall), "p50_ms": round(p(0.50), 1), "p99_ms": round(p(0.99), 1),
    "server_peak_rss_mb": round(peak_rss / 1024, 1),
    "peer_cli_ingest_records_per_s": round(len(lines) / peer_wall),
    "ratio_http_to_cli": round((events_posted / wall) / (len(lines) / peer_wall), 2),
    "accepted": accepted, "duplicates": duplicates, "expected_tokens": expected_tokens, "exact": not failures,
}
print(f"clients {args.clients} × {args.batches} batches × {args.size} events: {len(latencies)} invocations, "
      f"{events_posted} events in {wall:.2f} s")
print(f"   {figures['records_per_s']} records/s, p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms per invocation, "
      f"server peak RSS {figures['server_peak_rss_mb']} MB")
print(f"   peer (chargeback ingest, same records from a file): {figures['peer_cli_ingest_records_per_s']} records/s; "
      f"HTTP/peer = {figures['ratio_http_to_cli']}")
print(f"   totals: accepted {accepted} (expected {expected_records}), duplicates {duplicates}, "
      f"/api/usage {expected_tokens} tokens: {'exact' if not failures else 'WRONG'}")
if args.json:
    print(json.dumps(figures))
for f in failures[:20]:
    print("   FAIL:", f, file=sys.stderr)
sys.exit(1 if failures else 0)
