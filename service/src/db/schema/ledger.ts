import { bigserial, date, index, pgTable, text } from 'drizzle-orm/pg-core';
import { createdAt, int64 } from './columns.js';

export const LEDGER_KINDS = ['grant', 'expiry', 'topup', 'adjustment', 'usage', 'refund', 'correction'] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];

/**
 * Append-only (a trigger refuses UPDATE and DELETE). amount = monthly + topup, in milli-credits.
 */
export const ledgerEntries = pgTable(
  'ledger_entries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    // No foreign key to users: every entry is written in the transaction that updates the
    // person's balances row (which references users, and neither is ever deleted), and the check
    // cost a users row lock per usage entry on the hot path (migration 0006).
    userId: text('user_id').notNull(),
    kind: text('kind', { enum: LEDGER_KINDS }).notNull(),
    amountMilli: int64('amount_milli').notNull(),
    monthlyMilli: int64('monthly_milli').notNull(),
    topupMilli: int64('topup_milli').notNull(),
    usdNano: int64('usd_nano'),
    factorMicro: int64('factor_micro').notNull(),
    periodStart: date('period_start', { mode: 'string' }).notNull(),
    idempotencyKey: text('idempotency_key').notNull().unique(),
    usageEventId: int64('usage_event_id'),
    keyId: text('key_id'),
    actor: text('actor').notNull(),
    reason: text('reason'),
    /** What the entry is, for the statement in the reader's language (e.g. `stripe.dispute`); null: the reason says it. */
    reasonCode: text('reason_code'),
    createdAt: createdAt(),
  },
  (t) => [index('ledger_user_created_idx').on(t.userId, t.createdAt)],
);

export type LedgerEntry = typeof ledgerEntries.$inferSelect;
