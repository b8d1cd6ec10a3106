import { expect } from 'vitest';
import { rows, type Queryable } from '../../src/db/client.js';
import { sql } from 'drizzle-orm';

/**
 * The ledger's laws, checked over the whole database:
 * - each balance bucket equals the sum of its entries (monthly + grace, top-up, total), and per period;
 * - each key's booked spend equals the USD of the usage entries against it;
 * - each usage event booked at most one entry.
 */
export async function expectLedgerConsistent(q: Queryable): Promise<void> {
  const balanceDrift = await rows<Record<string, unknown>>(
    q,
    sql`select b.user_id, b.monthly_milli, b.topup_milli, l.m, l.t
        from balances b left join (
          select user_id, sum(monthly_milli) as m, sum(topup_milli) as t, sum(amount_milli) as a
          from ledger_entries group by user_id) l on l.user_id = b.user_id
        where b.monthly_milli + b.prev_monthly_milli <> coalesce(l.m, 0) or b.topup_milli <> coalesce(l.t, 0)
           or b.monthly_milli + b.prev_monthly_milli + b.topup_milli <> coalesce(l.a, 0)`,
  );
  expect(balanceDrift).toEqual([]);
  // By period: the monthly bucket is the current period's entries, the grace bucket the previous
  // period's while its window is open, and every other period's allowance has expired (sums to 0).
  const periodDrift = await rows<Record<string, unknown>>(
    q,
    sql`select l.user_id, l.period_start::text, l.m, b.period_start::text as current, b.monthly_milli, b.prev_monthly_milli
        from (select user_id, period_start, sum(monthly_milli) as m from ledger_entries group by 1, 2) l
        join balances b on b.user_id = l.user_id
        where l.m <> case when l.period_start = b.period_start then b.monthly_milli
                          when l.period_start = b.prev_period_start then b.prev_monthly_milli else 0 end`,
  );
  expect(periodDrift).toEqual([]);
  const keyDrift = await rows<Record<string, unknown>>(
    q,
    sql`select k.id, k.spend_nano, l.s from keys k left join (
          select key_id, sum(usd_nano) as s from ledger_entries where kind = 'usage' group by key_id) l on l.key_id = k.id
        where k.spend_nano <> coalesce(l.s, 0)`,
  );
  expect(keyDrift).toEqual([]);
  const doubles = await rows<Record<string, unknown>>(
    q,
    sql`select usage_event_id, count(*) from ledger_entries where usage_event_id is not null group by 1 having count(*) > 1`,
  );
  expect(doubles).toEqual([]);
}

export async function balanceOf(q: Queryable, userId: string) {
  const [b] = await rows<{ monthly_milli: string; topup_milli: string; period_used_milli: string; credit_state: string }>(
    q,
    sql`select monthly_milli, topup_milli, period_used_milli, credit_state from balances where user_id = ${userId}`,
  );
  return { monthly: Number(b!.monthly_milli), topup: Number(b!.topup_milli), used: Number(b!.period_used_milli), state: b!.credit_state };
}
