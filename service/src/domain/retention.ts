import { sql, type SQL } from 'drizzle-orm';
import type { Config } from '../config.js';
import { rows, type Db } from '../db/client.js';

/** Rows deleted per statement: short transactions, no long locks, whatever the backlog. */
const BATCH = 5000;

export type RetentionConfig = Pick<
  Config,
  'RETENTION_DEAD_LETTERS_DAYS' | 'RETENTION_IDEMPOTENCY_DAYS' | 'RETENTION_OUTBOX_DAYS' | 'RETENTION_MAIL_LOG_DAYS' | 'RETENTION_SESSIONS_DAYS'
>;

export interface RetentionResult {
  deadLetters: number;
  idempotencyRecords: number;
  outbox: number;
  mailLog: number;
  sessions: number;
}

/** Delete, in batches, the rows of `table` matching `where` (a condition on its own columns). */
async function purge(db: Db, table: string, where: SQL): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await rows<{ n: string }>(
      db,
      sql`with gone as (delete from ${sql.identifier(table)} where ctid in (select ctid from ${sql.identifier(table)} where ${where} limit ${BATCH}) returning 1)
          select count(*) as n from gone`,
    );
    const n = Number(deleted[0]?.n ?? 0);
    total += n;
    if (n < BATCH) return total;
  }
}

const before = (now: Date, days: number) => new Date(now.getTime() - days * 86_400_000).toISOString();

/**
 * What the service keeps, and for how long (days; 0 keeps forever), run hourly by the jobs:
 * dead letters, idempotency records (a key is honoured that long), finished outbox items (`done`;
 * `dead` ones stay for admins), the mail log (but mails still waiting to be sent), and ended
 * sessions: admin and portal sessions and sign-in links, counted from their expiry.
 */
export async function runRetention(db: Db, config: RetentionConfig, now: Date): Promise<RetentionResult> {
  const days = {
    deadLetters: config.RETENTION_DEAD_LETTERS_DAYS,
    idempotencyRecords: config.RETENTION_IDEMPOTENCY_DAYS,
    outbox: config.RETENTION_OUTBOX_DAYS,
    mailLog: config.RETENTION_MAIL_LOG_DAYS,
    sessions: config.RETENTION_SESSIONS_DAYS,
  };
  const result: RetentionResult = { deadLetters: 0, idempotencyRecords: 0, outbox: 0, mailLog: 0, sessions: 0 };
  if (days.deadLetters > 0) result.deadLetters = await purge(db, 'dead_letters', sql`created_at < ${before(now, days.deadLetters)}::timestamptz`);
  if (days.idempotencyRecords > 0) result.idempotencyRecords = await purge(db, 'idempotency_records', sql`created_at < ${before(now, days.idempotencyRecords)}::timestamptz`);
  if (days.outbox > 0) result.outbox = await purge(db, 'outbox', sql`status = 'done' and done_at < ${before(now, days.outbox)}::timestamptz`);
  if (days.mailLog > 0) result.mailLog = await purge(db, 'mail_log', sql`status <> 'queued' and created_at < ${before(now, days.mailLog)}::timestamptz`);
  if (days.sessions > 0) {
    const cutoff = sql`expires_at < ${before(now, days.sessions)}::timestamptz`;
    result.sessions =
      (await purge(db, 'sessions', cutoff)) + (await purge(db, 'portal_sessions', cutoff)) + (await purge(db, 'portal_login_tokens', cutoff));
  }
  return result;
}
