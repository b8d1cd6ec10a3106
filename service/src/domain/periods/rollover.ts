import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Deps } from '../../deps.js';
import { anyOf, one, rows, type Db, type Tx } from '../../db/client.js';
import { alerts, balances } from '../../db/schema/index.js';
import { notFound } from '../../lib/errors.js';
import { graceEnd, nextPeriod, periodOf } from '../../lib/period.js';
import type { Actor, RequestMeta } from '../actor.js';
import { audit } from '../audit.js';
import { afterBalanceChange, type BalanceChangeDeps } from '../balance-change.js';
import { currentFactorMicro } from '../factor.js';
import { insertEntries, postEntry, type EntryInput } from '../ledger.js';
import { analyzeOutbox, enqueue, OUTBOX_BURST } from '../outbox.js';
import { idempotent, requestHash, type IdempotentResult } from '../idempotency.js';
import { currentKey, getUserView, type UserView } from '../users/view.js';
import { inFlight } from '../../lib/in-flight.js';

interface Locked {
  user_id: string;
  period_start: string;
  monthly_milli: string;
  topup_milli: string;
  plan_milli: string;
  period_used_milli: string;
  prev_period_start: string | null;
  prev_monthly_milli: string;
  prev_used_milli: string;
  grace_until: Date | string | null;
}

export type PeriodDeps = BalanceChangeDeps & { db: Db };

export interface Settled {
  /** People rolled into a new period. */
  people: number;
  /** Periods rolled over in all (a person idle for months rolls several). */
  periods: number;
  /** Grace windows closed (their leftover allowance expired). */
  closed: number;
}

/** The balance columns a rollover writes: absolute values, computed while the row is locked. */
interface BalanceState {
  monthly: number;
  topup: number;
  periodStart: string;
  periodUsed: number;
  /** period_used_nano restarts at 0 too. */
  usedReset: boolean;
  prevPeriodStart: string | null;
  prevMonthly: number;
  prevUsed: number;
  graceUntil: string | null;
}

/** One step of a person's rollover: a ledger entry (applied only if booked now) or a move of columns. */
type Step = { entry: EntryInput } | { move: (s: BalanceState) => void };

interface Plan {
  userId: string;
  steps: Step[];
  rolled: number;
  closed: boolean;
}

/**
 * What bringing one locked balance row to the period of `now` takes (docs/quotas.md, "Periods"):
 *  - a grace window that has ended (or that a further rollover supersedes) is closed: the
 *    previous period's unused allowance expires;
 *  - then period by period: the unused monthly allowance expires — except at the last boundary
 *    while its grace window is still open, where it moves aside for late events of that period —
 *    and the plan's allowance is granted for the new period, paying any debt from overshoot first;
 *    the period's usage restarts at 0 (and the key's max_budget is re-pushed).
 * Entry keys name the period (`expiry:<person>:<period>`, `grant:<person>:<period>`), so a
 * replay books nothing twice. Pure: null when the person is in the current period.
 */
function planRollover(row: Locked, now: Date, tz: string, graceMinutes: number, factorMicro: number): Plan | null {
  const userId = row.user_id;
  const target = periodOf(now, tz);
  const graceUntil = row.grace_until === null ? null : new Date(row.grace_until);
  const closeGrace = row.prev_period_start !== null && (graceUntil === null || now >= graceUntil || row.period_start < target);
  if (row.period_start >= target && !closeGrace) return null;

  const grant = Number(row.plan_milli);
  const system = { userId, topupMilli: 0, factorMicro, actor: 'system', createdAt: now };
  const steps: Step[] = [];
  if (closeGrace) {
    const left = Number(row.prev_monthly_milli);
    if (left > 0) {
      steps.push({ entry: {
        ...system, kind: 'expiry', monthlyMilli: -left, periodStart: row.prev_period_start!, monthlyBucket: 'previous',
        idempotencyKey: `expiry:${userId}:${row.prev_period_start}`, reason: `unused allowance of ${row.prev_period_start!.slice(0, 7)} (grace window over)`,
      } });
    }
    steps.push({ move: (s) => Object.assign(s, { prevPeriodStart: null, prevMonthly: 0, prevUsed: 0, graceUntil: null }) });
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
      const open = { period, usedFromCurrent: rolled === 0, until: windowEnd.toISOString() };
      steps.push({ move: (s) => Object.assign(s, {
        prevPeriodStart: open.period, prevMonthly: s.monthly, monthly: 0,
        prevUsed: open.usedFromCurrent ? s.periodUsed : 0, graceUntil: open.until,
      }) });
      monthly = 0;
    } else if (monthly > 0) {
      steps.push({ entry: {
        ...system, kind: 'expiry', monthlyMilli: -monthly, periodStart: period,
        idempotencyKey: `expiry:${userId}:${period}`, reason: `unused allowance of ${period.slice(0, 7)}`,
      } });
      monthly = 0;
    }
    const debtPaid = Math.min(Math.max(0, -topup), grant);
    steps.push({ entry: {
      ...system, kind: 'grant', monthlyMilli: grant - debtPaid, topupMilli: debtPaid, periodStart: next,
      idempotencyKey: `grant:${userId}:${next}`,
      reason: debtPaid > 0 ? `monthly allowance, ${debtPaid / 1000} credits paid debt` : 'monthly allowance',
    } });
    monthly = grant - debtPaid;
    topup += debtPaid;
    period = next;
    rolled++;
  }
  if (rolled > 0) {
    const reached = period;
    steps.push({ move: (s) => Object.assign(s, { periodStart: reached, periodUsed: 0, usedReset: true }) });
  }
  return { userId, steps, rolled, closed: closeGrace };
}

