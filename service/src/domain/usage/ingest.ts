import { sql } from 'drizzle-orm';
import { one, rows, type Db, type Queryable } from '../../db/client.js';
import { evaluateAlerts } from '../alerts/evaluate.js';
import type { BalanceChangeDeps } from '../balance-change.js';
import { percentUsedBp } from '../balance.js';
import { creditStateSql } from '../ledger.js';
import { nanoToMilliCredits } from '../money.js';
import { DEFAULT_THRESHOLDS, warnBpOf } from '../thresholds.js';
import { parseUsageItem, type UsageItem } from './parse.js';

export interface IngestCounts {
  accepted: number;
  duplicate: number;
  unattributed: number;
  rejected: number;
}

export interface IngestResult extends IngestCounts {
  alertsFired: number;
}

export interface IngestOptions {
  source: string;
  /** NDJSON lines that were not JSON: dead-lettered with the batch. */
  badLines?: string[];
  /** Set by the reconciler for calls LiteLLM knew and we had missed. */
  recovered?: boolean;
}

const MAX_DEAD_LETTER_CHARS = 64 * 1024;

function snippet(v: unknown): string {
  let s: string;
  try {
    s = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  } catch {
    s = String(v);
  }
  return s.length > MAX_DEAD_LETTER_CHARS ? `${s.slice(0, MAX_DEAD_LETTER_CHARS)}…` : s;
}

interface Lookup {
  factor: string;
  thresholds: number[] | null;
  keys: { id: string; user_id: string; token_hash: string }[] | null;
  recovered: { key_hash: string; provider_id: string }[] | null;
}

/**
 * Book a batch of LiteLLM usage events, all or nothing, in one transaction:
 * each new call once (unique dedup key), one usage debit per billable call (monthly allowance
 * first, then top-ups; the top-up bucket may go negative — debt — if LiteLLM overshot),
 * balances, states and key spend updated set-wise, threshold alerts evaluated.
 * Unknown keys are stored unattributed; malformed items are dead-lettered. Nothing is dropped.
 *
 * The hot path: every statement has constant text and one JSON parameter per row set
 * (json_to_recordset), so a 512-event batch is a handful of round trips (see bench/).
 */
