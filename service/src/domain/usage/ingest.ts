import { sql } from 'drizzle-orm';
import { ArrayColumn } from '../../db/arrays.js';
import { one, rows, type Db, type Queryable } from '../../db/client.js';
import { periodPlacer } from '../../lib/period.js';
import { evaluateAlerts } from '../alerts/evaluate.js';
import { mayReachBpSql, percentUsedBp } from '../balance.js';
import { behindSql, rollOverUsers, type PeriodDeps } from '../periods/rollover.js';
import { creditStateSql } from '../ledger.js';
import { creditsText, MAX_BATCH_USAGE_MILLI, MAX_DEBT_MILLI, MAX_PERIOD_USAGE_MILLI } from '../limits.js';
import { nanoToMilliCredits } from '../money.js';
import { DEFAULT_THRESHOLDS, warnBpOf } from '../thresholds.js';
import { deadLetterPayload, notJsonPayload, parseUsageItem, storableJson, type UsageItem } from './parse.js';

export interface IngestCounts {
  accepted: number;
  duplicate: number;
  unattributed: number;
  rejected: number;
}

export interface IngestResult extends IngestCounts {
  alertsFired: number;
  /** New unpriced calls (successes LiteLLM priced at 0 with tokens) per model. */
  unpriced: Record<string, number>;
}

export interface IngestOptions {
  source: string;
  /** Set by the reconciler for calls LiteLLM knew and we had missed. */
  recovered?: boolean;
}

const MAX_DEAD_LETTER_CHARS = 64 * 1024;

function snippet(v: unknown): string {
  let s: string;
  try {
    const safe = storableJson(v);
    s = typeof safe === 'string' ? safe : (JSON.stringify(safe) ?? String(safe));
  } catch {
    s = String(v);
  }
  return s.length > MAX_DEAD_LETTER_CHARS ? `${s.slice(0, MAX_DEAD_LETTER_CHARS)}…` : s;
}

interface KeyOwner {
  id: string;
  user_id: string;
  /** period_used_milli and monthly_milli + prev_monthly_milli + topup_milli of the person. */
  used: number;
  remaining: number;
  /** The balance is behind the batch's arrival: in an older period or an ended grace window. */
  behind: boolean | null;
}

interface Lookup {
  factor: string;
  thresholds: number[] | null;
  /**
   * Our keys among the batch's hashes, with their person's balance as it was at the start:
   * [id, user_id, token_hash, used, remaining, behind] (arrays: 0.75x the server's CPU of objects, hotpath E).
   */
  keys: [string, string, string, number, number, boolean][] | null;
  /** Recovered calls among the batch's (key hash, provider id) pairs: [key_hash, provider_id] (recoveredSql). */
  recovered: [string, string][] | null;
  /** Earlier-version dedup keys of this batch already stored (see earlierBookedSql). */
  legacy: string[] | null;
  /** dedup_legacy_before in epoch milliseconds (-Infinity: no legacy key can exist). */
  legacy_before: string | null;
}

/**
 * dedup_legacy_before per database, in epoch milliseconds, once a booking has read it: a
 * migration writes it and only ever lowers it (0009, 0015), so a value read once stays safe to
 * use: an event starting at or after it is parsed without a legacy key (parseUsageItem) and never
 * probed. Before the first booking of a process: +Infinity (every event probed, as the SQL decides).
 */
const legacyCutoffs = new WeakMap<object, number>();
export const legacyCutoff = (deps: { db: object }): number => legacyCutoffs.get(deps.db) ?? Number.POSITIVE_INFINITY;

/**
 * The batch's events already booked under a key an earlier version gave them:
 *  - their legacy dedup key (versions before the normalised start instant stored the start time's
 *    hash as sent; docs/money.md). Only start times before `dedup_legacy_before` (set by the
 *    migration that introduced the new keys) can have one, so new traffic skips the lookup;
 *  - for a failure, its unscoped key (versions before status-scoped failure keys stored a failure
 *    under the key its success now has): probed for failures only, which are few.
 * A stored row counts only with the same status: a failure and a success of one call are two
 * events (parse.ts, failureDedupKeyOf). Each probe is one unique-index lookup on
 * (start_time, dedup_key). Answers `<status>:<key>` of each one found.
 */
