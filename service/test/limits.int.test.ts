import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { rows } from '../src/db/client.js';
import { createLogger } from '../src/lib/logger.js';
import { createTestContext, type TestContext } from './support/context.js';
import { attachKey, makeUser, payload, uniq } from './support/factories.js';
import { balanceOf, expectLedgerConsistent } from './support/invariants.js';

// f = 0.376: 1 USD = 2,659,574.468 credits; 1e12 credits = 376,000 USD.
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { WEBHOOK_MAX_BODY_BYTES: String(12 * 1024 * 1024) } });
  await ctx.api('POST', '/api/plans', { slug: 'huge', name: 'Huge', monthlyCredits: 1_000_000_000_000 });
});
afterAll(() => ctx.close());

async function person(plan = 'basic') {
  const u = await makeUser(ctx, { plan });
  return { id: u.id, ...(await attachKey(ctx, u.id)) };
}
const credit = (userId: string, amount: number) =>
  ctx.api('POST', `/api/users/${userId}/credits`, { amount, reason: 'limit test' }, { headers: { 'idempotency-key': uniq() } });

describe('amounts and balances stay inside documented limits', () => {
  it('a balance of 2 × 10^12 credits takes more usage, credits within the limit and threshold changes (no bigint overflow)', async () => {
    const p = await person('huge');
    const topup = await credit(p.id, 1_000_000_000_000);
    expect(topup.status).toBe(201);
    expect((await topup.json()).user.balance).toMatchObject({ credits: 2_000_000_000_000, monthlyRemaining: 1_000_000_000_000, topupRemaining: 1_000_000_000_000, state: 'active' });
    // 376 USD = 1,000,000,000 credits
    expect(await (await ctx.webhook([payload(p.hash, 376)])).json()).toEqual({ accepted: 1, duplicate: 0, unattributed: 0, rejected: 0 });
    const put = await ctx.api('PUT', '/api/settings/alert-thresholds', { thresholds: [50, 95, 100] });
    expect(put.status).toBe(200);
    const removed = await credit(p.id, -5);
    expect(removed.status).toBe(201);
    expect(await balanceOf(ctx.deps.db, p.id)).toEqual({ monthly: 999_000_000_000_000, topup: 999_999_999_995_000, used: 1_000_000_000_000, state: 'ok' });
    await ctx.api('PUT', '/api/settings/alert-thresholds', { thresholds: [80, 95, 100] });
    await expectLedgerConsistent(ctx.deps.db);
  });

  it('refuses credits that would take the top-up bucket past 10^12 credits with a 422 naming the limit', async () => {
    const p = await person();
    expect((await credit(p.id, 999_999_999_999)).status).toBe(201);
    const res = await credit(p.id, 1.001);
    expect(res.status).toBe(422);
    expect(await res.json()).toEqual({
      error: {
        code: 'limit_exceeded',
        message: 'the top-up credits would exceed the limit of 1,000,000,000,000 credits',
        requestId: expect.any(String),
        details: { limitCredits: 1_000_000_000_000 },
      },
    });
    expect((await credit(p.id, 1)).status).toBe(201); // exactly at the limit
    expect(await balanceOf(ctx.deps.db, p.id)).toMatchObject({ topup: 1_000_000_000_000_000 });
    const one = await credit(p.id, 1_000_000_000_001);
    expect(one.status).toBe(400);
    expect((await one.json()).error).toMatchObject({ code: 'validation_error', message: 'amount: must be at most 1,000,000,000,000 credits' });
    await expectLedgerConsistent(ctx.deps.db);
  });
});

describe('one bad batch does not block the others in it', () => {
  it('3,500 events of 999,999.99 USD for one person are dead-lettered with the reason; the small one for another is booked', async () => {
    const greedy = await person();
    const innocent = await person();
    const batch = Array.from({ length: 3500 }, () => payload(greedy.hash, 999_999.99));
    batch.splice(1700, 0, payload(innocent.hash, 0.000376));
    const res = await ctx.webhook(batch);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 1, duplicate: 0, unattributed: 0, rejected: 3500 });
    expect(await balanceOf(ctx.deps.db, innocent.id)).toMatchObject({ used: 1_000_000 });
    expect(await balanceOf(ctx.deps.db, greedy.id)).toMatchObject({ used: 0, monthly: 1_000_000_000 });
    const dead = await rows<{ reason: string; n: number }>(ctx.deps.db, sql`select reason, count(*)::int as n from dead_letters
      where payload like ${`%${greedy.hash}%`} group by reason`);
    expect(dead).toEqual([{ reason: "usage limit: one person's usage in one batch is at most 1,000,000,000,000 credits", n: 3500 }]);
    await expectLedgerConsistent(ctx.deps.db);
  });

  it('books a person\'s events up to the batch limit, in order, and dead-letters the rest', async () => {
    const p = await person('huge');
    // 100,000 USD = 265,957,446,808.511 credits (265,957,446,808,511 milli): three fit in 10^12 credits, the fourth does not
    const res = await ctx.webhook(Array.from({ length: 5 }, () => payload(p.hash, 100_000)));
    expect(await res.json()).toEqual({ accepted: 3, duplicate: 0, unattributed: 0, rejected: 2 });
    expect(await balanceOf(ctx.deps.db, p.id)).toMatchObject({ used: 3 * 265_957_446_808_511 });
    await expectLedgerConsistent(ctx.deps.db);
  });

  it('stops a period\'s usage at 2 × 10^12 credits', async () => {
    const p = await person(); // 1,000,000 credits a month
    const batches = [];
    for (let i = 0; i < 3; i++) batches.push(await (await ctx.webhook(Array.from({ length: 3 }, () => payload(p.hash, 100_000)))).json());
    // 9 × 265,957,446,808.511 credits asked; a period's usage stops below 2 × 10^12 credits (7 events)
    expect(batches).toEqual([
      { accepted: 3, duplicate: 0, unattributed: 0, rejected: 0 },
      { accepted: 3, duplicate: 0, unattributed: 0, rejected: 0 },
      { accepted: 1, duplicate: 0, unattributed: 0, rejected: 2 },
    ]);
    const [reason] = await rows<{ reason: string }>(ctx.deps.db, sql`select distinct reason from dead_letters where payload like ${`%${p.hash}%`}`);
    expect(reason!.reason).toBe("usage limit: one person's usage in a period is at most 2,000,000,000,000 credits");
    expect(await balanceOf(ctx.deps.db, p.id)).toMatchObject({ used: 7 * 265_957_446_808_511, state: 'blocked' });
    await expectLedgerConsistent(ctx.deps.db);
  });
});

describe('error logs', () => {
  it('never carry the bound parameters of a failed statement', async () => {
    const lines: string[] = [];
    const log = createLogger('error', new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) }));
    const big = `secret-${'x'.repeat(200_000)}`;
    const err = await ctx.deps.db.execute(sql`select ${big}::int`).then(() => null, (e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    log.error({ err }, 'unhandled error');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.length).toBeLessThan(8000);
    expect(lines[0]).not.toContain('x'.repeat(300)); // PostgreSQL's own message quotes the start of the value: cut
    const entry = JSON.parse(lines[0]!);
    expect(entry.err.message).toMatch(/^Failed query \(statement and parameters not logged\): select \$1::int/);
    expect(entry.err.cause.message).toMatch(/invalid input syntax for type integer/);
  });
});
