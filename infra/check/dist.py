#!/usr/bin/env python3
"""dist/ is what the Functions host expects, and the binary in it answers.

Layout (what the host and azd's `language: custom` need):
  - host.json: version 2.0, customHandler.description.defaultExecutablePath names
    a file in dist/ that is executable by everyone (mode 755: the exec bit must
    survive zipping), and an extensionBundle when any trigger is not HTTP;
  - one folder per function, holding the repository's function.json unchanged;
  - nothing else (no sources, no target/, no local.settings.json).

Smoke test: starts the binary the way the host does (host.json arguments,
FUNCTIONS_CUSTOMHANDLER_PORT set, working directory dist/), waits for the port,
sends a host-shaped invocation of the Event Hubs function (`POST /<function>`,
Data.<binding> a JSON string holding an array of event bodies, Metadata with
the arrays as strings) built from a golden sample, expects 200 with a JSON
object, then stops it with SIGTERM.

Usage: dist.py --dist DIR --events FILE.jsonl
"""
import argparse
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30  # the host allows 60 s (docs) or 30 s (newer InitializationTimeout)
HTTP_TRIGGERS = {"httpTrigger", "http"}


def fail(failures: list, message: str) -> None:
    failures.append(message)


def check_layout(dist: Path, failures: list) -> tuple:
    host_path = dist / "host.json"
    if not host_path.is_file():
        fail(failures, f"{host_path} is missing")
        return None, []
    host = json.loads(host_path.read_text())
    if host.get("version") != "2.0":
        fail(failures, "host.json: version must be \"2.0\"")
    desc = host.get("customHandler", {}).get("description", {})
    exe = desc.get("defaultExecutablePath")
    if not exe:
        fail(failures, "host.json: customHandler.description.defaultExecutablePath is missing")
    else:
        exe_path = dist / exe
        if not exe_path.is_file():
            fail(failures, f"dist/{exe}: the executable named in host.json is missing")
        else:
            mode = exe_path.stat().st_mode
            wanted = stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH | stat.S_IRUSR
            if mode & wanted != wanted:
                fail(failures, f"dist/{exe}: mode {oct(mode & 0o777)}, must be executable by all (755)")

    repo_functions = sorted(p.parent.name for p in ROOT.glob("*/function.json"))
    dist_functions = sorted(p.parent.name for p in dist.glob("*/function.json"))
    if not repo_functions:
        fail(failures, "the repository has no function folders (*/function.json)")
    if repo_functions != dist_functions:
        fail(failures, f"function folders differ: repository {repo_functions}, dist {dist_functions}")
    trigger_types = set()
    for name in dist_functions:
        src, out = ROOT / name / "function.json", dist / name / "function.json"
        if src.is_file() and src.read_bytes() != out.read_bytes():
            fail(failures, f"dist/{name}/function.json differs from {name}/function.json")
        bindings = json.loads(out.read_text()).get("bindings", [])
        if not bindings:
            fail(failures, f"dist/{name}/function.json has no bindings")
        for b in bindings:
            if not all(b.get(k) for k in ("type", "direction", "name")):
                fail(failures, f"dist/{name}/function.json: a binding lacks type, direction or name: {b}")
            if b.get("direction") == "in" and str(b.get("type", "")).endswith("Trigger"):
                trigger_types.add(b["type"])
        extras = sorted(p.name for p in (dist / name).iterdir() if p.name != "function.json")
        if extras:
            fail(failures, f"dist/{name}/ holds more than function.json: {extras}")
    if trigger_types - HTTP_TRIGGERS and "extensionBundle" not in host:
        fail(failures, f"host.json: triggers {sorted(trigger_types - HTTP_TRIGGERS)} need an extensionBundle")

    allowed = {"host.json", exe, *dist_functions}
    extras = sorted(p.name for p in dist.iterdir() if p.name not in allowed)
    if extras:
        fail(failures, f"dist/ holds files the app does not need: {extras}")
    return host, dist_functions


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def invocation(dist: Path, functions: list, events_file: Path) -> tuple:
    """(function name, body) of a host-shaped invocation of the first Event Hubs function."""
    for name in functions:
        for b in json.loads((dist / name / "function.json").read_text()).get("bindings", []):
            if b.get("type") == "eventHubTrigger" and b.get("direction") == "in":
                bodies = [line for line in events_file.read_text().splitlines() if line.strip()]
                now = datetime.now(timezone.utc).isoformat()
                n = len(bodies)
                metadata = {
                    "PartitionContext": {
                        "EventHubName": "usage", "ConsumerGroup": "chargeback",
                        "FullyQualifiedNamespace": "smoke.servicebus.windows.net", "PartitionId": "0",
                    },
                    "SequenceNumberArray": json.dumps(list(range(1, n + 1))),
                    "OffsetArray": json.dumps([str(i * 1000) for i in range(n)]),
                    "PartitionKeyArray": json.dumps(["smoke"] * n),
                    "EnqueuedTimeUtcArray": json.dumps([now] * n),
                    "PropertiesArray": json.dumps([{}] * n),
                    "SystemPropertiesArray": json.dumps([{}] * n),
                    "sys": {"MethodName": name, "UtcNow": now, "RandGuid": str(uuid.uuid4())},
                }
                # cardinality many + dataType string: one string holding a JSON array of raw bodies.
                return name, {"Data": {b["name"]: json.dumps(bodies)}, "Metadata": metadata}
    return None, None