/** The row's state after the plan, applying only the entries that were booked now. */
function applyPlan(row: Locked, plan: Plan, booked: Set<string>): BalanceState {
  const s: BalanceState = {
    monthly: Number(row.monthly_milli), topup: Number(row.topup_milli),
    periodStart: row.period_start, periodUsed: Number(row.period_used_milli), usedReset: false,
    prevPeriodStart: row.prev_period_start, prevMonthly: Number(row.prev_monthly_milli), prevUsed: Number(row.prev_used_milli),
    graceUntil: row.grace_until === null ? null : new Date(row.grace_until).toISOString(),
  };
  for (const step of plan.steps) {
    if ('move' in step) step.move(s);
    else if (booked.has(step.entry.idempotencyKey)) {
      if (step.entry.monthlyBucket === 'previous') s.prevMonthly += step.entry.monthlyMilli;
      else s.monthly += step.entry.monthlyMilli;
      s.topup += step.entry.topupMilli;
    }
  }
  return s;
}

/** SQL: the balance row `b` is behind `now` — in an older period, or in a grace window that has ended. */
export function behindSql(now: Date, timeZone: string) {
  return sql`(b.period_start < ${periodOf(now, timeZone)}::date
              or (b.prev_period_start is not null and b.grace_until <= ${now.toISOString()}::timestamptz))`;
}

/**
 * Bring these people to the period of `now`, set-based, in ONE transaction: their balance rows
 * locked in user order (so batches of concurrent callers and replicas cannot deadlock one
 * another; rows already current are neither locked nor touched), every entry appended in one
 * statement, every balance written in one, then states, alerts and one budget push per person
 * rolled into a new period. Idempotent; safe against concurrent runs (rows locked, state
 * re-read). `skipLocked`: leave people another transaction holds for a later run (the catch-up
 * job must never wait behind bookings; a touch settles its person itself).
 */
