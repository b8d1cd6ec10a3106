import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { rows } from '../src/db/client.js';
import { createTestContext, type TestContext } from './support/context.js';
import { attachKey, makeUser, payload, uniq } from './support/factories.js';
import { balanceOf, expectLedgerConsistent } from './support/invariants.js';

// f = 0.376: a call priced 0.000376 USD consumes exactly 1,000 credits (1,000,000 milli).
const COST_1000_CREDITS = 0.000376;
let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ env: { WEBHOOK_MAX_BODY_BYTES: String(256 * 1024) } });
});
afterAll(() => ctx.close());

async function person(plan = 'basic') {
  const u = await makeUser(ctx, { plan });
  const k = await attachKey(ctx, u.id);
  return { id: u.id, ...k };
}

describe('POST /webhooks/litellm', () => {
  it('books a JSON array once, with exact debits, and answers the counts', async () => {
    const p = await person();
    const batch = [payload(p.hash, COST_1000_CREDITS), payload(p.hash, 0.00005), payload(p.hash, 0)];
    const res = await ctx.webhook(batch);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 3, duplicate: 0, unattributed: 0, rejected: 0 });
    // 1,000,000 − 1,000,000 − 132,979 (50,000 nUSD → 132,978.7 rounded half-up) milli-credits
    const b = await balanceOf(ctx.deps.db, p.id);
    expect(b.monthly).toBe(1_000_000_000 - 1_000_000 - 132_979);
    expect(b.used).toBe(1_132_979);
    const user = await (await ctx.api('GET', `/api/users/${p.id}`)).json();
    expect(user.balance).toMatchObject({ credits: 998_867.021, usedThisPeriod: 1132.979, monthlyRemaining: 998_867.021, topupRemaining: 0 });
    await expectLedgerConsistent(ctx.deps.db);
  });

  it('a batch replayed 3× books once', async () => {
    const p = await person();
    const batch = Array.from({ length: 20 }, () => payload(p.hash, COST_1000_CREDITS));
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await (await ctx.webhook(batch)).json());
    expect(results).toEqual([
      { accepted: 20, duplicate: 0, unattributed: 0, rejected: 0 },
      { accepted: 0, duplicate: 20, unattributed: 0, rejected: 0 },
      { accepted: 0, duplicate: 20, unattributed: 0, rejected: 0 },
    ]);
    expect((await balanceOf(ctx.deps.db, p.id)).monthly).toBe(1_000_000_000 - 20 * 1_000_000);
    await expectLedgerConsistent(ctx.deps.db);
  });

  it('dedupes within a batch and, without litellm_call_id, on (id, startTime, key, call_type)', async () => {
    const p = await person();
    const a = payload(p.hash, COST_1000_CREDITS);
    const legacy = payload(p.hash, COST_1000_CREDITS, { litellm_call_id: undefined, id: 'chatcmpl-same', startTime: 1700000000.5 });
    const legacyOtherTime = { ...legacy, startTime: 1700000001.5 }; // providers reuse ids: not a duplicate
    const res = await ctx.webhook([a, a, legacy, { ...legacy }, legacyOtherTime]);
    expect(await res.json()).toEqual({ accepted: 3, duplicate: 2, unattributed: 0, rejected: 0 });
    expect((await balanceOf(ctx.deps.db, p.id)).used).toBe(3_000_000);
  });

  it('does not let a client-chosen litellm_call_id hide a second billed call', async () => {
    const p = await person();
    const first = payload(p.hash, COST_1000_CREDITS, { litellm_call_id: 'chosen-by-client', startTime: 1763800000.25 });
    const second = payload(p.hash, COST_1000_CREDITS, { litellm_call_id: 'chosen-by-client', startTime: 1763800009.75 });
    expect(await (await ctx.webhook([first, second, first])).json()).toEqual({ accepted: 2, duplicate: 1, unattributed: 0, rejected: 0 });
    expect((await balanceOf(ctx.deps.db, p.id)).used).toBe(2_000_000);
  });

  it('books the same totals whatever the order and split of the events', async () => {
    const a = await person();
    const b = await person();
    const costs = [0.00005, 0.000376, 0.0000001, 0.00123, 0.000009, 0.5 * COST_1000_CREDITS];
    const forA = costs.map((c) => payload(a.hash, c));
    const forB = forA.map((p) => ({ ...p, metadata: { ...p.metadata, user_api_key_hash: b.hash } }));
    await ctx.webhook(forA);
    const reversed = [...forB].reverse();
    await ctx.webhook(reversed.slice(0, 2));
    await ctx.webhook(reversed.slice(2));
    await ctx.webhook(reversed.slice(1, 4)); // replayed out of order
    const ba = await balanceOf(ctx.deps.db, a.id);
    const bb = await balanceOf(ctx.deps.db, b.id);
    expect(bb).toEqual(ba);
    // nUSD × 10^6 / 376,000, each rounded half-up on its own:
    // 50,000 → 132,978.7 | 376,000 → 1,000,000 | 100 → 265.96 | 1,230,000 → 3,271,276.6 | 9,000 → 23,936.2 | 188,000 → 500,000
    expect(ba.used).toBe(132_979 + 1_000_000 + 266 + 3_271_277 + 23_936 + 500_000);
  });

  it('a batch with 1 malformed and 99 good items books the 99 and dead-letters the 1', async () => {
    const p = await person();
    const good = Array.from({ length: 99 }, () => payload(p.hash, COST_1000_CREDITS));
    const bad = payload(p.hash, '$0.05');
    const res = await ctx.webhook([...good.slice(0, 50), bad, ...good.slice(50)]);
    expect(await res.json()).toEqual({ accepted: 99, duplicate: 0, unattributed: 0, rejected: 1 });
    expect((await balanceOf(ctx.deps.db, p.id)).used).toBe(99_000_000);
    const dl = await rows<{ reason: string }>(ctx.deps.db, sql`select reason from dead_letters where payload like ${`%${bad.litellm_call_id}%`}`);
    expect(dl).toHaveLength(1);
    expect(dl[0]!.reason).toContain('response_cost');
  });

  it.each([
    ['negative cost', -0.01, 'must not be negative'],
    ['missing cost', null, 'missing response_cost'],
    ['unparseable currency', '0,05', 'response_cost'],
    ['non-numeric cost', { usd: 1 }, 'not a number'],
  ])('dead-letters %s without booking', async (_name, cost, reason) => {
    const p = await person();
    const item = payload(p.hash, cost as number);
    expect(await (await ctx.webhook([item])).json()).toEqual({ accepted: 0, duplicate: 0, unattributed: 0, rejected: 1 });
    expect((await balanceOf(ctx.deps.db, p.id)).used).toBe(0);
    const [dl] = await rows<{ reason: string }>(ctx.deps.db, sql`select reason from dead_letters where payload like ${`%${item.litellm_call_id}%`}`);
    expect(dl!.reason).toContain(reason);
  });

  it('refuses only the item whose cost cannot be converted under a tiny factor', async () => {
    const p = await person();
    await ctx.api('PUT', '/api/settings/conversion-factor', { factor: '0.000001', reason: 'edge' });
    try {
      const res = await ctx.webhook([payload(p.hash, 999_999), payload(p.hash, 0.000001)]);
      expect(await res.json()).toEqual({ accepted: 1, duplicate: 0, unattributed: 0, rejected: 1 });
      // 1,000 nUSD at f = 0.000001 (1 credit = 1 pUSD) = 10^9 milli-credits: the whole basic allowance
      expect((await balanceOf(ctx.deps.db, p.id)).used).toBe(1_000_000_000);
    } finally {
      await ctx.api('PUT', '/api/settings/conversion-factor', { factor: '0.376', reason: 'restore' });
    }
  });

  it('stores unknown keys as unattributed, never drops them', async () => {
    const item = payload('f'.repeat(64), COST_1000_CREDITS);
    expect(await (await ctx.webhook(item)).json()).toEqual({ accepted: 0, duplicate: 0, unattributed: 1, rejected: 0 });
    const list = await (await ctx.api('GET', '/api/events/unattributed')).json();
    expect(list.items.some((e: { litellmCallId: string }) => e.litellmCallId === item.litellm_call_id)).toBe(true);
  });

  it('stores failure events; debits only what LiteLLM charged for them', async () => {
    const p = await person();
    const res = await ctx.webhook([
      payload(p.hash, 0, { status: 'failure', error_information: { error_class: 'RateLimitError' } }),
      payload(p.hash, null, { status: 'failure', error_information: { error_class: 'BudgetExceededError' } }),
      payload(p.hash, COST_1000_CREDITS, { status: 'failure', error_information: { error_class: 'ReadError' } }),
    ]);
    expect(await res.json()).toEqual({ accepted: 3, duplicate: 0, unattributed: 0, rejected: 0 });
    expect((await balanceOf(ctx.deps.db, p.id)).used).toBe(1_000_000);
    await expectLedgerConsistent(ctx.deps.db);
  });

  it('accepts NDJSON and a single object; a bad NDJSON line is dead-lettered', async () => {
    const p = await person();
    const ndjson = [payload(p.hash, COST_1000_CREDITS), payload(p.hash, COST_1000_CREDITS)].map((x) => JSON.stringify(x)).join('\n');
    const r1 = await ctx.webhook(null, { raw: `${ndjson}\n{not json\n`, headers: { 'content-type': 'application/x-ndjson' } });
    expect(await r1.json()).toEqual({ accepted: 2, duplicate: 0, unattributed: 0, rejected: 1 });
    const r2 = await ctx.webhook(payload(p.hash, COST_1000_CREDITS));
    expect(await r2.json()).toEqual({ accepted: 1, duplicate: 0, unattributed: 0, rejected: 0 });
    expect((await balanceOf(ctx.deps.db, p.id)).used).toBe(3_000_000);
  });

  it('dedupes across batches also when the start time is missing or unreadable', async () => {
    const p = await person();
    const noTime = payload(p.hash, COST_1000_CREDITS, { startTime: undefined });
    const badTime = payload(p.hash, COST_1000_CREDITS, { startTime: 'yesterday-ish' });
    expect(await (await ctx.webhook([noTime, badTime])).json()).toEqual({ accepted: 2, duplicate: 0, unattributed: 0, rejected: 0 });
    expect(await (await ctx.webhook([noTime])).json()).toEqual({ accepted: 0, duplicate: 1, unattributed: 0, rejected: 0 });
    expect(await (await ctx.webhook([badTime])).json()).toEqual({ accepted: 0, duplicate: 1, unattributed: 0, rejected: 0 });
    expect((await balanceOf(ctx.deps.db, p.id)).used).toBe(2_000_000);
  });

  it('uses monthly allowance first, then top-ups, and lets overshoot become debt', async () => {
    const p = await person();
    // 1,000,000 monthly credits; add 500 top-up credits
    const top = await ctx.api('POST', `/api/users/${p.id}/credits`, { amount: 500, reason: 'test' }, { headers: { 'idempotency-key': uniq() } });
    expect(top.status).toBe(201);
    // spend 999,000 credits in one call: monthly 1,000 left
    await ctx.webhook([payload(p.hash, 999 * COST_1000_CREDITS)]);
    expect(await balanceOf(ctx.deps.db, p.id)).toMatchObject({ monthly: 1_000_000, topup: 500_000 });
    // 1,200 credits: 1,000 from monthly, 200 from top-up
    await ctx.webhook([payload(p.hash, 1.2 * COST_1000_CREDITS)]);
    expect(await balanceOf(ctx.deps.db, p.id)).toMatchObject({ monthly: 0, topup: 300_000, state: 'warned' });
    // overshoot by in-flight requests: 2,000 credits more than left → debt, blocked
    await ctx.webhook([payload(p.hash, 2 * COST_1000_CREDITS), payload(p.hash, 0.3 * COST_1000_CREDITS)]);
    expect(await balanceOf(ctx.deps.db, p.id)).toMatchObject({ monthly: 0, topup: -2_000_000, state: 'blocked' });
    const ledger = await (await ctx.api('GET', `/api/users/${p.id}/ledger?pageSize=10`)).json();
    expect(ledger.items.map((e: { kind: string; amount: number }) => [e.kind, e.amount])).toEqual([
      ['usage', -300],
      ['usage', -2000],
      ['usage', -1200],
      ['usage', -999000],
      ['topup', 500],
      ['grant', 1000000],
    ]);
    await expectLedgerConsistent(ctx.deps.db);
  });

  it('splits each entry of one batch between monthly and top-up in batch order, per person', async () => {
    const a = await person();
    const b = await person();
    for (const p of [a, b]) {
      const top = await ctx.api('POST', `/api/users/${p.id}/credits`, { amount: 500, reason: 'test' }, { headers: { 'idempotency-key': uniq() } });
      expect(top.status).toBe(201);
    }
    await ctx.webhook([payload(a.hash, 999 * COST_1000_CREDITS), payload(b.hash, 999.5 * COST_1000_CREDITS)]);
    // a: 1,000 monthly + 500 top-up left; b: 500 + 500. One batch, the two people interleaved.
    const batch = [
      payload(a.hash, 0.6 * COST_1000_CREDITS),
      payload(b.hash, 0.2 * COST_1000_CREDITS),
      payload(a.hash, 0.6 * COST_1000_CREDITS),
      payload(b.hash, 0.4 * COST_1000_CREDITS),
      payload(a.hash, 0.3 * COST_1000_CREDITS),
      payload(b.hash, 0.1 * COST_1000_CREDITS),
    ];
    expect(await (await ctx.webhook(batch)).json()).toEqual({ accepted: 6, duplicate: 0, unattributed: 0, rejected: 0 });
    const split = await rows<{ user_id: string; monthly_milli: string; topup_milli: string }>(
      ctx.deps.db,
      sql`select l.user_id, l.monthly_milli::text, l.topup_milli::text from ledger_entries l join usage_events u on u.id = l.usage_event_id
          where l.user_id in (${a.id}, ${b.id}) and u.litellm_call_id in (${sql.join(batch.map((p) => sql`${p.litellm_call_id as string}`), sql`, `)})
          order by l.id`,
    );
    expect(split.map((r) => [r.user_id, Number(r.monthly_milli), Number(r.topup_milli)])).toEqual([
      [a.id, -600_000, 0],
      [b.id, -200_000, 0],
      [a.id, -400_000, -200_000],
      [b.id, -300_000, -100_000],
      [a.id, 0, -300_000],
      [b.id, 0, -100_000],
    ]);
    expect(await balanceOf(ctx.deps.db, a.id)).toMatchObject({ monthly: 0, topup: 0, state: 'blocked' });
    expect(await balanceOf(ctx.deps.db, b.id)).toMatchObject({ monthly: 0, topup: 300_000 });
    await expectLedgerConsistent(ctx.deps.db);
  });

  it('rejects a wrong or missing secret with 401 and books nothing', async () => {
    const p = await person();
    for (const secret of ['wrong-secret-wrong-secret', '']) {
      const res = await ctx.webhook([payload(p.hash, COST_1000_CREDITS)], { secret });
      expect(res.status).toBe(401);
      expect((await res.json()).error.code).toBe('unauthorized');
    }
    expect((await balanceOf(ctx.deps.db, p.id)).used).toBe(0);
  });

  it('rejects bad JSON with 400 and an oversized body with 413, writing nothing', async () => {
    const before = await rows<{ n: string }>(ctx.deps.db, sql`select count(*) as n from usage_events`);
    const bad = await ctx.webhook(null, { raw: '{"oops": ' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatchObject({ code: 'invalid_json' });
    const p = await person();
    const huge = Array.from({ length: 400 }, () => payload(p.hash, COST_1000_CREDITS)); // > 256 KiB
    const big = await ctx.webhook(huge);
    expect(big.status).toBe(413);
    expect((await big.json()).error.code).toBe('payload_too_large');
    const after = await rows<{ n: string }>(ctx.deps.db, sql`select count(*) as n from usage_events`);
    expect(after[0]!.n).toBe(before[0]!.n);
    expect((await balanceOf(ctx.deps.db, p.id)).used).toBe(0);
  });

  it('never stores message content', async () => {
    const p = await person();
    await ctx.webhook([payload(p.hash, COST_1000_CREDITS)]);
    const leaked = await rows(ctx.deps.db, sql`select id from usage_events where metadata::text like '%secret prompt%' or metadata::text like '%secret answer%'`);
    expect(leaked).toEqual([]);
  });
});
