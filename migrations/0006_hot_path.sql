ALTER TABLE "ledger_entries" DROP CONSTRAINT "ledger_entries_user_id_users_id_fk";
--> statement-breakpoint
-- Identifiers compared byte-wise on the ingestion hot path: unique/ordered index lookups without
-- the database's linguistic collation (en_US.UTF-8 in the postgres image) — same order for these
-- ASCII ids, a fraction of the cost. (drizzle-kit does not model collations: custom SQL.)
ALTER TABLE "usage_events" ALTER COLUMN "dedup_key" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "usage_events" ALTER COLUMN "user_id" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "ledger_entries" ALTER COLUMN "idempotency_key" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "ledger_entries" ALTER COLUMN "user_id" SET DATA TYPE text COLLATE "C";
