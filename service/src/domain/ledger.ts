import { sql, type SQL } from 'drizzle-orm';
import { rows, type Queryable } from '../db/client.js';
import { ledgerEntries, type LedgerKind } from '../db/schema/index.js';
import { ApiError } from '../lib/errors.js';
import { mayReachBpSql } from './balance.js';
import { creditsText, MAX_TOPUP_MILLI } from './limits.js';

export interface EntryInput {
  userId: string;
  kind: LedgerKind;
  /** Change to the monthly allowance bucket (milli-credits, signed). */
  monthlyMilli: number;
  /** Change to the carried-over top-up bucket (milli-credits, signed). */
  topupMilli: number;
  factorMicro: number;
  periodStart: string;
  idempotencyKey: string;
  actor: string;
  reason?: string | null;
  /** See ledger_entries.reason_code. */
  reasonCode?: string | null;
  usdNano?: number | null;
  keyId?: string | null;
  createdAt: Date;
  /**
   * Credits added or removed by hand: refuse (422) an entry that would take the top-up bucket
   * below zero (insufficient_credits) or above MAX_TOPUP_MILLI (limit_exceeded).
   */
  guardTopup?: boolean;
  /**
   * Which balance column the monthly part changes: the current period's allowance (default) or
   * what is left of the previous period's during its grace window (docs/quotas.md).
   */
  monthlyBucket?: 'current' | 'previous';
}

export interface PostedEntry {
  id: number;
  amountMilli: number;
}

function entryRow(e: EntryInput): typeof ledgerEntries.$inferInsert {
  return {
    userId: e.userId,
    kind: e.kind,
    amountMilli: e.monthlyMilli + e.topupMilli,
    monthlyMilli: e.monthlyMilli,
    topupMilli: e.topupMilli,
    usdNano: e.usdNano ?? null,
    factorMicro: e.factorMicro,
    periodStart: e.periodStart,
    idempotencyKey: e.idempotencyKey,
    actor: e.actor,
    reason: e.reason ?? null,
    reasonCode: e.reasonCode ?? null,
    keyId: e.keyId ?? null,
    createdAt: e.createdAt,
  };
}

/**
 * Append many entries in one statement WITHOUT touching balances (the caller holds the balance
 * rows locked and writes their new values itself). Returns the idempotency keys actually booked:
 * an entry already booked is skipped, and its change must not be applied again.
 */
export async function insertEntries(tx: Queryable, entries: EntryInput[]): Promise<Set<string>> {
  if (entries.length === 0) return new Set();
  // One JSON parameter, not a VALUES list: building a thousand-row statement costs more CPU than the database takes for it.
  const list = entries.map((e) => ({
    u: e.userId, k: e.kind, a: e.monthlyMilli + e.topupMilli, m: e.monthlyMilli, t: e.topupMilli, n: e.usdNano ?? null, f: e.factorMicro,
    p: e.periodStart, i: e.idempotencyKey, by: e.actor, r: e.reason ?? null, rc: e.reasonCode ?? null, key: e.keyId ?? null, at: e.createdAt.toISOString(),
  }));
  const inserted = await rows<{ idempotency_key: string }>(
    tx,
    sql`insert into ledger_entries (user_id, kind, amount_milli, monthly_milli, topup_milli, usd_nano, factor_micro, period_start,
                                    idempotency_key, actor, reason, reason_code, key_id, created_at)
        select u, k, a, m, t, n, f, p, i, by, r, rc, key, at
        from json_to_recordset(${JSON.stringify(list)}::json)
          as x(u text, k text, a bigint, m bigint, t bigint, n bigint, f bigint, p date, i text, by text, r text, rc text, key text, at timestamptz)
        on conflict (idempotency_key) do nothing
        returning idempotency_key`,
  );
  return new Set(inserted.map((r) => r.idempotency_key));
}

/**
 * Append one ledger entry and apply it to the balance in the same transaction, with one
 * relative (guarded) UPDATE. Returns null when the idempotency key was already booked.
 */
export async function postEntry(tx: Queryable, e: EntryInput): Promise<PostedEntry | null> {
  const amountMilli = e.monthlyMilli + e.topupMilli;
  const [inserted] = await tx
    .insert(ledgerEntries)
    .values(entryRow(e))
    .onConflictDoNothing({ target: ledgerEntries.idempotencyKey })
    .returning({ id: ledgerEntries.id });
  if (!inserted) return null;

  const guard = !e.guardTopup
    ? sql``
    : e.topupMilli < 0
      ? sql` and topup_milli + ${e.topupMilli}::bigint >= 0`
      : sql` and topup_milli + ${e.topupMilli}::bigint <= ${MAX_TOPUP_MILLI}::bigint`;
  const monthly = e.monthlyBucket === 'previous'
    ? sql`prev_monthly_milli = prev_monthly_milli + ${e.monthlyMilli}::bigint`
    : sql`monthly_milli = monthly_milli + ${e.monthlyMilli}::bigint`;
  const updated = await rows<{ user_id: string }>(
    tx,
    sql`update balances
        set ${monthly},
            topup_milli = topup_milli + ${e.topupMilli}::bigint,
            updated_at = ${e.createdAt.toISOString()}::timestamptz
        where user_id = ${e.userId}${guard}
        returning user_id`,
  );
  if (updated.length === 0) {
    if (e.topupMilli > 0) {
      throw new ApiError('limit_exceeded', `the top-up credits would exceed the limit of ${creditsText(MAX_TOPUP_MILLI)}`, { limitCredits: MAX_TOPUP_MILLI / 1000 });
    }
    throw new ApiError('insufficient_credits', 'the adjustment is larger than the credits the person has');
  }
  return { id: inserted.id, amountMilli };
}

/**
 * The credit state rule, in SQL, for any expression of what remains and what was used:
 * blocked when nothing remains, warned at or above `warnBp` basis points used, else ok.
 */
export function creditStateSql(remaining: SQL, used: SQL, warnBp: number): SQL {
  // past the first branch something remains, where mayReachBpSql is exactly percentUsedBp >= warnBp
  return sql`case
      when ${remaining} <= 0 then 'blocked'
      when ${mayReachBpSql(used, remaining, warnBp)} then 'warned'
      else 'ok' end`;
}

/**
 * Recompute the credit state of the given people from their balances:
 * blocked when nothing remains, warned at or above `warnBp` basis points used, else ok.
 * Returns the people whose state changed.
 */
export async function refreshCreditStates(
  tx: Queryable,
  userIds: string[],
  warnBp: number,
): Promise<{ userId: string; state: 'ok' | 'warned' | 'blocked' }[]> {
  if (userIds.length === 0) return [];
  const next = creditStateSql(sql`(monthly_milli + topup_milli)`, sql`period_used_milli`, warnBp);
  const changed = await rows<{ user_id: string; credit_state: 'ok' | 'warned' | 'blocked' }>(
    tx,
    sql`update balances set credit_state = ${next}
        where user_id in ${userIds} and credit_state <> ${next}
        returning user_id, credit_state`,
  );
  return changed.map((r) => ({ userId: r.user_id, state: r.credit_state }));
}