def smoke(dist: Path, host: dict, functions: list, events_file: Path, failures: list) -> None:
    desc = host["customHandler"]["description"]
    exe = dist / desc["defaultExecutablePath"]
    workdir = dist / desc.get("workingDirectory", "")
    name, body = invocation(dist, functions, events_file)
    if name is None:
        fail(failures, "smoke: no eventHubTrigger function to invoke")
        return
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="chargeback-smoke-") as data_dir:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "FUNCTIONS_CUSTOMHANDLER_PORT": str(port),
            "CHARGEBACK_DATA_DIR": data_dir,
            "RUST_LOG": "info",
        }
        log_path = Path(data_dir) / "handler.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen([str(exe), *desc.get("arguments", [])], cwd=workdir, env=env,
                                    stdout=log, stderr=subprocess.STDOUT)
            try:
                started = time.monotonic()
                while True:
                    if proc.poll() is not None:
                        fail(failures, f"smoke: the handler exited with {proc.returncode} before listening")
                        break
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                        break
                    except OSError:
                        if time.monotonic() - started > START_TIMEOUT_S:
                            fail(failures, f"smoke: nothing listening on port {port} after {START_TIMEOUT_S} s")
                            break
                        time.sleep(0.2)
                if not failures:
                    print(f"smoke: handler listening after {time.monotonic() - started:.1f} s")
                    request = urllib.request.Request(
                        f"http://127.0.0.1:{port}/{name}", data=json.dumps(body).encode(), method="POST",
                        headers={
                            "Content-Type": "application/json",
                            "X-Azure-Functions-InvocationId": str(uuid.uuid4()),
                            "X-Azure-Functions-HostVersion": "4.0.0.0",
                            "User-Agent": "Azure-Functions-Host/4.0.0.0",
                        },
                    )
                    try:
                        with urllib.request.urlopen(request, timeout=30) as response:
                            status, text = response.status, response.read().decode()
                    except urllib.error.HTTPError as exc:
                        status, text = exc.code, exc.read().decode(errors="replace")
                    except OSError as exc:
                        status, text = None, str(exc)
                    if status != 200:
                        fail(failures, f"smoke: POST /{name} answered {status}: {text[:500]}")
                    else:
                        try:
                            reply = json.loads(text)
                        except ValueError:
                            reply = None
                        if not isinstance(reply, dict):
                            fail(failures, f"smoke: POST /{name} answered 200 but not with a JSON object: {text[:300]}")
                        else:
                            print(f"smoke: POST /{name} with {len(json.loads(body['Data'][next(iter(body['Data']))]))} "
                                  f"events -> 200, reply keys {sorted(reply)}")
                            for line in (reply.get("Logs") or [])[:5]:
                                print(f"smoke:   log: {line}")
            finally:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                        fail(failures, "smoke: the handler did not stop within 15 s of SIGTERM")
        if failures:
            print("smoke: handler output:\n" + log_path.read_text()[-3000:], file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dist", required=True, type=Path)
    ap.add_argument("--events", required=True, type=Path, help="JSONL of event bodies for the smoke invocation")
    args = ap.parse_args()
    failures: list = []
    host, functions = check_layout(args.dist, failures)
    if not failures:
        print(f"dist: layout ok: host.json, {', '.join(functions)}, "
              f"{host['customHandler']['description']['defaultExecutablePath']} (755)")
        smoke(args.dist, host, functions, args.events, failures)
    for f in failures:
        print(f"dist: FAIL {f}", file=sys.stderr)
    print(f"dist: {'FAIL' if failures else 'ok'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
