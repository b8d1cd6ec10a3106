-- Statistics that follow the outbox's bursts (100,000 pushes at a month boundary): analyze after
-- every 2,000 changed rows, not after 10 % of the table (the service also analyzes after a burst).
ALTER TABLE "outbox" SET (autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 2000);
