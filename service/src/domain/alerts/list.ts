import { desc, eq, type SQL } from 'drizzle-orm';
import { countWhere, paged } from '../paging.js';
import type { Queryable } from '../../db/client.js';
import { alerts, mailLog, settings, users } from '../../db/schema/index.js';
import { ApiError } from '../../lib/errors.js';
import type { Actor, RequestMeta } from '../actor.js';
import { audit } from '../audit.js';
import { alertThresholds } from '../thresholds.js';

export async function listAlerts(q: Queryable, input: { userId?: string; page: number; pageSize: number }) {
  const where: SQL | undefined = input.userId ? eq(alerts.userId, input.userId) : undefined;
  return paged(
    input,
    (limit, offset) =>
      q
        .select({ alert: alerts, email: users.email, name: users.name, mailStatus: mailLog.status })
        .from(alerts)
        .innerJoin(users, eq(users.id, alerts.userId))
        .leftJoin(mailLog, eq(mailLog.id, alerts.mailId))
        .where(where)
        .orderBy(desc(alerts.id))
        .limit(limit)
        .offset(offset),
    () => countWhere(q, alerts, where),
    (r) => ({
      id: r.alert.id,
      userId: r.alert.userId,
      email: r.email,
      name: r.name,
      threshold: r.alert.thresholdBp / 100,
      period: r.alert.periodStart,
      percentUsed: r.alert.percentBp / 100,
      remainingCredits: r.alert.remainingMilli / 1000,
      rearmedAt: r.alert.rearmedAt?.toISOString() ?? null,
      createdAt: r.alert.createdAt.toISOString(),
      emailStatus: r.mailStatus ?? ('none' as const),
    }),
  );
}

export async function listMail(q: Queryable, input: { userId?: string; page: number; pageSize: number }) {
  const where = input.userId ? eq(mailLog.userId, input.userId) : undefined;
  return paged(
    input,
    (limit, offset) => q.select().from(mailLog).where(where).orderBy(desc(mailLog.id)).limit(limit).offset(offset),
    () => countWhere(q, mailLog, where),
    (m) => ({
      id: m.id,
      userId: m.userId,
      to: m.to,
      subject: m.subject,
      template: m.template,
      locale: m.locale,
      text: m.text,
      status: m.status,
      error: m.error,
      createdAt: m.createdAt.toISOString(),
      sentAt: m.sentAt?.toISOString() ?? null,
    }),
  );
}

/** Thresholds: 1–10 ascending whole percentages, the last one 100 (the block). */
export async function setThresholds(q: Queryable, actor: Actor, meta: RequestMeta, thresholds: number[]) {
  const sorted = [...new Set(thresholds)].sort((a, b) => a - b);
  if (sorted.length !== thresholds.length || sorted.some((t, i) => t !== thresholds[i])) {
    throw new ApiError('validation_error', 'thresholds must be distinct and ascending', { field: 'thresholds' });
  }
  if (sorted.at(-1) !== 100) throw new ApiError('validation_error', 'the last threshold must be 100 (the block)', { field: 'thresholds' });
  const before = await alertThresholds(q);
  await q
    .insert(settings)
    .values({ key: 'alert_thresholds', value: sorted, updatedBy: actor.label })
    .onConflictDoUpdate({ target: settings.key, set: { value: sorted, updatedBy: actor.label, updatedAt: new Date() } });
  await audit(q, actor, meta, { action: 'settings.alert_thresholds', targetType: 'setting', targetId: 'alert_thresholds', before, after: sorted });
  return sorted;
}
