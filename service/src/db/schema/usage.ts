import { bigserial, boolean, index, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { createdAt, int64 } from './columns.js';

/** One row per LiteLLM call we were told about (deduplicated on dedup_key). */
export const usageEvents = pgTable(
  'usage_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    dedupKey: text('dedup_key').notNull().unique(),
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
    metadata: jsonb('metadata'),
    receivedAt: createdAt(),
  },
  (t) => [
    index('usage_user_time_idx').on(t.userId, t.startTime),
    index('usage_unattributed_idx').on(t.receivedAt).where(sql`user_id is null`),
    index('usage_time_idx').on(t.startTime),
    index('usage_recovered_idx').on(t.keyHash, t.providerId).where(sql`recovered`),
  ],
);

export const deadLetters = pgTable('dead_letters', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  source: text('source').notNull(),
  reason: text('reason').notNull(),
  payload: text('payload').notNull(),
  createdAt: createdAt(),
});

export type UsageEvent = typeof usageEvents.$inferSelect;
