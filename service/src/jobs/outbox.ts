import { eq, sql } from 'drizzle-orm';
import type { Deps } from '../deps.js';
import { anyOf, one, rows } from '../db/client.js';
import { keys, mailLog, outbox } from '../db/schema/index.js';
import { inFlight } from '../lib/in-flight.js';
import { MailError } from '../lib/mailer.js';
import { desiredBudgetsNano } from '../domain/keys.js';
import { loginMailAtSend } from '../domain/portal/sessions.js';
import { settlePeriods } from '../domain/periods/rollover.js';
import { nanoToUsd } from '../domain/money.js';
import { LiteLLMError } from '../litellm/errors.js';
import { BULK_UPDATE_MAX, type LiteLLMClient } from '../litellm/client.js';
import { Pace } from '../lib/pace.js';

interface Item {
  id: number;
  kind: string;
  aggregate: string;
  payload: Record<string, unknown>;
  attempts: number;
}

/** How long a claimed item is invisible to other workers (a crashed worker's item returns). */
const LEASE_SECONDS = 60;
const MAX_BACKOFF_SECONDS = 300;

export function backoffSeconds(attempts: number): number {
  const base = Math.min(MAX_BACKOFF_SECONDS, 2 ** Math.min(attempts, 12));
  return base * (0.75 + Math.random() * 0.5);
}

/**
 * Claim due items with FOR UPDATE SKIP LOCKED (safe with N replicas). Only the oldest pending item
 * of each aggregate is eligible, so items for one key apply in order. Claiming sets a lease; the
 * item stays `pending` until done, so a crash means a retry, never a loss.
 * The plan depends on fresh statistics of `status` (analyzeOutbox after a burst): planned with
 * those of a quiet outbox (almost nothing pending), the per-key probe took whichever partial index
 * and read every pending row per candidate (0.3 s per claim with a few thousand pending, 11 s with
 * 100,000, measured).
 */
async function claim(deps: Deps, limit: number): Promise<Item[]> {
  return rows<Item>(
    deps.db,
    sql`update outbox set next_attempt_at = now() + make_interval(secs => ${LEASE_SECONDS}), attempts = attempts + 1
        where id = any(array(
          select o.id from outbox o
          where o.status = 'pending' and o.next_attempt_at <= now()
            and not exists (select 1 from outbox p where p.aggregate = o.aggregate and p.status = 'pending' and p.id < o.id)
          order by o.id limit ${limit}
          for update skip locked))
        returning id, kind, aggregate, payload, attempts`,
  );
}

/** Perform one item. Every action is idempotent (absolute values, block/unblock, delete-if-present, keyed mail). */
async function perform(deps: Deps, item: Item): Promise<void> {
  if (item.kind === 'mail.send') return sendMail(deps, Number(item.payload.mailId), item.payload.loginOrigin as string | undefined);
  const litellm = deps.litellm;
  if (!litellm) throw new Error('LiteLLM is not configured');
  const keyId = String(item.payload.keyId ?? '');
  const [key] = await deps.db.select().from(keys).where(eq(keys.id, keyId));
  if (!key?.tokenHash) return; // never provisioned: nothing to change in LiteLLM
  switch (item.kind) {
    case 'litellm.block':
      await litellm.blockKey(key.tokenHash);
      if (key.status === 'active') await deps.db.update(keys).set({ status: 'blocked' }).where(eq(keys.id, key.id));
      return;
    case 'litellm.unblock':
      await litellm.unblockKey(key.tokenHash);
      if (key.status === 'blocked') await deps.db.update(keys).set({ status: 'active' }).where(eq(keys.id, key.id));
      return;
    case 'litellm.delete':
      await litellm.deleteKeys([key.tokenHash]); // "not found" counts as done
      return;
    default:
      throw new Error(`unknown outbox kind ${item.kind}`);
  }
}

/**
 * Send one logged mail. A sign-in mail (`loginOrigin` set) is logged with its link redacted; its
 * content, with a freshly minted token, is made here and goes only to Resend.
 */
async function sendMail(deps: Deps, mailId: number, loginOrigin?: string): Promise<void> {
  const [mail] = await deps.db.select().from(mailLog).where(eq(mailLog.id, mailId));
  if (!mail || mail.status === 'sent') return;
  if (!deps.mailer) throw new Error('RESEND_API_KEY is not configured');
  try {
    const content = loginOrigin && mail.userId ? await loginMailAtSend(deps, mail.userId, loginOrigin) : mail;
    if (!content) throw new MailError('the person was deleted before the sign-in link was sent', false);
    const { id } = await deps.mailer.send({
      from: deps.config.MAIL_FROM,
      to: mail.to,
      subject: content.subject,
      text: content.text,
      html: content.html,
      idempotencyKey: `mail-${mail.id}`,
    });
    await deps.db.update(mailLog).set({ status: 'sent', providerId: id, sentAt: deps.clock.now(), error: null }).where(eq(mailLog.id, mail.id));
  } catch (err) {
    await deps.db.update(mailLog).set({ error: (err as Error).message.slice(0, 500) }).where(eq(mailLog.id, mail.id));
    throw err;
  }
}

