-- A dead letter is keyed by `letter`: a digest of its identity and body
-- (storage::dead_letter::letter_name), so two different bodies that claim one
-- id are two letters, and the same letter stored again replaces itself.
-- Letters stored before keep their id as their key.
ALTER TABLE dead_letters ADD COLUMN letter TEXT;
UPDATE dead_letters SET letter = id;
ALTER TABLE dead_letters ALTER COLUMN letter SET NOT NULL;
ALTER TABLE dead_letters DROP CONSTRAINT dead_letters_pkey;
ALTER TABLE dead_letters ADD PRIMARY KEY (tenant, letter);
