-- The ledger partitioned by month (range of `day`), so a month's reads and
-- maintenance touch one partition and retention can detach whole months
-- (maintenance creates the coming months' partitions ahead, named
-- ledger_yYYYYmMM; an append creates a missing month's partition itself).
-- A unique index of a partitioned table must contain the partition key, so
-- the identity moves to ledger_ids (tenant, record_id): an append claims its
-- ids there first (INSERT … ON CONFLICT DO NOTHING RETURNING) and writes only
-- the claimed rows, so an id claimed again on another day or month still
-- counts once. Time ranges go through (tenant, day, party), which also
-- prunes partitions.
CREATE TABLE ledger_ids (
    tenant    TEXT NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (tenant, record_id)
);
INSERT INTO ledger_ids (tenant, record_id) SELECT tenant, record_id FROM ledger;

ALTER TABLE ledger RENAME TO ledger_unpartitioned;
CREATE TABLE ledger (
    tenant          TEXT    NOT NULL,
    record_id       TEXT    NOT NULL,
    occurred_at_us  BIGINT  NOT NULL,
    day             TEXT    NOT NULL,
    party           TEXT    NOT NULL,
    subscription_id TEXT,
    key_fingerprint TEXT,
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
    counted_with    TEXT
) PARTITION BY RANGE (day);

DO $$
DECLARE
    m text;
BEGIN
    FOR m IN SELECT DISTINCT substr(day, 1, 7) FROM ledger_unpartitioned LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF ledger FOR VALUES FROM (%L) TO (%L)',
            'ledger_y' || replace(m, '-', 'm'), m || '-01',
            to_char(to_date(m || '-01', 'YYYY-MM-DD') + interval '1 month', 'YYYY-MM-DD'));
    END LOOP;
END $$;

INSERT INTO ledger (tenant, record_id, occurred_at_us, day, party, subscription_id, key_fingerprint, application,
    user_id, deployment, model, operation, status, streamed, prompt_tokens, completion_tokens, cached_tokens,
    reasoning_tokens, token_source, shape, backend, latency_ms, counted_with)
SELECT tenant, record_id, occurred_at_us, day, party, subscription_id, key_fingerprint, application,
    user_id, deployment, model, operation, status, streamed, prompt_tokens, completion_tokens, cached_tokens,
    reasoning_tokens, token_source, shape, backend, latency_ms, counted_with
FROM ledger_unpartitioned;
DROP TABLE ledger_unpartitioned;

CREATE INDEX ledger_by_partition ON ledger (tenant, day, party);
