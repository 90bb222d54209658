#!/usr/bin/env bash
# Reproduces the "Azure backends" figures in docs/benchmarks.md: `chargeback
# ingest` of RECORDS (default 1,000,000) generated records, on
#   1. the embedded backend (SQLite + dead-letter folder),
#   2. the Azure backend on Azurite (Table Storage ledger, Blob dead letters),
#   3. the PostgreSQL ledger (dead letters on Azurite blobs),
# each with the CLI's batches (5,000 events per append) and, on a slice of
# SLICE records (default 20,000), with the host's batches (100 events).
# Starts Azurite and PostgreSQL itself (scripts/services.sh) and stops them.
# Usage: bash scripts/bench-azure.sh [RECORDS] [SLICE]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
records="${1:-1000000}"
slice="${2:-20000}"
work="$(mktemp -d "${TMPDIR:-/tmp}/chargeback-bench-azure.XXXXXX")"
# shellcheck source=/dev/null
source scripts/services.sh
services_start
trap 'services_stop; rm -rf "$work"' EXIT

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
cargo build --release -p chargeback 2>/dev/null
bin="$PWD/target/release/chargeback"
export CHARGEBACK_FINGERPRINT_SECRET=bench

echo "== generating $records records"
"$bin" generate --month 2026-10 --records "$records" --out "$work/month.jsonl"
head -n "$slice" "$work/month.jsonl" >"$work/slice.jsonl"

run() {
    local label=$1 file=$2 batch=$3
    shift 3
    echo "== $label, $(wc -l <"$file") records, --batch-size $batch"
    /usr/bin/time -f "   wall %e s, user %U s, sys %S s, peak RSS %M KB" \
        env CHARGEBACK_TENANT="$label-$batch" "$@" "$bin" --data-dir "$work/data-$label-$batch" ingest --batch-size "$batch" "$file" 2>&1 | grep -v '^…'
}

azure=(AzureWebJobsStorage="$CHARGEBACK_TEST_AZURE_STORAGE" CHARGEBACK_LEDGER=table)
postgres=(AzureWebJobsStorage="$CHARGEBACK_TEST_AZURE_STORAGE" CHARGEBACK_LEDGER=postgres
    DATABASE_URL="$CHARGEBACK_TEST_DATABASE_URL")

run embedded "$work/month.jsonl" 5000 CHARGEBACK_LEDGER=sqlite
run postgres "$work/month.jsonl" 5000 "${postgres[@]}"
run azurite "$work/month.jsonl" 5000 "${azure[@]}"
echo "== Azurite process: $(ps -o rss=,time= -p "$SERVICES_AZURITE_PID" | awk '{printf "RSS %d MB, CPU time %s", $1/1024, $2}')"
run embedded "$work/slice.jsonl" 100 CHARGEBACK_LEDGER=sqlite
run postgres "$work/slice.jsonl" 100 "${postgres[@]}"
run azurite "$work/slice.jsonl" 100 "${azure[@]}"
