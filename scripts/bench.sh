#!/usr/bin/env bash
# Reproduces the figures of docs/benchmarks.md. Every measurement runs next to
# a peer on the same input in the same run (interleaved), so the ratios hold
# even on a busy machine; wall, CPU and peak RSS come from
# scripts/bench/measure.py (the child's rusage), and each sub-command ends
# with a table of medians and ratios (scripts/bench/ratios.py).
#
# Usage: bash scripts/bench.sh COMMAND [RECORDS...]
#   cpu                 the ingest path without I/O (cargo bench --bench ingest)
#   ingest [N...]       `chargeback ingest` on the embedded backend, first time and
#                       replay, next to DuckDB's durable insert with a primary key
#                       (scripts/bench/ingest_duckdb.py) on the same file
#                       (default N: 1000000)
#   postgres [N...]     `chargeback ingest` into the PostgreSQL ledger at 5,000 and
#                       at 100 events per append, next to PostgreSQL's own COPY of
#                       the same rows into an unindexed table (default N: 1000000)
#   rollup [N...]       `chargeback rollup` of a month on the embedded backend and on
#                       PostgreSQL, next to DuckDB's GROUP BY over the same rows;
#                       fails unless the sums agree (default N: 10000000)
#   cold-start          the handler's first answered invocation, next to Python's http.server
#   all                 cpu, ingest 1M and 10M, postgres 1M, rollup 1M and 10M, cold-start
#
# Environment:
#   BIN=PATH            the chargeback binary to measure (default: cargo build --release,
#                       then a copy of target/release/chargeback)
#   BASELINE_BIN=PATH   another chargeback binary (e.g. main's) measured in the same run
#   BENCH_WORK=DIR      keep generated inputs there and reuse them (default: a temp dir)
#   RUNS=N              runs of each side (default 2)
#   MIXES="demo legacy-sample"   record mixes of `chargeback generate --mix`
#   ROLLUP_PG=0         rollup: the embedded backend and DuckDB only (ingesting 10M
#                       records into PostgreSQL takes minutes)
#   ORDER=time|month    time order (as a live Event Hub delivers; default) or the
#                       month's records mixed
# Needs python3; DuckDB is pip-installed into .bench/venv (gitignored) when it is
# not importable; `postgres` and `rollup` start PostgreSQL with scripts/services.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"
command="${1:-all}"
shift || true
runs="${RUNS:-2}"
mixes="${MIXES:-demo legacy-sample}"
order="${ORDER:-time}"
month=2026-10
if [[ -n "${BENCH_WORK:-}" ]]; then
    work="$BENCH_WORK"
    mkdir -p "$work"
    cleanup() { rm -rf "$work/run"; }
else
    work="$(mktemp -d "${TMPDIR:-/tmp}/chargeback-bench.XXXXXX")"
    cleanup() { rm -rf "$work"; }
fi
services_up=""
on_exit() {
    if [[ -n "$services_up" ]]; then services_stop; fi
    cleanup
}
trap on_exit EXIT
# The same fingerprints in every run and on every backend, so rows compare.
export CHARGEBACK_FINGERPRINT_SECRET=bench-secret
export RUST_LOG=warn

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
    "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== work files in $work"

python=python3
need_duckdb() {
    if python3 -c 'import duckdb' 2>/dev/null; then return; fi
    if [[ ! -x .bench/venv/bin/python ]]; then
        echo "== installing duckdb into .bench/venv"
        python3 -m venv .bench/venv
        .bench/venv/bin/pip install --quiet duckdb
    fi
    python="$repo/.bench/venv/bin/python"
}

binary() {
    if [[ -n "${BIN:-}" ]]; then
        bin="$BIN"
    else
        echo "== building"
        cargo build --release -p chargeback 2>&1 | tail -1
        # The target folder may be shared with other worktrees: run a copy of what was just built.
        mkdir -p "$work/bin"
        cp "${CARGO_TARGET_DIR:-target}/release/chargeback" "$work/bin/chargeback"
        bin="$work/bin/chargeback"
    fi
    echo "== binary: $bin ($("$bin" --version))${BASELINE_BIN:+; baseline: $BASELINE_BIN}"
}

# input MIX N → the path of a generated month (made once per BENCH_WORK).
input() {
    local mix=$1 n=$2
    local file="$work/$mix-$n-$order.jsonl"
    if [[ ! -s "$file" ]]; then
        local flags=(--mix "$mix")
        [[ "$order" == time ]] && flags+=(--time-order)
        echo "== generating $n records ($mix, $order order)" >&2
        "$bin" generate --month "$month" --records "$n" "${flags[@]}" --out "$file.tmp"
        mv "$file.tmp" "$file"
    fi
    echo "$file"
}

measure() { "$python" scripts/bench/measure.py "$@"; }

cmd_cpu() {
    echo "== the ingest path without I/O, one core"
    cargo bench -p chargeback --bench ingest 2>/dev/null
}

