-- A database created by a version that already wrote v2 dedup keys can hold no v1 key: every
-- migration up to here ran in ONE transaction (drizzle applies pending migrations in one; their
-- rows in __drizzle_migrations then share one xmin), so migration 0009 ran in the very run that
-- created the tables and no version before it ever booked into this database. Its cut-off (a day
-- ahead, for old replicas of a rolling deploy) then only made every event of the first day probe
-- for a v1 row that cannot exist: set it to -infinity, so no event is probed. A database migrated
-- in more than one run (an upgrade) keeps the cut-off it recorded.
UPDATE "settings"
SET "value" = to_jsonb('-infinity'::timestamptz), "updated_by" = 'migration 0015'
WHERE "key" = 'dedup_legacy_before'
  AND (SELECT count(DISTINCT xmin::text) FROM "drizzle"."__drizzle_migrations") = 1;
