#!/usr/bin/env bash
# Validates a FOCUS 1.2 cost and usage file (our focus.csv) with the FinOps
# Foundation's validator, focus-validator 2.2.1 from PyPI, offline, and fails
# on any failed rule.
#
#   bash scripts/focus-validate.sh FILE        # validates FILE
#   bash scripts/focus-validate.sh --demo      # the demo month's focus.csv (scripts/test.sh runs this)
#
# The validator needs Python >= 3.12: it is installed once into
# .services/focus-venv (git-ignored), with pyarrow < 18 beside it (it pins
# numpy 1.26, which newer pyarrow wheels do not support). Three quirks of
# 2.2.1 are handled here:
#   - it opens its currency list by a path relative to its site-packages
#     folder, so it runs from there;
#   - --block-download keeps it on the 1.2 rules it ships (no network);
#   - it exits 0 even when rules fail, so its "Total: … | Fail: N" line is read.
#
# Applicability criteria: the rules that apply only to providers with some
# feature run for the features this dataset has (FOCUS_CRITERIA below;
# docs/chargeback.md says why each is claimed or not). FOCUS_CRITERIA=ALL runs
# them all. The full report is kept in FILE.validation.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"
arg="${1:?usage: scripts/focus-validate.sh FILE | --demo}"
if [ "$arg" = --demo ]; then
    # The demo month on the embedded backend, in a folder of its own; its
    # reports are tenant-scoped (reports/{tenant}/{month}/, rollup::report_name).
    cargo build -p chargeback --locked -q
    demo="$(mktemp -d /tmp/chargeback-focus-demo.XXXXXX)"
    trap 'rm -rf "$demo"' EXIT
    env -u AzureWebJobsStorage -u DATABASE_URL -u CHARGEBACK_LEDGER -u CHARGEBACK_DEPLOYMENTS \
        -u CHARGEBACK_APPLICATIONS -u CHARGEBACK_PRICES CHARGEBACK_DATA_DIR="$demo" \
        "${CARGO_TARGET_DIR:-$root/target}/debug/chargeback" demo --month 2026-10 >"$demo/demo.log" 2>&1 \
        || { cat "$demo/demo.log" >&2; exit 1; }
    arg="$demo/reports/default/2026-10/focus.csv"
fi
file="$(realpath "$arg")"
[ -s "$file" ] || { echo "focus-validate.sh: $file is missing or empty" >&2; exit 2; }
venv="$root/.services/focus-venv"
version=2.2.1
criteria="${FOCUS_CRITERIA:-USAGE_MEASUREMENT_SUPPORTED,UNIT_PRICING_SUPPORTED,PUBLIC_PRICE_LIST_SUPPORTED,NEGOTIATED_PRICING_SUPPORTED,ACCOUNT_NAMING_SUPPORTED,SUB_ACCOUNT_SUPPORTED,REGION_SUPPORTED,TAGGING_SUPPORTED,BILLING_BASED_ON_PROVISIONED_RESOURCES_SUPPORTED,RESOURCE_TYPE_ASSIGNMENT_SUPPORTED}"
# A rule that is one branch of an OR whose parent passes is not a failure:
# InvoiceId-C-003-C is "null when not invoiced (C-004) OR not null when
# invoiced (C-005)"; the validator counts the branch not taken as failed.
# Each entry is "branch:parent"; the parent must pass.
branches=("InvoiceId-C-005-C:InvoiceId-C-003-C")

# A Python >= 3.12: pyenv's 3.12 (CI has 3.12.1), else one on PATH.
find_python() {
    local candidate
    for candidate in "env PYENV_VERSION=3.12.1 python3.12" "python3.12" "python3.13" "python3"; do
        # shellcheck disable=SC2086
        if $candidate -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "focus-validate.sh: no Python >= 3.12 found (pyenv install 3.12.1)" >&2
    return 1
}

if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('focus-validator') != '$version')" 2>/dev/null; then
    python="$(find_python)"
    echo "focus-validate.sh: installing focus-validator $version into $venv" >&2
    rm -rf "$venv"
    # shellcheck disable=SC2086
    $python -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check --retries 5 --timeout 60 \
        "focus-validator==$version" "pyarrow<18"
fi
site="$("$venv/bin/python" -c 'import os, focus_validator; print(os.path.dirname(os.path.dirname(focus_validator.__file__)))')"
report="$file.validation.txt"
(cd "$site" && "$venv/bin/focus-validator" --data-file "$file" --validate-version 1.2 --block-download \
    --applicability-criteria "$criteria" --show-violations) >"$report" 2>&1 || {
    tail -20 "$report" >&2
    echo "focus-validate.sh: the validator itself failed on $file (report: $report)" >&2
    exit 1
}
summary="$(grep -Eo 'Total: [0-9]+ \| Pass: [0-9]+ \| Fail: [0-9]+( \| Skipped: [0-9]+)?' "$report" | tail -1 || true)"
if [ -z "$summary" ]; then
    tail -20 "$report" >&2
    echo "focus-validate.sh: no result line in the validator's report ($report)" >&2
    exit 1
fi
echo "focus-validate.sh: $(basename "$file"): $summary"
failed="$(sed -E 's/.*Fail: ([0-9]+).*/\1/' <<<"$summary")"
passed="$(sed -E 's/.*Pass: ([0-9]+).*/\1/' <<<"$summary")"
for entry in "${branches[@]}"; do
    branch="${entry%%:*}" parent="${entry##*:}"
    if grep -q "^❌ $branch: FAIL" "$report" && grep -q "^✅ $parent: PASS" "$report"; then
        echo "focus-validate.sh: $branch is the branch not taken of $parent, which passes" >&2
        failed=$((failed - 1))
    fi
done
if [ "$failed" != 0 ] || [ "$passed" = 0 ]; then
    sed -n '/--- Failures ---/,/=== Validation Results ===/p' "$report" >&2
    echo "focus-validate.sh: $failed FOCUS rule(s) failed on $file (report: $report)" >&2
    exit 1
fi
