-- Every action of a nightly maintenance run (ANALYZE, VACUUM, REINDEX, SQLite
-- pragmas), beside the per-run row in maintenance_log (0002): what was done
-- to which table or index, why (the measured figure and its threshold), how
-- long it took and how it ended. Same text for both engines; times are
-- microseconds since the Unix epoch, UTC.
CREATE TABLE IF NOT EXISTS maintenance_actions (
    run_id        TEXT   NOT NULL,            -- maintenance_log.id
    seq           BIGINT NOT NULL,            -- order within the run
    tenant        TEXT   NOT NULL,
    action        TEXT   NOT NULL,            -- analyze, vacuum-analyze, reindex, sqlite-…
    target        TEXT   NOT NULL,            -- table or index (schema-qualified on PostgreSQL)
    reason        TEXT   NOT NULL,            -- the figure and the threshold it crossed
    started_at_us BIGINT NOT NULL,
    duration_ms   BIGINT NOT NULL,
    outcome       TEXT   NOT NULL,            -- done, failed: …, skipped: …
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS maintenance_actions_by_tenant ON maintenance_actions (tenant, started_at_us);
