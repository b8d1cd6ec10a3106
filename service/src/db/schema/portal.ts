import { index, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { createdAt } from './columns.js';
import { users } from './users.js';

/**
 * Emailed sign-in links for the self-service portal. Only sha256 of the token is stored; a link is
 * single use (used_at set atomically) and expires (15 minutes).
 */
export const portalLoginTokens = pgTable(
  'portal_login_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    userId: text('user_id').notNull().references(() => users.id),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [index('portal_login_tokens_user_idx').on(t.userId)],
);

/** Portal sessions: one person each, never an admin. Stored as sha256 of the cookie value. */
export const portalSessions = pgTable(
  'portal_sessions',
  {
    idHash: text('id_hash').primaryKey(),
    userId: text('user_id').notNull().references(() => users.id),
    via: text('via', { enum: ['email', 'key'] }).notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [index('portal_sessions_user_idx').on(t.userId)],
);

export type PortalSession = typeof portalSessions.$inferSelect;
