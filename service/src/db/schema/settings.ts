import { jsonb, pgTable, serial, text } from 'drizzle-orm/pg-core';
import { createdAt, int64 } from './columns.js';

/** Every value the factor ever had; the current one is the newest row. */
export const conversionFactors = pgTable('conversion_factors', {
  id: serial('id').primaryKey(),
  factorMicro: int64('factor_micro').notNull(),
  previousMicro: int64('previous_micro'),
  reason: text('reason').notNull(),
  actor: text('actor').notNull(),
  createdAt: createdAt(),
});

/** Small key/value settings (alert thresholds, ...). */
export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').notNull(),
  updatedBy: text('updated_by').notNull(),
  updatedAt: createdAt(),
});
