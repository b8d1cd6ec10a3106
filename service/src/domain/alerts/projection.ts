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

export async function usedInWindow(q: Queryable, userIds: string[], now: Date): Promise<Map<string, number>> {
  if (userIds.length === 0) return new Map();
  const since = new Date(now.getTime() - BURN_WINDOW_DAYS * 86_400_000);
  const list = await rows<{ user_id: string; milli: string }>(
    q,
    sql`select user_id, sum(debit_milli) as milli from usage_events
        where user_id in ${userIds} and status = 'success'
          and coalesce(start_time, created_at) >= ${since.toISOString()}::timestamptz
          and coalesce(start_time, created_at) <= ${now.toISOString()}::timestamptz
        group by user_id`,
  );
  return new Map(list.map((r) => [r.user_id, Number(r.milli)]));
}
