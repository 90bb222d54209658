-- The chargeback schema beside the ledger. The same text is
-- migrations/sqlite/0002_chargeback.sql: only types both engines know
-- (TEXT, BIGINT, BOOLEAN), no engine-specific clauses, so one set of queries
-- serves both. Times are microseconds since the Unix epoch, UTC; money is
-- integer micro-units of the currency, never a float.

-- Partition scans of the ledger (one tenant, one UTC day, one party).
CREATE INDEX IF NOT EXISTS ledger_by_partition ON ledger (tenant, day, party);

-- Daily aggregates of the ledger, written by the rollup one partition at a time.
-- Absent model/deployment are stored as '' so they can be part of the key.
CREATE TABLE IF NOT EXISTS usage_aggregates (
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
    rolled_up_at_us   BIGINT NOT NULL,
    PRIMARY KEY (tenant, day, party, model, deployment, token_source)
);

-- Business units, and which party (application, subscription or key
-- fingerprint) belongs to which application and business unit.
CREATE TABLE IF NOT EXISTS business_units (
    tenant        TEXT NOT NULL,
    business_unit TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    cost_center   TEXT,
    PRIMARY KEY (tenant, business_unit)
);

CREATE TABLE IF NOT EXISTS application_map (
    tenant        TEXT   NOT NULL,
    party         TEXT   NOT NULL,
    application   TEXT   NOT NULL,
    business_unit TEXT   NOT NULL,
    valid_from    TEXT   NOT NULL,            -- YYYY-MM-DD (UTC), inclusive
    PRIMARY KEY (tenant, party, valid_from)
);

-- Prices per million tokens of one meter (prompt, cached, completion,
-- reasoning) of one model, in micro-units of the currency.
CREATE TABLE IF NOT EXISTS prices (
    tenant                  TEXT   NOT NULL,
    model                   TEXT   NOT NULL,
    meter                   TEXT   NOT NULL,
    currency                TEXT   NOT NULL,
    micros_per_million      BIGINT NOT NULL CHECK (micros_per_million >= 0),
    valid_from              TEXT   NOT NULL,  -- YYYY-MM-DD (UTC), inclusive
    PRIMARY KEY (tenant, model, meter, valid_from)
);

-- The chargeback of one period (YYYY-MM) per business unit, application and model.
CREATE TABLE IF NOT EXISTS chargeback_results (
    tenant            TEXT   NOT NULL,
    period            TEXT   NOT NULL,
    business_unit     TEXT   NOT NULL,
    application       TEXT   NOT NULL,
    model             TEXT   NOT NULL,
    currency          TEXT   NOT NULL,
    requests          BIGINT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cached_tokens     BIGINT NOT NULL,
    reasoning_tokens  BIGINT NOT NULL,
    amount_micros     BIGINT NOT NULL,
    computed_at_us    BIGINT NOT NULL,
    PRIMARY KEY (tenant, period, business_unit, application, model)
);

-- What the maintenance jobs did, one row per run.
CREATE TABLE IF NOT EXISTS maintenance_log (
    id             TEXT   NOT NULL PRIMARY KEY,
    tenant         TEXT   NOT NULL,
    job            TEXT   NOT NULL,
    started_at_us  BIGINT NOT NULL,
    finished_at_us BIGINT,
    outcome        TEXT,
    detail         TEXT
);

-- Singleton leases of the embedded and PostgreSQL backends.
CREATE TABLE IF NOT EXISTS leases (
    name          TEXT   NOT NULL PRIMARY KEY,
    token         TEXT   NOT NULL,
    expires_at_us BIGINT NOT NULL
);

-- Reports and job state with a version for optimistic concurrency.
CREATE TABLE IF NOT EXISTS reports (
    name    TEXT   NOT NULL PRIMARY KEY,
    body    TEXT   NOT NULL,              -- base64 of the content
    version BIGINT NOT NULL
);

-- Work queue of the embedded and PostgreSQL backends. Ids are time-ordered
-- text, so FIFO needs no engine-specific sequence.
CREATE TABLE IF NOT EXISTS work_items (
    queue         TEXT   NOT NULL,
    id            TEXT   NOT NULL,
    body          TEXT   NOT NULL,
    visible_at_us BIGINT NOT NULL,
    dequeue_count BIGINT NOT NULL,
    receipt       TEXT,
    poisoned      BOOLEAN NOT NULL,
    PRIMARY KEY (queue, id)
);
CREATE INDEX IF NOT EXISTS work_items_visible ON work_items (queue, poisoned, visible_at_us);
