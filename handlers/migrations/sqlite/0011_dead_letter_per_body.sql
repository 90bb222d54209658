-- A dead letter is keyed by `letter`: a digest of its identity and body
-- (storage::dead_letter::letter_name), so two different bodies that claim one
-- id are two letters, and the same letter stored again replaces itself.
-- SQLite cannot change a primary key: the table is rebuilt. Letters stored
-- before keep their id as their key.
CREATE TABLE dead_letters_by_letter (
    tenant         TEXT   NOT NULL,
    letter         TEXT   NOT NULL,
    id             TEXT   NOT NULL,
    reason         TEXT   NOT NULL,
    detail         TEXT   NOT NULL,
    origin         TEXT   NOT NULL,
    received_at_us BIGINT NOT NULL,
    body           TEXT   NOT NULL,           -- as received, credentials redacted
    PRIMARY KEY (tenant, letter)
);
INSERT INTO dead_letters_by_letter (tenant, letter, id, reason, detail, origin, received_at_us, body)
    SELECT tenant, id, id, reason, detail, origin, received_at_us, body FROM dead_letters;
DROP TABLE dead_letters;
ALTER TABLE dead_letters_by_letter RENAME TO dead_letters;