function earlierBookedSql(items: UsageItem[]) {
  const probes: { k: string; t: string | null; s: string; always: boolean }[] = [];
  for (const g of items) {
    if (g.legacy) probes.push({ k: g.legacy.dedupKey, t: g.legacy.startTime, s: g.status, always: false });
    if (g.unscopedFailureKey) probes.push({ k: g.unscopedFailureKey, t: g.startTime?.toISOString() ?? null, s: g.status, always: true });
  }
  return sql`(select json_agg(p.s || ':' || p.k) from json_to_recordset(${JSON.stringify(probes)}::json) as p(k text, t timestamptz, s text, always boolean)
    where (p.t is null and exists (select 1 from usage_events u where u.start_time is null and u.dedup_key = p.k and u.status = p.s))
       or ((p.always or p.t < (select (value #>> '{}')::timestamptz from settings where key = 'dedup_legacy_before'))
           and exists (select 1 from usage_events u where u.start_time = p.t and u.dedup_key = p.k and u.status = p.s)))`;
}

/**
 * The calls among `probes` that the reconciler already booked (marked recovered): a callback that
 * arrives after LiteLLM's /spend/logs gave us the call is then not booked twice. Each (key hash,
 * provider id) pair is one probe of usage_recovered_idx on both its columns, so a batch reads at
 * most one index entry per probe however many recovered calls are stored. Matching on the provider
 * id alone (the query before) read every recovered row for every batch (40,000 of 40,000 in
 * recovered-lookup.int.test.ts), and reconciled calls are never deleted. Answers [key_hash,
 * provider_id] of each one found. (Exported for its test.)
 */
export function recoveredSql(probes: { keyHash: string; providerId: string }[]) {
  const hashes = new ArrayColumn();
  const ids = new ArrayColumn();
  const seen = new Set<string>();
  for (const p of probes) {
    const k = `${p.keyHash}|${p.providerId}`;
    if (seen.has(k)) continue;
    seen.add(k);
    hashes.text(p.keyHash);
    ids.text(p.providerId);
  }
  return sql`(select json_agg(json_build_array(u.key_hash, u.provider_id))
    from unnest(${hashes.literal()}::text[], ${ids.literal()}::text[]) as p(h, i)
    join usage_events u on u.recovered and u.key_hash = p.h and u.provider_id = p.i)`;
}

/**
 * A webhook body parsed into what will be booked; holds no reference to the raw payloads.
 * bookUsage consumes it (takes the items out once it has serialised them).
 */
export interface UsageBatch {
  good: UsageItem[];
  dead: { reason: string; payload: string }[];
  /** Repeats of a call earlier in the same batch. */
  duplicate: number;
}

/**
 * Parse raw StandardLoggingPayloads (and NDJSON lines that were not JSON) into a batch, in one
 * synchronous pass: the caller can drop the parsed body before waiting on the database, so a
 * megabyte of request JSON never outlives the parse.
 */
export function prepareUsage(raws: Iterable<unknown>, badLines: string[] = [], legacyBefore?: number): UsageBatch {
  const good: UsageItem[] = [];
  const dead = badLines.map((line) => ({ reason: 'line is not valid JSON', payload: snippet(notJsonPayload(line)) }));
  const seen = new Set<string>();
  let duplicate = 0;
  for (const raw of raws) {
    const r = parseUsageItem(raw, legacyBefore);
    if (!r.ok) dead.push({ reason: r.reason, payload: snippet(deadLetterPayload(raw)) });
    else if (seen.has(r.item.dedupKey)) duplicate++;
    else {
      seen.add(r.item.dedupKey);
      good.push(r.item);
    }
  }
  return { good, dead, duplicate };
}

/** Parse and book raw payloads: `bookUsage(prepareUsage(raws))`. */
export function ingestUsage(deps: PeriodDeps, raws: unknown[], opts: IngestOptions & { badLines?: string[] }): Promise<IngestResult> {
  return bookUsage(deps, prepareUsage(raws, opts.badLines, legacyCutoff(deps)), opts);
}

/**
 * Book a batch of LiteLLM usage events, all or nothing, in one transaction:
 * each new call once (unique dedup key), one usage debit per billable call (monthly allowance
 * first, then top-ups; the top-up bucket may go negative — debt — if LiteLLM overshot),
 * balances, states and key spend updated set-wise, threshold alerts evaluated.
 * Unknown keys are stored unattributed; malformed items are dead-lettered. Nothing is dropped.
 *
 * The hot path: every statement has constant text and its row sets as parameters (the events as
 * one array literal per column, BookingRows; smaller sets as JSON for json_to_recordset), so a
 * 512-event batch is a handful of round trips (see bench/).
 */
