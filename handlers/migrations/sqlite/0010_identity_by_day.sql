-- An append-friendly identity. The unique index on (tenant, record_id) took
-- every insert at a random place of one index as large as the ledger (ids are
-- random), which no page cache holds at ten million records. Keyed by
-- (tenant, day, record_id), time-ordered traffic writes only the current
-- day's part of it. So that an id claimed again on another day still counts
-- once, the ledger keeps a filter of every stored id (ledger_id_filter,
-- handlers/src/storage/identity.rs) and the days each tenant has
-- (ledger_days): an id the filter may have seen is looked up on its own day,
-- then on every day of the tenant, before it is inserted. docs/storage.md
-- explains the design. Time ranges now go through the (tenant, day) prefix
-- of this index, so ledger_by_time goes too: one index per insert, not three.
DROP INDEX ledger_identity;
DROP INDEX ledger_by_time;
CREATE UNIQUE INDEX ledger_identity ON ledger (tenant, day, record_id);

CREATE TABLE ledger_days (
    tenant TEXT NOT NULL,
    day    TEXT NOT NULL,
    PRIMARY KEY (tenant, day)
) WITHOUT ROWID;
INSERT INTO ledger_days (tenant, day) SELECT DISTINCT tenant, day FROM usage_cells;

-- The identity filter as of its last snapshot: its generations (capacity
-- and ids added), their rows of bits, and the ledger rowid up to which it
-- holds every id. A process loads it and adds the ids of the rows after the
-- watermark (rows are appended, never deleted, so rowids only grow); it does
-- the same before every append for rows other processes wrote, and stores a
-- new snapshot every million ids and when a bulk load syncs. An empty
-- snapshot at watermark 0 (as here) makes the first append read every id.
CREATE TABLE ledger_id_filter_generations (
    generation INTEGER PRIMARY KEY,
    capacity   INTEGER NOT NULL,
    ids        INTEGER NOT NULL
);
-- One row of bits per id: generation * 2^32 + row. A rowid table, so each
-- 1 KiB row sits in a leaf page (a WITHOUT ROWID table would spill it to
-- overflow pages).
CREATE TABLE ledger_id_filter (
    id   INTEGER PRIMARY KEY,
    bits BLOB    NOT NULL
);
CREATE TABLE ledger_id_filter_state (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    watermark INTEGER NOT NULL
);
INSERT INTO ledger_id_filter_state (id, watermark) VALUES (1, 0);
