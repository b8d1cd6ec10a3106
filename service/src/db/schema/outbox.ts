import { bigserial, index, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { createdAt } from './columns.js';

/**
 * Side effects (LiteLLM calls, emails) written in the same transaction as the change that
 * causes them, performed after commit by the outbox worker. Items with the same aggregate run
 * in id order.
 */
export const outbox = pgTable(
  'outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    kind: text('kind').notNull(),
    aggregate: text('aggregate').notNull(),
    payload: jsonb('payload').notNull(),
    status: text('status', { enum: ['pending', 'done', 'dead'] }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    lastError: text('last_error'),
    createdAt: createdAt(),
    doneAt: timestamp('done_at', { withTimezone: true }),
  },
  (t) => [
    index('outbox_pending_idx').on(t.nextAttemptAt).where(sql`status = 'pending'`),
    // The claim walks pending rows in id order: without this it skipped every finished row before
    // the first pending one on each claim (quadratic over a month boundary's 100,000 pushes).
    index('outbox_pending_id_idx').on(t.id).where(sql`status = 'pending'`),
    index('outbox_aggregate_idx').on(t.aggregate, t.id).where(sql`status = 'pending'`),
    // Retention deletes finished rows by age.
    index('outbox_done_idx').on(t.doneAt).where(sql`status = 'done'`),
  ],
);
