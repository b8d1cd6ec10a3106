import { boolean, index, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { createdAt, int64, timestamps } from './columns.js';
import { users } from './users.js';

/** Credit packs admins sell: tokens (milli-credits) for a price in minor units of a currency. */
export const creditPacks = pgTable('credit_packs', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  tokensMilli: int64('tokens_milli').notNull(),
  priceMinor: int64('price_minor').notNull(),
  currency: text('currency').notNull(),
  active: boolean('active').notNull().default(true),
  ...timestamps,
});

/**
 * failed: an asynchronous payment (boleto, bank debit) did not go through; needs_review: Stripe's
 * amount or currency differs from the pack's price at checkout (nothing credited); disputed: the
 * buyer's bank opened a dispute (the tokens were taken back until it is won).
 */
export const PAYMENT_STATUSES = ['pending', 'paid', 'partially_refunded', 'refunded', 'expired', 'failed', 'needs_review', 'disputed'] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/**
 * One Stripe Checkout purchase. Pack name, tokens and price are snapshots taken at checkout (a pack
 * edited later does not change what was bought). refunded_milli is what a refund should take back;
 * shortfall_milli is the part that could not be (the person had already used it).
 */
export const payments = pgTable(
  'payments',
  {
    id: text('id').primaryKey(),
    userId: text('user_id').notNull().references(() => users.id),
    packId: text('pack_id'),
    packName: text('pack_name').notNull(),
    tokensMilli: int64('tokens_milli').notNull(),
    amountMinor: int64('amount_minor').notNull(),
    currency: text('currency').notNull(),
    status: text('status', { enum: PAYMENT_STATUSES }).notNull().default('pending'),
    checkoutSessionId: text('checkout_session_id').unique(),
    paymentIntentId: text('payment_intent_id'),
    refundedMinor: int64('refunded_minor').notNull().default(0),
    refundedMilli: int64('refunded_milli').notNull().default(0),
    shortfallMilli: int64('shortfall_milli').notNull().default(0),
    /** The dispute (chargeback) on this payment, if any: what it took back and could not. */
    disputeId: text('dispute_id'),
    disputeStatus: text('dispute_status', { enum: ['open', 'won', 'lost'] }),
    disputedMilli: int64('disputed_milli').notNull().default(0),
    disputeShortfallMilli: int64('dispute_shortfall_milli').notNull().default(0),
    note: text('note'),
    paidAt: timestamp('paid_at', { withTimezone: true }),
    refundedAt: timestamp('refunded_at', { withTimezone: true }),
    ...timestamps,
  },
  (t) => [index('payments_user_idx').on(t.userId), index('payments_intent_idx').on(t.paymentIntentId), index('payments_created_idx').on(t.createdAt)],
);

/** Every Stripe event processed, by its id: the unique row that makes webhooks idempotent. */
export const stripeEvents = pgTable('stripe_events', {
  id: text('id').primaryKey(),
  type: text('type').notNull(),
  outcome: text('outcome').notNull(),
  receivedAt: createdAt(),
});

export type CreditPack = typeof creditPacks.$inferSelect;
export type Payment = typeof payments.$inferSelect;