# One side of the embedded ingest: a fresh data directory, first time, then replay.
embedded_side() {
    local who=$1 exe=$2 file=$3 label=$4 n=$5 results=$6
    local data="$work/run/$who"
    rm -rf "$data"
    measure "$label, first | $who" "$n" "$results" -- "$exe" --data-dir "$data" ingest "$file"
    measure "$label, replay | $who" "$n" "$results" -- "$exe" --data-dir "$data" ingest "$file"
    du -sm "$data" | awk '{printf "   data directory %s MB\n", $1}'
    rm -rf "$data"
}

duckdb_side() {
    local file=$1 label=$2 n=$3 results=$4
    mkdir -p "$work/run"
    rm -f "$work/run/peer.duckdb" "$work/run/peer.duckdb.wal"
    measure "$label, first | duckdb peer" "$n" "$results" -- "$python" scripts/bench/ingest_duckdb.py "$file" "$work/run/peer.duckdb"
    measure "$label, replay | duckdb peer" "$n" "$results" -- "$python" scripts/bench/ingest_duckdb.py "$file" "$work/run/peer.duckdb"
    rm -f "$work/run/peer.duckdb" "$work/run/peer.duckdb.wal"
}

cmd_ingest() {
    need_duckdb
    local sizes=("$@")
    [[ ${#sizes[@]} -gt 0 ]] || sizes=(1000000)
    local results="$work/ingest-results.jsonl"
    : >"$results"
    for n in "${sizes[@]}"; do
        for mix in $mixes; do
            local file label
            file="$(input "$mix" "$n")"
            label="$mix $n $order"
            ls -l "$file" | awk '{printf "   %s: %.0f MB\n", $NF, $5 / 1e6}'
            for run in $(seq 1 "$runs"); do
                echo "== $label: run $run (load $(cut -d' ' -f1 /proc/loadavg))"
                embedded_side ours "$bin" "$file" "$label" "$n" "$results"
                duckdb_side "$file" "$label" "$n" "$results"
                if [[ -n "${BASELINE_BIN:-}" ]]; then
                    embedded_side baseline "$BASELINE_BIN" "$file" "$label" "$n" "$results"
                fi
            done
        done
    done
    echo "== embedded ingest: medians and ratios (records/s against DuckDB's, same input and run)"
    "$python" scripts/bench/ratios.py "$results" "duckdb peer"
}

start_services() {
    # shellcheck source=/dev/null
    source scripts/services.sh
    services_start
    services_up=1
    psql_bin="$CHARGEBACK_TEST_PG_BIN/psql"
    [[ -x "$psql_bin" ]] || psql_bin=psql
}

# A fresh database; prints its URL.
fresh_database() {
    local name=$1
    "$psql_bin" -q "$CHARGEBACK_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name"
    echo "${CHARGEBACK_TEST_DATABASE_URL%/*}/$name"
}

cmd_postgres() {
    local sizes=("$@")
    [[ ${#sizes[@]} -gt 0 ]] || sizes=(1000000)
    start_services
    mkdir -p "$work/run"
    local results="$work/postgres-results.jsonl"
    : >"$results"
    for n in "${sizes[@]}"; do
        local file
        file="$(input demo "$n")"
        for run in $(seq 1 "$runs"); do
            for batch in 5000 100; do
                local label="demo $n $order, $batch per append" url
                echo "== $label: run $run (load $(cut -d' ' -f1 /proc/loadavg))"
                url="$(fresh_database bench_ours)"
                measure "$label | ours" "$n" "$results" -- env CHARGEBACK_LEDGER=postgres DATABASE_URL="$url" \
                    "$bin" --data-dir "$work/run/pg" ingest --batch-size "$batch" "$file"
                if [[ "$batch" == 5000 ]]; then
                    # The peer: the rows our ingest wrote, COPYed into a table without
                    # keys or indexes (exported first, not timed).
                    rm -f "$work/run/rows.csv"
                    "$psql_bin" -q "$url" -c "\\copy (SELECT * FROM ledger) TO '$work/run/rows.csv' (FORMAT csv)"
                    "$psql_bin" -q "$url" -c "CREATE TABLE ledger_copy AS SELECT * FROM ledger WITH NO DATA"
                    measure "$label | copy peer" "$n" "$results" -- "$psql_bin" -q "$url" \
                        -c "\\copy ledger_copy FROM '$work/run/rows.csv' (FORMAT csv)"
                    rm -f "$work/run/rows.csv"
                fi
                if [[ -n "${BASELINE_BIN:-}" ]]; then
                    url="$(fresh_database bench_baseline)"
                    measure "$label | baseline" "$n" "$results" -- env CHARGEBACK_LEDGER=postgres DATABASE_URL="$url" \
                        "$BASELINE_BIN" --data-dir "$work/run/pg-baseline" ingest --batch-size "$batch" "$file"
                fi
            done
        done
    done
    echo "== PostgreSQL ingest: medians and ratios (records/s against COPY of the same rows, same run)"
    "$python" scripts/bench/ratios.py "$results" "copy peer"
}

cmd_rollup() {
    need_duckdb
    local sizes=("$@")
    [[ ${#sizes[@]} -gt 0 ]] || sizes=(10000000)
    local with_pg="${ROLLUP_PG:-1}"
    start_services
    local results="$work/rollup-results.jsonl"
    : >"$results"
    for n in "${sizes[@]}"; do
        local file data="$work/run/rollup-$n" url
        file="$(input demo "$n")"
        rm -rf "$data"
        echo "== $n records: ingest into the embedded backend and into PostgreSQL (not part of the rollup's time)"
        measure "demo $n $order, ingest | embedded" "$n" - -- "$bin" --data-dir "$data" ingest "$file"
        mkdir -p "$data-pg"
        if [[ "$with_pg" == 1 ]]; then
            url="$(fresh_database bench_rollup)"
            measure "demo $n $order, ingest | postgres" "$n" - -- env CHARGEBACK_LEDGER=postgres DATABASE_URL="$url" \
                "$bin" --data-dir "$data-pg" ingest "$file"
            "$psql_bin" -q "$url" -c "VACUUM ANALYZE"
        fi
        python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA wal_checkpoint(TRUNCATE)")' \
            "$data/ledger.sqlite"
        ls -l "$data/ledger.sqlite" | awk '{printf "   ledger.sqlite %.0f MB\n", $5 / 1e6}'
        python3 scripts/bench/rollup_duckdb.py mapping "$data/ledger.sqlite" "$data/applications.csv"
        cp "$data/applications.csv" "$data-pg/applications.csv"
        echo "== DuckDB's copy of the ledger rows (not timed)"
        "$python" scripts/bench/rollup_duckdb.py prepare "$data/ledger.sqlite" "$work/run/peer.duckdb"
        for run in $(seq 1 "$runs"); do
            echo "== $n records: run $run (load $(cut -d' ' -f1 /proc/loadavg))"
            measure "rollup $n | embedded" "$n" "$results" -- "$bin" --data-dir "$data" rollup --month "$month"
            if [[ "$with_pg" == 1 ]]; then
                measure "rollup $n | postgres" "$n" "$results" -- env CHARGEBACK_LEDGER=postgres DATABASE_URL="$url" \
                    "$bin" --data-dir "$data-pg" rollup --month "$month"
            fi
            measure "rollup $n | duckdb peer" "$n" "$results" -- "$python" scripts/bench/rollup_duckdb.py query \
                "$work/run/peer.duckdb" "$data/applications.csv" "$month" "$work/run/duckdb.csv"
        done
        echo "== do the sums agree? (embedded, then PostgreSQL, against DuckDB)"
        "$bin" --data-dir "$data" report --month "$month" --format json --out "$work/run/report" >/dev/null
        python3 scripts/bench/rollup_duckdb.py export-sqlite "$data/ledger.sqlite" "$work/run/ours.csv"
        python3 scripts/bench/rollup_duckdb.py compare "$work/run/ours.csv" "$data/applications.csv" \
            "$work/run/report/chargeback.json" "$month" "$work/run/duckdb.csv"
        if [[ "$with_pg" == 1 ]]; then
            env CHARGEBACK_LEDGER=postgres DATABASE_URL="$url" \
                "$bin" --data-dir "$data-pg" report --month "$month" --format json --out "$work/run/report-pg" >/dev/null
            "$psql_bin" -q "$url" -c "\\copy (SELECT party, model, day, requests, prompt_tokens, completion_tokens, \
cached_tokens, reasoning_tokens FROM usage_aggregates WHERE tenant = 'default') TO '$work/run/ours-pg.csv' (FORMAT csv, HEADER)"
            python3 scripts/bench/rollup_duckdb.py compare "$work/run/ours-pg.csv" "$data/applications.csv" \
                "$work/run/report-pg/chargeback.json" "$month" "$work/run/duckdb.csv"
        fi
        echo "== the audit of the month's usage cells against its records (fails the run on a difference)"
        measure "audit $n | embedded" "$n" - -- "$bin" --data-dir "$data" audit --month "$month"
        if [[ "$with_pg" == 1 ]]; then
            measure "audit $n | postgres" "$n" - -- env CHARGEBACK_LEDGER=postgres DATABASE_URL="$url" \
                "$bin" --data-dir "$data-pg" audit --month "$month"
        fi
        rm -rf "$data" "$data-pg" "$work/run/peer.duckdb"
    done
    echo "== rollup: medians and ratios (DuckDB's time over ours: above 2.0x meets the target)"
    "$python" scripts/bench/ratios.py "$results" "duckdb peer"
}

cmd_cold_start() {
    echo "== cold start"
    python3 scripts/bench/cold_start.py "$bin"
}

case "$command" in
    cpu) cmd_cpu ;;
    ingest) binary; cmd_ingest "$@" ;;
    postgres) binary; cmd_postgres "$@" ;;
    rollup) binary; cmd_rollup "$@" ;;
    cold-start) binary; cmd_cold_start ;;
    all)
        cmd_cpu
        binary
        cmd_ingest 1000000 10000000
        cmd_postgres 1000000
        cmd_rollup 1000000 10000000
        cmd_cold_start
        ;;
    *) echo "unknown command $command; see the head of $0" >&2; exit 2 ;;
esac
