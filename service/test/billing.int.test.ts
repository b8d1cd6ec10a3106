import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { rows } from '../src/db/client.js';
import { parseUsageItem } from '../src/domain/usage/parse.js';
import { createTestContext, type TestContext } from './support/context.js';
import { attachKey, makeUser, payload } from './support/factories.js';
import { balanceOf, expectLedgerConsistent } from './support/invariants.js';
import { portalLoginWithKey } from './support/portal.js';

/**
 * What LiteLLM charges is what we book. The payloads are what the REAL proxy (1.103.7, the pinned
 * version) delivered through our durable callback (litellm/tests/capture_failures.py against
 * litellm/fake_provider.py), with only the key hash (and, where said, ids and times) replaced.
 *
 * Amounts at f = 0.376 (milli-credits = nano-USD × 10⁶ / 376,000, half-up):
 *   success        0.0005 USD  = 500,000 nUSD → 1,329,787 (1,329,787.23…)
 *   interrupted    0.00025 USD = 250,000 nUSD →   664,894 (664,893.61…)
 */
const fixture = JSON.parse(readFileSync(new URL('./fixtures/litellm-failures.json', import.meta.url), 'utf8')) as {
  litellm: string;
  cases: Record<string, Record<string, any>[]>;
};
const SUCCESS_MILLI = 1_329_787;
const INTERRUPTED_MILLI = 664_894;

/**
 * The captured events of one case that LiteLLM itself logged, sent for `hash` (a capture made
 * since the callback mirrors LiteLLM's failure spend rows also holds its `<id>-billed` and
 * `<id>-attempt-N` events: failure-charges.int.test.ts books those).
 */
function real(name: string, hash: string): Record<string, any>[] {
  const events = structuredClone(fixture.cases[name])?.filter((e) => !/-(attempt-\d+|billed)$/.test(String(e.litellm_call_id)));
  if (!events?.length) throw new Error(`no captured case ${name}`);
  for (const e of events) e.metadata.user_api_key_hash = hash;
  return events;
}

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { TRUST_PROXY: 'true' } });
});
afterAll(() => ctx.close());

async function person() {
  const u = await makeUser(ctx, { plan: 'basic' });
  return { id: u.id, ...(await attachKey(ctx, u.id)) };
}

async function usageEntries(userId: string) {
  return rows<{ amount_milli: string; usd_nano: string; status: string; call: string }>(
    ctx.deps.db,
    sql`select l.amount_milli::text, l.usd_nano::text, e.status, e.litellm_call_id as call
        from ledger_entries l join usage_events e on e.id = l.usage_event_id
        where l.user_id = ${userId} and l.kind = 'usage' order by l.id`,
  );
}

async function events(hash: string) {
  return rows<{ status: string; cost_nano: string; debit_milli: string; call: string }>(
    ctx.deps.db,
    sql`select status, cost_nano::text, debit_milli::text, litellm_call_id as call from usage_events where key_hash = ${hash} order by id`,
  );
}

