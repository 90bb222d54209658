#!/usr/bin/env bash
# The whole test suite, on a fresh machine with the Rust toolchain:
#   1. checks the style first, so it fails fast: `cargo fmt --check` and
#      `cargo clippy -D warnings` (the lints of [workspace.lints] and clippy.toml),
#   2. starts the real services the tests need (scripts/services.sh, when present),
#   3. runs every Rust test in the workspace (unit, golden, property and
#      integration tests, the architecture test; the handler is driven with
#      host-shaped invocations), the fuzz harness among them, bounded by
#      CHARGEBACK_FUZZ_CASES cases per target (docs/operations.md, "Fuzzing"),
#   4. puts a small bounded load on `chargeback serve` (scripts/load.sh: 4
#      clients posting host-shaped batches, replays included) and checks every
#      total exactly afterwards,
#   5. fuzzes the HTTP API against its OpenAPI document (scripts/api-fuzz.sh:
#      schemathesis against `chargeback serve`),
#   6. validates the demo month's FOCUS export with the FinOps Foundation's
#      validator (scripts/focus-validate.sh),
#   7. runs the deployment-file checks (infra/check/run.sh).
# It installs what it uses. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# rustfmt and clippy come with the toolchain; a minimal profile may lack them.
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        rustup component add "$component"
    fi
done
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

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
bash scripts/focus-validate.sh --demo
bash infra/check/run.sh