export async function ingestUsage(deps: BalanceChangeDeps & { db: Db }, raws: unknown[], opts: IngestOptions): Promise<IngestResult> {
  const good: UsageItem[] = [];
  const dead: { reason: string; payload: unknown }[] = (opts.badLines ?? []).map((line) => ({ reason: 'line is not valid JSON', payload: line }));
  const seen = new Set<string>();
  let duplicate = 0;
  for (const raw of raws) {
    const r = parseUsageItem(raw);
    if (!r.ok) dead.push({ reason: r.reason, payload: raw });
    else if (seen.has(r.item.dedupKey)) duplicate++;
    else {
      seen.add(r.item.dedupKey);
      good.push(r.item);
    }
  }
  const hashes = [...new Set(good.map((g) => g.keyHash).filter((h): h is string => h !== null))];
  const providerIds = opts.recovered ? [] : [...new Set(good.filter((g) => g.providerId && g.keyHash).map((g) => g.providerId!))];

  return deps.db.transaction(async (tx) => {
    const now = deps.clock.now();
    const result: IngestResult = { accepted: 0, duplicate, unattributed: 0, rejected: dead.length, alertsFired: 0 };
    const deadLetter = async () => {
      if (dead.length === 0) return;
      result.rejected = dead.length;
      await tx.execute(sql`insert into dead_letters (source, reason, payload, created_at)
        select ${opts.source}, x.reason, x.payload, ${now.toISOString()}::timestamptz
        from json_to_recordset(${JSON.stringify(dead.map((d) => ({ reason: d.reason, payload: snippet(d.payload) })))}::json) as x(reason text, payload text)`);
    };
    if (good.length === 0) {
      await deadLetter();
      return result;
    }

    // One round trip: the factor in force, the thresholds, our keys, and recovered calls that a
    // late callback may report again.
    const lookup = (await one<Lookup>(
      tx,
      sql`select (select factor_micro from conversion_factors order by id desc limit 1)::text as factor,
                 (select value from settings where key = 'alert_thresholds') as thresholds,
                 (select json_agg(json_build_object('id', id, 'user_id', user_id, 'token_hash', token_hash))
                    from keys where token_hash in (select json_array_elements_text(${JSON.stringify(hashes)}::json))) as keys,
                 (select json_agg(json_build_object('key_hash', key_hash, 'provider_id', provider_id))
                    from usage_events where recovered
                     and provider_id in (select json_array_elements_text(${JSON.stringify(providerIds)}::json))) as recovered`,
    ))!;
    const factorMicro = Number(lookup.factor);
    const thresholds = Array.isArray(lookup.thresholds) ? lookup.thresholds : DEFAULT_THRESHOLDS;
    const keyByHash = new Map((lookup.keys ?? []).map((k) => [k.token_hash, k]));
    const recoveredAlready = new Set((lookup.recovered ?? []).map((r) => `${r.key_hash}|${r.provider_id}`));

    const rowsIn = [];
    for (const g of good) {
      if (recoveredAlready.has(`${g.keyHash}|${g.providerId}`)) {
        result.duplicate++;
        continue;
      }
      const key = g.keyHash ? keyByHash.get(g.keyHash) : undefined;
      let debit = 0;
      try {
        debit = key && g.costNano > 0 ? nanoToMilliCredits(g.costNano, factorMicro) : 0;
      } catch (e) {
        // only an absurd cost with a tiny factor gets here: that item is refused, not the batch
        dead.push({ reason: `cost out of range: ${(e as Error).message}`, payload: g });
        continue;
      }
      rowsIn.push({
        dedup_key: g.dedupKey,
        litellm_call_id: g.litellmCallId,
        provider_id: g.providerId,
        key_hash: g.keyHash,
        key_id: key?.id ?? null,
        user_id: key?.user_id ?? null,
        status: g.status,
        call_type: g.callType,
        model: g.model,
        model_group: g.modelGroup,
        prompt_tokens: g.promptTokens,
        completion_tokens: g.completionTokens,
        total_tokens: g.totalTokens,
        cost_nano: g.costNano,
        debit_milli: debit,
        start_time: g.startTime?.toISOString() ?? null,
        end_time: g.endTime?.toISOString() ?? null,
        metadata: g.metadata,
      });
    }
    await deadLetter();
    if (rowsIn.length === 0) return result;

    const inserted = await rows<{ id: string | number; dedup_key: string }>(
      tx,
      sql`insert into usage_events (dedup_key, litellm_call_id, provider_id, key_hash, key_id, user_id, status, call_type, model,
            model_group, prompt_tokens, completion_tokens, total_tokens, cost_nano, debit_milli, start_time, end_time, source,
            recovered, metadata, created_at)
          select x.dedup_key, x.litellm_call_id, x.provider_id, x.key_hash, x.key_id, x.user_id, x.status, x.call_type, x.model,
            x.model_group, x.prompt_tokens, x.completion_tokens, x.total_tokens, x.cost_nano, x.debit_milli, x.start_time, x.end_time,
            ${opts.source}, ${opts.recovered ?? false}, x.metadata, ${now.toISOString()}::timestamptz
          from json_to_recordset(${JSON.stringify(rowsIn)}::json) as x(dedup_key text, litellm_call_id text, provider_id text,
            key_hash text, key_id text, user_id text, status text, call_type text, model text, model_group text, prompt_tokens int,
            completion_tokens int, total_tokens int, cost_nano bigint, debit_milli bigint, start_time timestamptz,
            end_time timestamptz, metadata jsonb)
          on conflict (dedup_key) do nothing
          returning id, dedup_key`,
    );
    const idByKey = new Map(inserted.map((r) => [r.dedup_key, Number(r.id)]));
    const fresh = rowsIn.filter((v) => idByKey.has(v.dedup_key));
    result.duplicate += rowsIn.length - fresh.length;
    result.unattributed = fresh.filter((v) => v.user_id === null).length;
    result.accepted = fresh.length - result.unattributed;

    const billable = fresh.filter((v) => v.user_id !== null && v.cost_nano > 0);
    if (billable.length === 0) return result;
    const crossed = await bookDebits(
      tx,
      billable.map((v) => ({
        userId: v.user_id!,
        keyId: v.key_id!,
        eventId: idByKey.get(v.dedup_key)!,
        dedupKey: v.dedup_key,
        costNano: v.cost_nano,
        debitMilli: v.debit_milli,
        startTime: v.start_time,
      })),
      { factorMicro, now, thresholdsBp: thresholds.map((t) => Math.round(t * 100)), warnBp: warnBpOf(thresholds) },
    );
    result.alertsFired = await evaluateAlerts(
      tx,
      crossed,
      { now, timeZone: deps.config.TIMEZONE, adminEmail: deps.config.ADMIN_EMAIL, sendMail: Boolean(deps.config.RESEND_API_KEY) },
      thresholds,
    );
    return result;
  });
}

interface Billable {
  userId: string;
  keyId: string;
  eventId: number;
  dedupKey: string;
  costNano: number;
  debitMilli: number;
  startTime: string | null;
}

