import { and, eq, isNull, lt, ne, sql } from 'drizzle-orm';
import type { Deps } from '../../deps.js';
import { one } from '../../db/client.js';
import { alerts, balances, users } from '../../db/schema/index.js';
import { notFound } from '../../lib/errors.js';
import { nextPeriod, periodOf } from '../../lib/period.js';
import type { Actor, RequestMeta } from '../actor.js';
import { audit } from '../audit.js';
import { afterBalanceChange } from '../balance-change.js';
import { currentFactorMicro } from '../factor.js';
import { postEntry } from '../ledger.js';
import { enqueue } from '../outbox.js';
import { currentKey, getUserView } from '../users/view.js';

interface Locked {
  period_start: string;
  monthly_milli: string;
  topup_milli: string;
  plan_milli: string;
}

/**
 * Bring one person's balance to `target` period by period: expire the unused monthly allowance
 * (top-ups carry over), grant the plan's allowance for the new period — paying any debt from
 * overshoot first — and reset the period's usage. Idempotent (entry keys name the period) and
 * safe against concurrent runs (the balance row is locked). Returns how many periods it rolled.
 */
export async function rollOverUser(deps: Deps, userId: string, target: string): Promise<number> {
  return deps.db.transaction(async (tx) => {
    const row = await one<Locked>(
      tx,
      sql`select b.period_start::text as period_start, b.monthly_milli, b.topup_milli, p.monthly_milli as plan_milli
          from balances b join users u on u.id = b.user_id join plans p on p.id = u.plan_id
          where b.user_id = ${userId} for update of b`,
    );
    if (!row || row.period_start >= target) return 0;
    const now = deps.clock.now();
    const factorMicro = await currentFactorMicro(tx);
    let period = row.period_start;
    let monthly = Number(row.monthly_milli);
    let topup = Number(row.topup_milli);
    const grant = Number(row.plan_milli);
    let rolled = 0;
    while (period < target) {
      const next = nextPeriod(period);
      if (monthly > 0) {
        await postEntry(tx, {
          userId, kind: 'expiry', monthlyMilli: -monthly, topupMilli: 0, factorMicro, periodStart: period,
          idempotencyKey: `expiry:${userId}:${period}`, actor: 'system', reason: `unused allowance of ${period.slice(0, 7)}`, createdAt: now,
        });
        monthly = 0;
      }
      const debtPaid = Math.min(Math.max(0, -topup), grant);
      await postEntry(tx, {
        userId, kind: 'grant', monthlyMilli: grant - debtPaid, topupMilli: debtPaid, factorMicro, periodStart: next,
        idempotencyKey: `grant:${userId}:${next}`, actor: 'system',
        reason: debtPaid > 0 ? `monthly allowance, ${debtPaid / 1000} credits paid debt` : 'monthly allowance',
        createdAt: now,
      });
      monthly = grant - debtPaid;
      topup += debtPaid;
      period = next;
      rolled++;
    }
    await tx
      .update(balances)
      .set({ periodStart: period, periodUsedMilli: 0, periodUsedNano: 0, updatedAt: now })
      .where(eq(balances.userId, userId));
    await afterBalanceChange(tx, deps, [userId]);
    const key = await currentKey(tx, userId);
    if (key) await enqueue(tx, 'litellm.sync_budget', key.id, { keyId: key.id });
    return rolled;
  });
}

/** Roll every person whose period is behind the current one (start-up catch-up and the periodic job). */
export async function runRollover(deps: Deps, batch = 500): Promise<{ people: number; periods: number }> {
  const target = periodOf(deps.clock.now(), deps.config.TIMEZONE);
  let people = 0;
  let periods = 0;
  for (;;) {
    const due = await deps.db
      .select({ id: balances.userId })
      .from(balances)
      .innerJoin(users, eq(users.id, balances.userId))
      .where(and(lt(balances.periodStart, target), ne(users.status, 'deleted')))
      .limit(batch);
    if (due.length === 0) break;
    for (const { id } of due) {
      const n = await rollOverUser(deps, id, target);
      if (n > 0) people++;
      periods += n;
    }
    if (due.length < batch) break;
  }
  if (people > 0) deps.log.info({ people, periods, target }, 'period rollover booked');
  return { people, periods };
}

/**
 * Admin action: start the person's current period afresh — expire what is left of this
 * month's allowance, grant the full allowance again, reset usage and re-arm alerts.
 */
export async function resetPeriod(deps: Deps, actor: Actor, meta: RequestMeta, userId: string, reason: string, requestKey: string) {
  return deps.db.transaction(async (tx) => {
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
  });
}
