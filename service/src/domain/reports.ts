import { and, desc, eq, gte, isNull, lt, sql, type SQL } from 'drizzle-orm';
import { rows, type Queryable } from '../db/client.js';
import { auditLog, ledgerEntries, usageEvents, type LedgerKind } from '../db/schema/index.js';
import { milliToCredits, nanoToUsd } from './money.js';
import { failureOutcome, type FailureOutcome } from './usage/outcome.js';
import { unpricedModels } from './usage/unpriced.js';
import { countWhere, paged } from './paging.js';

export interface Range {
  from?: Date;
  to?: Date;
}

function timeRange(column: typeof ledgerEntries.createdAt | typeof usageEvents.startTime, r: Range): SQL[] {
  const f: SQL[] = [];
  if (r.from) f.push(gte(column, r.from));
  if (r.to) f.push(lt(column, r.to));
  return f;
}

/**
 * A person's statement, newest first. A usage entry booked from a failed call says what the call
 * was (`outcome`: interrupted, timed out, ...; usage/outcome.ts); every other entry has null.
 */
export async function listLedger(q: Queryable, userId: string, input: Range & { kind?: LedgerKind; page: number; pageSize: number }) {
  const where = and(eq(ledgerEntries.userId, userId), input.kind ? eq(ledgerEntries.kind, input.kind) : undefined, ...timeRange(ledgerEntries.createdAt, input));
  return paged(
    input,
    async (limit, offset) => {
      const page = await q.select().from(ledgerEntries).where(where).orderBy(desc(ledgerEntries.id)).limit(limit).offset(offset);
      const outcomes = await failureOutcomes(q, page.flatMap((e) => (e.usageEventId === null ? [] : [e.usageEventId])));
      return page.map((e) => ({ ...e, outcome: e.usageEventId === null ? null : (outcomes.get(e.usageEventId) ?? null) }));
    },
    () => countWhere(q, ledgerEntries, where),
    (e) => ({
      id: e.id,
      kind: e.kind,
      amount: milliToCredits(e.amountMilli),
      monthly: milliToCredits(e.monthlyMilli),
      topup: milliToCredits(e.topupMilli),
      usd: e.usdNano === null ? null : nanoToUsd(e.usdNano),
      factor: e.factorMicro / 1e6,
      period: e.periodStart,
      reason: e.reason,
      reasonCode: e.reasonCode,
      actor: e.actor,
      keyId: e.keyId,
      outcome: e.outcome,
      createdAt: e.createdAt.toISOString(),
    }),
  );
}

/** The outcome of each failed call among the given usage events (one primary-key probe each). */
async function failureOutcomes(q: Queryable, eventIds: number[]): Promise<Map<number, FailureOutcome | null>> {
  if (eventIds.length === 0) return new Map();
  const failed = await rows<{ id: string; completion_tokens: number; error_code: string | null; error_class: string | null }>(
    q,
    sql`select id, completion_tokens, metadata #>> '{error_information,error_code}' as error_code,
               metadata #>> '{error_information,error_class}' as error_class
        from usage_events where id in (select json_array_elements_text(${JSON.stringify(eventIds)}::json)::bigint) and status = 'failure'`,
  );
  return new Map(
    failed.map((r) => [
      Number(r.id),
      failureOutcome({ status: 'failure', errorInformation: { error_code: r.error_code, error_class: r.error_class }, completionTokens: Number(r.completion_tokens) }),
    ]),
  );
}

export async function usageSummary(q: Queryable, userId: string, input: Range & { groupBy: 'day' | 'model'; timeZone: string; late?: boolean }) {
  const bucket = input.groupBy === 'day' ? sql`to_char(start_time at time zone ${input.timeZone}, 'YYYY-MM-DD')` : sql`coalesce(model_group, model, 'unknown')`;
  // A failed call LiteLLM billed is usage like a success (parse.ts); free failures are not.
  const filters = [sql`user_id = ${userId}`, sql`(status = 'success' or cost_nano > 0)`];
  if (input.from) filters.push(sql`start_time >= ${input.from.toISOString()}::timestamptz`);
  if (input.to) filters.push(sql`start_time < ${input.to.toISOString()}::timestamptz`);
  if (input.late !== undefined) filters.push(sql`late = ${input.late}`);
  const list = await rows<{ bucket: string; calls: string; tokens: string; credits_milli: string; usd_nano: string }>(
    q,
    sql`select ${bucket} as bucket, count(*) as calls, sum(total_tokens) as tokens,
               sum(debit_milli) as credits_milli, sum(cost_nano) as usd_nano
        from usage_events where ${sql.join(filters, sql` and `)}
        group by 1 order by 1`,
  );
  return list.map((r) => ({
    [input.groupBy]: r.bucket,
    calls: Number(r.calls),
    tokens: Number(r.tokens),
    credits: milliToCredits(Number(r.credits_milli)),
    usd: nanoToUsd(Number(r.usd_nano)),
  }));
}

