-- Same columns and meaning as migrations/sqlite/0020_gateway_logs.sql.
-- The halves of API Management's resource logs (diagnostic settings), waiting
-- for each other until their call is counted in the ledger
-- (docs/record-format.md section 4, docs/storage.md). One row per
-- GatewayLlmLogs chunk, one per GatewayLogs record; both keyed by identity,
-- so replays and either arrival order change nothing.
CREATE TABLE IF NOT EXISTS gateway_llm_logs (
    tenant            TEXT    NOT NULL,
    correlation_id    TEXT    NOT NULL,
    sequence          BIGINT  NOT NULL CHECK (sequence >= 0),
    occurred_at_us    BIGINT  NOT NULL,          -- the record's time, µs since the Unix epoch, UTC
    received_at_us    BIGINT  NOT NULL,          -- when we first stored it (the grace period counts from here)
    has_counts        BOOLEAN NOT NULL,          -- false: a chunk of messages only
    prompt_tokens     BIGINT  NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens BIGINT  NOT NULL CHECK (completion_tokens >= 0),
    cached_tokens     BIGINT  NOT NULL CHECK (cached_tokens >= 0 AND cached_tokens <= prompt_tokens),
    request_id        TEXT,
    deployment        TEXT,
    model             TEXT,
    operation         TEXT,
    streamed          BOOLEAN NOT NULL,
    region            TEXT,
    settled_at_us     BIGINT,                   -- set once the call is in the ledger
    PRIMARY KEY (tenant, correlation_id, sequence)
);

-- Calls not counted yet, by when they arrived: the sweep after the grace period.
CREATE INDEX IF NOT EXISTS gateway_llm_logs_open ON gateway_llm_logs (tenant, received_at_us)
    WHERE settled_at_us IS NULL;

CREATE TABLE IF NOT EXISTS gateway_logs (
    tenant            TEXT    NOT NULL,
    correlation_id    TEXT    NOT NULL,
    occurred_at_us    BIGINT  NOT NULL,
    received_at_us    BIGINT  NOT NULL,
    subscription_id   TEXT,                      -- apimSubscriptionId: the party
    user_id           TEXT,
    api_id            TEXT,
    operation_id      TEXT,
    product_id        TEXT,
    backend_id        TEXT,
    status            BIGINT,
    backend_status    BIGINT,
    latency_ms        BIGINT,
    served_deployment TEXT,                      -- x-ms-deployment-name
    spilled_from      TEXT,                      -- x-ms-spillover-from-deployment
    service_tier      TEXT,
    PRIMARY KEY (tenant, correlation_id)
);

-- Gateway halves of other APIs never get a partner: purged after the grace period.
CREATE INDEX IF NOT EXISTS gateway_logs_by_received ON gateway_logs (tenant, received_at_us);
