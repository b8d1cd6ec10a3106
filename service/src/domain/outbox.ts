import { sql } from 'drizzle-orm';
import type { Queryable } from '../db/client.js';
import { outbox } from '../db/schema/index.js';

export type OutboxKind = 'litellm.sync_budget' | 'litellm.block' | 'litellm.unblock' | 'litellm.delete' | 'mail.send';

/** Write a side effect in the caller's transaction; the worker performs it after commit. */
export async function enqueue(q: Queryable, kind: OutboxKind, aggregate: string, payload: Record<string, unknown>): Promise<void> {
  await q.insert(outbox).values({ kind, aggregate, payload });
}

/** Items enqueued in one go from which on the outbox's statistics are refreshed (analyzeOutbox). */
export const OUTBOX_BURST = 1000;

/**
 * Fresh statistics after a burst of enqueued items (a factor change, a month boundary's rollover).
 * Planned with statistics from when almost nothing was pending, the claim's per-key probe looked
 * equally cheap through any partial index and took one that reads every pending row per
 * candidate (11 s per claim over 100,000 pending rows, measured with EXPLAIN ANALYZE in a scratch database). ANALYZE also invalidates the
 * claim's cached plan. Autovacuum would come to it within a minute (migration 0014); this is now.
 */
export async function analyzeOutbox(q: Queryable): Promise<void> {
  await q.execute(sql`analyze outbox`);
}