export async function listAudit(q: Queryable, input: { action?: string; targetId?: string; page: number; pageSize: number }) {
  const where = and(input.action ? eq(auditLog.action, input.action) : undefined, input.targetId ? eq(auditLog.targetId, input.targetId) : undefined);
  return paged(
    input,
    (limit, offset) => q.select().from(auditLog).where(where).orderBy(desc(auditLog.id)).limit(limit).offset(offset),
    () => countWhere(q, auditLog, where),
    (a) => ({ ...a, createdAt: a.createdAt.toISOString() }),
  );
}

export async function listUnattributed(q: Queryable, input: { page: number; pageSize: number }) {
  const where = isNull(usageEvents.userId);
  return paged(
    input,
    (limit, offset) => q.select().from(usageEvents).where(where).orderBy(desc(usageEvents.id)).limit(limit).offset(offset),
    () => countWhere(q, usageEvents, where),
    (e) => ({
      id: e.id,
      keyHash: e.keyHash,
      litellmCallId: e.litellmCallId,
      model: e.model,
      status: e.status,
      usd: nanoToUsd(e.costNano),
      totalTokens: e.totalTokens,
      startTime: e.startTime?.toISOString() ?? null,
      receivedAt: e.receivedAt.toISOString(),
    }),
  );
}

/**
 * Organisation-wide numbers for the overview. Period totals and top consumers come from the
 * balances (one row per person, kept in step with every booking); today's numbers and the call
 * count from usage_rollup (kept by the same booking statement): a handful of rows per 15 minutes
 * whatever the number of calls.
 */
export async function stats(q: Queryable, input: { now: Date; timeZone: string; periodStart: Date; period: string }) {
  const [people] = await rows<Record<string, string>>(
    q,
    sql`select count(*) filter (where u.status = 'active' and b.credit_state = 'ok') as active,
               count(*) filter (where u.status = 'active' and b.credit_state = 'warned') as warned,
               count(*) filter (where u.status = 'active' and b.credit_state = 'blocked') as blocked,
               count(*) filter (where u.status = 'suspended') as suspended,
               count(*) filter (where u.status = 'deleted') as deleted,
               coalesce(sum(b.period_used_milli) filter (where b.period_start = ${input.period}), 0) as period_milli,
               coalesce(sum(b.period_used_nano) filter (where b.period_start = ${input.period}), 0) as period_nano
        from users u join balances b on b.user_id = u.id`,
  );
  const dayStart = localDayStart(input.now, input.timeZone, 0);
  const [usage] = await rows<Record<string, string>>(
    q,
    sql`select coalesce(sum(debit_milli) filter (where bucket >= ${dayStart}), 0) as today_milli,
               coalesce(sum(cost_nano) filter (where bucket >= ${dayStart}), 0) as today_nano,
               coalesce(sum(calls), 0) as period_calls
        from usage_rollup where bucket >= ${input.periodStart.toISOString()}::timestamptz`,
  );
  const [unattributed] = await rows<{ n: string }>(q, sql`select count(*) as n from usage_events where user_id is null`);
  // Events that arrived after their period's grace window (charged to the period of their arrival)
  const [late] = await rows<{ n: string }>(
    q,
    sql`select count(*) as n from usage_events where late and created_at >= ${input.periodStart.toISOString()}::timestamptz`,
  );
  const unpriced = await unpricedModels(q, input.periodStart);
  const top = await rows<{ user_id: string; email: string; name: string; milli: string; nano: string }>(
    q,
    sql`select b.user_id, u.email, u.name, b.period_used_milli as milli, b.period_used_nano as nano
        from balances b join users u on u.id = b.user_id
        where b.period_start = ${input.period} and b.period_used_milli > 0
        order by b.period_used_milli desc, b.user_id limit 10`,
  );
  const n = (v: string | undefined) => Number(v ?? 0);
  return {
    people: { active: n(people?.active), warned: n(people?.warned), blocked: n(people?.blocked), suspended: n(people?.suspended), deleted: n(people?.deleted) },
    today: { credits: milliToCredits(n(usage?.today_milli)), usd: nanoToUsd(n(usage?.today_nano)) },
    period: { credits: milliToCredits(n(people?.period_milli)), usd: nanoToUsd(n(people?.period_nano)), calls: n(usage?.period_calls) },
    unattributedEvents: n(unattributed?.n),
    lateEventsThisPeriod: n(late?.n),
    unpricedModels: unpriced,
    topConsumers: top.map((t) => ({ userId: t.user_id, email: t.email, name: t.name, credits: milliToCredits(n(t.milli)), usd: nanoToUsd(n(t.nano)) })),
  };
}

