import { sql } from 'drizzle-orm';
import { bigserial, date, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { createdAt, int64 } from './columns.js';

/**
 * One row per threshold crossing. At most one *armed* row per person, period and threshold
 * (partial unique index): that is what makes each alert fire exactly once, even with duplicated
 * events and several replicas. A top-up that brings usage back under it re-arms it.
 */
export const alerts = pgTable(
  'alerts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userId: text('user_id').notNull(),
    periodStart: date('period_start', { mode: 'string' }).notNull(),
    thresholdBp: integer('threshold_bp').notNull(),
    percentBp: integer('percent_bp').notNull(),
    remainingMilli: int64('remaining_milli').notNull(),
    mailId: int64('mail_id'),
    rearmedAt: timestamp('rearmed_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('alerts_armed_unique').on(t.userId, t.periodStart, t.thresholdBp).where(sql`rearmed_at is null`),
    index('alerts_created_idx').on(t.createdAt),
  ],
);

/** Every email the service wrote, sent or not (without Resend, this table is the outbox people read). */
export const mailLog = pgTable(
  'mail_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userId: text('user_id'),
    to: text('to_address').notNull(),
    subject: text('subject').notNull(),
    template: text('template').notNull(),
    locale: text('locale').notNull(),
    text: text('body_text').notNull(),
    html: text('body_html').notNull(),
    status: text('status', { enum: ['logged', 'queued', 'sent', 'failed'] }).notNull(),
    providerId: text('provider_id'),
    error: text('error'),
    createdAt: createdAt(),
    sentAt: timestamp('sent_at', { withTimezone: true }),
  },
  (t) => [index('mail_created_idx').on(t.createdAt)],
);

/** Named leases so a periodic job runs on one replica at a time (works on PGlite too). */
export const jobLeases = pgTable('job_leases', {
  name: text('name').primaryKey(),
  holder: text('holder').notNull(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  lastRunAt: timestamp('last_run_at', { withTimezone: true }),
});

export const reconciliationRuns = pgTable('reconciliation_runs', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
  finishedAt: timestamp('finished_at', { withTimezone: true }),
  keysChecked: integer('keys_checked').notNull().default(0),
  recovered: integer('recovered').notNull().default(0),
  repushed: integer('repushed').notNull().default(0),
  unexplained: integer('unexplained').notNull().default(0),
  errors: integer('errors').notNull().default(0),
  items: jsonb('items').notNull().default([]),
});

export type Alert = typeof alerts.$inferSelect;
export type Mail = typeof mailLog.$inferSelect;
