import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Deps } from '../../deps.js';
import { one, rows, type Db, type Tx } from '../../db/client.js';
import { alerts, balances } from '../../db/schema/index.js';
import { notFound } from '../../lib/errors.js';
import { graceEnd, nextPeriod, periodOf } from '../../lib/period.js';
import type { Actor, RequestMeta } from '../actor.js';
import { audit } from '../audit.js';
import { afterBalanceChange, type BalanceChangeDeps } from '../balance-change.js';
import { currentFactorMicro } from '../factor.js';
import { postEntry } from '../ledger.js';
import { enqueue } from '../outbox.js';
import { idempotent, requestHash, type IdempotentResult } from '../idempotency.js';
import { currentKey, getUserView, type UserView } from '../users/view.js';
import { inFlight } from '../../lib/in-flight.js';

interface Locked {
  period_start: string;
  monthly_milli: string;
  topup_milli: string;
  plan_milli: string;
  prev_period_start: string | null;
  prev_monthly_milli: string;
  grace_until: Date | string | null;
}

export type PeriodDeps = BalanceChangeDeps & { db: Db };

const lockedSql = (userId: string) =>
  sql`select b.period_start::text as period_start, b.monthly_milli, b.topup_milli, p.monthly_milli as plan_milli,
             b.prev_period_start::text as prev_period_start, b.prev_monthly_milli, b.grace_until
      from balances b join users u on u.id = b.user_id join plans p on p.id = u.plan_id
      where b.user_id = ${userId} for update of b`;

export interface Settled {
  /** Periods rolled over (0 when the person was in the current period). */
  rolled: number;
  /** Whether a grace window was closed (its leftover allowance expired). */
  closed: boolean;
}

/**
 * Bring one person to the period of `now` (docs/quotas.md, "Periods"), in its own transaction:
 *  - a grace window that has ended (or that a further rollover supersedes) is closed: the
 *    previous period's unused allowance expires;
 *  - then period by period: the unused monthly allowance expires — except at the last boundary
 *    while its grace window is still open, where it moves aside for late events of that period —
 *    and the plan's allowance is granted for the new period, paying any debt from overshoot first;
 *    the period's usage restarts at 0 and the key's max_budget is re-pushed.
 * Idempotent (entry keys name the period: `expiry:<person>:<period>`, `grant:<person>:<period>`)
 * and safe against concurrent runs and replicas (the balance row is locked, its state re-read).
 */
export async function rollOverUser(deps: PeriodDeps, userId: string, now = deps.clock.now()): Promise<Settled> {
  return deps.db.transaction(async (tx) => {
    const row = await one<Locked>(tx, lockedSql(userId));
    if (!row) return { rolled: 0, closed: false };
    const tz = deps.config.TIMEZONE;
    const graceMinutes = deps.config.PERIOD_GRACE_MINUTES;
    const target = periodOf(now, tz);
    const graceUntil = row.grace_until === null ? null : new Date(row.grace_until);
    const closeGrace = row.prev_period_start !== null && (graceUntil === null || now >= graceUntil || row.period_start < target);
    if (row.period_start >= target && !closeGrace) return { rolled: 0, closed: false };

    const factorMicro = await currentFactorMicro(tx);
    const grant = Number(row.plan_milli);
    const system = { userId, topupMilli: 0, factorMicro, actor: 'system', createdAt: now };
    const set: Partial<typeof balances.$inferInsert> = { updatedAt: now };
    if (closeGrace) {
      const left = Number(row.prev_monthly_milli);
      if (left > 0) {
        await postEntry(tx, {
          ...system, kind: 'expiry', monthlyMilli: -left, periodStart: row.prev_period_start!, monthlyBucket: 'previous',
          idempotencyKey: `expiry:${userId}:${row.prev_period_start}`, reason: `unused allowance of ${row.prev_period_start!.slice(0, 7)} (grace window over)`,
        });
      }
      await tx.execute(sql`update balances set prev_period_start = null, prev_monthly_milli = 0, prev_used_milli = 0, grace_until = null
                           where user_id = ${userId}`);
    }

    let period = row.period_start;
    let monthly = Number(row.monthly_milli);
    let topup = Number(row.topup_milli);
    let rolled = 0;
    while (period < target) {
      const next = nextPeriod(period);
      const windowEnd = graceEnd(next, tz, graceMinutes);
      if (next === target && now < windowEnd) {
        // the grace window of `next` is open: `period` stays open for its late events
        await tx.execute(sql`update balances set prev_period_start = ${period}::date, prev_monthly_milli = monthly_milli, monthly_milli = 0,
                               prev_used_milli = ${rolled === 0 ? sql`period_used_milli` : sql`0`}, grace_until = ${windowEnd.toISOString()}::timestamptz
                             where user_id = ${userId}`);
        monthly = 0;
      } else if (monthly > 0) {
        await postEntry(tx, {
          ...system, kind: 'expiry', monthlyMilli: -monthly, periodStart: period,
          idempotencyKey: `expiry:${userId}:${period}`, reason: `unused allowance of ${period.slice(0, 7)}`,
        });
        monthly = 0;
      }
      const debtPaid = Math.min(Math.max(0, -topup), grant);
      await postEntry(tx, {
        ...system, kind: 'grant', monthlyMilli: grant - debtPaid, topupMilli: debtPaid, periodStart: next,
        idempotencyKey: `grant:${userId}:${next}`,
        reason: debtPaid > 0 ? `monthly allowance, ${debtPaid / 1000} credits paid debt` : 'monthly allowance',
      });
      monthly = grant - debtPaid;
      topup += debtPaid;
      period = next;
      rolled++;
    }
    if (rolled > 0) Object.assign(set, { periodStart: period, periodUsedMilli: 0, periodUsedNano: 0 });
    await tx.update(balances).set(set).where(eq(balances.userId, userId));
    if (rolled > 0) {
      await afterBalanceChange(tx, deps, [userId]);
      const key = await currentKey(tx, userId);
      if (key) await enqueue(tx, 'litellm.sync_budget', key.id, { keyId: key.id });
    }
    return { rolled, closed: closeGrace };
  });
}

