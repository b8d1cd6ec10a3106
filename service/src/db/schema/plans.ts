import { boolean, pgTable, text } from 'drizzle-orm/pg-core';
import { int64, timestamps } from './columns.js';

export const plans = pgTable('plans', {
  id: text('id').primaryKey(),
  slug: text('slug').notNull().unique(),
  name: text('name').notNull(),
  monthlyMilli: int64('monthly_milli').notNull(),
  active: boolean('active').notNull().default(true),
  ...timestamps,
});

export type Plan = typeof plans.$inferSelect;