/** LiteLLM requests one drain keeps going (the client lets 32 through at once for the whole process, litellm/client.ts maxInFlight). */
const LITELLM_IN_FLIGHT = 32;

/**
 * Claim and perform up to `limit` items; returns how many were finished. Budget pushes are done as
 * a batch (pushBudgets); the rest one by one, concurrently (each aggregate has one item here).
 */
export async function drainOutbox(deps: Deps, limit = 256): Promise<number> {
  const items = await claim(deps, limit);
  const budgets = items.filter((i) => i.kind === 'litellm.sync_budget');
  let done = budgets.length > 0 ? await pushBudgets(deps, budgets) : 0;
  await inFlight(items.filter((i) => i.kind !== 'litellm.sync_budget'), LITELLM_IN_FLIGHT, async (item) => {
    try {
      await perform(deps, item);
      await deps.db.update(outbox).set({ status: 'done', doneAt: deps.clock.now(), lastError: null }).where(eq(outbox.id, item.id));
      done++;
    } catch (err) {
      await failed(deps, item, err);
    }
  });
  return done;
}

/**
 * /key/bulk_update requests one drain keeps going, each sized by the process's Pace to answer in
 * about BULK_TARGET_MS (a fifth of the default LITELLM_TIMEOUT_MS). LiteLLM writes a bulk's items
 * one after another (bulk_update_keys), so its answer time grows with the bulk and with how busy
 * the proxy is: against the real pinned proxy on its test database layer one bulk of 100 took
 * 2.8 s alone and 5.4 s beside three others (`npm run bench -- bulk-real`), while a fast proxy
 * takes hundreds in well under a second. With 4 drains (jobs/index.ts) that is up to 16 bulks at once.
 */
const BULK_IN_FLIGHT = 4;
const BULK_TARGET_MS = 1_000;
const paces = new WeakMap<LiteLLMClient, Pace>();
const paceOf = (litellm: LiteLLMClient): Pace => {
  let p = paces.get(litellm);
  if (!p) paces.set(litellm, (p = new Pace({ targetMs: BULK_TARGET_MS, first: 5, max: BULK_UPDATE_MAX })));
  return p;
};
/** Clients whose proxy answered 404 to /key/bulk_update (older than the endpoint): they push key by key. */
const noBulk = new WeakSet<LiteLLMClient>();

/**
 * Push the current max_budget of each claimed key: people first rolled over (a push may be the
 * first touch of a new month), every desired budget in one query, LiteLLM called with
 * /key/bulk_update in bulks sized by the pace (one item per key: claim() gives at most the oldest
 * pending item of each key, so a key's pushes stay in order), then the pushed values and the
 * finished items — each pushed key's every pending budget item up to the newest seen, all covered
 * by this push — written in two statements. A key the bulk call could not update is pushed again
 * alone with /key/update, whose status (404 unknown key, 400 refused value) decides between a retry
 * and a dead item; so is every key of a bulk LiteLLM refused whole (a proxy without the bulk
 * endpoint answers 404).
 */
