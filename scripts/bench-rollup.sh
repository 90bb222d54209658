#!/usr/bin/env bash
# Reproduces the rollup figures in docs/benchmarks.md: a generated month of
# RECORDS records (default 10,000,000) ingested into the embedded backend,
# then `chargeback rollup` timed (wall, CPU, peak RSS) next to DuckDB
# computing the same sums per business unit, model and day from the same
# ledger rows, in the same run; fails unless the sums agree.
#
# Usage: bash scripts/bench-rollup.sh [RECORDS]
# Environment: BENCH_WORK=DIR keeps the work files there (default: a fresh
# temporary folder, removed at the end); RUNS=N times each side N times
# (default 2). Needs python3 and network once to `pip install duckdb` into
# .bench/venv (gitignored) when duckdb is not importable; sqlite3 (the shell)
# is used if present to export the ledger for DuckDB.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"
records="${1:-10000000}"
runs="${RUNS:-2}"
month=2026-10
if [[ -n "${BENCH_WORK:-}" ]]; then
    work="$BENCH_WORK"
    mkdir -p "$work"
else
    work="$(mktemp -d "${TMPDIR:-/tmp}/chargeback-rollup-bench.XXXXXX")"
    trap 'rm -rf "$work"' EXIT
fi
data="$work/data"

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
    "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"

# Wall, CPU and peak RSS of a command: /usr/bin/time, or Python's getrusage of the child.
measure() {
    if [[ -x /usr/bin/time ]]; then
        /usr/bin/time -f "   wall %e s, user %U s, sys %S s, peak RSS %M KB" "$@"
    else
        python3 - "$@" <<'EOF'
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.call(sys.argv[1:])
wall = time.perf_counter() - start
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"   wall {wall:.2f} s, user {r.ru_utime:.2f} s, sys {r.ru_stime:.2f} s, peak RSS {r.ru_maxrss} KB",
      file=sys.stderr)
sys.exit(code)
EOF
    fi
}

python=python3
if ! python3 -c 'import duckdb' 2>/dev/null; then
    if [[ ! -x .bench/venv/bin/python ]]; then
        echo "== installing duckdb into .bench/venv"
        python3 -m venv .bench/venv
        .bench/venv/bin/pip install --quiet duckdb
    fi
    python=.bench/venv/bin/python
fi

echo "== building"
cargo build --release -p chargeback 2>&1 | tail -1
# The target folder may be shared with other worktrees: run a copy of what was just built.
mkdir -p "$work/bin"
cp "${CARGO_TARGET_DIR:-target}/release/chargeback" "$work/bin/chargeback"
bin="$work/bin/chargeback"

if [[ ! -s "$work/month.jsonl" ]]; then
    echo "== generating $records records of $month"
    "$bin" generate --month "$month" --records "$records" --out "$work/month.jsonl"
fi
ls -l "$work/month.jsonl" | awk '{printf "   %.0f MB\n", $5 / 1e6}'

if [[ ! -s "$data/ledger.sqlite" ]]; then
    echo "== chargeback ingest (embedded backend; not part of the rollup's time)"
    measure "$bin" --data-dir "$data" ingest "$work/month.jsonl" 2>&1 | grep -v '^…'
fi
# What the ingest left in the write-ahead log goes into the database file now,
# as it would long before a month is rolled up.
python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA wal_checkpoint(TRUNCATE)")' \
    "$data/ledger.sqlite"
ls -l "$data/ledger.sqlite" | awk '{printf "   ledger.sqlite %.0f MB\n", $5 / 1e6}'

# The business units: the demo estate's parties by name (sub-shadow-script
# stays unmapped, as in the demo), and each fingerprinted APIM key in turn to
# one of the three APIM applications (the generator draws new keys for every
# 100,000 records, so the demo's own mapping cannot be rebuilt from its seed).
echo "== applications.csv from the ledger's parties"
python3 - "$data/ledger.sqlite" "$data/applications.csv" <<'EOF'
import csv, sqlite3, sys
named = {
    "marketing-copilot": ("marketing-copilot", "Marketing"), "support-bot": ("support-bot", "Customer Support"),
    "ticket-triage": ("ticket-triage", "Customer Support"), "code-review": ("code-review", "R&D"),
    "sub-finance-assistant": ("finance-assistant", "Finance"), "sub-research-rag": ("research-rag", "R&D"),
}
apim = [("campaign-writer", "Marketing"), ("invoice-extractor", "Finance"), ("hr-helpdesk", "HR")]
con = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
parties = [p for (p,) in con.execute("SELECT DISTINCT party FROM ledger ORDER BY party")]
rows, keys = [], 0
for p in parties:
    if p in named:
        rows.append((p, *named[p]))
    elif p.startswith("fp_"):
        rows.append((p, *apim[keys % 3]))
        keys += 1
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(("party", "application", "business_unit"))
    w.writerows(rows)
print(f"   {len(parties)} parties, {len(rows)} mapped ({keys} key fingerprints)")
EOF

echo "== DuckDB's copy of the ledger rows (not timed)"
"$python" scripts/bench/rollup_duckdb.py prepare "$data/ledger.sqlite" "$work/peer.duckdb"

for run in $(seq 1 "$runs"); do
    echo "== run $run: chargeback rollup --month $month"
    measure "$bin" --data-dir "$data" rollup --month "$month" 2>&1 | grep -E '^rollup|wall|"(requests|tokens|businessUnits|lines)"'
    echo "== run $run: peer: DuckDB, the same sums from the same rows (whole process: Python, import, query)"
    measure "$python" scripts/bench/rollup_duckdb.py query "$work/peer.duckdb" "$data/applications.csv" "$month" \
        "$work/duckdb.csv"
done

echo "== do the sums agree?"
"$bin" --data-dir "$data" report --month "$month" --format json --out "$work/report" >/dev/null
python3 scripts/bench/rollup_duckdb.py compare "$data/ledger.sqlite" "$data/applications.csv" \
    "$work/report/chargeback.json" "$month" "$work/duckdb.csv"