export async function bookUsage(deps: PeriodDeps, batch: UsageBatch, opts: IngestOptions): Promise<IngestResult> {
  return (await bookUsageGroup(deps, [batch], opts))[0]!;
}

/**
 * Book several batches together (group commit, see group.ts): one lookup, one transaction and
 * one booking statement for all of them, each batch answered with its own counts as if it had
 * been booked alone right after the batches before it in `batches` (an event in two of them is
 * booked once, for the first, and a duplicate for the later). The per-batch usage limit holds per
 * batch; the period and debt limits over the whole group. All or nothing for the group.
 */
export async function bookUsageGroup(deps: PeriodDeps, batches: UsageBatch[], opts: IngestOptions): Promise<IngestResult[]> {
  const results: IngestResult[] = batches.map((b) => ({ accepted: 0, duplicate: b.duplicate, unattributed: 0, rejected: b.dead.length, alertsFired: 0, unpriced: {} }));
  const dead = batches.map((b) => [...b.dead]);
  // Items leave their batches here; an event already in an earlier batch of the group is a duplicate.
  const seen = new Set<string>();
  const goods = batches.map((b, r) =>
    b.good.splice(0).filter((g) => {
      if (!seen.has(g.dedupKey)) return seen.add(g.dedupKey);
      results[r]!.duplicate++;
      return false;
    }),
  );
  const good = goods.flat();
  const hashes = [...new Set(good.map((g) => g.keyHash).filter((h): h is string => h !== null))];
  const probes = opts.recovered ? [] : good.filter((g) => g.providerId && g.keyHash).map((g) => ({ keyHash: g.keyHash!, providerId: g.providerId! }));
  const now = deps.clock.now();
  const deadLetter = async (tx: Queryable) => {
    const rowsOut = dead.flat();
    dead.forEach((d, r) => (results[r]!.rejected = d.length));
    if (rowsOut.length === 0) return;
    await tx.execute(sql`insert into dead_letters (source, reason, payload, created_at)
      select ${opts.source}, x.reason, x.payload, ${now.toISOString()}::timestamptz
      from json_to_recordset(${JSON.stringify(rowsOut)}::json) as x(reason text, payload text)`);
  };
  if (good.length === 0) {
    await deps.db.transaction(deadLetter);
    return results;
  }

  // One round trip, before the transaction (under READ COMMITTED its reads were never a snapshot
  // for the booking statement anyway): the factor in force, the thresholds, our keys with whether
  // their person is behind the period of `now`, and recovered calls a late callback may report again.
  const lookup = (await one<Lookup>(
    deps.db,
    sql`select (select factor_micro from conversion_factors order by id desc limit 1)::text as factor,
                 (select value from settings where key = 'alert_thresholds') as thresholds,
                 (select json_agg(json_build_array(k.id, k.user_id, k.token_hash,
                         coalesce(b.period_used_milli, 0), coalesce(b.monthly_milli + b.prev_monthly_milli + b.topup_milli, 0),
                         ${behindSql(now, deps.config.TIMEZONE)}))
                    from keys k left join balances b on b.user_id = k.user_id
                    where k.token_hash in (select json_array_elements_text(${JSON.stringify(hashes)}::json))) as keys,
                 ${recoveredSql(probes)} as recovered,
                 ${earlierBookedSql(good)} as legacy,
                 (select extract(epoch from (value #>> '{}')::timestamptz) * 1000 from settings where key = 'dedup_legacy_before')::text as legacy_before`,
  ))!;
  if (lookup.legacy_before !== null) legacyCutoffs.set(deps.db, Number(lookup.legacy_before));
  // The first event after a boundary rolls its person over (one short set-based transaction,
  // idempotent): the booking below then charges every event by its start time (docs/quotas.md).
  const keys = (lookup.keys ?? []).map(([id, user_id, token_hash, used, remaining, behind]) => ({ id, user_id, token_hash, used, remaining, behind }));
  const behind = [...new Set(keys.filter((k) => k.behind).map((k) => k.user_id))].sort();
  await rollOverUsers(deps, behind, now);

  return deps.db.transaction(async (tx) => {
    const factorMicro = Number(lookup.factor);
    const thresholds = Array.isArray(lookup.thresholds) ? lookup.thresholds : DEFAULT_THRESHOLDS;
    const keyByHash = new Map(keys.map((k) => [k.token_hash, k]));
    const recoveredAlready = new Set((lookup.recovered ?? []).map(([h, i]) => `${h}|${i}`));
    const legacyBooked = new Set(lookup.legacy ?? []);

    // Once serialised, only the statement's JSON text waits on the database.
    const placer = periodPlacer(now, deps.config.TIMEZONE, deps.config.PERIOD_GRACE_MINUTES);
    const events = serialiseEvents(goods, { factorMicro, keyByHash, recoveredAlready, legacyBooked, placer }, dead);
    goods.length = 0;
    events.alreadyBooked.forEach((n, r) => (results[r]!.duplicate += n));
    await deadLetter(tx);
    if (events.count === 0) return results;

    const booked = await bookEvents(tx, events.rows, events.batchesJson, {
      source: opts.source,
      recovered: opts.recovered ?? false,
      factorMicro,
      now,
      currentStart: placer.currentStart,
      thresholdsBp: thresholds.map((t) => Math.round(t * 100)),
      warnBp: warnBpOf(thresholds),
    });
    let inserted = 0;
    results.forEach((res, r) => {
      const b = booked.perBatch.get(r) ?? { inserted: 0, unattributed: 0, unpriced: {} };
      inserted += b.inserted;
      res.duplicate += events.perBatch[r]! - b.inserted;
      res.unattributed = b.unattributed;
      res.unpriced = b.unpriced;
      res.accepted = b.inserted - b.unattributed;
    });
    if (inserted !== booked.inserted) throw new Error('usage booking: inserted events not matched to their batches');
    // Alerts are the group's; the count (a metric) goes to the first batch.
    results[0]!.alertsFired = await evaluateAlerts(
      tx,
      booked.crossed,
      { now, timeZone: deps.config.TIMEZONE, adminEmail: deps.config.ADMIN_EMAIL, sendMail: Boolean(deps.config.RESEND_API_KEY), rearmMarginPercent: deps.config.ALERT_REARM_MARGIN_PERCENT },
      thresholds,
    );
    return results;
  });
}

