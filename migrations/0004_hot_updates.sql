-- balances and keys are updated for hundreds of rows per usage batch. Free space on each page lets
-- PostgreSQL do HOT updates (no new index entries when no indexed column changes).
ALTER TABLE "balances" SET (fillfactor = 80);
--> statement-breakpoint
ALTER TABLE "keys" SET (fillfactor = 80);
