import { and, eq, inArray, sql } from 'drizzle-orm';
import { rows, type Db, type Queryable } from '../../db/client.js';
import { afterBalanceChange, type BalanceChangeDeps } from '../balance-change.js';
import { deadLetters, keys, ledgerEntries, usageEvents } from '../../db/schema/index.js';
import { currentFactorMicro } from '../factor.js';
import { nanoToMilliCredits } from '../money.js';
import { parseUsageItem, type UsageItem } from './parse.js';

export interface IngestCounts {
  accepted: number;
  duplicate: number;
  unattributed: number;
  rejected: number;
}

export interface IngestResult extends IngestCounts {
  /** People whose credit state changed. */
  stateChanges: { userId: string; state: 'ok' | 'warned' | 'blocked' }[];
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
    s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > MAX_DEAD_LETTER_CHARS ? `${s.slice(0, MAX_DEAD_LETTER_CHARS)}…` : s;
}

/**
 * Book a batch of LiteLLM usage events, all or nothing, in one transaction:
 * each new call once (unique dedup key), one usage debit per billable call (monthly allowance
 * first, then top-ups; the top-up bucket may go negative — debt — if LiteLLM overshot),
 * balances and key spend updated with relative set-based statements.
 * Unknown keys are stored unattributed; malformed items are dead-lettered. Nothing is dropped.
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

  return deps.db.transaction(async (tx) => {
    const now = deps.clock.now();
    const result: IngestResult = { accepted: 0, duplicate, unattributed: 0, rejected: dead.length, stateChanges: [], alertsFired: 0 };
    if (dead.length) {
      await tx.insert(deadLetters).values(dead.map((d) => ({ source: opts.source, reason: d.reason, payload: snippet(d.payload), createdAt: now })));
    }
    if (good.length === 0) return result;

    if (!opts.recovered) await dropRecovered(tx, good, result);
    if (good.length === 0) return result;
    const factorMicro = await currentFactorMicro(tx);
    const hashes = [...new Set(good.map((g) => g.keyHash).filter((h): h is string => h !== null))];
    const keyRows = hashes.length
      ? await tx.select({ id: keys.id, userId: keys.userId, tokenHash: keys.tokenHash }).from(keys).where(inArray(keys.tokenHash, hashes))
      : [];
    const keyByHash = new Map(keyRows.map((k) => [k.tokenHash!, k]));

    const values = good.map((g) => {
      const key = g.keyHash ? keyByHash.get(g.keyHash) : undefined;
      return {
        dedupKey: g.dedupKey,
        litellmCallId: g.litellmCallId,
        providerId: g.providerId,
        keyHash: g.keyHash,
        keyId: key?.id ?? null,
        userId: key?.userId ?? null,
        status: g.status,
        callType: g.callType,
        model: g.model,
        modelGroup: g.modelGroup,
        promptTokens: g.promptTokens,
        completionTokens: g.completionTokens,
        totalTokens: g.totalTokens,
        costNano: g.costNano,
        debitMilli: key && g.costNano > 0 ? nanoToMilliCredits(g.costNano, factorMicro) : 0,
        startTime: g.startTime,
        endTime: g.endTime,
        source: opts.source,
        recovered: opts.recovered ?? false,
        metadata: g.metadata,
        receivedAt: now,
      };
    });
    const inserted = await tx
      .insert(usageEvents)
      .values(values)
      .onConflictDoNothing({ target: usageEvents.dedupKey })
      .returning({ id: usageEvents.id, dedupKey: usageEvents.dedupKey });
    const idByKey = new Map(inserted.map((r) => [r.dedupKey, r.id]));
    const fresh = values.filter((v) => idByKey.has(v.dedupKey));
    result.duplicate += values.length - fresh.length;
    result.unattributed = fresh.filter((v) => v.userId === null).length;
    result.accepted = fresh.length - result.unattributed;

    const billable = fresh.filter((v) => v.userId !== null && v.costNano > 0);
    if (billable.length > 0) {
      const userIds = await bookDebits(tx, billable.map((v) => ({ ...v, userId: v.userId!, keyId: v.keyId!, eventId: idByKey.get(v.dedupKey)! })), factorMicro, now);
      Object.assign(result, await afterBalanceChange(tx, deps, userIds));
    }
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
  startTime: Date | null;
}

async function bookDebits(tx: Queryable, items: Billable[], factorMicro: number, now: Date) {
  const userIds = [...new Set(items.map((i) => i.userId))].sort();
  // Lock the balances (in a fixed order: no deadlocks between concurrent batches).
  const locked = await rows<{ user_id: string; monthly_milli: string | number; period_start: string }>(
    tx,
    sql`select user_id, monthly_milli, period_start::text as period_start from balances where user_id in ${userIds} order by user_id for update`,
  );
  const monthlyLeft = new Map(locked.map((b) => [b.user_id, Math.max(0, Number(b.monthly_milli))]));
  const period = new Map(locked.map((b) => [b.user_id, b.period_start]));

  const perUser = new Map<string, { dm: number; dt: number; nano: number; last: Date }>();
  const perKey = new Map<string, number>();
  const entries = items.map((i) => {
    const left = monthlyLeft.get(i.userId) ?? 0;
    const fromMonthly = Math.min(left, i.debitMilli);
    monthlyLeft.set(i.userId, left - fromMonthly);
    const u = perUser.get(i.userId) ?? { dm: 0, dt: 0, nano: 0, last: new Date(0) };
    u.dm += fromMonthly;
    u.dt += i.debitMilli - fromMonthly;
    u.nano += i.costNano;
    const at = i.startTime ?? now;
    if (at > u.last) u.last = at;
    perUser.set(i.userId, u);
    perKey.set(i.keyId, (perKey.get(i.keyId) ?? 0) + i.costNano);
    return {
      userId: i.userId,
      kind: 'usage' as const,
      amountMilli: -i.debitMilli,
      monthlyMilli: -fromMonthly,
      topupMilli: -(i.debitMilli - fromMonthly),
      usdNano: i.costNano,
      factorMicro,
      periodStart: period.get(i.userId)!,
      idempotencyKey: `usage:${i.dedupKey}`,
      usageEventId: i.eventId,
      keyId: i.keyId,
      actor: 'litellm',
      createdAt: now,
    };
  });
  await tx.insert(ledgerEntries).values(entries);

  const balanceRows = sql.join(
    [...perUser].map(([id, u]) => sql`(${id}, ${u.dm}::bigint, ${u.dt}::bigint, ${u.nano}::bigint, ${u.last.toISOString()}::timestamptz)`),
    sql`, `,
  );
  await tx.execute(sql`update balances as b set
      monthly_milli = b.monthly_milli - v.dm,
      topup_milli = b.topup_milli - v.dt,
      period_used_milli = b.period_used_milli + v.dm + v.dt,
      period_used_nano = b.period_used_nano + v.nano,
      last_usage_at = greatest(coalesce(b.last_usage_at, v.last), v.last),
      updated_at = ${now.toISOString()}::timestamptz
    from (values ${balanceRows}) as v(user_id, dm, dt, nano, last)
    where b.user_id = v.user_id`);

  const keyRows = sql.join([...perKey].map(([id, nano]) => sql`(${id}, ${nano}::bigint)`), sql`, `);
  await tx.execute(sql`update keys as k set spend_nano = k.spend_nano + v.nano
    from (values ${keyRows}) as v(id, nano) where k.id = v.id`);

  return userIds;
}

/**
 * A call the reconciler already booked from LiteLLM's spend logs (by provider id) may still
 * arrive late through the callback: it is a duplicate, not a second debit.
 */
async function dropRecovered(tx: Queryable, good: UsageItem[], result: IngestCounts): Promise<void> {
  const ids = [...new Set(good.filter((g) => g.providerId && g.keyHash).map((g) => g.providerId!))];
  if (ids.length === 0) return;
  const clash = await tx
    .select({ keyHash: usageEvents.keyHash, providerId: usageEvents.providerId })
    .from(usageEvents)
    .where(and(eq(usageEvents.recovered, true), inArray(usageEvents.providerId, ids)));
  if (clash.length === 0) return;
  const known = new Set(clash.map((c) => `${c.keyHash}|${c.providerId}`));
  for (let i = good.length - 1; i >= 0; i--) {
    if (known.has(`${good[i]!.keyHash}|${good[i]!.providerId}`)) {
      good.splice(i, 1);
      result.duplicate++;
    }
  }
}