/**
 * The usage_events rows of the items as one JSON text for json_to_recordset, with each debit
 * computed (monthly + top-up split happens in SQL). Items already booked by the reconciler or
 * under their legacy dedup key are counted as `alreadyBooked`; an item whose debit is out of
 * range is dead-lettered, not the batch.
 */
function serialiseEvents(
  batches: UsageItem[][],
  ctx: {
    factorMicro: number;
    keyByHash: Map<string, KeyOwner>;
    recoveredAlready: Set<string>;
    legacyBooked: Set<string>;
    placer: ReturnType<typeof periodPlacer>;
  },
  dead: UsageBatch['dead'][],
): { rows: BookingRows; batchesJson: string; count: number; perBatch: number[]; alreadyBooked: number[] } {
  const rows = new BookingRows();
  /** The dedup keys of the events of the group's later batches (r > 0), with their batch. */
  const later: { k: string; r: number }[] = [];
  const limits = usageLimits();
  const perBatch = batches.map(() => 0);
  const alreadyBooked = batches.map(() => 0);
  for (let r = 0; r < batches.length; r++) {
    limits.nextBatch();
    for (const g of batches[r]!) {
      if (
        ctx.recoveredAlready.has(`${g.keyHash}|${g.providerId}`) ||
        (g.legacy !== null && ctx.legacyBooked.has(`${g.status}:${g.legacy.dedupKey}`)) ||
        (g.unscopedFailureKey !== null && ctx.legacyBooked.has(`failure:${g.unscopedFailureKey}`))
      ) {
        alreadyBooked[r]!++;
        continue;
      }
      const key = g.keyHash ? ctx.keyByHash.get(g.keyHash) : undefined;
      let debit = 0;
      try {
        debit = key && g.costNano > 0 ? nanoToMilliCredits(g.costNano, ctx.factorMicro) : 0;
      } catch (e) {
        // only an absurd cost with a tiny factor gets here: that item is refused, not the batch
        dead[r]!.push({ reason: `cost out of range: ${(e as Error).message}`, payload: snippet({ ...g, legacy: undefined }) });
        continue;
      }
      if (key && debit > 0) {
        const over = limits.take(key, debit);
        if (over) {
          dead[r]!.push({ reason: over, payload: snippet({ ...g, legacy: undefined }) });
          continue;
        }
      }
      rows.add(g, key, debit, key !== undefined && ctx.placer.place(g.startTime).late);
      if (r > 0) later.push({ k: g.dedupKey, r });
      perBatch[r]!++;
    }
  }
  return { rows, batchesJson: JSON.stringify(later), count: rows.count, perBatch, alreadyBooked };
}

