import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { rows } from '../src/db/client.js';
import { createTestContext, type TestContext } from './support/context.js';
import { attachKey, makeUser, payload, uniq } from './support/factories.js';
import { balanceOf, expectLedgerConsistent } from './support/invariants.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

const credits = (id: string, body: unknown, key: string = uniq()) => ctx.api('POST', `/api/users/${id}/credits`, body, { headers: { 'idempotency-key': key } });

describe('people', () => {
  it('creates a person with the plan allowance granted and a pending key', async () => {
    const res = await ctx.api('POST', '/api/users', { email: `  Maria.${uniq()}@Example.com `, name: 'Maria', plan: 'pro' });
    expect(res.status).toBe(201);
    const u = await res.json();
    expect(u.email).toMatch(/^maria\.[0-9a-f]+@example\.com$/);
    expect(u.plan).toMatchObject({ slug: 'pro', monthlyCredits: 5_000_000 });
    expect(u.balance).toEqual({
      credits: 5_000_000,
      monthlyRemaining: 5_000_000,
      topupRemaining: 0,
      usedThisPeriod: 0,
      percentUsed: 0,
      period: expect.stringMatching(/^\d{4}-\d{2}-01$/),
      state: 'active',
    });
    expect(u.key).toMatchObject({ status: 'pending', alias: `tcc-${u.id}` });
    expect(u.key.plaintext).toBeUndefined(); // LiteLLM not configured in this context
    const audit = await (await ctx.api('GET', `/api/audit?targetId=${u.id}`)).json();
    expect(audit.items.map((a: { action: string }) => a.action)).toEqual(['user.create']);
  });

  it('validates input with field details and refuses duplicates', async () => {
    const bad = await ctx.api('POST', '/api/users', { email: 'not-an-email', name: '' });
    expect(bad.status).toBe(400);
    const body = await bad.json();
    expect(body.error.code).toBe('validation_error');
    expect(body.error.details.map((d: { field: string }) => d.field).sort()).toEqual(['email', 'name']);
    const email = `dup-${uniq()}@example.com`;
    expect((await ctx.api('POST', '/api/users', { email, name: 'A' })).status).toBe(201);
    const dup = await ctx.api('POST', '/api/users', { email: email.toUpperCase(), name: 'B' });
    expect(dup.status).toBe(409);
    expect((await ctx.api('POST', '/api/users', { email: `x-${uniq()}@example.com`, name: 'A', plan: 'platinum' })).status).toBe(400);
  });

  it('lists with search, state filter and pagination', async () => {
    const tag = uniq();
    for (let i = 0; i < 5; i++) await makeUser(ctx, { email: `list-${tag}-${i}@example.com`, name: `List ${tag} ${i}` });
    const page1 = await (await ctx.api('GET', `/api/users?search=list-${tag}&pageSize=2&sort=email&order=asc`)).json();
    expect(page1.total).toBe(5);
    expect(page1.items.map((u: { email: string }) => u.email)).toEqual([`list-${tag}-0@example.com`, `list-${tag}-1@example.com`]);
    const page3 = await (await ctx.api('GET', `/api/users?search=list-${tag}&pageSize=2&page=3&sort=email&order=asc`)).json();
    expect(page3.items).toHaveLength(1);
    const suspended = await (await ctx.api('GET', `/api/users?search=list-${tag}&status=suspended`)).json();
    expect(suspended.total).toBe(0);
    expect((await ctx.api('GET', '/api/users?pageSize=1000')).status).toBe(400);
  });

  it('edits, suspends, activates and deletes, keeping the ledger', async () => {
    const u = await makeUser(ctx);
    await attachKey(ctx, u.id);
    const patched = await (await ctx.api('PATCH', `/api/users/${u.id}`, { name: 'Renamed', plan: 'enterprise' })).json();
    expect(patched).toMatchObject({ name: 'Renamed', plan: { slug: 'enterprise' } });
    // the plan change applies at the next period: this period's grant stands
    expect(patched.balance.monthlyRemaining).toBe(1_000_000);
    expect((await (await ctx.api('POST', `/api/users/${u.id}/suspend`)).json()).balance.state).toBe('suspended');
    expect((await (await ctx.api('POST', `/api/users/${u.id}/activate`)).json()).balance.state).toBe('active');
    const deleted = await (await ctx.api('DELETE', `/api/users/${u.id}`)).json();
    expect(deleted).toMatchObject({ status: 'deleted', key: null });
    expect((await ctx.api('POST', `/api/users/${u.id}/suspend`)).status).toBe(409);
    const ledger = await (await ctx.api('GET', `/api/users/${u.id}/ledger`)).json();
    expect(ledger.total).toBe(1);
    const outbox = await rows<{ kind: string }>(ctx.deps.db, sql`select kind from outbox where payload->>'keyId' in (select id from keys where user_id = ${u.id}) order by id`);
    expect(outbox.map((o) => o.kind)).toEqual(['litellm.block', 'litellm.unblock', 'litellm.sync_budget', 'litellm.block', 'litellm.delete']); // deletion blocks the key before deleting it
    expect((await ctx.api('GET', '/api/users/usr_nobody')).status).toBe(404);
  });
});