function csvCell(v: unknown): string {
  let s = v === null || v === undefined ? '' : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`; // no formula injection in spreadsheets
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Usage per person, model and day for a range, as CSV. */
export async function usageCsv(q: Queryable, input: Range & { timeZone: string }): Promise<string> {
  const filters = [sql`(e.status = 'success' or e.cost_nano > 0)`, sql`e.user_id is not null`];
  if (input.from) filters.push(sql`e.start_time >= ${input.from.toISOString()}::timestamptz`);
  if (input.to) filters.push(sql`e.start_time < ${input.to.toISOString()}::timestamptz`);
  const list = await rows<Record<string, string>>(
    q,
    sql`select to_char(e.start_time at time zone ${input.timeZone}, 'YYYY-MM-DD') as day, u.email, u.name,
               coalesce(e.model_group, e.model, 'unknown') as model, count(*) as calls,
               sum(e.total_tokens) as tokens, sum(e.debit_milli) as milli, sum(e.cost_nano) as nano
        from usage_events e join users u on u.id = e.user_id
        where ${sql.join(filters, sql` and `)}
        group by 1, 2, 3, 4 order by 1, 2, 4`,
  );
  const header = 'day,email,name,model,calls,tokens,credits,usd';
  const body = list.map((r) =>
    [r.day, r.email, r.name, r.model, r.calls, r.tokens, milliToCredits(Number(r.milli)), nanoToUsd(Number(r.nano)).toFixed(9)].map(csvCell).join(','),
  );
  return [header, ...body].join('\n') + '\n';
}

/** The instant local midnight `daysAgo` days before `now`'s day in `timeZone` (DST-aware). */
function localDayStart(now: Date, timeZone: string, daysAgo: number): SQL {
  return sql`((date_trunc('day', ${now.toISOString()}::timestamptz at time zone ${timeZone}) - make_interval(days => ${daysAgo}::int))
              at time zone ${timeZone})`;
}

/**
 * Attributed usage per local day and model over the last `days` whole days, today included
 * (overview chart), from usage_rollup: local midnights fall on its 15-minute buckets. Credits and
 * USD include failed calls LiteLLM billed; `calls` counts successful calls.
 */
export async function dailyUsage(q: Queryable, input: { now: Date; days: number; timeZone: string }) {
  const list = await rows<{ day: string; model: string; milli: string; nano: string; calls: string }>(
    q,
    sql`select to_char(bucket at time zone ${input.timeZone}, 'YYYY-MM-DD') as day, model,
               sum(debit_milli) as milli, sum(cost_nano) as nano, coalesce(sum(calls) filter (where status = 'success'), 0) as calls
        from usage_rollup
        where (status = 'success' or debit_milli > 0) and attributed and bucket >= ${localDayStart(input.now, input.timeZone, input.days - 1)}
        group by 1, 2 order by 1, 2`,
  );
  return list.map((r) => ({ day: r.day, model: r.model, credits: milliToCredits(Number(r.milli)), usd: nanoToUsd(Number(r.nano)), calls: Number(r.calls) }));
}
