ALTER TABLE "balances" ADD COLUMN "prev_period_start" date;--> statement-breakpoint
ALTER TABLE "balances" ADD COLUMN "prev_monthly_milli" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "balances" ADD COLUMN "prev_used_milli" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "balances" ADD COLUMN "grace_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "usage_events" ADD COLUMN "late" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "usage_late_idx" ON "usage_events" USING btree ("created_at") WHERE late;