import { expect } from 'vitest';
import { rows, type Queryable } from '../../src/db/client.js';
import { sql } from 'drizzle-orm';

/**
 * The ledger's laws, checked over the whole database:
 * - each balance bucket equals the sum of its entries (monthly, top-up, total);
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
        where b.monthly_milli <> coalesce(l.m, 0) or b.topup_milli <> coalesce(l.t, 0)
           or b.monthly_milli + b.topup_milli <> coalesce(l.a, 0)`,
  );
  expect(balanceDrift).toEqual([]);
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
