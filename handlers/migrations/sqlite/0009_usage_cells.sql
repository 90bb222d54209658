-- Usage cells: per tenant, UTC day, party, model, deployment and token
-- source, the number of records and every token sum. Ingest adds the rows
-- it actually inserted (never duplicates) in the same transaction as the
-- ledger rows, so the rollup, the usage API and the budgets read these few
-- rows instead of every record. The columns are listed once in
-- handlers/src/storage/cells.rs, which generates every query over them;
-- the rebuild below is its text (a test checks it). Absent model and
-- deployment are ''. Same text for both engines but WITHOUT ROWID (SQLite only).
CREATE TABLE usage_cells (
    tenant            TEXT   NOT NULL,
    day               TEXT   NOT NULL,
    party             TEXT   NOT NULL,
    model             TEXT   NOT NULL,
    deployment        TEXT   NOT NULL,
    token_source      TEXT   NOT NULL,
    requests          BIGINT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cached_tokens     BIGINT NOT NULL,
    reasoning_tokens  BIGINT NOT NULL,
    PRIMARY KEY (tenant, day, party, model, deployment, token_source)
) WITHOUT ROWID;

-- An existing ledger's cells, built from its records once. The sums cannot
-- fail on rows stored before the per-record maximum (cells.rs,
-- saturating_sum): a cell past 2^63 holds i64::MAX.
INSERT INTO usage_cells (tenant, day, party, model, deployment, token_source, requests, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens)
SELECT tenant, day AS day, party AS party, COALESCE(model, '') AS model, COALESCE(deployment, '') AS deployment, token_source AS token_source,
    CASE WHEN SUM(1 / 1073741824) + SUM(1 % 1073741824) / 1073741824 >= 8589934592
        THEN 9223372036854775807 ELSE CAST(SUM(1 / 1073741824) * 1073741824 + SUM(1 % 1073741824) AS BIGINT) END AS requests,
    CASE WHEN SUM(prompt_tokens / 1073741824) + SUM(prompt_tokens % 1073741824) / 1073741824 >= 8589934592
        THEN 9223372036854775807 ELSE CAST(SUM(prompt_tokens / 1073741824) * 1073741824 + SUM(prompt_tokens % 1073741824) AS BIGINT) END AS prompt_tokens,
    CASE WHEN SUM(completion_tokens / 1073741824) + SUM(completion_tokens % 1073741824) / 1073741824 >= 8589934592
        THEN 9223372036854775807 ELSE CAST(SUM(completion_tokens / 1073741824) * 1073741824 + SUM(completion_tokens % 1073741824) AS BIGINT) END AS completion_tokens,
    CASE WHEN SUM(cached_tokens / 1073741824) + SUM(cached_tokens % 1073741824) / 1073741824 >= 8589934592
        THEN 9223372036854775807 ELSE CAST(SUM(cached_tokens / 1073741824) * 1073741824 + SUM(cached_tokens % 1073741824) AS BIGINT) END AS cached_tokens,
    CASE WHEN SUM(reasoning_tokens / 1073741824) + SUM(reasoning_tokens % 1073741824) / 1073741824 >= 8589934592
        THEN 9223372036854775807 ELSE CAST(SUM(reasoning_tokens / 1073741824) * 1073741824 + SUM(reasoning_tokens % 1073741824) AS BIGINT) END AS reasoning_tokens
FROM ledger GROUP BY tenant, day, party, COALESCE(model, ''), COALESCE(deployment, ''), token_source;

-- The rollup's chunks read cells now: the covering index of 0008 (a
-- ten-column index entry written by every insert) is no longer needed.
DROP INDEX ledger_partition_totals;