/**
 * Lock the balances (in a fixed order: no deadlocks between concurrent batches), split each
 * debit between the monthly and top-up buckets, then write the ledger entries, the balances
 * (with their new state) and the keys' booked spend in one statement.
 * Returns the people whose usage crossed an alert threshold (usage only ever raises it).
 */
async function bookDebits(tx: Queryable, items: Billable[], ctx: { factorMicro: number; now: Date; thresholdsBp: number[]; warnBp: number }): Promise<string[]> {
  const userIds = [...new Set(items.map((i) => i.userId))].sort();
  const locked = await rows<{ user_id: string; monthly_milli: string | number; period_start: string }>(
    tx,
    sql`select user_id, monthly_milli, period_start::text as period_start from balances
        where user_id in (select json_array_elements_text(${JSON.stringify(userIds)}::json))
        order by user_id for update`,
  );
  const monthlyLeft = new Map(locked.map((b) => [b.user_id, Math.max(0, Number(b.monthly_milli))]));
  const period = new Map(locked.map((b) => [b.user_id, b.period_start]));
  const nowIso = ctx.now.toISOString();

  const perUser = new Map<string, { user_id: string; dm: number; dt: number; nano: number; last: string }>();
  const perKey = new Map<string, number>();
  const entries = items.map((i) => {
    const left = monthlyLeft.get(i.userId) ?? 0;
    const fromMonthly = Math.min(left, i.debitMilli);
    monthlyLeft.set(i.userId, left - fromMonthly);
    const u = perUser.get(i.userId) ?? { user_id: i.userId, dm: 0, dt: 0, nano: 0, last: '' };
    u.dm += fromMonthly;
    u.dt += i.debitMilli - fromMonthly;
    u.nano += i.costNano;
    const at = i.startTime ?? nowIso;
    if (at > u.last) u.last = at;
    perUser.set(i.userId, u);
    perKey.set(i.keyId, (perKey.get(i.keyId) ?? 0) + i.costNano);
    return {
      user_id: i.userId,
      amount: -i.debitMilli,
      monthly: -fromMonthly,
      topup: -(i.debitMilli - fromMonthly),
      usd: i.costNano,
      period: period.get(i.userId)!,
      idem: `usage:${i.eventId}`,
      event_id: i.eventId,
      key_id: i.keyId,
    };
  });
  const keyRows = [...perKey].map(([id, nano]) => ({ id, nano }));

  const remaining = sql`(b.monthly_milli - v.dm + b.topup_milli - v.dt)`;
  const used = sql`(b.period_used_milli + v.dm + v.dt)`;
  const after = await rows<{ user_id: string; used: string; remaining: string; delta: string }>(tx, sql`
    with ledger as (
      insert into ledger_entries (user_id, kind, amount_milli, monthly_milli, topup_milli, usd_nano, factor_micro, period_start,
        idempotency_key, usage_event_id, key_id, actor, created_at)
      select x.user_id, 'usage', x.amount, x.monthly, x.topup, x.usd, ${ctx.factorMicro}, x.period, x.idem, x.event_id, x.key_id,
        'litellm', ${nowIso}::timestamptz
      from json_to_recordset(${JSON.stringify(entries)}::json) as x(user_id text, amount bigint, monthly bigint, topup bigint,
        usd bigint, period date, idem text, event_id bigint, key_id text)
      returning 1),
    spend as (
      update keys as k set spend_nano = k.spend_nano + v.nano
      from json_to_recordset(${JSON.stringify(keyRows)}::json) as v(id text, nano bigint)
      where k.id = v.id
      returning 1)
    update balances as b set
      monthly_milli = b.monthly_milli - v.dm,
      topup_milli = b.topup_milli - v.dt,
      period_used_milli = ${used},
      period_used_nano = b.period_used_nano + v.nano,
      last_usage_at = greatest(coalesce(b.last_usage_at, v.last), v.last),
      credit_state = ${creditStateSql(remaining, used, ctx.warnBp)},
      updated_at = ${nowIso}::timestamptz
    from json_to_recordset(${JSON.stringify([...perUser.values()])}::json) as v(user_id text, dm bigint, dt bigint, nano bigint, last timestamptz)
    where b.user_id = v.user_id
    returning b.user_id, b.period_used_milli as used, b.monthly_milli + b.topup_milli as remaining, v.dm + v.dt as delta`);
  return after
    .filter((r) => {
      const delta = Number(r.delta);
      const before = percentUsedBp(Number(r.used) - delta, Number(r.remaining) + delta);
      const now = percentUsedBp(Number(r.used), Number(r.remaining));
      return ctx.thresholdsBp.some((t) => before < t && now >= t);
    })
    .map((r) => r.user_id);
}