/** SQL: the balance row `b` is behind `now` — in an older period, or in a grace window that has ended. */
export function behindSql(now: Date, timeZone: string) {
  return sql`(b.period_start < ${periodOf(now, timeZone)}::date
              or (b.prev_period_start is not null and b.grace_until <= ${now.toISOString()}::timestamptz))`;
}

/**
 * Settle these people before reading or pushing their balance: roll over those behind `now`
 * (one query when nobody is). Booking, balance reads and budget pushes call it; the job catches
 * up the idle.
 */
export async function settlePeriods(deps: PeriodDeps, userIds: string[], now = deps.clock.now()): Promise<number> {
  if (userIds.length === 0) return 0;
  const due = await rows<{ user_id: string }>(
    deps.db,
    sql`select b.user_id from balances b where b.user_id in (select json_array_elements_text(${JSON.stringify(userIds)}::json))
        and ${behindSql(now, deps.config.TIMEZONE)} order by b.user_id`,
  );
  for (const { user_id } of due) await rollOverUser(deps, user_id, now);
  return due.length;
}

/** Rollover transactions at once in the catch-up job (a month boundary touches everyone). */
const ROLLOVER_IN_FLIGHT = 6;

/** Roll every person who is behind (start-up catch-up and the periodic job): new periods and ended grace windows. */
export async function runRollover(deps: Deps, batch = 500): Promise<{ people: number; periods: number; closed: number }> {
  const now = deps.clock.now();
  let people = 0;
  let periods = 0;
  let closed = 0;
  let after = '';
  for (;;) {
    const due = await rows<{ id: string }>(
      deps.db,
      sql`select b.user_id as id from balances b join users u on u.id = b.user_id
          where u.status <> 'deleted' and b.user_id > ${after} and ${behindSql(now, deps.config.TIMEZONE)}
          order by b.user_id limit ${batch}`,
    );
    // People are independent (one balance row each): several at once, within the pool.
    await inFlight(due, ROLLOVER_IN_FLIGHT, async ({ id }) => {
      const r = await rollOverUser(deps, id, now);
      if (r.rolled > 0) people++;
      periods += r.rolled;
      if (r.closed) closed++;
    });
    if (due.length < batch) break;
    after = due[due.length - 1]!.id;
  }
  if (people > 0 || closed > 0) deps.log.info({ people, periods, closed, target: periodOf(now, deps.config.TIMEZONE) }, 'period rollover booked');
  return { people, periods, closed };
}

/**
 * Admin action: start the person's current period afresh — expire what is left of this
 * month's allowance, grant the full allowance again, reset usage and re-arm alerts. Idempotent
 * like every mutation: a retry with the same Idempotency-Key replays the first answer and
 * changes nothing (no second reset of the usage booked since, no alert re-armed twice).
 */
export async function resetPeriod(
  deps: Deps, actor: Actor, meta: RequestMeta, userId: string, reason: string, requestKey: string,
): Promise<IdempotentResult<UserView>> {
  await settlePeriods(deps, [userId]); // reset the current period, not one that has ended
  return deps.db.transaction((tx) =>
    idempotent(tx, `period-reset:${userId}`, requestKey, requestHash({ userId, reason }), async () => ({
      status: 200,
      body: await resetLocked(tx, deps, actor, meta, userId, reason, requestKey),
    })),
  );
}

async function resetLocked(tx: Tx, deps: Deps, actor: Actor, meta: RequestMeta, userId: string, reason: string, requestKey: string) {
  const row = await one<Locked>(
    tx,
    sql`select b.period_start::text as period_start, b.monthly_milli, b.topup_milli, p.monthly_milli as plan_milli
        from balances b join users u on u.id = b.user_id join plans p on p.id = u.plan_id
        where b.user_id = ${userId} and u.status <> 'deleted' for update of b`,
  );
  if (!row) throw notFound('person');
  const before = await getUserView(tx, userId);
  const now = deps.clock.now();
  const factorMicro = await currentFactorMicro(tx);
  const monthly = Number(row.monthly_milli);
  const common = { userId, topupMilli: 0, factorMicro, periodStart: row.period_start, actor: actor.label, reason, createdAt: now };
  if (monthly !== 0) await postEntry(tx, { ...common, kind: 'expiry', monthlyMilli: -monthly, idempotencyKey: `reset-expiry:${userId}:${requestKey}` });
  await postEntry(tx, { ...common, kind: 'grant', monthlyMilli: Number(row.plan_milli), idempotencyKey: `reset-grant:${userId}:${requestKey}` });
  await tx.update(balances).set({ periodUsedMilli: 0, periodUsedNano: 0, updatedAt: now }).where(eq(balances.userId, userId));
  await tx
    .update(alerts)
    .set({ rearmedAt: now })
    .where(and(eq(alerts.userId, userId), eq(alerts.periodStart, row.period_start), isNull(alerts.rearmedAt)));
  await afterBalanceChange(tx, deps, [userId]);
  const key = await currentKey(tx, userId);
  if (key) await enqueue(tx, 'litellm.sync_budget', key.id, { keyId: key.id });
  const after = await getUserView(tx, userId);
  await audit(tx, actor, meta, { action: 'user.reset_period', targetType: 'user', targetId: userId, before, after: { ...after, reason } });
  return after;
}
