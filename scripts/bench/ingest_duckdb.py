#!/usr/bin/env python3
"""Peer of the embedded ingest benchmark (scripts/bench.sh ingest): DuckDB's
durable insert of the same JSONL file into a table with a PRIMARY KEY.

  ingest_duckdb.py FILE DB

Reads every line of FILE as text, parses it with DuckDB's JSON functions,
takes the token fields of the three record shapes (usage.v1, the APIM sample
policy, APIM full bodies), identifies a record by its own id or else by the
MD5 of its line (as ours identifies id-less records by their content), and
inserts the rows with ON CONFLICT DO NOTHING into DB in one statement, then
CHECKPOINTs so the rows are in the database file, not only in its write-ahead
log. Lines that are not JSON objects, or lack a time or the token counts, are
skipped. Run it twice on the same DB for the replay figure. Prints the rows
inserted; the caller times the whole process.

It validates less than ours (no timestamp forms, no token invariants), keeps
raw subscription keys instead of fingerprints, and writes no dead letters.
"""
import sys
import time

import duckdb

path, db_path = sys.argv[1], sys.argv[2]
start = time.perf_counter()
db = duckdb.connect(db_path)
db.execute("""
CREATE TABLE IF NOT EXISTS ledger (
    id VARCHAR PRIMARY KEY, ts VARCHAR NOT NULL, day VARCHAR NOT NULL, party VARCHAR, model VARCHAR,
    deployment VARCHAR, prompt BIGINT NOT NULL, completion BIGINT NOT NULL, cached BIGINT, reasoning BIGINT)
""")
before = db.execute("SELECT count(*) FROM ledger").fetchone()[0]
# One column per line: no delimiter or quote can occur in it.
LINES = ("read_csv(?, columns = {'line': 'VARCHAR'}, header = false, delim = '\\x01', quote = '', "
         "escape = '', auto_detect = false, strict_mode = false, null_padding = true)")
# Each line is parsed once: json_extract_string with a list of paths.
PATHS = ["$.schema", "$.id", "$.requestId", "$.timestamp", "$.Timestamp", "$.eventTime", "$.application",
         "$.subscription_id", "$.AppKey", "$.appSubscriptionKey", "$.model", "$.response.model", "$.deployment",
         "$.request.model", "$.usage.prompt_tokens", "$.PromptTokens", "$.response.usage.prompt_tokens",
         "$.usage.completion_tokens", "$.CompletionTokens", "$.response.usage.completion_tokens",
         "$.usage.prompt_tokens_details.cached_tokens", "$.response.usage.prompt_tokens_details.cached_tokens",
         "$.usage.completion_tokens_details.reasoning_tokens",
         "$.response.usage.completion_tokens_details.reasoning_tokens"]
db.execute(f"""
INSERT INTO ledger
WITH lines AS (SELECT line, CASE WHEN json_valid(line) AND starts_with(ltrim(line), '{{')
                                   THEN json_extract_string(line, {PATHS!r}) END AS v FROM {LINES}),
rows AS (
    SELECT
        CASE WHEN v[1] IS NOT NULL THEN v[2] ELSE coalesce(v[3], md5(line)) END AS id,
        coalesce(v[4], v[5], v[6]) AS ts,
        coalesce(v[7], v[8], v[9], v[10]) AS party,
        coalesce(v[11], v[12]) AS model,
        coalesce(v[13], v[14]) AS deployment,
        TRY_CAST(coalesce(v[15], v[16], v[17]) AS BIGINT) AS prompt,
        TRY_CAST(coalesce(v[18], v[19], v[20]) AS BIGINT) AS completion,
        TRY_CAST(coalesce(v[21], v[22]) AS BIGINT) AS cached,
        TRY_CAST(coalesce(v[23], v[24]) AS BIGINT) AS reasoning
    FROM lines WHERE v IS NOT NULL)
SELECT id, ts,
       CASE WHEN ts LIKE '%/%' THEN strftime(strptime(ts, '%m/%d/%Y %I:%M:%S %p'), '%Y-%m-%d') ELSE ts[1:10] END AS day,
       party, model, deployment, coalesce(prompt, 0), coalesce(completion, 0), cached, reasoning
FROM rows
WHERE id IS NOT NULL AND ts IS NOT NULL AND coalesce(prompt, 0) >= 0 AND coalesce(completion, 0) >= 0
ON CONFLICT DO NOTHING
""", [path])
db.execute("CHECKPOINT")
after = db.execute("SELECT count(*) FROM ledger").fetchone()[0]
db.close()
elapsed = time.perf_counter() - start
print(f"   duckdb {duckdb.__version__}: {after - before:,} rows inserted ({after:,} in the table); "
      f"{elapsed:.2f} s in the script")
