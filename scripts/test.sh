#!/usr/bin/env bash
# The whole test suite, on a fresh machine with the Rust toolchain:
#   1. starts the real services the tests need (scripts/services.sh, when present),
#   2. runs every Rust test in the workspace (unit, golden, property and
#      integration tests; the handler is driven with host-shaped invocations),
#      the fuzz harness among them, bounded by CHARGEBACK_FUZZ_CASES cases per
#      target (docs/operations.md, "Fuzzing"),
#   3. puts a small bounded load on `chargeback serve` (scripts/load.sh: 4
#      clients posting host-shaped batches, replays included) and checks every
#      total exactly afterwards,
#   4. fuzzes the HTTP API against its OpenAPI document (scripts/api-fuzz.sh:
#      schemathesis against `chargeback serve`),
#   5. runs the deployment-file checks (infra/check/run.sh).
# It installs what it uses. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ -f scripts/services.sh ]; then
    # shellcheck source=/dev/null
    source scripts/services.sh
    services_start
    trap services_stop EXIT
fi

export CHARGEBACK_FUZZ_CASES="${CHARGEBACK_FUZZ_CASES:-256}"
cargo test --workspace --locked
CHARGEBACK_BIN=target/debug/chargeback bash scripts/load.sh 4 10 50
bash scripts/api-fuzz.sh
bash infra/check/run.sh
