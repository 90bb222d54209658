-- The chargeback of a month as the rollup computes it: one row per statement
-- line (usage of a business unit, application, model and deployment; a share
-- of a provisioned deployment; unused provisioned capacity). The table of
-- 0002 keyed lines by business unit, application and model only, which
-- cannot hold a model used on two deployments, and had no way to say
-- "unpriced"; nothing wrote to it, so it is replaced. Same text for both engines.
DROP TABLE IF EXISTS chargeback_results;

CREATE TABLE chargeback_results (
    tenant            TEXT   NOT NULL,
    period            TEXT   NOT NULL,            -- YYYY-MM
    line              BIGINT NOT NULL,            -- position in the statement
    kind              TEXT   NOT NULL,            -- usage | provisioned | unused-capacity
    business_unit     TEXT   NOT NULL,
    application       TEXT   NOT NULL,
    model             TEXT   NOT NULL,
    deployment        TEXT   NOT NULL,
    currency          TEXT   NOT NULL,
    requests          BIGINT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cached_tokens     BIGINT NOT NULL,
    reasoning_tokens  BIGINT NOT NULL,
    amount_micros     BIGINT,                     -- NULL: unpriced (not zero)
    computed_at_us    BIGINT NOT NULL,
    PRIMARY KEY (tenant, period, line)
);

-- The rollup reads a month's aggregates by tenant and day.
CREATE INDEX IF NOT EXISTS usage_aggregates_by_day ON usage_aggregates (tenant, day);
