-- A chargeback line whose model has no price is kept with its tokens and
-- marked unpriced (its amount is not zero, it is unknown). Same text for both
-- engines.
ALTER TABLE chargeback_results ADD COLUMN unpriced BOOLEAN NOT NULL DEFAULT FALSE;

-- The rollup reads a month's aggregates by tenant and day.
CREATE INDEX IF NOT EXISTS usage_aggregates_by_day ON usage_aggregates (tenant, day);
