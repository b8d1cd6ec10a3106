-- Dedup on (start_time, dedup_key), nulls equal: the same calls as the unique dedup_key (the key
-- hashes the start time as sent), but inserted in time order instead of at random pages of a
-- hash-ordered index. The new index also serves start_time ranges, so usage_time_idx goes.
-- Added before the old constraint is dropped: uniqueness holds at every step.
ALTER TABLE "usage_events" ADD CONSTRAINT "usage_events_time_dedup_unique" UNIQUE NULLS NOT DISTINCT("start_time","dedup_key");--> statement-breakpoint
ALTER TABLE "usage_events" DROP CONSTRAINT "usage_events_dedup_key_unique";--> statement-breakpoint
DROP INDEX "usage_time_idx";
