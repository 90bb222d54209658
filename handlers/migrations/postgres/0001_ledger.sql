-- The ledger: one row per usage record, keyed by (tenant, record_id) so that
-- ingesting the same record again changes nothing. Same columns and meaning as
-- migrations/sqlite/0001_ledger.sql, so the ledger queries (storage/ledger_sql.rs)
-- are one text for both engines.
CREATE TABLE IF NOT EXISTS ledger (
    tenant          TEXT    NOT NULL,
    record_id       TEXT    NOT NULL,
    occurred_at_us  BIGINT  NOT NULL,          -- microseconds since the Unix epoch, UTC
    day             TEXT    NOT NULL,          -- YYYY-MM-DD (UTC), for grouping
    party           TEXT    NOT NULL,          -- chargeable party: application, subscription or key fingerprint
    subscription_id TEXT,
    key_fingerprint TEXT,                      -- HMAC of the subscription key; never the key
    application     TEXT,
    user_id         TEXT,
    deployment      TEXT,
    model           TEXT,
    operation       TEXT,
    status          BIGINT,
    streamed        BOOLEAN NOT NULL,
    prompt_tokens     BIGINT NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens BIGINT NOT NULL CHECK (completion_tokens >= 0),
    cached_tokens     BIGINT NOT NULL CHECK (cached_tokens >= 0 AND cached_tokens <= prompt_tokens),
    reasoning_tokens  BIGINT NOT NULL CHECK (reasoning_tokens >= 0 AND reasoning_tokens <= completion_tokens),
    token_source    TEXT    NOT NULL CHECK (token_source IN ('reported', 'estimated', 'pending')),
    shape           TEXT    NOT NULL,
    backend         TEXT,
    latency_ms      BIGINT,
    PRIMARY KEY (tenant, record_id)
);

CREATE INDEX IF NOT EXISTS ledger_by_time ON ledger (tenant, occurred_at_us);