/**
 * The usage_events rows of a booking as one array literal per column (db/arrays.ts) and the
 * metadata objects as one JSON array, in the same order: bookEvents reads them with
 * `unnest(…) with ordinality` joined to `json_array_elements(…) with ordinality`. (Exported for
 * bench/hotpath.ts.)
 */
export class BookingRows {
  readonly dedupKey = new ArrayColumn();
  readonly callId = new ArrayColumn();
  readonly providerId = new ArrayColumn();
  readonly keyHash = new ArrayColumn();
  readonly keyId = new ArrayColumn();
  readonly userId = new ArrayColumn();
  readonly failure = new ArrayColumn();
  readonly callType = new ArrayColumn();
  readonly model = new ArrayColumn();
  readonly modelGroup = new ArrayColumn();
  readonly promptTokens = new ArrayColumn();
  readonly completionTokens = new ArrayColumn();
  readonly totalTokens = new ArrayColumn();
  readonly costNano = new ArrayColumn();
  readonly debitMilli = new ArrayColumn();
  readonly startTime = new ArrayColumn();
  readonly endTime = new ArrayColumn();
  readonly late = new ArrayColumn();
  private readonly metadata: Record<string, unknown>[] = [];

  add(g: UsageItem, key: KeyOwner | undefined, debit: number, late: boolean): void {
    this.dedupKey.text(g.dedupKey);
    this.callId.text(g.litellmCallId);
    this.providerId.text(g.providerId);
    this.keyHash.text(g.keyHash);
    this.keyId.text(key?.id);
    this.userId.text(key?.user_id);
    this.failure.bool(g.status === 'failure');
    this.callType.text(g.callType);
    this.model.text(g.model);
    this.modelGroup.text(g.modelGroup);
    this.promptTokens.int(g.promptTokens);
    this.completionTokens.int(g.completionTokens);
    this.totalTokens.int(g.totalTokens);
    this.costNano.int(g.costNano);
    this.debitMilli.int(debit);
    this.startTime.text(g.startTime?.toISOString());
    this.endTime.text(g.endTime?.toISOString());
    this.late.bool(late);
    this.metadata.push(g.metadata);
  }

  get count(): number {
    return this.metadata.length;
  }

  metadataJson(): string {
    return JSON.stringify(this.metadata);
  }
}

/**
 * What each person may still be debited in this batch (docs/money.md, domain/limits.ts): at most
 * MAX_BATCH_USAGE_MILLI per batch, usage in the period up to MAX_PERIOD_USAGE_MILLI and debt down
 * to -MAX_DEBT_MILLI, from the balance read at the start of the batch. `take` books a debit
 * against it, or returns why it cannot be booked (that event is dead-lettered, the rest booked).
 */
function usageLimits() {
  const room = new Map<string, { period: number; debt: number }>();
  let batchRoom = new Map<string, number>();
  return {
    /** The next batch of a group: its own per-batch room; period and debt room carry on. */
    nextBatch() {
      batchRoom = new Map();
    },
    take(owner: KeyOwner, debit: number): string | null {
      let r = room.get(owner.user_id);
      if (!r) {
        r = { period: MAX_PERIOD_USAGE_MILLI - owner.used, debt: owner.remaining + MAX_DEBT_MILLI };
        room.set(owner.user_id, r);
      }
      const batch = batchRoom.get(owner.user_id) ?? MAX_BATCH_USAGE_MILLI;
      if (debit > batch) return `usage limit: one person's usage in one batch is at most ${creditsText(MAX_BATCH_USAGE_MILLI)}`;
      if (debit > r.period) return `usage limit: one person's usage in a period is at most ${creditsText(MAX_PERIOD_USAGE_MILLI)}`;
      if (debit > r.debt) return `usage limit: one person's debt is at most ${creditsText(MAX_DEBT_MILLI)}`;
      batchRoom.set(owner.user_id, batch - debit);
      r.period -= debit;
      r.debt -= debit;
      return null;
    },
  };
}

interface BookContext {
  source: string;
  recovered: boolean;
  factorMicro: number;
  now: Date;
  /** When the current period (of `now`) started: older events not marked late are of the previous one. */
  currentStart: Date;
  thresholdsBp: number[];
  warnBp: number;
}

