import { desc, eq, sql } from 'drizzle-orm';
import { ArrayColumn } from '../db/arrays.js';
import { rows, type Queryable } from '../db/client.js';
import type { Deps } from '../deps.js';
import { keys, reconciliationRuns } from '../db/schema/index.js';
import { desiredBudgetNano } from '../domain/keys.js';
import { currentFactorMicro } from '../domain/factor.js';
import { maxBudgetNano, nanoToUsdText, usdToNano } from '../domain/money.js';
import { enqueue } from '../domain/outbox.js';
import { ingestUsage } from '../domain/usage/ingest.js';
import type { KeyInfo, SpendLog } from '../litellm/client.js';

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
  /** Keys per POST /v2/key/info request; default 500 (LiteLLM answers each with one query). */
  chunkSize?: number;
  lookbackDays?: number;
}


interface LiveKey {
  id: string;
  user_id: string;
  token_hash: string;
  key_alias: string;
  spend_nano: string;
  remaining_milli: string;
  recent: boolean;
}

/**
 * Compare every live key's spend and max_budget in LiteLLM with the ledger. Calls LiteLLM knows
 * and we missed (from /spend/logs) are booked, marked recovered; a drifted max_budget is
 * re-pushed through the outbox; what cannot be explained is reported. Stored per run and shown
 * at GET /api/reconciliation.
 *
 * At scale: the ledger side (booked spend, desired budget, recent use) is one SQL pass; LiteLLM is
 * read `chunkSize` keys per POST /v2/key/info; /spend/logs only for the rare key LiteLLM is ahead on.
 */
/** Keys read from the ledger per query. */
const LEDGER_PAGE = 5000;

export async function reconcile(deps: Deps, opts: ReconcileOptions = {}) {
  const litellm = deps.litellm;
  if (!litellm) throw new Error('LiteLLM is not configured');
  const startedAt = deps.clock.now();
  const grace = (opts.graceMinutes ?? 15) * 60_000;
  const settleSince = new Date(startedAt.getTime() - (opts.settleSeconds ?? 120) * 1000);
  const factor = await currentFactorMicro(deps.db);
  const items: ReconcileItem[] = [];
  let recovered = 0;
  let keysChecked = 0;
  const chunkSize = opts.chunkSize ?? 500;
  // The ledger side a page at a time (keyset on the key id), so memory stays flat at 100,000 keys.
  let after = '';
  for (;;) {
    const live = await rows<LiveKey>(
      deps.db,
      sql`select k.id, k.user_id, k.token_hash, k.key_alias, k.spend_nano,
                 (b.monthly_milli + b.topup_milli) as remaining_milli,
                 exists (select 1 from usage_events u where u.user_id = k.user_id and u.start_time > ${settleSince.toISOString()}::timestamptz) as recent
          from keys k join balances b on b.user_id = k.user_id
          where k.token_hash is not null and k.status in ('active', 'blocked') and k.id > ${after}
          order by k.id limit ${LEDGER_PAGE}`,
    );
    keysChecked += live.length;
    for (let i = 0; i < live.length; i += chunkSize) {
      const chunk = live.slice(i, i + chunkSize);
      let infos: Map<string, KeyInfo>;
      try {
        // Rows come without their token: matched back by alias (ours, unique per key row).
        infos = new Map((await litellm.keyInfoMany(chunk.map((k) => k.token_hash))).map((info) => [info.keyAlias ?? '', info]));
      } catch (err) {
        for (const k of chunk) items.push({ keyId: k.id, userId: k.user_id, action: 'error', detail: (err as Error).message.slice(0, 300) });
        continue;
      }
      for (const key of chunk) {
        try {
          recovered += await compare(deps, key, infos.get(key.key_alias) ?? null, { startedAt, grace, factor, lookbackDays: opts.lookbackDays ?? 35 }, items);
        } catch (err) {
          items.push({ keyId: key.id, userId: key.user_id, action: 'error', detail: (err as Error).message.slice(0, 300) });
        }
      }
    }
    if (live.length < LEDGER_PAGE) break;
    after = live[live.length - 1]!.id;
  }
  const count = (a: ReconcileItem['action']) => items.filter((i) => i.action === a).length;
  const [run] = await deps.db
    .insert(reconciliationRuns)
    .values({
      startedAt,
      finishedAt: deps.clock.now(),
      keysChecked,
      recovered,
      repushed: count('budget_repushed'),
      unexplained: count('unexplained'),
      errors: count('error'),
      items,
    })
    .returning();
  for (const kind of ['recovered', 'budget_repushed', 'unexplained', 'error'] as const) deps.metrics.reconciliationDrift.set({ kind }, count(kind));
  if (items.length) deps.log.warn({ recovered, items: items.length }, 'reconciliation found differences');
  return { ...run!, items };
}

