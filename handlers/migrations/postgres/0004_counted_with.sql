-- How an estimated record's tokens were counted: the tokenizer encoding, with
-- ";unknown-model" when the model was not recognised and the default encoding
-- was used (docs/token-counting.md). NULL for reported and pending records.
ALTER TABLE ledger ADD COLUMN counted_with TEXT;
