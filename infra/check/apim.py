#!/usr/bin/env python3
"""APIM policies: well-formed, consistent with the Bicep, and producing records
our parser accepts.

1. Every infra/apim/*.xml is well-formed XML (xmllint): apim.bicep deploys them
   with format 'xml', which APIM parses as XML.
2. Every policy file is loaded by apim.bicep, and what the policies name exists
   there: logger-id -> loggers, include-fragment -> policyFragments,
   set-backend-service backend-id -> backends, {{name}} -> named values,
   context.Product.Id literals -> products.
3. A policy with <log-to-eventhub> has a golden sample next to it
   (<stem>.golden.jsonl): the records its expression produces for typical calls.
   The JSON property names the expression writes (new JProperty("...")) are
   exactly the top-level keys used across the golden records, every record is a
   usage.v1 record with a unique id, and each is far below the 200 KB limit.
4. Every *.golden.jsonl is ingested by the real parser (`chargeback ingest
   --json`) with nothing dead-lettered; migration-sample.golden.jsonl holds
   records in the widely copied sample's shape, which must be accepted as is.

Usage: apim.py --binary PATH/TO/chargeback
"""
import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
APIM_DIR = ROOT / "infra" / "apim"
APIM_BICEP = ROOT / "infra" / "modules" / "apim.bicep"
LIMIT_BYTES = 200 * 1024
# A record this large would already mean a body slipped in.
RECORD_BUDGET_BYTES = 8 * 1024


def bicep_names() -> dict:
    """Resource names in apim.bicep by kind, plus the files it loads."""
    parsed = BicepParser().parse(file_path=APIM_BICEP)
    names = {"loggers": set(), "policyFragments": set(), "backends": set()}
    for resource in parsed.get("resources", {}).values():
        kind = resource.get("type", "").rsplit("/", 1)[-1]
        name = resource.get("config", {}).get("name")
        if kind in names and isinstance(name, str):
            names[kind].add(name)
    variables = parsed.get("variables", {})
    names["namedValues"] = {k.strip("'") for k in variables.get("namedValues", {}).get("value", {})}
    names["products"] = {p.strip("'") for p in variables.get("productNames", {}).get("value", [])}
    names["loaded"] = set(re.findall(r"loadTextContent\('\.\./apim/([^']+)'\)", APIM_BICEP.read_text()))
    return names


def check_policy(path: Path, names: dict, failures: list) -> None:
    rel = path.relative_to(ROOT)
    lint = subprocess.run(["xmllint", "--noout", str(path)], capture_output=True, text=True)
    if lint.returncode != 0:
        failures.append(f"{rel}: not well-formed XML:\n{lint.stderr.strip()}")
        return
    # Comments may mention {{names}} and attributes; only the policy counts.
    text = re.sub(r"<!--.*?-->", "", path.read_text(), flags=re.S)
    if path.name not in names["loaded"]:
        failures.append(f"{rel}: not loaded by {APIM_BICEP.name} (loadTextContent('../apim/{path.name}'))")
    checks = [
        (r'logger-id="([^"]+)"', "loggers", "logger"),
        (r'<include-fragment\s+fragment-id="([^"]+)"', "policyFragments", "policy fragment"),
        (r'backend-id="([^"]+)"', "backends", "backend"),
        (r"\{\{([A-Za-z0-9._-]+)\}\}", "namedValues", "named value"),
        (r'context\.Product\.Id == "([^"]+)"', "products", "product"),
    ]
    for pattern, kind, what in checks:
        for ref in sorted(set(re.findall(pattern, text))):
            if ref not in names[kind]:
                failures.append(f"{rel}: uses {what} '{ref}', which {APIM_BICEP.name} does not define")

    if "<log-to-eventhub" not in text:
        return
    stem = path.name.removesuffix(".xml").removesuffix(".fragment")
    golden = path.with_name(f"{stem}.golden.jsonl")
    if not golden.is_file():
        failures.append(f"{rel}: writes to Event Hubs but has no golden sample {golden.name}")
        return
    written = set(re.findall(r'new JProperty\("([^"]+)"', text))
    used, ids = set(), set()
    for n, line in enumerate(golden.read_text().splitlines(), 1):
        if not line.strip():
            continue
        where = f"{golden.relative_to(ROOT)}:{n}"
        if len(line.encode()) > RECORD_BUDGET_BYTES:
            failures.append(f"{where}: {len(line.encode())} bytes; records must stay far below the {LIMIT_BYTES} byte limit")
        record = json.loads(line)
        used |= set(record)
        if record.get("schema") != "usage.v1":
            failures.append(f"{where}: schema is not usage.v1")
        if record.get("id") in ids:
            failures.append(f"{where}: duplicate id {record.get('id')}")
        ids.add(record.get("id"))
        for banned in ("request_body", "response_body", "key", "api-key", "subscription_key"):
            if banned in record:
                failures.append(f"{where}: has '{banned}', which the APIM record must not carry")
    if written != used:
        if written - used:
            failures.append(f"{rel}: writes {sorted(written - used)}, which no record in {golden.name} shows")
        if used - written:
            failures.append(f"{golden.name}: has {sorted(used - written)}, which {path.name} never writes")


def ingest(binary: str, golden: Path, failures: list) -> None:
    rel = golden.relative_to(ROOT)
    lines = sum(1 for line in golden.read_text().splitlines() if line.strip())
    with tempfile.TemporaryDirectory(prefix="chargeback-golden-") as data_dir:
        run = subprocess.run(
            [binary, "--data-dir", data_dir, "ingest", "--json", str(golden)],
            capture_output=True, text=True, timeout=120,
        )
    if run.returncode != 0:
        failures.append(
            f"{rel}: `chargeback ingest` exited {run.returncode} (does the handler have the ingest command?)\n"
            f"{run.stderr.strip()[:800]}"
        )
        return
    try:
        outcome = json.loads(run.stdout)
        received, dead = outcome["received"], outcome["dead_lettered"]
    except (ValueError, KeyError) as exc:
        # Fall back to the plain output: "received N  accepted N  duplicates N  dead-lettered N".
        found = dict(re.findall(r"(received|dead-lettered)\s+(\d+)", run.stdout))
        if len(found) != 2:
            failures.append(f"{rel}: cannot read the ingest counts ({exc}):\n{run.stdout[:500]}")
            return
        received, dead = int(found["received"]), int(found["dead-lettered"])
        outcome = run.stdout.strip()
    print(f"apim: ingest {rel}: {json.dumps(outcome) if isinstance(outcome, dict) else outcome}")
    if received != lines:
        failures.append(f"{rel}: {lines} records, but ingest received {received}")
    if dead != 0:
        failures.append(f"{rel}: dead-lettered {dead}, expected 0: {outcome}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", help="chargeback binary; without it the ingest step is skipped (and says so)")
    args = ap.parse_args()

    failures: list = []
    names = bicep_names()
    policies = sorted(APIM_DIR.glob("*.xml"))
    if not policies:
        failures.append("no policy files in infra/apim")
    for path in policies:
        check_policy(path, names, failures)
    goldens = sorted(APIM_DIR.glob("*.golden.jsonl"))
    if args.binary:
        for golden in goldens:
            ingest(args.binary, golden, failures)
    else:
        print("apim: SKIPPED ingesting the golden samples: no --binary given")

    for f in failures:
        print(f"apim: FAIL {f}", file=sys.stderr)
    print(f"apim: {len(policies)} policy files, {len(goldens)} golden samples: {'FAIL' if failures else 'ok'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
