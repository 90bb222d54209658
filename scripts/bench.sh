#!/usr/bin/env bash
# Reproduces the ingest figures in docs/benchmarks.md:
#   1. the ingest path without I/O (cargo bench --bench ingest),
#   2. `chargeback ingest` of RECORDS (default 1,000,000) generated records on
#      the embedded backend, a replay of the same file, and the Python peer,
#   3. the handler's cold start next to Python's http.server.
# Usage: bash scripts/bench.sh [RECORDS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
records="${1:-1000000}"
work="$(mktemp -d "${TMPDIR:-/tmp}/chargeback-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
cargo bench -p chargeback --bench ingest 2>/dev/null
cargo build --release -p chargeback 2>/dev/null
bin=target/release/chargeback

echo "== generating $records records"
"$bin" generate --month 2026-10 --records "$records" --out "$work/month.jsonl"
ls -l "$work/month.jsonl" | awk '{printf "   %.0f MB\n", $5 / 1e6}'

echo "== chargeback ingest (embedded: SQLite + dead-letter folder), fresh data dir"
/usr/bin/time -f "   wall %e s, user %U s, sys %S s, peak RSS %M KB" \
    "$bin" --data-dir "$work/data" ingest "$work/month.jsonl" 2>&1 | grep -v '^…'
echo "== the same file again (every record a duplicate)"
/usr/bin/time -f "   wall %e s, user %U s, sys %S s, peak RSS %M KB" \
    "$bin" --data-dir "$work/data" ingest "$work/month.jsonl" 2>&1 | grep -v '^…'
echo "== peer: Python json + sqlite3 (no validation, no fingerprints, no dead letters)"
python3 scripts/bench/ingest_peer.py "$work/month.jsonl" "$work/peer.sqlite"

echo "== cold start"
python3 scripts/bench/cold_start.py "$bin"