describe('failed calls LiteLLM billed', () => {
  it('the captured payloads come from the pinned LiteLLM', () => {
    expect(fixture.litellm).toBe('1.103.7');
    const [broken] = fixture.cases.interrupted_stream!;
    // The stream broke after 3 chunks: LiteLLM priced the partial usage on the failure.
    expect(broken).toMatchObject({ status: 'failure', response_cost: 0.00025, prompt_tokens: 19, completion_tokens: 3, error_information: { error_class: 'ReadError' } });
  });

  it('debits an interrupted stream its partial cost exactly like a success, and the statement says "interrupted"', async () => {
    const p = await person();
    const res = await ctx.webhook(real('interrupted_stream', p.hash));
    expect(await res.json()).toEqual({ accepted: 1, duplicate: 0, unattributed: 0, rejected: 0 });
    expect(await usageEntries(p.id)).toEqual([{ amount_milli: String(-INTERRUPTED_MILLI), usd_nano: '250000', status: 'failure', call: fixture.cases.interrupted_stream![0]!.litellm_call_id }]);
    expect(await balanceOf(ctx.deps.db, p.id)).toMatchObject({ used: INTERRUPTED_MILLI, monthly: 1_000_000_000 - INTERRUPTED_MILLI });
    const [key] = await rows<{ spend_nano: string }>(ctx.deps.db, sql`select spend_nano::text from keys where user_id = ${p.id}`);
    expect(key!.spend_nano).toBe('250000');

    // the admin's person view
    const admin = await (await ctx.api('GET', `/api/users/${p.id}/ledger?kind=usage`)).json();
    expect(admin.items).toEqual([
      {
        id: expect.any(Number),
        kind: 'usage',
        amount: -664.894,
        monthly: -664.894,
        topup: 0,
        usd: 0.00025,
        factor: 0.376,
        period: expect.any(String),
        reason: null,
        reasonCode: null,
        actor: 'litellm',
        keyId: expect.any(String),
        outcome: 'interrupted',
        createdAt: expect.any(String),
      },
    ]);
    // the person's own statement (portal) and its CSV
    const portal = await portalLoginWithKey(ctx, p.plaintext);
    const mine = await (await portal.call('GET', '/api/portal/ledger?kind=usage')).json();
    expect(mine.items.map((e: { amount: number; outcome: string | null }) => [e.amount, e.outcome])).toEqual([[-664.894, 'interrupted']]);
    const csv = (await (await portal.call('GET', '/api/portal/ledger.csv')).text()).trim().split('\n');
    expect(csv[0]).toBe('id,created_at,kind,amount,monthly,topup,period,reason,outcome');
    expect(csv.find((l) => l.includes(',usage,'))).toMatch(/,usage,-664\.894,-664\.894,0,\d{4}-\d{2}-01,,interrupted$/);
    await expectLedgerConsistent(ctx.deps.db);
  });

  it('keeps a failure LiteLLM reported at 0 (a timeout here) as a free stored event', async () => {
    const p = await person();
    const [timeout] = real('timeout', p.hash);
    expect(timeout).toMatchObject({ status: 'failure', response_cost: 0, error_information: { error_code: '408', error_class: 'Timeout' } });
    expect(await (await ctx.webhook([timeout])).json()).toEqual({ accepted: 1, duplicate: 0, unattributed: 0, rejected: 0 });
    expect(await events(p.hash)).toEqual([{ status: 'failure', cost_nano: '0', debit_milli: '0', call: timeout!.litellm_call_id }]);
    expect(await usageEntries(p.id)).toEqual([]);
    expect((await balanceOf(ctx.deps.db, p.id)).used).toBe(0);
  });

  it('books the earlier billed retry attempts (<id>-attempt-N) and the final failure once each', async () => {
    // What proxy/hooks/proxy_track_cost_callback.py (_failure_spend_rows, _attempt_spend_row_kwargs)
    // writes for a request whose earlier attempts timed out while reading: the final failure under
    // the request id, each earlier billed attempt under `<id>-attempt-<n>` (litellm_call_id and id),
    // all with the request's start time (_write_failure_spend_rows).
    const p = await person();
    const [base] = real('timeout', p.hash);
    const final = { ...base, response_cost: 0.00019 };
    const attempts = [0, 1].map((n) => ({ ...base, id: `${base!.id}-attempt-${n}`, litellm_call_id: `${base!.litellm_call_id}-attempt-${n}`, response_cost: 0.00019, prompt_tokens: 19, total_tokens: 19 }));
    expect(await (await ctx.webhook([final, ...attempts])).json()).toEqual({ accepted: 3, duplicate: 0, unattributed: 0, rejected: 0 });
    expect(await (await ctx.webhook([...attempts, final])).json()).toEqual({ accepted: 0, duplicate: 3, unattributed: 0, rejected: 0 });
    // 190,000 nUSD → 505,319.14… → 505,319 milli-credits each
    expect((await usageEntries(p.id)).map((e) => [e.amount_milli, e.usd_nano])).toEqual([
      ['-505319', '190000'],
      ['-505319', '190000'],
      ['-505319', '190000'],
    ]);
    const admin = await (await ctx.api('GET', `/api/users/${p.id}/ledger?kind=usage`)).json();
    expect(admin.items.map((e: { outcome: string }) => e.outcome)).toEqual(['timed_out', 'timed_out', 'timed_out']);
    await expectLedgerConsistent(ctx.deps.db);
  });
});

