ALTER TABLE "ledger_entries" ADD COLUMN "reason_code" text;--> statement-breakpoint
ALTER TABLE "dead_letters" ADD COLUMN "replayed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "dead_letters" ADD COLUMN "replayed_by" text;--> statement-breakpoint
ALTER TABLE "dead_letters" ADD COLUMN "replay_outcome" text;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "dispute_id" text;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "dispute_status" text;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "disputed_milli" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "dispute_shortfall_milli" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "dead_letters_open_idx" ON "dead_letters" USING btree ("id") WHERE replayed_at is null;--> statement-breakpoint
CREATE INDEX "dead_letters_created_idx" ON "dead_letters" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "idempotency_created_idx" ON "idempotency_records" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "outbox_done_idx" ON "outbox" USING btree ("done_at") WHERE status = 'done';--> statement-breakpoint
-- Sign-in mails logged before the fix carried a usable link: redact it (issue 14, hole 1).
UPDATE "mail_log" SET "body_text" = regexp_replace("body_text", 'token=[^[:space:]"<&]+', 'token=[redacted]', 'g'),
  "body_html" = regexp_replace("body_html", 'token=[^[:space:]"<&]+', 'token=[redacted]', 'g')
  WHERE "template" = 'portal_login';
