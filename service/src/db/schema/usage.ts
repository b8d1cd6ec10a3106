import { bigserial, boolean, index, integer, jsonb, pgTable, primaryKey, smallint, text, timestamp, unique } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { createdAt, int64 } from './columns.js';

/** One row per LiteLLM call we were told about (deduplicated on dedup_key). */
export const usageEvents = pgTable(
  'usage_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    dedupKey: text('dedup_key').notNull(),
    litellmCallId: text('litellm_call_id'),
    providerId: text('provider_id'),
    keyHash: text('key_hash'),
    keyId: text('key_id'),
    userId: text('user_id'),
    status: text('status', { enum: ['success', 'failure'] }).notNull(),
    callType: text('call_type'),
    model: text('model'),
    modelGroup: text('model_group'),
    promptTokens: integer('prompt_tokens').notNull().default(0),
    completionTokens: integer('completion_tokens').notNull().default(0),
    totalTokens: integer('total_tokens').notNull().default(0),
    costNano: int64('cost_nano').notNull(),
    debitMilli: int64('debit_milli').notNull().default(0),
    startTime: timestamp('start_time', { withTimezone: true }),
    endTime: timestamp('end_time', { withTimezone: true }),
    source: text('source').notNull(),
    recovered: boolean('recovered').notNull().default(false),
    /** Arrived after its period's grace window: charged to the period current at arrival (docs/quotas.md). */
    late: boolean('late').notNull().default(false),
    metadata: jsonb('metadata'),
    receivedAt: createdAt(),
  },
  (t) => [
    index('usage_user_time_idx').on(t.userId, t.startTime),
    index('usage_unattributed_idx').on(t.receivedAt).where(sql`user_id is null`),
    // Dedup: the dedup key hashes the start instant (to the microsecond) and start_time is that
    // instant floored to the millisecond, so (start_time, dedup_key) is unique exactly when
    // dedup_key is (nulls equal). Leading with the start time keeps inserts on the
    // few right-most pages instead of random pages of a hash-ordered index (which stops fitting
    // in memory as the table grows), and it serves time-range reads.
    unique('usage_events_time_dedup_unique').on(t.startTime, t.dedupKey).nullsNotDistinct(),
    index('usage_late_idx').on(t.receivedAt).where(sql`late`),
    index('usage_recovered_idx').on(t.keyHash, t.providerId).where(sql`recovered`),
  ],
);

/**
 * Usage events summed per 15-minute bucket of their start time (UTC; every time zone's day starts
 * on such a boundary), model, status and attribution, kept by the booking statement itself, so
 * the overview reads a few rows per bucket however many calls there were. `shard` is the writing
 * connection's backend pid mod 8: concurrent batches add to different rows, never wait on each
 * other; readers sum over it. Events without a start time are not in it (nor in any time range).
 */
export const usageRollup = pgTable(
  'usage_rollup',
  {
    bucket: timestamp('bucket', { withTimezone: true }).notNull(),
    model: text('model').notNull(),
    status: text('status', { enum: ['success', 'failure'] }).notNull(),
    attributed: boolean('attributed').notNull(),
    shard: smallint('shard').notNull(),
    calls: int64('calls').notNull(),
    debitMilli: int64('debit_milli').notNull(),
    costNano: int64('cost_nano').notNull(),
    /** Of the calls, successes LiteLLM priced at 0 that used tokens: models missing from its cost map. */
    unpricedCalls: int64('unpriced_calls').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.bucket, t.model, t.status, t.attributed, t.shard] })],
);

/** Usage items that could not be booked, with the reason. An admin replays one after a fix (replayed_at). */
export const deadLetters = pgTable(
  'dead_letters',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    source: text('source').notNull(),
    reason: text('reason').notNull(),
    payload: text('payload').notNull(),
    createdAt: createdAt(),
    replayedAt: timestamp('replayed_at', { withTimezone: true }),
    replayedBy: text('replayed_by'),
    replayOutcome: text('replay_outcome'),
  },
  (t) => [index('dead_letters_open_idx').on(t.id).where(sql`replayed_at is null`), index('dead_letters_created_idx').on(t.createdAt)],
);

export type UsageEvent = typeof usageEvents.$inferSelect;