describe('credits', () => {
  it('adds a top-up once per Idempotency-Key; same key + other body → 409', async () => {
    const u = await makeUser(ctx);
    const key = uniq();
    const first = await credits(u.id, { amount: 2500.5, reason: 'bonus' }, key);
    expect(first.status).toBe(201);
    const a = await first.json();
    expect(a.entry).toMatchObject({ kind: 'topup', amount: 2500.5, reason: 'bonus' });
    expect(a.user.balance).toMatchObject({ topupRemaining: 2500.5, credits: 1_002_500.5 });
    const again = await credits(u.id, { amount: 2500.5, reason: 'bonus' }, key);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(a);
    const other = await credits(u.id, { amount: 10, reason: 'bonus' }, key);
    expect(other.status).toBe(409);
    expect((await other.json()).error.code).toBe('idempotency_mismatch');
    expect(await balanceOf(ctx.deps.db, u.id)).toMatchObject({ topup: 2_500_500 });
  });

  it('books concurrent requests with the same key once', async () => {
    const u = await makeUser(ctx);
    const key = uniq();
    const results = await Promise.all(Array.from({ length: 8 }, () => credits(u.id, { amount: 100, reason: 'race' }, key)));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(201));
    expect(await balanceOf(ctx.deps.db, u.id)).toMatchObject({ topup: 100_000 });
  });

  it('refuses a removal larger than the top-ups (422) and bad amounts (400)', async () => {
    const u = await makeUser(ctx);
    await credits(u.id, { amount: 100, reason: 'x' });
    const tooMuch = await credits(u.id, { amount: -150, reason: 'oops' });
    expect(tooMuch.status).toBe(422);
    expect((await tooMuch.json()).error.code).toBe('insufficient_credits');
    expect((await credits(u.id, { amount: -40, reason: 'fix' })).status).toBe(201);
    expect(await balanceOf(ctx.deps.db, u.id)).toMatchObject({ topup: 60_000 });
    for (const body of [{ amount: 0, reason: 'x' }, { amount: 1.0001, reason: 'x' }, { amount: '10', reason: 'x' }, { amount: 1e13, reason: 'x' }, { amount: 5 }]) {
      const res = await credits(u.id, body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
    }
    const noKey = await ctx.api('POST', `/api/users/${u.id}/credits`, { amount: 5, reason: 'x' });
    expect(noKey.status).toBe(400);
    expect((await noKey.json()).error.message).toContain('idempotency-key');
    expect((await credits('usr_nobody', { amount: 5, reason: 'x' })).status).toBe(404);
    await expectLedgerConsistent(ctx.deps.db);
  });

  it('re-arms the state when credits arrive after a block', async () => {
    const u = await makeUser(ctx);
    const k = await attachKey(ctx, u.id);
    await ctx.webhook([payload(k.hash, 1_000_000 * 0.000376 / 1000)]); // all 1,000,000 credits
    expect((await balanceOf(ctx.deps.db, u.id)).state).toBe('blocked');
    const res = await (await credits(u.id, { amount: 1_000_000, reason: 'refill' })).json();
    expect(res.user.balance).toMatchObject({ credits: 1_000_000, percentUsed: 50, state: 'active' });
  });
});

