import { sql } from 'drizzle-orm';
import { rows, type Queryable } from '../../db/client.js';
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
}

const percentBp = sql`case when b.monthly_milli + b.topup_milli <= 0
    then case when b.period_used_milli > 0 or b.monthly_milli + b.topup_milli < 0 then 10000 else 0 end
    else div(b.period_used_milli::numeric * 10000, b.period_used_milli::numeric + b.monthly_milli + b.topup_milli)::int end`;

/**
 * Fire and re-arm threshold alerts for these people, in the caller's transaction. The partial
 * unique index makes each (person, period, threshold) fire once while armed, whatever the
 * concurrency; usage falling back under a threshold (a top-up) re-arms it. Each new alert writes
 * its email to the mail log (and the outbox when Resend is configured).
 */
export async function evaluateAlerts(tx: Queryable, userIds: string[], ctx: AlertContext, percentThresholds?: number[]): Promise<number> {
  if (userIds.length === 0) return 0;
  const thresholds = (percentThresholds ?? (await alertThresholds(tx))).map((t) => Math.round(t * 100));
  const fired = await rows<{ id: number; user_id: string; threshold_bp: number; percent_bp: number; remaining_milli: string; period_start: string; used: string; email: string; name: string; locale: Locale; status: string }>(
    tx,
    sql`with p as (
          select b.user_id, b.period_start, b.period_used_milli as used, b.monthly_milli + b.topup_milli as remaining, ${percentBp} as bp
          from balances b where b.user_id in (select json_array_elements_text(${JSON.stringify(userIds)}::json))),
        rearm as (
          update alerts a set rearmed_at = ${ctx.now.toISOString()}::timestamptz from p
          where a.user_id = p.user_id and a.period_start = p.period_start and a.rearmed_at is null and p.bp < a.threshold_bp
          returning a.id),
        ins as (
          insert into alerts (user_id, period_start, threshold_bp, percent_bp, remaining_milli, created_at)
          select p.user_id, p.period_start, t.th, p.bp, p.remaining, ${ctx.now.toISOString()}::timestamptz
          from p cross join unnest(${sql.raw(`array[${thresholds.join(',')}]::int[]`)}) as t(th)
          where p.bp >= t.th
          on conflict (user_id, period_start, threshold_bp) where rearmed_at is null do nothing
          returning id, user_id, threshold_bp, percent_bp, remaining_milli, period_start)
        select ins.id, ins.user_id, ins.threshold_bp, ins.percent_bp, ins.remaining_milli, ins.period_start::text as period_start,
               p.used, u.email, u.name, u.locale, u.status
        from ins join p on p.user_id = ins.user_id join users u on u.id = ins.user_id
        order by ins.user_id, ins.threshold_bp`,
  );
  if (fired.length === 0) return 0;

  // One email per person per evaluation: the highest threshold crossed (a jump 70 % → 100 %
  // says "you are out", not three emails). Every crossed threshold still gets its alert row.
  const highest = new Map<string, (typeof fired)[number]>();
  for (const a of fired) if ((highest.get(a.user_id)?.threshold_bp ?? -1) < a.threshold_bp) highest.set(a.user_id, a);
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
