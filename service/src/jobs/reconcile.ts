import { and, desc, eq, gt, inArray, isNotNull, or } from 'drizzle-orm';
import type { Deps } from '../deps.js';
import { keys, reconciliationRuns, usageEvents } from '../db/schema/index.js';
import { desiredBudgetNano } from '../domain/keys.js';
import { usdToNano } from '../domain/money.js';
import { enqueue } from '../domain/outbox.js';
import { ingestUsage } from '../domain/usage/ingest.js';
import type { SpendLog } from '../litellm/client.js';

/** LiteLLM adds floats; differences under a micro-dollar are float noise, not money. */
const TOLERANCE_NANO = 1_000;

export interface ReconcileItem {
  keyId: string;
  userId: string;
  action: 'recovered' | 'budget_repushed' | 'unexplained' | 'error';
  detail: string;
  litellmSpendUsd?: number;
  bookedSpendUsd?: number;
}

export interface ReconcileOptions {
  /** Spend-log rows younger than this may still be on their way through the callback. */
  graceMinutes?: number;
  /**
   * LiteLLM writes key spend to its database in batches (PROXY_BATCH_WRITE_AT, 10 s + random
   * 0–5 s: litellm/proxy/proxy_server.py, the batch-writing job) while it enforces from an
   * in-memory counter, so for a key used this recently /key/info may still be behind the ledger:
   * that is not drift. Default 120 s.
   */
  settleSeconds?: number;
  lookbackDays?: number;
}

/**
 * Compare every live key's spend and max_budget in LiteLLM with the ledger. Calls LiteLLM knows
 * and we missed (from /spend/logs) are booked, marked recovered; a drifted max_budget is
 * re-pushed through the outbox; what cannot be explained is reported. Stored per run and shown
 * at GET /api/reconciliation.
 */
export async function reconcile(deps: Deps, opts: ReconcileOptions = {}) {
  const litellm = deps.litellm;
  if (!litellm) throw new Error('LiteLLM is not configured');
  const startedAt = deps.clock.now();
  const grace = (opts.graceMinutes ?? 15) * 60_000;
  const settle = (opts.settleSeconds ?? 120) * 1000;
  const live = await deps.db
    .select()
    .from(keys)
    .where(and(isNotNull(keys.tokenHash), inArray(keys.status, ['active', 'blocked'])));
  const items: ReconcileItem[] = [];
  let recovered = 0;
  for (const key of live) {
    const hash = key.tokenHash!;
    const base = { keyId: key.id, userId: key.userId };
    try {
      // null also for a key LiteLLM deleted: /key/info answers 200 from its deleted-keys archive,
      // which the client reads as missing (client.ts keyInfo), so no budget is pushed to it.
      const info = await litellm.keyInfo(hash);
      if (!info) {
        items.push({ ...base, action: 'unexplained', detail: 'key is missing in LiteLLM' });
        continue;
      }
      let booked = key.spendNano;
      const litellmNano = usdToNano(info.spend);
      if (litellmNano - booked > TOLERANCE_NANO) {
        const n = await recoverMissing(deps, hash, startedAt, grace, opts.lookbackDays ?? 35);
        recovered += n;
        const [fresh] = await deps.db.select({ spend: keys.spendNano }).from(keys).where(eq(keys.id, key.id));
        booked = fresh!.spend;
        if (n > 0) items.push({ ...base, action: 'recovered', detail: `${n} call(s) LiteLLM billed were missing; booked now` });
      }
      const gap = litellmNano - booked;
      const settling = gap < 0 && (await usedSince(deps, key.userId, new Date(startedAt.getTime() - settle)));
      if (Math.abs(gap) > TOLERANCE_NANO && !settling) {
        items.push({
          ...base,
          action: 'unexplained',
          detail:
            gap > 0
              ? 'LiteLLM billed more than the ledger holds and /spend/logs does not show the calls (yet)'
              : 'LiteLLM holds less spend than the ledger (spend lost on a LiteLLM database error?)',
          litellmSpendUsd: info.spend,
          bookedSpendUsd: booked / 1e9,
        });
      }
      const desired = await desiredBudgetNano(deps.db, key.id);
      const actual = info.maxBudget === null ? null : usdToNano(info.maxBudget);
      if (actual === null || Math.abs(actual - desired) > 1) {
        await enqueue(deps.db, 'litellm.sync_budget', key.id, { keyId: key.id });
        items.push({ ...base, action: 'budget_repushed', detail: `max_budget ${info.maxBudget} in LiteLLM, ${desired / 1e9} from the ledger` });
      }
    } catch (err) {
      items.push({ ...base, action: 'error', detail: (err as Error).message.slice(0, 300) });
    }
  }
  const count = (a: ReconcileItem['action']) => items.filter((i) => i.action === a).length;
  const [run] = await deps.db
    .insert(reconciliationRuns)
    .values({
      startedAt,
      finishedAt: deps.clock.now(),
      keysChecked: live.length,
      recovered,
      repushed: count('budget_repushed'),
      unexplained: count('unexplained'),
      errors: count('error'),
      items,
    })
    .returning();
  for (const kind of ['recovered', 'budget_repushed', 'unexplained', 'error'] as const) deps.metrics.reconciliationDrift.set({ kind }, count(kind));
  if (items.length) deps.log.warn({ recovered, items: items.length }, 'reconciliation found differences');
  return run!;
}