describe('usage, reports and the factor', () => {
  it('groups usage by day and model and exports CSV', async () => {
    const u = await makeUser(ctx, { name: '=HYPERLINK("x")' });
    const k = await attachKey(ctx, u.id);
    const day = Date.parse('2026-03-10T12:00:00Z') / 1000;
    await ctx.webhook([
      payload(k.hash, 0.000376, { startTime: day, model_group: 'gpt-4o' }),
      payload(k.hash, 0.000752, { startTime: day + 60, model_group: 'claude' }),
      payload(k.hash, 0.000376, { startTime: day + 86400, model_group: 'gpt-4o' }),
    ]);
    const byDay = await (await ctx.api('GET', `/api/users/${u.id}/usage?groupBy=day`)).json();
    expect(byDay.items).toEqual([
      { day: '2026-03-10', calls: 2, tokens: 60, credits: 3000, usd: 0.001128 },
      { day: '2026-03-11', calls: 1, tokens: 30, credits: 1000, usd: 0.000376 },
    ]);
    const byModel = await (await ctx.api('GET', `/api/users/${u.id}/usage?groupBy=model&from=2026-03-10&to=2026-03-11`)).json();
    expect(byModel.items).toEqual([
      { model: 'claude', calls: 1, tokens: 30, credits: 2000, usd: 0.000752 },
      { model: 'gpt-4o', calls: 1, tokens: 30, credits: 1000, usd: 0.000376 },
    ]);
    const csv = await ctx.api('GET', '/api/reports/usage.csv?from=2026-03-10&to=2026-03-12');
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const lines = (await csv.text()).trim().split('\n');
    expect(lines[0]).toBe('day,email,name,model,calls,tokens,credits,usd');
    expect(lines).toContain(`2026-03-10,${u.email},"'=HYPERLINK(""x"")",claude,1,30,2000,0.000752000`);
    expect((await ctx.api('GET', '/api/reports/usage.csv?from=2026-03-12&to=2026-03-10')).status).toBe(400);
  });

  it('changes the factor from now on, with history and a preview that changes nothing', async () => {
    const u = await makeUser(ctx);
    const k = await attachKey(ctx, u.id);
    const preview = await (await ctx.api('POST', '/api/settings/conversion-factor/preview', { factor: '0.5' })).json();
    expect(preview).toMatchObject({ current: '0.376', proposed: '0.5' });
    expect(preview.people.find((p: { userId: string }) => p.userId === u.id)).toEqual({
      userId: u.id,
      email: u.email,
      name: expect.any(String),
      remainingCredits: 1_000_000,
      usdBefore: 0.376,
      usdAfter: 0.5,
    });
    expect((await (await ctx.api('GET', '/api/settings/conversion-factor')).json()).factor).toBe('0.376');

    await ctx.webhook([payload(k.hash, 0.000376)]); // 1000 credits at 0.376
    const put = await ctx.api('PUT', '/api/settings/conversion-factor', { factor: 0.5, reason: 'new price list' });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ factor: '0.5', previous: '0.376', keysQueued: expect.any(Number) });
    await ctx.webhook([payload(k.hash, 0.0005)]); // 1000 credits at 0.5
    const ledger = await (await ctx.api('GET', `/api/users/${u.id}/ledger?kind=usage`)).json();
    expect(ledger.items.map((e: { amount: number; factor: number }) => [e.amount, e.factor])).toEqual([
      [-1000, 0.5],
      [-1000, 0.376],
    ]);
    const history = (await (await ctx.api('GET', '/api/settings/conversion-factor')).json()).history;
    expect(history[0]).toMatchObject({ factor: '0.5', previous: '0.376', reason: 'new price list' });
    for (const factor of [0, -1, 'abc', 5000, '0.0000001']) {
      const res = await ctx.api('PUT', '/api/settings/conversion-factor', { factor, reason: 'x' });
      expect({ factor, status: res.status }).toEqual({ factor, status: 400 });
    }
    await ctx.api('PUT', '/api/settings/conversion-factor', { factor: '0.376', reason: 'restore' });
  });

  it('reports stats for the overview', async () => {
    const stats = await (await ctx.api('GET', '/api/stats')).json();
    expect(stats).toMatchObject({ people: { active: expect.any(Number) }, period: { credits: expect.any(Number) }, topConsumers: expect.any(Array) });
  });

  it('manages plans', async () => {
    const slug = `team-${uniq()}`;
    const created = await ctx.api('POST', '/api/plans', { slug, name: 'Team', monthlyCredits: 2_000_000 });
    expect(created.status).toBe(201);
    const plan = await created.json();
    expect((await ctx.api('POST', '/api/plans', { slug, name: 'Again', monthlyCredits: 1 })).status).toBe(409);
    const patched = await (await ctx.api('PATCH', `/api/plans/${plan.id}`, { monthlyCredits: 3_000_000 })).json();
    expect(patched.monthlyCredits).toBe(3_000_000);
    const list = await (await ctx.api('GET', '/api/plans')).json();
    expect(list.items.map((p: { slug: string }) => p.slug)).toEqual(expect.arrayContaining(['basic', 'pro', 'enterprise', slug]));
  });
});