/** One key: LiteLLM's view (null: missing there, deleted ones included) against the ledger's. Returns calls recovered. */
async function compare(
  deps: Deps,
  key: LiveKey,
  info: KeyInfo | null,
  ctx: { startedAt: Date; grace: number; factor: number; lookbackDays: number },
  items: ReconcileItem[],
): Promise<number> {
  const base = { keyId: key.id, userId: key.user_id };
  if (!info) {
    // Also a key LiteLLM deleted: /v2/key/info leaves it out, /key/info answers from the
    // deleted-keys archive (client.ts keyInfo reads both as missing): nothing is pushed to it.
    items.push({ ...base, action: 'unexplained', detail: 'key is missing in LiteLLM' });
    return 0;
  }
  let booked = Number(key.spend_nano);
  let recovered = 0;
  let refreshed = false;
  let inDelivery = 0;
  const litellmNano = usdToNano(info.spend);
  if (litellmNano - booked > TOLERANCE_NANO) {
    refreshed = true;
    ({ recovered, inDelivery } = await recoverMissing(deps, key.user_id, key.token_hash, ctx.startedAt, ctx.grace, ctx.lookbackDays));
    const [fresh] = await deps.db.select({ spend: keys.spendNano }).from(keys).where(eq(keys.id, key.id));
    booked = fresh!.spend;
    if (recovered > 0) items.push({ ...base, action: 'recovered', detail: `${recovered} call(s) LiteLLM billed were missing; booked now` });
  }
  const gap = litellmNano - booked;
  // LiteLLM behind the ledger right after use is its batch writing, not drift (settleSeconds);
  // LiteLLM ahead by calls it logged within the grace window that we have not booked yet is the
  // callback's delivery still under way, not drift either.
  if (Math.abs(gap) > TOLERANCE_NANO && !(gap < 0 && key.recent) && !(gap > 0 && gap <= inDelivery + TOLERANCE_NANO)) {
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
  // The ledger side as of the snapshot, unless the spend was read again above: then both halves
  // of the budget are read again (a call booked meanwhile moved spend and remaining together).
  const desired = refreshed ? await desiredBudgetNano(deps.db, key.id) : maxBudgetNano(booked, Number(key.remaining_milli), ctx.factor);
  const actual = info.maxBudget === null ? null : usdToNano(info.maxBudget);
  if (actual === null || Math.abs(actual - desired) > 1) {
    await enqueue(deps.db, 'litellm.sync_budget', key.id, { keyId: key.id });
    items.push({ ...base, action: 'budget_repushed', detail: `max_budget ${info.maxBudget} in LiteLLM, ${desired / 1e9} from the ledger` });
  }
  return recovered;
}

/**
 * The key's booked calls among these LiteLLM request ids (as our provider id or call id). Read
 * through the person's (user_id, start_time) index from `since` on (the spend logs asked for start
 * after it; a call's usage event has the start time LiteLLM logged: the spend-log row and the
 * callback's payload take the call's one start_time, litellm/proxy/spend_tracking/
 * spend_tracking_utils.py:get_logging_payload `startTime=_ensure_datetime_utc(start_time)` and
 * litellm/litellm_core_utils/litellm_logging.py:get_standard_logging_object_payload `startTime=
 * start_time_float` from StandardLoggingPayloadSetup.cleanup_timestamps `start_time.timestamp()`,
 * in the pinned version), plus calls without a start
 * time and calls booked before the key was ours (unattributed, usage_unattributed_idx), so a
 * reconciliation reads one person's recent calls, not the whole table: matching on key_hash
 * alone, which no index covers, read every usage event for every key that had a gap
 * (reconcile-scan.int.test.ts). The ids go as two array parameters, however many there are (one
 * bind parameter each would pass PostgreSQL's 65,535 limit at 16,384 billed rows).
 */
async function bookedAmong(db: Queryable, userId: string, hash: string, ids: string[], since: Date) {
  const found = await rows<{ provider_id: string | null; litellm_call_id: string | null; cost_nano: string }>(db, bookedAmongSql(userId, hash, ids, since));
  return found.map((r) => ({ providerId: r.provider_id, callId: r.litellm_call_id, costNano: Number(r.cost_nano) }));
}

/** bookedAmong's statement. (Exported for its test.) */
export function bookedAmongSql(userId: string, hash: string, ids: string[], since: Date) {
  const column = new ArrayColumn();
  for (const id of ids) column.text(id);
  const list = column.literal();
  return sql`select u.provider_id, u.litellm_call_id, u.cost_nano
        from usage_events u
        where u.key_hash = ${hash}
          and (u.provider_id = any(${list}::text[]) or u.litellm_call_id = any(${list}::text[]))
          and ((u.user_id = ${userId} and (u.start_time >= ${since.toISOString()}::timestamptz or u.start_time is null)) or u.user_id is null)`;
}

/** Spend-log rows read per key per cycle at most (/spend/logs/v2, 1,000 a page): a bound, not a cut. */
const MAX_LOG_PAGES = 20;

/**
 * Book the calls LiteLLM logged for this key that the ledger lacks, once they are older than the
 * grace window (a younger one may still be on its way through the callback). Returns how many
 * were booked, and the nano-USD of the younger ones not booked yet (delivery under way).
 */
async function recoverMissing(deps: Deps, userId: string, hash: string, now: Date, graceMs: number, lookbackDays: number): Promise<{ recovered: number; inDelivery: number }> {
  const day = (d: Date) => d.toISOString().slice(0, 10);
  // /spend/logs returns the newest 10,000 rows only (x-litellm-spend-logs-truncated); v2 pages.
  const logs: SpendLog[] = [];
  for (let page = 1; page <= MAX_LOG_PAGES; page++) {
    const p = await deps.litellm!.spendLogsPage({
      apiKeyHash: hash,
      startDate: day(new Date(now.getTime() - lookbackDays * 86_400_000)),
      endDate: day(new Date(now.getTime() + 86_400_000)),
      page,
      pageSize: 1000,
    });
    logs.push(...p.rows);
    if (page >= p.totalPages) break;
  }
  const billed = logs.filter((l) => l.spend > 0);
  if (billed.length === 0) return { recovered: 0, inDelivery: 0 };
  const ids = billed.map((l) => l.requestId);
  // A failed call's `<id>-billed` supplement (BILLED_SUFFIX) books part of the `<id>` row's spend
  // and has no row of its own; billed retry attempts have their own `<id>-attempt-N` rows, matched
  // like any other call by their ids.
  const lookup = [...ids, ...ids.map((id) => `${id}${BILLED_SUFFIX}`)];
  const known = await bookedAmong(deps.db, userId, hash, lookup, new Date(now.getTime() - (lookbackDays + 1) * 86_400_000));
  const seen = new Set(known.flatMap((k) => [k.providerId, k.callId]));
  const supplemented = new Map<string, number>();
  for (const k of known) {
    const rows = new Set([k.providerId, k.callId].filter((v): v is string => !!v && v.endsWith(BILLED_SUFFIX)).map((v) => v.slice(0, -BILLED_SUFFIX.length)));
    for (const row of rows) supplemented.set(row, (supplemented.get(row) ?? 0) + k.costNano);
  }
  const unbooked = billed
    .filter((l) => !seen.has(l.requestId))
    .map((l) => ({ l, nano: usdToNano(l.spend) - (supplemented.get(l.requestId) ?? 0) }))
    .filter(({ nano }) => nano > 0);
  const settled = (l: SpendLog) => Date.parse(l.startTime) <= now.getTime() - graceMs;
  const inDelivery = unbooked.filter(({ l }) => !settled(l)).reduce((sum, { nano }) => sum + nano, 0);
  const missing = unbooked
    .filter(({ l }) => settled(l))
    .map(({ l, nano }) => toPayload(l, hash, supplemented.has(l.requestId) ? nanoToUsdText(nano) : l.spend));
  if (missing.length === 0) return { recovered: 0, inDelivery };
  const result = await ingestUsage(deps, missing, { source: 'reconciler', recovered: true });
  return { recovered: result.accepted, inDelivery };
}

/**
 * The id suffix of the event litellm/companion_callback.py (failure_charge_events) spools for what
 * LiteLLM charged a failed call beyond the failure event it logged: that event's cost is part of
 * the `<id>` spend-log row, so recovering the row books only the rest.
 */
const BILLED_SUFFIX = '-billed';

/** A spend-log row as the StandardLoggingPayload fields we book. */
function toPayload(l: SpendLog, hash: string, cost: number | string = l.spend) {
  return {
    id: l.requestId,
    call_type: 'recovered',
    status: 'success',
    response_cost: cost,
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
