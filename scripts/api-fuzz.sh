#!/usr/bin/env bash
# Property-based tests of the HTTP API against its OpenAPI document
# (handlers/openapi.json) with schemathesis (PyPI): starts `chargeback serve`
# standalone on the embedded backend, with a random CHARGEBACK_API_KEY and a
# few ingested records, and fails unless every generated request gets an
# answer that is not a 5xx, has a documented status and content type, and
# matches the response schema.
#
#   bash scripts/api-fuzz.sh      # scripts/test.sh runs it after the Rust tests
#
# schemathesis is installed into .services/schemathesis (a git-ignored venv)
# when missing. CHARGEBACK_FUZZ_MAX_EXAMPLES (default 40) bounds the examples
# per operation.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"
venv="$root/.services/schemathesis"

if [ ! -x "$venv/bin/schemathesis" ]; then
    echo "api-fuzz.sh: installing schemathesis into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q schemathesis
fi

cargo build -p chargeback --locked -q
bin="${CARGO_TARGET_DIR:-$root/target}/debug/chargeback"
work="$(mktemp -d /tmp/chargeback-fuzz.XXXXXX)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

key="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
# Outside the host: no FUNCTIONS_CUSTOMHANDLER_PORT, no Azure settings.
# (An array, not a function: backgrounded, `env` execs the server under the
# pid in $!, so the cleanup's kill reaches the server itself.)
run=(env -u FUNCTIONS_CUSTOMHANDLER_PORT -u AzureWebJobsStorage -u DATABASE_URL -u CHARGEBACK_LEDGER
    CHARGEBACK_DATA_DIR="$work/data" CHARGEBACK_API_KEY="$key" CHARGEBACK_API_AUTH=key)
"${run[@]}" "$bin" ingest infra/apim/usage-record.golden.jsonl >/dev/null
"${run[@]}" "$bin" serve --port "$port" >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.1
done

status=0
"$venv/bin/schemathesis" run handlers/openapi.json \
    --url "http://127.0.0.1:$port" \
    --header "x-functions-key: $key" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing \
    --max-examples "${CHARGEBACK_FUZZ_MAX_EXAMPLES:-40}" \
    --workers 1 \
    --seed 7 \
    --no-color || status=$?
if [ "$status" != 0 ]; then
    echo "api-fuzz.sh: schemathesis found failures (server log follows)" >&2
    tail -50 "$work/serve.log" >&2
fi
exit "$status"
