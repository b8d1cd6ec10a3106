import { index, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { int64, timestamps } from './columns.js';
import { users } from './users.js';

/**
 * A person's LiteLLM virtual key. We never store the plaintext: token_hash is LiteLLM's sha256
 * of the key (= metadata.user_api_key_hash in usage events). spend_nano is the USD booked in
 * our ledger against this key, the base of its max_budget.
 */
export const keys = pgTable(
  'keys',
  {
    id: text('id').primaryKey(),
    userId: text('user_id').notNull().references(() => users.id),
    tokenHash: text('token_hash').unique(),
    keyAlias: text('key_alias').notNull().unique(),
    keyHint: text('key_hint'),
    status: text('status', { enum: ['pending', 'active', 'blocked', 'revoked'] }).notNull(),
    spendNano: int64('spend_nano').notNull().default(0),
    pushedBudgetNano: int64('pushed_budget_nano'),
    pushedAt: timestamp('pushed_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    ...timestamps,
  },
  (t) => [index('keys_user_idx').on(t.userId)],
);

export type Key = typeof keys.$inferSelect;
