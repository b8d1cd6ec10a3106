import { date, index, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { int64, timestamps } from './columns.js';
import { plans } from './plans.js';

/** status is what admins set; the credit state (ok/warned/blocked) lives on balances. */
export const users = pgTable(
  'users',
  {
    id: text('id').primaryKey(),
    email: text('email').notNull().unique(),
    name: text('name').notNull(),
    planId: text('plan_id').notNull().references(() => plans.id),
    status: text('status', { enum: ['active', 'suspended', 'deleted'] }).notNull().default('active'),
    locale: text('locale', { enum: ['pt-BR', 'en'] }).notNull().default('pt-BR'),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
    ...timestamps,
  },
  (t) => [index('users_plan_idx').on(t.planId), index('users_status_idx').on(t.status), index('users_created_idx').on(t.createdAt, t.id)],
);

/**
 * The running balance of a person, kept in the same transaction as every ledger entry:
 * monthly_milli + topup_milli == SUM(ledger_entries.amount_milli) for the person, always.
 */
export const balances = pgTable(
  'balances',
  {
    userId: text('user_id').primaryKey().references(() => users.id),
    periodStart: date('period_start', { mode: 'string' }).notNull(),
    monthlyMilli: int64('monthly_milli').notNull().default(0),
    topupMilli: int64('topup_milli').notNull().default(0),
    periodUsedMilli: int64('period_used_milli').notNull().default(0),
    periodUsedNano: int64('period_used_nano').notNull().default(0),
    // The previous period while its grace window is open (docs/quotas.md): what is left of its
    // allowance (late events of that period draw on it; it expires when the window ends), the
    // usage booked to it, and when the window ends. Null/0 outside a grace window.
    prevPeriodStart: date('prev_period_start', { mode: 'string' }),
    prevMonthlyMilli: int64('prev_monthly_milli').notNull().default(0),
    prevUsedMilli: int64('prev_used_milli').notNull().default(0),
    graceUntil: timestamp('grace_until', { withTimezone: true }),
    creditState: text('credit_state', { enum: ['ok', 'warned', 'blocked'] }).notNull().default('ok'),
    lastUsageAt: timestamp('last_usage_at', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('balances_state_idx').on(t.creditState)],
);

export type User = typeof users.$inferSelect;
export type Balance = typeof balances.$inferSelect;
