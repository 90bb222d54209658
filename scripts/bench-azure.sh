#!/usr/bin/env bash
# Reproduces the "Azure backends" figures in docs/benchmarks.md with `chargeback
# ingest` of generated records (a month of the demo's traffic):
#   1. RECORDS (default 1,000,000) on the embedded backend and on the
#      PostgreSQL ledger (dead letters on Azurite blobs), 5,000 events per append;
#   2. AZURITE_RECORDS (default 50,000) on the Azure backend on Azurite (Table
#      Storage ledger, Blob dead letters): in the generated order (records of
#      the whole month mixed: the worst case for day/party partitions) and in
#      time order (as an Event Hub delivers them), with 5,000 and with 100
#      (the host's batch) events per append. Azurite is single-threaded and
#      slows down as its in-memory tables grow, so 1,000,000 records there take
#      hours; its CPU time is printed next to the handler's.
# Starts Azurite and PostgreSQL itself (scripts/services.sh) and stops them.
# Usage: bash scripts/bench-azure.sh [RECORDS] [AZURITE_RECORDS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
records="${1:-1000000}"
azurite_records="${2:-50000}"
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
head -n "$azurite_records" "$work/month.jsonl" >"$work/mixed.jsonl"
# Time order, as a live hub delivers: sort on the record's own timestamp
# (ISO 8601, or the APIM sample's M/D/YYYY h:mm:ss AM); unparsable ones last.
python3 - "$work/mixed.jsonl" "$work/ordered.jsonl" <<'EOF'
import re, sys
from datetime import datetime
iso = re.compile(r'"(20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d)')
us = re.compile(r'"(\d{1,2}/\d{1,2}/20\d\d \d{1,2}:\d\d:\d\d [AP]M)"')
def key(line):
    if m := iso.search(line):
        return m.group(1)
    if m := us.search(line):
        return datetime.strptime(m.group(1), "%m/%d/%Y %I:%M:%S %p").strftime("%Y-%m-%dT%H:%M:%S")
    return "9999"
lines = open(sys.argv[1]).readlines()
open(sys.argv[2], "w").writelines(sorted(lines, key=key))
EOF

azurite_cpu() { ps -o times= -p "$SERVICES_AZURITE_PID" | xargs; }

run() {
    local label=$1 file=$2 batch=$3
    shift 3
    local before
    before="$(azurite_cpu)"
    echo "== $label, $(wc -l <"$file") records, --batch-size $batch"
    /usr/bin/time -f "   handler: wall %e s, user %U s, sys %S s, peak RSS %M KB" \
        env CHARGEBACK_TENANT="$label-$batch" "$@" "$bin" --data-dir "$work/data-$label-$batch" \
        ingest --batch-size "$batch" "$file" 2>&1 | grep -v '^…' | grep -v 'dead-lettered [a-z]'
    echo "   Azurite CPU during the run: $(($(azurite_cpu) - before)) s"
}

# A shared ledger needs CHARGEBACK_FINGERPRINT_SECRET (docs/storage.md).
azure=(AzureWebJobsStorage="$CHARGEBACK_TEST_AZURE_STORAGE" CHARGEBACK_LEDGER=table CHARGEBACK_FINGERPRINT_SECRET=bench)
postgres=(AzureWebJobsStorage="$CHARGEBACK_TEST_AZURE_STORAGE" CHARGEBACK_LEDGER=postgres
    DATABASE_URL="$CHARGEBACK_TEST_DATABASE_URL" CHARGEBACK_FINGERPRINT_SECRET=bench)

run embedded "$work/month.jsonl" 5000 CHARGEBACK_LEDGER=sqlite
run postgres "$work/month.jsonl" 5000 "${postgres[@]}"
run azurite-mixed "$work/mixed.jsonl" 5000 "${azure[@]}"
run azurite-ordered "$work/ordered.jsonl" 5000 "${azure[@]}"
run azurite-ordered "$work/ordered.jsonl" 100 "${azure[@]}"
run postgres-ordered "$work/ordered.jsonl" 100 "${postgres[@]}"
run embedded-ordered "$work/ordered.jsonl" 100 CHARGEBACK_LEDGER=sqlite
echo "== Azurite at the end: RSS $(($(ps -o rss= -p "$SERVICES_AZURITE_PID") / 1024)) MB"
