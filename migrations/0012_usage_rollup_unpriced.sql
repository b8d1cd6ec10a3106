-- Unpriced calls (successes LiteLLM priced at 0 with tokens: a model missing from its cost map) per
-- rollup row, counted by the booking statement from this version on. Not backfilled: events booked
-- before did not keep whether they were cache hits (also priced 0), so they cannot be told apart.
ALTER TABLE "usage_rollup" ADD COLUMN "unpriced_calls" bigint DEFAULT 0 NOT NULL;