interface Booked {
  /** New events stored (the rest were already booked). */
  inserted: number;
  /**
   * Per batch of the group (index): its new events; of those, events whose key is not ours and
   * unpriced successes (UsageItem.unpriced) per model.
   */
  perBatch: Map<number, { inserted: number; unattributed: number; unpriced: Record<string, number> }>;
  /** People whose usage crossed an alert threshold, with the period it belongs to (usage only ever raises it). */
  crossed: { userId: string; period: string }[];
}

interface BookedBalance {
  user_id: string;
  period: string;
  used: string;
  remaining: string;
  used_delta: string;
  prev_period: string | null;
  prev_used: string;
  prev_remaining: string;
  prev_used_delta: string;
  /** Thresholds (basis points) with an armed alert in the current / previous period. */
  armed: number[] | null;
  prev_armed: number[] | null;
}

/**
 * Store the events and book their debits in ONE statement, so the balance locks are held for as
 * short a time as possible (no round trip to this process while they are held, only the commit):
 *  1. insert the events, skipping dedup keys already stored;
 *  2. lock the balances of the people billed by the new ones, in a fixed order (no deadlocks
 *     between concurrent batches);
 *  3. charge each event to its period (docs/quotas.md): an event of the previous period that is
 *     not late (start time before the current period, grace window open) draws on what is left of
 *     that period's allowance, every other one on the current allowance; then split each debit
 *     between that monthly bucket and top-ups in event order: an entry takes what is left of the
 *     bucket (never below zero) after the person's earlier entries, the rest from top-ups (which
 *     may go negative: debt, if LiteLLM overshot);
 *  4. write the ledger entries, the keys' booked spend and the balances with their new state;
 *     a debit from the previous allowance raises the key's max_budget (its spend grows, what the
 *     current period allows does not shrink), so it queues a budget push;
 *  5. add the new events to the overview's usage_rollup.
 *  6. tell which batch of a group each new event came from (`batchesJson`: the keys of the
 *     events of its later batches, with their batch index; the rest are the first's).
 * `locked` reads each balance after waiting for its lock, i.e. the latest committed row, and the
 * final UPDATE re-reads that same row (READ COMMITTED re-check), so the split and the update agree.
 */
