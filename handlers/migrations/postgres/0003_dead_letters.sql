-- Dead letters in the database, for the PostgreSQL backend on Azure where no
-- Blob Storage connection string is given (the embedded backend keeps them as
-- files, Azure Storage as blobs). Same text for both engines.
CREATE TABLE IF NOT EXISTS dead_letters (
    tenant         TEXT   NOT NULL,
    id             TEXT   NOT NULL,
    reason         TEXT   NOT NULL,
    detail         TEXT   NOT NULL,
    origin         TEXT   NOT NULL,
    received_at_us BIGINT NOT NULL,
    body           TEXT   NOT NULL,           -- as received, credentials redacted
    PRIMARY KEY (tenant, id)
);
