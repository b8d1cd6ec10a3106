import { bigint, timestamp } from 'drizzle-orm/pg-core';

/** Integer money/credit column; values are kept within JS safe integers (see domain/money.ts). */
export const int64 = (name: string) => bigint(name, { mode: 'number' });

export const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

export const timestamps = {
  createdAt: createdAt(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
};