/** Whether the person has a call that started after `since` (usage_user_time_idx). */
async function usedSince(deps: Deps, userId: string, since: Date): Promise<boolean> {
  const [row] = await deps.db
    .select({ one: usageEvents.id })
    .from(usageEvents)
    .where(and(eq(usageEvents.userId, userId), gt(usageEvents.startTime, since)))
    .limit(1);
  return row !== undefined;
}

async function recoverMissing(deps: Deps, hash: string, now: Date, graceMs: number, lookbackDays: number): Promise<number> {
  const day = (d: Date) => d.toISOString().slice(0, 10);
  const logs = await deps.litellm!.spendLogs({
    apiKeyHash: hash,
    startDate: day(new Date(now.getTime() - lookbackDays * 86_400_000)),
    endDate: day(new Date(now.getTime() + 86_400_000)),
  });
  const old = logs.filter((l) => l.spend > 0 && Date.parse(l.startTime) <= now.getTime() - graceMs);
  if (old.length === 0) return 0;
  const ids = old.map((l) => l.requestId);
  const known = await deps.db
    .select({ providerId: usageEvents.providerId, callId: usageEvents.litellmCallId })
    .from(usageEvents)
    .where(and(eq(usageEvents.keyHash, hash), or(inArray(usageEvents.providerId, ids), inArray(usageEvents.litellmCallId, ids))));
  const seen = new Set(known.flatMap((k) => [k.providerId, k.callId]));
  const missing = old.filter((l) => !seen.has(l.requestId)).map((l) => toPayload(l, hash));
  if (missing.length === 0) return 0;
  const result = await ingestUsage(deps, missing, { source: 'reconciler', recovered: true });
  return result.accepted;
}

/** A spend-log row as the StandardLoggingPayload fields we book. */
function toPayload(l: SpendLog, hash: string) {
  return {
    id: l.requestId,
    call_type: 'recovered',
    status: 'success',
    response_cost: l.spend,
    prompt_tokens: l.promptTokens,
    completion_tokens: l.completionTokens,
    total_tokens: l.totalTokens,
    startTime: Date.parse(l.startTime) / 1000,
    endTime: l.endTime ? Date.parse(l.endTime) / 1000 : null,
    model: l.model,
    metadata: { user_api_key_hash: hash },
  };
}

export async function reconciliationReport(deps: Deps, limit = 20) {
  const runs = await deps.db.select().from(reconciliationRuns).orderBy(desc(reconciliationRuns.id)).limit(limit);
  const view = (r: (typeof runs)[number]) => ({
    id: r.id,
    startedAt: r.startedAt.toISOString(),
    finishedAt: r.finishedAt?.toISOString() ?? null,
    keysChecked: r.keysChecked,
    recovered: r.recovered,
    repushed: r.repushed,
    unexplained: r.unexplained,
    errors: r.errors,
  });
  return { lastRun: runs[0] ? { ...view(runs[0]), items: runs[0].items as ReconcileItem[] } : null, runs: runs.map(view) };
}
