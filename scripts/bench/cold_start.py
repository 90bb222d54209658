#!/usr/bin/env python3
"""Cold start of the custom handler: from process start to the first answered
invocation (an Event Hubs batch of one record, as the host posts it), with a
fresh data directory each time. The peer, measured in the same run with the
same harness, is Python's built-in http.server answering its first GET.
Usage: cold_start.py PATH/TO/chargeback [RUNS]"""
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

binary = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 15


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


record = json.dumps({"schema": "usage.v1", "id": "cold-1", "timestamp": "2026-11-26T11:00:00Z",
                     "usage": {"prompt_tokens": 1, "completion_tokens": 1}})
invocation = json.dumps({"Data": {"events": json.dumps([record])},
                         "Metadata": {"PartitionContext": {"PartitionId": "0", "EventHubName": "h"},
                                      "SequenceNumberArray": "[1]"}})


def first_answer(cmd, env, port, method, path, body):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request(method, path, body=body, headers={"Content-Type": "application/json"})
                status = c.getresponse().status
                elapsed = time.perf_counter() - start
                if status != 200:
                    raise SystemExit(f"{cmd[0]} answered {status}")
                return elapsed
            except (ConnectionRefusedError, ConnectionResetError):
                if time.perf_counter() - start > 10:
                    raise SystemExit(f"{cmd[0]} did not answer within 10 s")
                time.sleep(0.0005)
    finally:
        proc.terminate()
        proc.wait()


ours, peer = [], []
for _ in range(runs):
    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        env = dict(os.environ, FUNCTIONS_CUSTOMHANDLER_PORT=str(port), CHARGEBACK_DATA_DIR=data, RUST_LOG="warn")
        ours.append(first_answer([binary, "serve"], env, port, "POST", "/ingest-usage", invocation))
        port = free_port()
        peer.append(first_answer([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                                  "--directory", data], os.environ, port, "GET", "/", None))
m_ours, m_peer = statistics.median(ours) * 1000, statistics.median(peer) * 1000
print(f"cold start, median of {runs}: chargeback serve -> first invocation answered {m_ours:.1f} ms "
      f"(min {min(ours) * 1000:.1f}); peer python http.server -> first GET {m_peer:.1f} ms; ratio {m_peer / m_ours:.2f}")
