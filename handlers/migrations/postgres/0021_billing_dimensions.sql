-- The billing dimensions of 2026 (issue 14): cache writes, audio prompt and
-- completion tokens, accepted and rejected predicted-output tokens (each a
-- part of prompt or completion, zero when a record does not report it), the
-- service tier the response was billed at and the provisioned deployment a
-- call spilled over from (NULL when not stated / not spilled). Records
-- ingested before this migration keep zero and NULL: they did not say.
ALTER TABLE ledger ADD COLUMN cache_write_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE ledger ADD COLUMN audio_prompt_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE ledger ADD COLUMN audio_completion_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE ledger ADD COLUMN accepted_prediction_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE ledger ADD COLUMN rejected_prediction_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE ledger ADD COLUMN service_tier TEXT;
ALTER TABLE ledger ADD COLUMN spilled_from TEXT;

-- Usage cells are keyed by service tier and spilled-from deployment too
-- ('' = not stated / not spilled) and sum the new token kinds: rebuilt from
-- the records with the text of handlers/src/storage/sql/cells.rs (a test
-- checks it).
DROP TABLE usage_cells;
CREATE TABLE usage_cells (
    tenant            TEXT   NOT NULL,
    day               TEXT   NOT NULL,
    party             TEXT   NOT NULL,
    model             TEXT   NOT NULL,
    deployment        TEXT   NOT NULL,
    token_source      TEXT   NOT NULL,
    service_tier      TEXT   NOT NULL,
    spilled_from      TEXT   NOT NULL,
    requests                   BIGINT NOT NULL,
    prompt_tokens              BIGINT NOT NULL,
    completion_tokens          BIGINT NOT NULL,
    cached_tokens              BIGINT NOT NULL,
    reasoning_tokens           BIGINT NOT NULL,
    cache_write_tokens         BIGINT NOT NULL,
    audio_prompt_tokens        BIGINT NOT NULL,
    audio_completion_tokens    BIGINT NOT NULL,
    accepted_prediction_tokens BIGINT NOT NULL,
    rejected_prediction_tokens BIGINT NOT NULL,
    PRIMARY KEY (tenant, day, party, model, deployment, token_source, service_tier, spilled_from)
);

-- The sums cannot fail on rows stored before the per-record maximum
-- (cells.rs, saturating_sum): a cell past 2^63 holds i64::MAX.
INSERT INTO usage_cells (tenant, day, party, model, deployment, token_source, service_tier, spilled_from, requests, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cache_write_tokens, audio_prompt_tokens, audio_completion_tokens, accepted_prediction_tokens, rejected_prediction_tokens)
SELECT tenant, day AS day, party AS party, COALESCE(model, '') AS model, COALESCE(deployment, '') AS deployment, token_source AS token_source, COALESCE(service_tier, '') AS service_tier, COALESCE(spilled_from, '') AS spilled_from,
    CASE WHEN SUM(1 / 1073741824) + SUM(1 % 1073741824) / 1073741824 >= 8589934592
        THEN 9223372036854775807 ELSE CAST(SUM(1 / 1073741824) * 1073741824 + SUM(1 % 1073741824) AS BIGINT) END AS requests,
    CASE WHEN SUM(prompt_tokens / 1073741824) + SUM(prompt_tokens % 1073741824) / 1073741824 >= 8589934592
        THEN 9223372036854775807 ELSE CAST(SUM(prompt_tokens / 1073741824) * 1073741824 + SUM(prompt_tokens % 1073741824) AS BIGINT) END AS prompt_tokens,
    CASE WHEN SUM(completion_tokens / 1073741824) + SUM(completion_tokens % 1073741824) / 1073741824 >= 8589934592
        THEN 9223372036854775807 ELSE CAST(SUM(completion_tokens / 1073741824) * 1073741824 + SUM(completion_tokens % 1073741824) AS BIGINT) END AS completion_tokens,
    CASE WHEN SUM(cached_tokens / 1073741824) + SUM(cached_tokens % 1073741824) / 1073741824 >= 8589934592
        THEN 9223372036854775807 ELSE CAST(SUM(cached_tokens / 1073741824) * 1073741824 + SUM(cached_tokens % 1073741824) AS BIGINT) END AS cached_tokens,
    CASE WHEN SUM(reasoning_tokens / 1073741824) + SUM(reasoning_tokens % 1073741824) / 1073741824 >= 8589934592
        THEN 9223372036854775807 ELSE CAST(SUM(reasoning_tokens / 1073741824) * 1073741824 + SUM(reasoning_tokens % 1073741824) AS BIGINT) END AS reasoning_tokens,
    CASE WHEN SUM(cache_write_tokens / 1073741824) + SUM(cache_write_tokens % 1073741824) / 1073741824 >= 8589934592
        THEN 9223372036854775807 ELSE CAST(SUM(cache_write_tokens / 1073741824) * 1073741824 + SUM(cache_write_tokens % 1073741824) AS BIGINT) END AS cache_write_tokens,
    CASE WHEN SUM(audio_prompt_tokens / 1073741824) + SUM(audio_prompt_tokens % 1073741824) / 1073741824 >= 8589934592
        THEN 9223372036854775807 ELSE CAST(SUM(audio_prompt_tokens / 1073741824) * 1073741824 + SUM(audio_prompt_tokens % 1073741824) AS BIGINT) END AS audio_prompt_tokens,
    CASE WHEN SUM(audio_completion_tokens / 1073741824) + SUM(audio_completion_tokens % 1073741824) / 1073741824 >= 8589934592
        THEN 9223372036854775807 ELSE CAST(SUM(audio_completion_tokens / 1073741824) * 1073741824 + SUM(audio_completion_tokens % 1073741824) AS BIGINT) END AS audio_completion_tokens,
    CASE WHEN SUM(accepted_prediction_tokens / 1073741824) + SUM(accepted_prediction_tokens % 1073741824) / 1073741824 >= 8589934592
        THEN 9223372036854775807 ELSE CAST(SUM(accepted_prediction_tokens / 1073741824) * 1073741824 + SUM(accepted_prediction_tokens % 1073741824) AS BIGINT) END AS accepted_prediction_tokens,
    CASE WHEN SUM(rejected_prediction_tokens / 1073741824) + SUM(rejected_prediction_tokens % 1073741824) / 1073741824 >= 8589934592
        THEN 9223372036854775807 ELSE CAST(SUM(rejected_prediction_tokens / 1073741824) * 1073741824 + SUM(rejected_prediction_tokens % 1073741824) AS BIGINT) END AS rejected_prediction_tokens