async function bookEvents(tx: Queryable, r: BookingRows, batchesJson: string, ctx: BookContext): Promise<Booked> {
  const nowIso = ctx.now.toISOString();
  const remaining = sql`(b.monthly_milli - v.dm + b.topup_milli - v.dt)`;
  const used = sql`(b.period_used_milli + v.used)`;
  // no thresholds: no alert can fire, no balance comes back
  const lowestBp = ctx.thresholdsBp.length ? Math.min(...ctx.thresholdsBp) : 10_001;
  const [out] = await rows<{ inserted: number; per_batch: [number, number, number][] | null; unpriced: [number, string, number][] | null; billed: number; balanced: number; balances: BookedBalance[] | null }>(tx, sql`
    with ins as (
      insert into usage_events (dedup_key, litellm_call_id, provider_id, key_hash, key_id, user_id, status, call_type, model,
        model_group, prompt_tokens, completion_tokens, total_tokens, cost_nano, debit_milli, start_time, end_time, source,
        recovered, late, metadata, created_at)
      select x.k, x.c, x.p, x.h, x.ki, x.u, case when x.f then 'failure' else 'success' end, x.t, x.m,
        x.g, x.pt, x.ct, x.tt, x.n, x.d, x.st, x.et, ${ctx.source}, ${ctx.recovered}, x.l, j.md::jsonb, ${nowIso}::timestamptz
      from unnest(${r.dedupKey.literal()}::text[], ${r.callId.literal()}::text[], ${r.providerId.literal()}::text[], ${r.keyHash.literal()}::text[],
          ${r.keyId.literal()}::text[], ${r.userId.literal()}::text[], ${r.failure.literal()}::boolean[], ${r.callType.literal()}::text[],
          ${r.model.literal()}::text[], ${r.modelGroup.literal()}::text[], ${r.promptTokens.literal()}::int[], ${r.completionTokens.literal()}::int[],
          ${r.totalTokens.literal()}::int[], ${r.costNano.literal()}::bigint[], ${r.debitMilli.literal()}::bigint[],
          ${r.startTime.literal()}::timestamptz[], ${r.endTime.literal()}::timestamptz[], ${r.late.literal()}::boolean[])
          with ordinality as x(k, c, p, h, ki, u, f, t, m, g, pt, ct, tt, n, d, st, et, l, o)
        join json_array_elements(${r.metadataJson()}::json) with ordinality as j(md, o) on j.o = x.o
      -- in the batch's order: ids are event order, which the monthly/top-up split follows
      order by x.o
      on conflict (start_time, dedup_key) do nothing
      -- usage_events.user_id is COLLATE "C" (migration 0006); balances.user_id is not. Compared as
      -- they are, the join takes C's collation, so balances_pkey (default collation) cannot serve it:
      -- two sequential scans of balances per booking (100 ms each at 100,000 people). Relabelled here.
      returning id, dedup_key, user_id collate "default" as user_id, key_id, status, start_time, coalesce(model_group, model, 'unknown') as model, cost_nano, debit_milli,
        coalesce(start_time, ${nowIso}::timestamptz) as at, late, coalesce(metadata ? 'unpriced', false) as unpriced),
    rollup as (
      insert into usage_rollup as r (bucket, model, status, attributed, shard, calls, debit_milli, cost_nano, unpriced_calls)
      select date_bin('15 minutes', i.start_time, timestamptz '2000-01-01 00:00:00+00'), i.model, i.status, i.user_id is not null,
        pg_backend_pid() % 8, count(*), sum(i.debit_milli), sum(i.cost_nano), count(*) filter (where i.unpriced)
      from ins i where i.start_time is not null
      group by 1, 2, 3, 4
      on conflict (bucket, model, status, attributed, shard) do update
        set calls = r.calls + excluded.calls, debit_milli = r.debit_milli + excluded.debit_milli, cost_nano = r.cost_nano + excluded.cost_nano,
          unpriced_calls = r.unpriced_calls + excluded.unpriced_calls
      returning 1),
    e as (select * from ins where user_id is not null and cost_nano > 0),
    locked as (
      select b.user_id, greatest(b.monthly_milli, 0) as monthly_left, greatest(b.prev_monthly_milli, 0) as prev_left, b.period_start,
        case when b.grace_until > ${nowIso}::timestamptz then b.prev_period_start end as grace_period
      from balances b
      where b.user_id in (select user_id from e)
      order by b.user_id for update),
    placed as (
      select e.*, l.period_start, l.grace_period, l.monthly_left, l.prev_left,
        (l.grace_period is not null and not e.late and e.at < ${ctx.currentStart.toISOString()}::timestamptz) as prev
      from e join locked l on l.user_id = e.user_id),
    split as (
      select p.*,
        least(p.debit_milli, greatest(case when p.prev then p.prev_left else p.monthly_left end
          - (sum(p.debit_milli) over (partition by p.user_id, p.prev order by p.id) - p.debit_milli), 0)) as from_monthly
      from placed p),
    ledger as (
      insert into ledger_entries (user_id, kind, amount_milli, monthly_milli, topup_milli, usd_nano, factor_micro, period_start,
        idempotency_key, usage_event_id, key_id, actor, created_at)
      select s.user_id, 'usage', -s.debit_milli, -s.from_monthly, s.from_monthly - s.debit_milli, s.cost_nano, ${ctx.factorMicro},
        case when s.prev then s.grace_period else s.period_start end, 'usage:' || s.id, s.id, s.key_id, 'litellm', ${nowIso}::timestamptz
      from split s order by s.id
      returning 1),
    spend as (
      update keys as k set spend_nano = k.spend_nano + x.nano
      from (select key_id, sum(cost_nano) as nano from e group by key_id) as x
      where k.id = x.key_id
      returning 1),
    push as (
      insert into outbox (kind, aggregate, payload)
      select 'litellm.sync_budget', s.key_id, json_build_object('keyId', s.key_id)
      from split s where s.prev and s.from_monthly > 0 and s.key_id is not null group by s.key_id
      returning 1),
    v as (
      select user_id,
        coalesce(sum(from_monthly) filter (where not prev), 0) as dm,
        coalesce(sum(from_monthly) filter (where prev), 0) as dm_prev,
        sum(debit_milli - from_monthly) as dt,
        coalesce(sum(debit_milli) filter (where not prev), 0) as used,
        coalesce(sum(debit_milli) filter (where prev), 0) as used_prev,
        coalesce(sum(cost_nano) filter (where not prev), 0) as nano,
        max(at) as last
      from split group by user_id),
    bal as (
      update balances as b set
        monthly_milli = b.monthly_milli - v.dm,
        prev_monthly_milli = b.prev_monthly_milli - v.dm_prev,
        topup_milli = b.topup_milli - v.dt,
        period_used_milli = ${used},
        period_used_nano = b.period_used_nano + v.nano,
        prev_used_milli = b.prev_used_milli + v.used_prev,
        last_usage_at = greatest(coalesce(b.last_usage_at, v.last), v.last),
        credit_state = ${creditStateSql(remaining, used, ctx.warnBp)},
        updated_at = ${nowIso}::timestamptz
      from v
      where b.user_id = v.user_id
      returning b.user_id, b.period_start::text as period, b.period_used_milli::text as used,
        (b.monthly_milli + b.topup_milli)::text as remaining, v.used::text as used_delta,
        b.prev_period_start::text as prev_period, b.prev_used_milli::text as prev_used,
        (b.prev_monthly_milli + b.topup_milli)::text as prev_remaining, v.used_prev::text as prev_used_delta,
        -- whether this batch's usage may have taken a period to the lowest threshold: only those
        -- people come back (with their armed alerts); the rest cannot cross one (reaches() below)
        (v.used > 0 and ${mayReachBpSql(sql`b.period_used_milli`, sql`(b.monthly_milli + b.topup_milli)`, lowestBp)})
          or (b.prev_period_start is not null and v.used_prev > 0
            and ${mayReachBpSql(sql`b.prev_used_milli`, sql`(b.prev_monthly_milli + b.topup_milli)`, lowestBp)}) as near),
    alerted as (
      select bal.user_id, bal.period, bal.used, bal.remaining, bal.used_delta, bal.prev_period, bal.prev_used, bal.prev_remaining, bal.prev_used_delta,
        (select array_agg(a.threshold_bp) from alerts a
          where a.user_id = bal.user_id and a.period_start = bal.period::date and a.rearmed_at is null) as armed,
        (select array_agg(a.threshold_bp) from alerts a
          where a.user_id = bal.user_id and a.period_start = bal.prev_period::date and a.rearmed_at is null) as prev_armed
      from bal where bal.near),
    -- per batch of the group (the first's keys are not listed): which of its events were new
    per as (select coalesce(y.r, 0) as r, i.user_id, i.model, i.unpriced
      from ins i left join json_to_recordset(${batchesJson}::json) as y(k text, r int) on y.k = i.dedup_key)
    select (select count(*) from ins)::int as inserted,
           (select json_agg(json_build_array(q.r, q.n, q.un)) from (select r, count(*)::int as n, (count(*) filter (where user_id is null))::int as un
              from per group by r) q) as per_batch,
           (select json_agg(json_build_array(u.r, u.model, u.n)) from (select r, model, count(*)::int as n from per where unpriced group by r, model) u) as unpriced,
           (select count(distinct user_id) from e)::int as billed,
           (select count(*) from bal)::int as balanced,
           (select json_agg(alerted) from alerted) as balances`);
  const balances = out!.balances ?? [];
  if (out!.balanced !== out!.billed) throw new Error('usage booking: a billed person has no balance row');
  // A period's usage in this batch reached a threshold whose alert is not armed: evaluate that
  // (person, period). Usage of the previous period never targets the current one, even when its
  // top-up draw raised the current percentage (the current period's next call fires that alert).
  const reaches = (used: number, remaining: number, armed: number[] | null) => {
    const bp = percentUsedBp(used, remaining);
    return ctx.thresholdsBp.some((t) => bp >= t && !(armed ?? []).includes(t));
  };
  const crossed: Booked['crossed'] = [];
  for (const r of balances) {
    if (Number(r.used_delta) > 0 && reaches(Number(r.used), Number(r.remaining), r.armed)) crossed.push({ userId: r.user_id, period: r.period });
    if (r.prev_period && Number(r.prev_used_delta) > 0 && reaches(Number(r.prev_used), Number(r.prev_remaining), r.prev_armed)) {
      crossed.push({ userId: r.user_id, period: r.prev_period });
    }
  }
  const perBatch: Booked['perBatch'] = new Map();
  for (const [r, n, un] of out!.per_batch ?? []) perBatch.set(r, { inserted: n, unattributed: un, unpriced: {} });
  for (const [r, model, n] of out!.unpriced ?? []) perBatch.get(r)!.unpriced[model] = n;
  return { inserted: Number(out!.inserted), perBatch, crossed };
}
