#!/usr/bin/env bash
# Bounded load on the custom handler, loopback only: N clients post
# host-shaped Event Hubs batches, then the totals are checked exactly
# (scripts/bench/load.py says what is measured and checked). Reproduces the
# "Load" figures in docs/benchmarks.md.
# Usage: bash scripts/load.sh [CLIENTS] [BATCHES_PER_CLIENT] [EVENTS_PER_BATCH]
#   CHARGEBACK_BIN=path  use this binary instead of building the release one
#                        (the suite runs the debug build with a small load).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
clients="${1:-8}"
batches="${2:-50}"
size="${3:-100}"
bin="${CHARGEBACK_BIN:-}"
if [ -z "$bin" ]; then
    cargo build --release --locked -p chargeback 2>/dev/null
    bin=target/release/chargeback
fi
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
python3 scripts/bench/load.py --bin "$bin" --clients "$clients" --batches "$batches" --size "$size" --json
