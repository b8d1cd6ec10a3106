CREATE TABLE "usage_rollup" (
	"bucket" timestamp with time zone NOT NULL,
	"model" text NOT NULL,
	"status" text NOT NULL,
	"attributed" boolean NOT NULL,
	"shard" smallint NOT NULL,
	"calls" bigint NOT NULL,
	"debit_milli" bigint NOT NULL,
	"cost_nano" bigint NOT NULL,
	CONSTRAINT "usage_rollup_bucket_model_status_attributed_shard_pk" PRIMARY KEY("bucket","model","status","attributed","shard")
);
--> statement-breakpoint
-- Backfill from the events already booked (shard 0); from here on the booking statement adds to it.
INSERT INTO "usage_rollup" ("bucket", "model", "status", "attributed", "shard", "calls", "debit_milli", "cost_nano")
SELECT date_bin('15 minutes', "start_time", TIMESTAMPTZ '2000-01-01 00:00:00+00'), coalesce("model_group", "model", 'unknown'), "status",
       "user_id" IS NOT NULL, 0, count(*), sum("debit_milli"), sum("cost_nano")
FROM "usage_events" WHERE "start_time" IS NOT NULL
GROUP BY 1, 2, 3, 4;
