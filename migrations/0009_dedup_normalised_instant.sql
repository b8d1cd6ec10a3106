-- Dedup keys v2 ("c2:"/"h2:") hash the start INSTANT (normalised to microseconds) instead of the
-- start time as sent, so 1796209999, "1796209999.0" and "2026-12-02T11:13:19Z" are one call.
-- Rows booked before keep their v1 keys ("c:"/"h:"), which stay valid: the service computes each
-- incoming event's v1 key too and treats a stored one as "already booked" (docs/money.md). Only
-- start times before this cut-off can have a v1 row, so later traffic skips that lookup: the
-- latest start time stored so far, or a day from now (old replicas still running during a rolling
-- deploy keep writing v1 keys), whichever is later.
INSERT INTO "settings" ("key", "value", "updated_by", "created_at")
SELECT 'dedup_legacy_before',
       to_jsonb(greatest(now() + interval '1 day', coalesce(max("start_time") + interval '1 millisecond', now()))),
       'migration 0009',
       now()
FROM "usage_events"
ON CONFLICT ("key") DO NOTHING;
