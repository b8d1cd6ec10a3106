import { sql } from 'drizzle-orm';
import { anyOf, rows, type Queryable } from '../../db/client.js';
import { alerts, mailLog } from '../../db/schema/index.js';
import { eq } from 'drizzle-orm';
import { milliToCredits } from '../money.js';
import { enqueue } from '../outbox.js';
import { alertThresholds } from '../thresholds.js';
import { projectExhaustion, usedInWindow } from './projection.js';
import { alertMail, type Locale } from './templates.js';

export interface AlertContext {
  now: Date;
  timeZone: string;
  adminEmail: string;
  /** With Resend configured, mails are queued and sent by the outbox; else only logged. */
  sendMail: boolean;
  /** Percentage points under its threshold that usage must fall by before an alert re-arms. */
  rearmMarginPercent: number;
}

/** A person, and the period whose usage may have crossed a threshold (default: their current one). */
export type AlertTarget = string | { userId: string; period: string };

const percentBp = sql`case when p.remaining <= 0
    then case when p.used > 0 or p.remaining < 0 then 10000 else 0 end
    else div(p.used::numeric * 10000, p.used::numeric + p.remaining)::int end`;

/**
 * Fire and re-arm threshold alerts for these people, in the caller's transaction. Each person has
 * their current period and, during a grace window, the previous one (its usage against what is
 * left of its allowance plus top-ups). An alert belongs to the period of the usage that crossed
 * it: only the targeted periods fire. The partial unique index makes each (person, period,
 * threshold) fire once while armed, whatever the concurrency; usage falling back under a
 * threshold by more than the margin (a top-up, a reset) re-arms it, in either period. Each new
 * alert writes its email to the mail log (and the outbox when Resend is configured).
 */
export async function evaluateAlerts(tx: Queryable, targets: AlertTarget[], ctx: AlertContext, percentThresholds?: number[]): Promise<number> {
  if (targets.length === 0) return 0;
  const wanted = targets.map((t) => (typeof t === 'string' ? { u: t, p: null } : { u: t.userId, p: t.period }));
  const userIds = [...new Set(wanted.map((w) => w.u))];
  const marginBp = Math.round(ctx.rearmMarginPercent * 100);
  const thresholds = (percentThresholds ?? (await alertThresholds(tx))).map((t) => Math.round(t * 100));
  const fired = await rows<{ id: number; user_id: string; threshold_bp: number; percent_bp: number; remaining_milli: string; period_start: string; used: string; email: string; name: string; locale: Locale; status: string }>(
    tx,
    sql`with b as (
          select * from balances where user_id = ${anyOf(userIds)}),
        periods as (
          select b.user_id, b.period_start, b.period_used_milli as used, b.monthly_milli + b.topup_milli as remaining, true as is_current from b
          union all
          select b.user_id, b.prev_period_start, b.prev_used_milli, b.prev_monthly_milli + b.topup_milli, false from b
          where b.prev_period_start is not null),
        p as (select p.*, ${percentBp} as bp from periods p),
        w as (select x.u, x.p from json_to_recordset(${JSON.stringify(wanted)}::json) as x(u text, p date)),
        rearm as (
          update alerts a set rearmed_at = ${ctx.now.toISOString()}::timestamptz from p
          where a.user_id = p.user_id and a.period_start = p.period_start and a.rearmed_at is null
            and p.bp < a.threshold_bp - ${marginBp}::int
          returning a.id),
        ins as (
          insert into alerts (user_id, period_start, threshold_bp, percent_bp, remaining_milli, created_at)
          select p.user_id, p.period_start, t.th, p.bp, p.remaining, ${ctx.now.toISOString()}::timestamptz
          from p cross join unnest(${sql.raw(`array[${thresholds.join(',')}]::int[]`)}) as t(th)
          where p.bp >= t.th
            and exists (select 1 from w where w.u = p.user_id and (w.p = p.period_start or (w.p is null and p.is_current)))
          on conflict (user_id, period_start, threshold_bp) where rearmed_at is null do nothing
          returning id, user_id, threshold_bp, percent_bp, remaining_milli, period_start)
        select ins.id, ins.user_id, ins.threshold_bp, ins.percent_bp, ins.remaining_milli, ins.period_start::text as period_start,
               p.used, u.email, u.name, u.locale, u.status
        from ins join p on p.user_id = ins.user_id and p.period_start = ins.period_start join users u on u.id = ins.user_id
        order by ins.user_id, ins.threshold_bp`,
  );
  if (fired.length === 0) return 0;

  // One email per person per evaluation: the highest threshold crossed (a jump 70 % → 100 %
  // says "you are out", not three emails). Every crossed threshold still gets its alert row.
  const highest = new Map<string, (typeof fired)[number]>();
  for (const a of fired) {
    const seen = highest.get(a.user_id);
    // a late event of the previous period and one of the current period in one batch: the current period's mail
    if (!seen || seen.period_start < a.period_start || (seen.period_start === a.period_start && seen.threshold_bp < a.threshold_bp)) highest.set(a.user_id, a);
  }
  const burn = await usedInWindow(tx, [...highest.keys()], ctx.now);
  for (const a of highest.values()) {
    if (a.status === 'deleted') continue;
    const remaining = Number(a.remaining_milli);
    const content = alertMail({
      locale: a.locale,
      name: a.name,
      thresholdPercent: a.threshold_bp / 100,
      percentUsed: a.percent_bp / 100,
      usedCredits: milliToCredits(Number(a.used)),
      remainingCredits: milliToCredits(remaining),
      period: a.period_start,
      projectedExhaustion: projectExhaustion(ctx.now, remaining, burn.get(a.user_id) ?? 0),
      timeZone: ctx.timeZone,
      adminEmail: ctx.adminEmail,
    });
    const [mail] = await tx
      .insert(mailLog)
      .values({
        userId: a.user_id,
        to: a.email,
        subject: content.subject,
        template: `alert_${a.threshold_bp / 100}`,
        locale: a.locale,
        text: content.text,
        html: content.html,
        status: ctx.sendMail ? 'queued' : 'logged',
        createdAt: ctx.now,
      })
      .returning({ id: mailLog.id });
    await tx.update(alerts).set({ mailId: mail!.id }).where(eq(alerts.id, a.id));
    if (ctx.sendMail) await enqueue(tx, 'mail.send', `mail:${mail!.id}`, { mailId: mail!.id });
  }
  return fired.length;
}
