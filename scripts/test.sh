#!/usr/bin/env bash
# The whole test suite, on a fresh machine with the Rust toolchain:
#   1. starts the real services the tests need (scripts/services.sh, when present),
#   2. runs every Rust test in the workspace (unit, golden, property and
#      integration tests; the handler is driven with host-shaped invocations),
#   3. fuzzes the HTTP API against its OpenAPI document (scripts/api-fuzz.sh:
#      schemathesis against `chargeback serve`),
#   4. validates the demo month's FOCUS export with the FinOps Foundation's
#      validator (scripts/focus-validate.sh),
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

cargo test --workspace --locked
bash scripts/api-fuzz.sh
bash scripts/focus-validate.sh --demo
bash infra/check/run.sh