FROM ledger GROUP BY tenant, day, party, COALESCE(model, ''), COALESCE(deployment, ''), token_source, COALESCE(service_tier, ''), COALESCE(spilled_from, '');

-- The rollup's daily aggregates have the cells' key and sums; the ones
-- already rolled up keep their counts (new sums zero, tier and spill '').
CREATE TABLE usage_aggregates_v2 (
    tenant            TEXT   NOT NULL,
    day               TEXT   NOT NULL,
    party             TEXT   NOT NULL,
    model             TEXT   NOT NULL,
    deployment        TEXT   NOT NULL,
    token_source      TEXT   NOT NULL,
    service_tier      TEXT   NOT NULL,
    spilled_from      TEXT   NOT NULL,
    requests                   BIGINT NOT NULL,
    prompt_tokens              BIGINT NOT NULL,
    completion_tokens          BIGINT NOT NULL,
    cached_tokens              BIGINT NOT NULL,
    reasoning_tokens           BIGINT NOT NULL,
    cache_write_tokens         BIGINT NOT NULL,
    audio_prompt_tokens        BIGINT NOT NULL,
    audio_completion_tokens    BIGINT NOT NULL,
    accepted_prediction_tokens BIGINT NOT NULL,
    rejected_prediction_tokens BIGINT NOT NULL,
    rolled_up_at_us   BIGINT NOT NULL,
    PRIMARY KEY (tenant, day, party, model, deployment, token_source, service_tier, spilled_from)
);
INSERT INTO usage_aggregates_v2 (tenant, day, party, model, deployment, token_source, service_tier, spilled_from,
    requests, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cache_write_tokens, audio_prompt_tokens, audio_completion_tokens, accepted_prediction_tokens, rejected_prediction_tokens, rolled_up_at_us)
SELECT tenant, day, party, model, deployment, token_source, '', '', requests, prompt_tokens, completion_tokens,
    cached_tokens, reasoning_tokens, 0, 0, 0, 0, 0, rolled_up_at_us FROM usage_aggregates;
DROP TABLE usage_aggregates;
ALTER TABLE usage_aggregates_v2 RENAME TO usage_aggregates;
CREATE INDEX IF NOT EXISTS usage_aggregates_by_day ON usage_aggregates (tenant, day);

-- Statement lines say their service tier and spilled-from deployment and
-- carry the new sums.
ALTER TABLE chargeback_results ADD COLUMN service_tier TEXT NOT NULL DEFAULT '';
ALTER TABLE chargeback_results ADD COLUMN spilled_from TEXT NOT NULL DEFAULT '';
ALTER TABLE chargeback_results ADD COLUMN cache_write_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE chargeback_results ADD COLUMN audio_prompt_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE chargeback_results ADD COLUMN audio_completion_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE chargeback_results ADD COLUMN accepted_prediction_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE chargeback_results ADD COLUMN rejected_prediction_tokens BIGINT NOT NULL DEFAULT 0;
