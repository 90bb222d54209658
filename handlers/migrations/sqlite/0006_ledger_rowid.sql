-- The ledger as a rowid table with a unique index on the identity, instead of
-- a table clustered on (tenant, record_id). Record ids are random (GUIDs,
-- hashes), so a clustered ledger took every insert at a random place of the
-- whole table; now rows append and only the narrow identity index is written
-- at random. Idempotency is unchanged: ON CONFLICT (tenant, record_id) uses
-- the unique index. (SQLite only: PostgreSQL tables are heaps already.)
CREATE TABLE ledger_rowid (
    tenant          TEXT    NOT NULL,
    record_id       TEXT    NOT NULL,
    occurred_at_us  INTEGER NOT NULL,
    day             TEXT    NOT NULL,
    party           TEXT    NOT NULL,
    subscription_id TEXT,
    key_fingerprint TEXT,
    application     TEXT,
    user_id         TEXT,
    deployment      TEXT,
    model           TEXT,
    operation       TEXT,
    status          INTEGER,
    streamed        INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens INTEGER NOT NULL CHECK (completion_tokens >= 0),
    cached_tokens     INTEGER NOT NULL CHECK (cached_tokens >= 0 AND cached_tokens <= prompt_tokens),
    reasoning_tokens  INTEGER NOT NULL CHECK (reasoning_tokens >= 0 AND reasoning_tokens <= completion_tokens),
    token_source    TEXT    NOT NULL CHECK (token_source IN ('reported', 'estimated', 'pending')),
    shape           TEXT    NOT NULL,
    backend         TEXT,
    latency_ms      INTEGER,
    counted_with    TEXT
);

INSERT INTO ledger_rowid (tenant, record_id, occurred_at_us, day, party, subscription_id, key_fingerprint,
    application, user_id, deployment, model, operation, status, streamed, prompt_tokens, completion_tokens,
    cached_tokens, reasoning_tokens, token_source, shape, backend, latency_ms, counted_with)
SELECT tenant, record_id, occurred_at_us, day, party, subscription_id, key_fingerprint,
    application, user_id, deployment, model, operation, status, streamed, prompt_tokens, completion_tokens,
    cached_tokens, reasoning_tokens, token_source, shape, backend, latency_ms, counted_with
FROM ledger ORDER BY occurred_at_us;

DROP TABLE ledger;
ALTER TABLE ledger_rowid RENAME TO ledger;

CREATE UNIQUE INDEX ledger_identity ON ledger (tenant, record_id);
CREATE INDEX ledger_by_time ON ledger (tenant, occurred_at_us);
CREATE INDEX ledger_by_partition ON ledger (tenant, day, party);
