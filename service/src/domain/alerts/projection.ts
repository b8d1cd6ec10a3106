import { sql } from 'drizzle-orm';
import { rows, type Queryable } from '../../db/client.js';

/** Burn rate window: the last 7 days of booked usage (smooths weekends, reacts within a week). */
export const BURN_WINDOW_DAYS = 7;

/**
 * When the remaining credits run out at the recent burn rate:
 *   rate = credits debited in the last 7 days / 7 days;  date = now + remaining / rate.
 * null when nothing was used in the window or nothing remains.
 */
export function projectExhaustion(now: Date, remainingMilli: number, usedInWindowMilli: number, windowDays = BURN_WINDOW_DAYS): Date | null {
  if (remainingMilli <= 0 || usedInWindowMilli <= 0) return null;
  const msLeft = (remainingMilli / usedInWindowMilli) * windowDays * 86_400_000;
  return new Date(now.getTime() + msLeft);
}

/**
 * Credits debited per person by usage that happened in the burn window (by start time; received
 * time for a call without one). A billed failure is debited like a success and counts; a free one
 * debits 0. Written as two ranges of usage_user_time_idx (user_id, start_time), so a /me view
 * reads the window's calls, not the person's whole history (`coalesce(start_time, created_at)`
 * could not use the index: portal-burn.int.test.ts).
 */
export async function usedInWindow(q: Queryable, userIds: string[], now: Date): Promise<Map<string, number>> {
  if (userIds.length === 0) return new Map();
  const list = await rows<{ user_id: string; milli: string }>(q, usedInWindowSql(userIds, now));
  return new Map(list.map((r) => [r.user_id, Number(r.milli)]));
}

/** usedInWindow's statement. (Exported for its test.) */
export function usedInWindowSql(userIds: string[], now: Date) {
  const since = sql`${new Date(now.getTime() - BURN_WINDOW_DAYS * 86_400_000).toISOString()}::timestamptz`;
  const until = sql`${now.toISOString()}::timestamptz`;
  return sql`select user_id, sum(debit_milli) as milli from usage_events
      where user_id in ${userIds}
        and ((start_time >= ${since} and start_time <= ${until}) or (start_time is null and created_at >= ${since} and created_at <= ${until}))
      group by user_id`;
}