async function pushBudgets(deps: Deps, items: Item[]): Promise<number> {
  const litellm = deps.litellm;
  if (!litellm) {
    for (const item of items) await failed(deps, item, new Error('LiteLLM is not configured'));
    return 0;
  }
  const keyIds = items.map((i) => String(i.payload.keyId ?? ''));
  let targets = await desiredBudgetsNano(deps.db, keyIds);
  // Read again only when someone was rolled over (their balance changed).
  if (await settlePeriods(deps, [...new Set([...targets.values()].map((k) => k.userId))]) > 0) {
    targets = await desiredBudgetsNano(deps.db, keyIds);
  }
  // Everything queued for these keys up to now is covered by pushing the current value.
  const upTo = new Map((await rows<{ aggregate: string; max: string }>(
    deps.db,
    sql`select aggregate, max(id) as max from outbox where kind = 'litellm.sync_budget' and status = 'pending'
        and aggregate = ${anyOf(items.map((i) => i.aggregate))} group by aggregate`,
  )).map((r) => [r.aggregate, Number(r.max)]));
  type Push = { keyId: string; tokenHash: string; budgetNano: number; item: Item };
  const pushed: Push[] = [];
  const skipped: Item[] = [];
  const todo: Push[] = [];
  for (const item of items) {
    const t = targets.get(String(item.payload.keyId ?? ''));
    // never provisioned, or revoked: nothing to change in LiteLLM
    if (!t?.tokenHash || t.status === 'revoked') skipped.push(item);
    else todo.push({ keyId: t.keyId, tokenHash: t.tokenHash, budgetNano: t.budgetNano, item });
  }
  const alone = async (p: Push) => {
    try {
      await litellm.updateKey(p.tokenHash, { maxBudgetUsd: nanoToUsd(p.budgetNano) });
      pushed.push(p);
    } catch (err) {
      await failed(deps, p.item, err);
    }
  };
  const pace = paceOf(litellm);
  // Each worker takes the next bulk at the size the pace gives now, never more than an even share
  // of what is left (but 25 keys go together), so a drain's keys spread over its BULK_IN_FLIGHT requests.
  let next = 0;
  const bulk = async () => {
    while (next < todo.length) {
      const size = Math.min(pace.size(), Math.max(25, Math.ceil((todo.length - next) / BULK_IN_FLIGHT)));
      const chunk = todo.slice(next, (next += size));
      const started = performance.now();
      let again: Push[] = chunk;
      if (noBulk.has(litellm)) {
        await inFlight(again, LITELLM_IN_FLIGHT, alone);
        continue;
      }
      try {
        const r = await litellm.bulkUpdateBudgets(chunk.map((p) => ({ keyOrHash: p.tokenHash, maxBudgetUsd: nanoToUsd(p.budgetNano) })));
        pace.observe(chunk.length, performance.now() - started);
        const updated = new Set(r.updated);
        pushed.push(...chunk.filter((p) => updated.has(p.tokenHash)));
        again = chunk.filter((p) => !updated.has(p.tokenHash));
      } catch (err) {
        if (!(err instanceof LiteLLMError) || err.retryable) {
          pace.observe(chunk.length, performance.now() - started, err instanceof LiteLLMError && err.code === 'timeout');
          for (const p of chunk) await failed(deps, p.item, err);
          continue;
        }
        if (err.status === 404) noBulk.add(litellm); // bulk_update_keys itself never answers 404: its items fail alone
      }
      await inFlight(again, LITELLM_IN_FLIGHT, alone);
    }
  };
  await Promise.all(Array.from({ length: Math.min(BULK_IN_FLIGHT, todo.length) }, bulk));
  if (pushed.length > 0) {
    const values = pushed.map((p) => ({ k: p.keyId, b: p.budgetNano }));
    await deps.db.execute(sql`update keys set pushed_budget_nano = v.b, pushed_at = ${deps.clock.now().toISOString()}::timestamptz
        from json_to_recordset(${JSON.stringify(values)}::json) as v(k text, b bigint) where keys.id = v.k`);
  }
  const finished = [
    ...pushed.map((p) => ({ a: p.item.aggregate, upto: Math.max(p.item.id, upTo.get(p.item.aggregate) ?? 0) })),
    ...skipped.map((i) => ({ a: i.aggregate, upto: i.id })),
  ];
  if (finished.length > 0) {
    await deps.db.execute(sql`update outbox set status = 'done', done_at = now(), last_error = null
        from json_to_recordset(${JSON.stringify(finished)}::json) as f(a text, upto bigint)
        where outbox.aggregate = ${anyOf(finished.map((f) => f.a))} and outbox.aggregate = f.a
          and outbox.kind = 'litellm.sync_budget' and outbox.status = 'pending' and outbox.id <= f.upto`);
  }
  return finished.length;
}

/** A failed item: retried later with backoff, or dead when the error is final. */
async function failed(deps: Deps, item: Item, err: unknown): Promise<void> {
  const retryable = !(err instanceof LiteLLMError || err instanceof MailError) || err.retryable;
  const message = (err as Error).message.slice(0, 500);
  deps.metrics.outboxFailures.inc({ kind: item.kind });
  deps.log.warn({ outboxId: item.id, kind: item.kind, attempts: item.attempts, retryable, err: message }, 'outbox item failed');
  await deps.db
    .update(outbox)
    .set(
      retryable
        ? { lastError: message, nextAttemptAt: new Date(Date.now() + backoffSeconds(item.attempts) * 1000) }
        : { lastError: message, status: 'dead' },
    )
    .where(eq(outbox.id, item.id));
  if (!retryable && item.kind === 'mail.send') {
    await deps.db.update(mailLog).set({ status: 'failed' }).where(eq(mailLog.id, Number(item.payload.mailId)));
  }
}