export async function rollOverUsers(deps: PeriodDeps, userIds: string[], now = deps.clock.now(), opts: { skipLocked?: boolean } = {}): Promise<Settled> {
  const settled: Settled = { people: 0, periods: 0, closed: 0 };
  if (userIds.length === 0) return settled;
  return deps.db.transaction(async (tx) => {
    const locked = await rows<Locked>(
      tx,
      sql`select b.user_id, b.period_start::text as period_start, b.monthly_milli, b.topup_milli, p.monthly_milli as plan_milli,
                 b.period_used_milli, b.prev_period_start::text as prev_period_start, b.prev_monthly_milli, b.prev_used_milli, b.grace_until
          from balances b join users u on u.id = b.user_id join plans p on p.id = u.plan_id
          where b.user_id = ${anyOf(userIds)} and ${behindSql(now, deps.config.TIMEZONE)}
          order by b.user_id for update of b${opts.skipLocked ? sql` skip locked` : sql``}`,
    );
    if (locked.length === 0) return settled;
    const factorMicro = await currentFactorMicro(tx);
    const planned = locked
      .map((row) => ({ row, plan: planRollover(row, now, deps.config.TIMEZONE, deps.config.PERIOD_GRACE_MINUTES, factorMicro) }))
      .filter((p): p is { row: Locked; plan: Plan } => p.plan !== null);
    if (planned.length === 0) return settled;

    const booked = await insertEntries(tx, planned.flatMap(({ plan }) => plan.steps.flatMap((s) => ('entry' in s ? [s.entry] : []))));
    const values = planned.map(({ row, plan }) => {
      const s = applyPlan(row, plan, booked);
      return { u: plan.userId, m: s.monthly, t: s.topup, ps: s.periodStart, pu: s.periodUsed, r: s.usedReset, pps: s.prevPeriodStart, pm: s.prevMonthly, pru: s.prevUsed, g: s.graceUntil };
    });
    await tx.execute(sql`update balances b
        set monthly_milli = v.m, topup_milli = v.t, period_start = v.ps::date, period_used_milli = v.pu,
            period_used_nano = case when v.r then 0 else b.period_used_nano end,
            prev_period_start = v.pps::date, prev_monthly_milli = v.pm, prev_used_milli = v.pru, grace_until = v.g::timestamptz,
            updated_at = ${now.toISOString()}::timestamptz
        from json_to_recordset(${JSON.stringify(values)}::json)
          as v(u text, m bigint, t bigint, ps text, pu bigint, r boolean, pps text, pm bigint, pru bigint, g text)
        where b.user_id = v.u`);

    const rolled = planned.filter(({ plan }) => plan.rolled > 0).map(({ plan }) => plan.userId);
    for (const { plan } of planned) {
      settled.periods += plan.rolled;
      if (plan.closed) settled.closed++;
    }
    settled.people = rolled.length;
    if (rolled.length > 0) {
      await afterBalanceChange(tx, deps, rolled);
      // each person's current key (users/view.ts currentKey: the newest that is not revoked)
      await tx.execute(sql`insert into outbox (kind, aggregate, payload)
          select distinct on (k.user_id) 'litellm.sync_budget', k.id, jsonb_build_object('keyId', k.id)
          from keys k where k.user_id = ${anyOf(rolled)} and k.status <> 'revoked'
          order by k.user_id, k.created_at desc`);
    }
    return settled;
  });
}

/**
 * Settle these people before reading or pushing their balance: roll over those behind `now`
 * (one query when nobody is). Booking, balance reads and budget pushes call it; the job catches
 * up the idle. Returns how many were behind.
 */
export async function settlePeriods(deps: PeriodDeps, userIds: string[], now = deps.clock.now()): Promise<number> {
  if (userIds.length === 0) return 0;
  const due = await rows<{ user_id: string }>(
    deps.db,
    sql`select b.user_id from balances b where b.user_id = ${anyOf(userIds)} and ${behindSql(now, deps.config.TIMEZONE)}`,
  );
  if (due.length > 0) await rollOverUsers(deps, due.map((d) => d.user_id), now);
  return due.length;
}

/** People per rollover transaction in the catch-up job, and such transactions at once. */
const ROLLOVER_BATCH = 500;
const ROLLOVER_IN_FLIGHT = 2;

/**
 * Roll every person who is behind (start-up catch-up and the periodic job): new periods and ended
 * grace windows, ROLLOVER_BATCH people per set-based transaction. People a booking holds right
 * now are skipped (that booking settles them; the next run catches up the rest).
 */
export async function runRollover(deps: Deps, page = 4 * ROLLOVER_BATCH): Promise<Settled> {
  const now = deps.clock.now();
  const total: Settled = { people: 0, periods: 0, closed: 0 };
  let after = '';
  let analyzed = false;
  for (;;) {
    const due = (await rows<{ id: string }>(
      deps.db,
      sql`select b.user_id as id from balances b join users u on u.id = b.user_id
          where u.status <> 'deleted' and b.user_id > ${after} and ${behindSql(now, deps.config.TIMEZONE)}
          order by b.user_id limit ${page}`,
    )).map((r) => r.id);
    const chunks = Array.from({ length: Math.ceil(due.length / ROLLOVER_BATCH) }, (_, i) => due.slice(i * ROLLOVER_BATCH, (i + 1) * ROLLOVER_BATCH));
    // Chunks are disjoint sets of people (one balance row each): they never wait on one another.
    await inFlight(chunks, ROLLOVER_IN_FLIGHT, async (chunk) => {
      const r = await rollOverUsers(deps, chunk, now, { skipLocked: true });
      total.people += r.people;
      total.periods += r.periods;
      total.closed += r.closed;
    });
    // the first page of a month boundary queued a push per person: let the planner know
    if (!analyzed && total.people >= OUTBOX_BURST) {
      await analyzeOutbox(deps.db);
      analyzed = true;
    }
    if (due.length < page) break;
    after = due[due.length - 1]!;
  }
  if (total.people > 0 || total.closed > 0) deps.log.info({ ...total, target: periodOf(now, deps.config.TIMEZONE) }, 'period rollover booked');
  return total;
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
  const row = await one<Pick<Locked, 'period_start' | 'monthly_milli' | 'plan_milli'>>(
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