describe('dedup of failures, successes and attempts of one call', () => {
  it('books a failed attempt and the retry that succeeded (same litellm_call_id) once each, also when re-delivered', async () => {
    const p = await person();
    const retried = real('retried_then_success', p.hash);
    const fallback = real('fallback_after_failure', p.hash);
    for (const pair of [retried, fallback]) {
      expect(pair.map((e) => e.status)).toEqual(['failure', 'success']);
      expect(pair[0]!.litellm_call_id).toBe(pair[1]!.litellm_call_id);
    }
    expect(await (await ctx.webhook([...retried, ...fallback])).json()).toEqual({ accepted: 4, duplicate: 0, unattributed: 0, rejected: 0 });
    expect(await (await ctx.webhook([...fallback, ...retried].reverse())).json()).toEqual({ accepted: 0, duplicate: 4, unattributed: 0, rejected: 0 });
    expect((await events(p.hash)).map((e) => [e.status, e.cost_nano, e.debit_milli])).toEqual([
      ['failure', '0', '0'],
      ['success', '500000', String(SUCCESS_MILLI)],
      ['failure', '0', '0'],
      ['success', '500000', String(SUCCESS_MILLI)],
    ]);
    expect((await balanceOf(ctx.deps.db, p.id)).used).toBe(2 * SUCCESS_MILLI);
  });

  it('never collapses a priced failure and the success of the same call and start instant into one event', async () => {
    // An interrupted stream that a fallback completes is reported as a priced failure and then as
    // a success of the same request (streaming_handler.py: _record_partial_usage_for_failure); both
    // are billed by LiteLLM. Same litellm_call_id, same startTime, same key.
    for (const order of ['failure first', 'success first'] as const) {
      const p = await person();
      const [failure] = real('interrupted_stream', p.hash);
      const [success] = real('success', p.hash);
      Object.assign(success!, { litellm_call_id: failure!.litellm_call_id, startTime: failure!.startTime });
      const batches = order === 'failure first' ? [[failure], [success]] : [[success], [failure]];
      for (const b of batches) expect(await (await ctx.webhook(b)).json(), order).toEqual({ accepted: 1, duplicate: 0, unattributed: 0, rejected: 0 });
      expect(await (await ctx.webhook([failure, success])).json(), order).toEqual({ accepted: 0, duplicate: 2, unattributed: 0, rejected: 0 });
      expect((await balanceOf(ctx.deps.db, p.id)).used, order).toBe(INTERRUPTED_MILLI + SUCCESS_MILLI);
    }
    await expectLedgerConsistent(ctx.deps.db);
  });

  it('and not within one batch either', async () => {
    const p = await person();
    const [failure] = real('interrupted_stream', p.hash);
    const [success] = real('success', p.hash);
    Object.assign(success!, { litellm_call_id: failure!.litellm_call_id, startTime: failure!.startTime });
    expect(await (await ctx.webhook([failure, success, failure])).json()).toEqual({ accepted: 2, duplicate: 1, unattributed: 0, rejected: 0 });
    expect((await balanceOf(ctx.deps.db, p.id)).used).toBe(INTERRUPTED_MILLI + SUCCESS_MILLI);
  });

  it('a failure stored by the previous version (key without its status) re-delivered is a duplicate', async () => {
    const p = await person();
    const [failure] = real('interrupted_stream', p.hash);
    const parsed = parseUsageItem(failure);
    if (!parsed.ok) throw new Error(parsed.reason);
    const { unscopedFailureKey, startTime } = parsed.item;
    expect(unscopedFailureKey).not.toBe(parsed.item.dedupKey);
    // as versions before status-scoped failure keys stored it: free, under the success-space key
    await ctx.deps.db.execute(sql`insert into usage_events (dedup_key, litellm_call_id, key_hash, status, cost_nano, start_time, source)
      values (${unscopedFailureKey}, ${failure!.litellm_call_id}, ${p.hash}, 'failure', 0, ${startTime!.toISOString()}::timestamptz, 'callback')`);
    expect(await (await ctx.webhook([failure])).json()).toEqual({ accepted: 0, duplicate: 1, unattributed: 0, rejected: 0 });
    expect((await balanceOf(ctx.deps.db, p.id)).used).toBe(0);
  });
});

describe('unpriced models', () => {
  it('counts successes LiteLLM priced at 0 with tokens per model: overview, /metrics, /ready', async () => {
    const p = await person();
    const now = Date.now() / 1000;
    const unpriced = [0, 1, 2].map((i) => ({ ...real('unpriced', p.hash)[0], litellm_call_id: randomUUID(), startTime: now - i, endTime: now - i + 0.01 }));
    expect(unpriced[0]).toMatchObject({ status: 'success', response_cost: 0, total_tokens: 30, model_group: 'unpriced', model: 'openai/house-model-7b' });
    const notUnpriced = [
      payload(p.hash, 0, { cache_hit: true, model_group: 'cached', startTime: now }), // a cache hit is free by design
      payload(p.hash, 0, { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, model_group: 'empty', startTime: now }),
      payload(p.hash, 0, { status: 'failure', model_group: 'refused', startTime: now }),
      { ...real('success', p.hash)[0], startTime: now },
    ];
    expect(await (await ctx.webhook([...unpriced, ...notUnpriced])).json()).toEqual({ accepted: 7, duplicate: 0, unattributed: 0, rejected: 0 });
    expect(await (await ctx.webhook(unpriced)).json()).toEqual({ accepted: 0, duplicate: 3, unattributed: 0, rejected: 0 });
    expect((await balanceOf(ctx.deps.db, p.id)).used).toBe(SUCCESS_MILLI); // free usage, never a guessed price

    const stats = await (await ctx.api('GET', '/api/stats')).json();
    expect(stats.unpricedModels).toEqual([{ model: 'unpriced', calls: 3, lastSeen: new Date(Math.floor((now * 1000) / 900_000) * 900_000).toISOString() }]);

    const metrics = await (await ctx.app.request('/metrics')).text();
    expect(metrics).toContain('companion_unpriced_calls_total{model="unpriced"} 3');
    expect(metrics).not.toMatch(/companion_unpriced_calls_total\{model="(cached|empty|refused|priced)"\}/);

    const ready = (await (await ctx.app.request("/ready")).json()) as { checks: Record<string, unknown> };
    expect(ready.checks.pricing).toEqual({
      ok: true,
      unpricedModels: 1,
      detail:
        "3 calls this period were free: 1 model(s) without a price in LiteLLM's cost map: unpriced (3); set input_cost_per_token/output_cost_per_token in LiteLLM's config",
    });
  });
});
