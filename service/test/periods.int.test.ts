import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../src/config.js';
import { createDeps, type Deps } from '../src/deps.js';
import { openPostgres, rows } from '../src/db/client.js';
import { desiredBudgetNano } from '../src/domain/keys.js';
import { runRollover } from '../src/domain/periods/rollover.js';
import { bookUsage, prepareUsage } from '../src/domain/usage/ingest.js';
import { manualClock } from '../src/lib/clock.js';
import { createLogger } from '../src/lib/logger.js';
import { createTestContext, type TestContext } from './support/context.js';
import { attachKey, makeUser, payload, uniq } from './support/factories.js';
import { expectLedgerConsistent } from './support/invariants.js';

// Periods by event time (docs/quotas.md): each event is charged to the period of its start time,
// the previous period stays open PERIOD_GRACE_MINUTES (default 15) for late events, after which
// its unused allowance expires and its late events are charged to the current period, marked late.

const clock = manualClock('2026-01-31T20:00:00Z');
let ctx: TestContext;
let ny: TestContext;

beforeAll(async () => {
  [ctx, ny] = await Promise.all([
    createTestContext({ clock, env: { TIMEZONE: 'America/Sao_Paulo' } }),
    createTestContext({ clock, env: { TIMEZONE: 'America/New_York' } }),
  ]);
  for (const c of [ctx, ny]) await c.api('POST', '/api/plans', { slug: 'p10', name: 'P10', monthlyCredits: 10_000 });
});
afterAll(async () => {
  await Promise.all([ctx?.close(), ny?.close()]);
});

/** A call of `credits` credits (factor 0.376) that started at `start`. */
const call = (hash: string, credits: number, start: string) =>
  payload(hash, Number(((credits * 0.376) / 1e6).toPrecision(12)), { startTime: start, endTime: start });

async function book(c: TestContext, ...items: unknown[]) {
  const res = await c.webhook(items);
  expect(res.status).toBe(200);
  return res.json();
}

async function person(c: TestContext) {
  const u = await makeUser(c, { plan: 'p10' });
  const { hash } = await attachKey(c, u.id);
  return { id: u.id, keyId: u.key!.id, hash };
}

/** The balance row in credits. */
async function bal(c: TestContext, id: string) {
  const [b] = await rows<Record<string, string | null>>(
    c.deps.db,
    sql`select period_start::text as period, monthly_milli, topup_milli, period_used_milli, prev_period_start::text as prev,
               prev_monthly_milli, prev_used_milli, grace_until, credit_state from balances where user_id = ${id}`,
  );
  const k = (v: string | null | undefined) => Number(v) / 1000;
  return {
    period: b!.period,
    monthly: k(b!.monthly_milli),
    topup: k(b!.topup_milli),
    used: k(b!.period_used_milli),
    prev: b!.prev,
    prevMonthly: k(b!.prev_monthly_milli),
    prevUsed: k(b!.prev_used_milli),
    graceUntil: b!.grace_until ? new Date(b!.grace_until).toISOString() : null,
    state: b!.credit_state,
  };
}

/** The person's ledger as `kind period monthly topup` lines, in credits. */
async function ledger(c: TestContext, id: string) {
  const list = await rows<{ kind: string; period_start: string; monthly_milli: string; topup_milli: string }>(
    c.deps.db,
    sql`select kind, period_start::text, monthly_milli, topup_milli from ledger_entries where user_id = ${id} order by id`,
  );
  return list.map((e) => `${e.kind} ${e.period_start} ${Number(e.monthly_milli) / 1000} ${Number(e.topup_milli) / 1000}`);
}

async function lateFlags(c: TestContext, id: string) {
  const list = await rows<{ start_time: Date | string; late: boolean }>(c.deps.db, sql`select start_time, late from usage_events where user_id = ${id} order by id`);
  return list.map((e) => `${new Date(e.start_time).toISOString()} ${e.late ? 'late' : 'on time'}`);
}

async function alertsOf(c: TestContext, id: string) {
  const list = await rows<{ period_start: string; threshold_bp: number }>(
    c.deps.db,
    sql`select period_start::text, threshold_bp from alerts where user_id = ${id} order by id`,
  );
  return list.map((a) => `${a.period_start} ${a.threshold_bp / 100}`);
}

/** Another service instance on the same database (its own pool on PostgreSQL; on PGlite, the one database). */
async function secondInstance(c: TestContext, timeZone: string): Promise<Deps> {
  const config = loadConfig({ LOG_LEVEL: 'silent', TIMEZONE: timeZone, DASHBOARD_DIR: '/nonexistent' });
  const database = c.database.url ? await openPostgres(c.database.url, 5) : { ...c.database, close: async () => {} };
  return createDeps(config, { database, clock, log: createLogger('silent') });
}

describe('São Paulo, February 2026 (midnight = 2026-02-01T03:00:00Z, grace until 03:15Z)', () => {
  it('charges each call to the month it started in: before and after the rollover, inside and after the grace window', async () => {
    clock.set('2026-01-31T20:00:00Z');
    const p = await person(ctx);
    await book(ctx, call(p.hash, 6000, '2026-01-31T19:59:00.000Z'));
    const topUp = await ctx.api('POST', `/api/users/${p.id}/credits`, { amount: 1000, reason: 'pack' }, { headers: { 'idempotency-key': uniq() } });
    expect(topUp.status).toBe(201);

    // 1 ms before midnight, booked at that instant: January, no rollover
    clock.set('2026-02-01T02:59:59.999Z');
    await book(ctx, call(p.hash, 500, '2026-02-01T02:59:59.999Z'));
    expect(await bal(ctx, p.id)).toMatchObject({ period: '2026-01-01', monthly: 3500, topup: 1000, used: 6500, prev: null });

    // 00:05: the job has not run. A batch with calls 1 ms either side of midnight rolls the person
    // over first; a second replica books a February call at the same moment (one grant).
    clock.set('2026-02-01T03:05:00Z');
    const other = await secondInstance(ctx, 'America/Sao_Paulo');
    try {
      const [mine, theirs] = await Promise.all([
        book(ctx, call(p.hash, 1500, '2026-02-01T02:59:59.999Z'), call(p.hash, 2000, '2026-02-01T03:00:00.000Z')),
        bookUsage(other, prepareUsage([call(p.hash, 500, '2026-02-01T03:04:00.000Z')]), { source: 'test' }),
      ]);
      expect([mine.accepted, theirs.accepted]).toEqual([2, 1]);
    } finally {
      await other.close();
    }
    // the January call drew on January's leftover (3,500 → 2,000), the February ones on the new grant
    expect(await bal(ctx, p.id)).toEqual({
      period: '2026-02-01', monthly: 7500, topup: 1000, used: 2500,
      prev: '2026-01-01', prevMonthly: 2000, prevUsed: 8000, graceUntil: '2026-02-01T03:15:00.000Z', state: 'ok',
    });
    // what people see and LiteLLM enforces: only the new grant + top-ups
    const view = (await (await ctx.api('GET', `/api/users/${p.id}`)).json()).balance;
    expect(view).toEqual({ credits: 8500, monthlyRemaining: 7500, topupRemaining: 1000, usedThisPeriod: 2500, percentUsed: 22.72, period: '2026-02-01', state: 'active' });
    // spend 10,500 credits + remaining 8,500 credits, at 376 nano-USD per credit
    expect(await desiredBudgetNano(ctx.deps.db, p.keyId)).toBe((10_500 + 8_500) * 376);

    // 00:14:59.999, inside the window: a late January call takes January's leftover (2,000 → 800)
    // and crosses 80 % of January — a January alert, never a February one
    clock.set('2026-02-01T03:14:59.999Z');
    await book(ctx, call(p.hash, 1200, '2026-02-01T02:40:00.000Z'));
    expect(await bal(ctx, p.id)).toMatchObject({ monthly: 7500, topup: 1000, prevMonthly: 800, prevUsed: 9200 });
    expect(await alertsOf(ctx, p.id)).toEqual(['2026-01-01 80']);
    // the key's spend grew without the current period shrinking: its max_budget is re-pushed
    const pushes = await rows(ctx.deps.db, sql`select id from outbox where aggregate = ${p.keyId} and kind = 'litellm.sync_budget' and status = 'pending'`);
    expect(pushes.length).toBeGreaterThanOrEqual(2); // the rollover's and this one

    // 00:15:00.000: the window ends; two replicas race the job: January's 800 expire once
    clock.set('2026-02-01T03:15:00.000Z');
    const again = await secondInstance(ctx, 'America/Sao_Paulo');
    try {
      const [a, b] = await Promise.all([runRollover(ctx.deps), runRollover(again)]);
      expect(a.closed + b.closed).toBe(1);
    } finally {
      await again.close();
    }
    expect(await bal(ctx, p.id)).toMatchObject({ period: '2026-02-01', monthly: 7500, topup: 1000, prev: null, prevMonthly: 0, prevUsed: 0, graceUntil: null });

    // 00:15:00.001: a January call after the window is charged to February, marked late
    clock.set('2026-02-01T03:15:00.001Z');
    await book(ctx, call(p.hash, 700, '2026-02-01T02:59:59.999Z'));
    expect(await bal(ctx, p.id)).toMatchObject({ monthly: 6800, topup: 1000, used: 3200 });

    // (the two concurrent batches' entries may interleave: compared as sets, order checked around them)
    const entries = await ledger(ctx, p.id);
    expect(entries.slice(0, 5)).toEqual(['grant 2026-01-01 10000 0', 'usage 2026-01-01 -6000 0', 'topup 2026-01-01 0 1000', 'usage 2026-01-01 -500 0', 'grant 2026-02-01 10000 0']);
    expect(entries.slice(-3)).toEqual(['usage 2026-01-01 -1200 0', 'expiry 2026-01-01 -800 0', 'usage 2026-02-01 -700 0']);
    expect(sorted(entries)).toEqual(sorted([
      'grant 2026-01-01 10000 0',
      'usage 2026-01-01 -6000 0',
      'topup 2026-01-01 0 1000',
      'usage 2026-01-01 -500 0',
      'usage 2026-01-01 -1500 0',
      'grant 2026-02-01 10000 0',
      'usage 2026-02-01 -2000 0',
      'usage 2026-02-01 -500 0',
      'usage 2026-01-01 -1200 0',
      'expiry 2026-01-01 -800 0',
      'usage 2026-02-01 -700 0',
    ]));
    expect(sorted(await lateFlags(ctx, p.id))).toEqual(sorted([
      '2026-01-31T19:59:00.000Z on time',
      '2026-02-01T02:59:59.999Z on time',
      '2026-02-01T02:59:59.999Z on time',
      '2026-02-01T03:00:00.000Z on time',
      '2026-02-01T03:04:00.000Z on time',
      '2026-02-01T02:40:00.000Z on time',
      '2026-02-01T02:59:59.999Z late',
    ]));
    // admins: the count in the overview, the filter in usage
    expect((await (await ctx.api('GET', '/api/stats')).json()).lateEventsThisPeriod).toBe(1);
    const late = await (await ctx.api('GET', `/api/users/${p.id}/usage?groupBy=model&late=true`)).json();
    expect(late).toEqual({ groupBy: 'model', items: [{ model: 'gpt-4o-mini', calls: 1, tokens: 30, credits: 700, usd: 0.0002632 }] });
    const onTime = await (await ctx.api('GET', `/api/users/${p.id}/usage?groupBy=model&late=false`)).json();
    expect(onTime.items).toEqual([{ model: 'gpt-4o-mini', calls: 6, tokens: 180, credits: 11_700, usd: 0.0043992 }]);
    expect((await ctx.api('GET', `/api/users/${p.id}/usage?late=maybe`)).status).toBe(400);
    await expectLedgerConsistent(ctx.deps.db);
  });

  it('first event after the window, before any rollover: the old allowance expires at once and the old call is late', async () => {
    clock.set('2026-01-31T12:00:00Z');
    const p = await person(ctx);
    await book(ctx, call(p.hash, 4000, '2026-01-31T11:00:00.000Z'));
    clock.set('2026-02-01T03:20:00Z');
    await book(ctx, call(p.hash, 1000, '2026-02-01T02:59:59.999Z'), call(p.hash, 1000, '2026-02-01T03:00:00.000Z'));
    expect(await bal(ctx, p.id)).toEqual({
      period: '2026-02-01', monthly: 8000, topup: 0, used: 2000, prev: null, prevMonthly: 0, prevUsed: 0, graceUntil: null, state: 'ok',
    });
    expect(await ledger(ctx, p.id)).toEqual([
      'grant 2026-01-01 10000 0',
      'usage 2026-01-01 -4000 0',
      'expiry 2026-01-01 -6000 0',
      'grant 2026-02-01 10000 0',
      'usage 2026-02-01 -1000 0',
      'usage 2026-02-01 -1000 0',
    ]);
    expect(await lateFlags(ctx, p.id)).toEqual(['2026-01-31T11:00:00.000Z on time', '2026-02-01T02:59:59.999Z late', '2026-02-01T03:00:00.000Z on time']);
    await expectLedgerConsistent(ctx.deps.db);
  });

  it('a person idle for three months: the first call rolls every missed month, period by period', async () => {
    clock.set('2026-02-05T12:00:00Z');
    const p = await person(ctx);
    await book(ctx, call(p.hash, 1000, '2026-02-05T11:00:00.000Z'));
    clock.set('2026-05-10T12:00:00Z');
    await book(ctx, call(p.hash, 250, '2026-05-10T11:59:00.000Z'));
    expect(await ledger(ctx, p.id)).toEqual([
      'grant 2026-02-01 10000 0',
      'usage 2026-02-01 -1000 0',
      'expiry 2026-02-01 -9000 0',
      'grant 2026-03-01 10000 0',
      'expiry 2026-03-01 -10000 0',
      'grant 2026-04-01 10000 0',
      'expiry 2026-04-01 -10000 0',
      'grant 2026-05-01 10000 0',
      'usage 2026-05-01 -250 0',
    ]);
    expect(await bal(ctx, p.id)).toMatchObject({ period: '2026-05-01', monthly: 9750, used: 250, prev: null });
    // idle again; a balance read at 00:05 on 1 June rolls over, May staying open for its grace window
    clock.set('2026-06-01T03:05:00Z');
    const view = (await (await ctx.api('GET', `/api/users/${p.id}`)).json()).balance;
    expect(view).toMatchObject({ credits: 10_000, monthlyRemaining: 10_000, usedThisPeriod: 0, period: '2026-06-01' });
    expect(await bal(ctx, p.id)).toMatchObject({ prev: '2026-05-01', prevMonthly: 9750, prevUsed: 250, graceUntil: '2026-06-01T03:15:00.000Z' });
    const before = await ledger(ctx, p.id);
    await runRollover(ctx.deps); // catches up the people of the other tests; nothing to do for this one until 03:15
    expect(await ledger(ctx, p.id)).toEqual(before);
    clock.set('2026-06-01T03:15:00Z');
    expect(await runRollover(ctx.deps)).toMatchObject({ people: 0, periods: 0 }); // only grace windows closed
    expect((await ledger(ctx, p.id)).slice(-2)).toEqual(['grant 2026-06-01 10000 0', 'expiry 2026-05-01 -9750 0']);
    await expectLedgerConsistent(ctx.deps.db);
  });
});

describe('New York, November 2026: summer time ends on the boundary night (02:00 EDT → 01:00 EST)', () => {
  it('midnight is 04:00Z (EDT) and the grace window ends 15 minutes later, not an hour off', async () => {
    clock.set('2026-10-31T20:00:00Z');
    const p = await person(ny);
    await book(ny, call(p.hash, 3000, '2026-10-31T19:00:00.000Z'));
    clock.set('2026-11-01T04:14:59.999Z');
    await book(ny, call(p.hash, 1000, '2026-11-01T03:59:59.999Z'), call(p.hash, 2000, '2026-11-01T04:00:00.000Z'));
    expect(await bal(ny, p.id)).toEqual({
      period: '2026-11-01', monthly: 8000, topup: 0, used: 2000,
      prev: '2026-10-01', prevMonthly: 6000, prevUsed: 4000, graceUntil: '2026-11-01T04:15:00.000Z', state: 'ok',
    });
    clock.set('2026-11-01T04:15:00.000Z');
    // 01:30 EST, after the clocks went back: November, and an October call now late
    await book(ny, call(p.hash, 500, '2026-11-01T03:59:59.999Z'), call(p.hash, 100, '2026-11-01T06:30:00.000Z'));
    expect(await bal(ny, p.id)).toMatchObject({ period: '2026-11-01', monthly: 7400, used: 2600, prev: null, prevMonthly: 0 });
    expect(await ledger(ny, p.id)).toEqual([
      'grant 2026-10-01 10000 0',
      'usage 2026-10-01 -3000 0',
      'grant 2026-11-01 10000 0',
      'usage 2026-10-01 -1000 0',
      'usage 2026-11-01 -2000 0',
      'expiry 2026-10-01 -6000 0',
      'usage 2026-11-01 -500 0',
      'usage 2026-11-01 -100 0',
    ]);
    expect((await lateFlags(ny, p.id)).filter((f) => f.endsWith('late'))).toEqual(['2026-11-01T03:59:59.999Z late']);
    await expectLedgerConsistent(ny.deps.db);
  });
});

describe('alerts belong to the period of the calls that crossed them', () => {
  const topUp = (id: string, amount: number) =>
    ctx.api('POST', `/api/users/${id}/credits`, { amount, reason: 'pack' }, { headers: { 'idempotency-key': uniq() } });

  it('a late call of the old month fires the old month’s alerts, never the new month’s; the new month’s next call does', async () => {
    clock.set('2026-02-28T20:00:00Z');
    const p = await person(ctx);
    await book(ctx, call(p.hash, 9000, '2026-02-28T19:00:00.000Z')); // February 90 %: 80
    expect((await topUp(p.id, 2000)).status).toBe(201); // 9,000 / 12,000 = 75 %: 80 re-armed
    clock.set('2026-03-01T03:05:00Z'); // March starts at 03:00Z, grace until 03:15Z
    await book(ctx, call(p.hash, 8000, '2026-03-01T03:01:00.000Z')); // March: 8,000 / 12,000 = 66.7 %
    clock.set('2026-03-01T03:10:00Z');
    // a February call: February's leftover 1,000, then 2,000 of top-ups → February at 100 %;
    // March's percentage rises to 80 % through the shared top-ups, but no March alert
    await book(ctx, call(p.hash, 3000, '2026-03-01T02:50:00.000Z'));
    expect(await bal(ctx, p.id)).toMatchObject({ period: '2026-03-01', monthly: 2000, topup: 0, used: 8000, prevMonthly: 0, prevUsed: 12_000 });
    expect(await alertsOf(ctx, p.id)).toEqual(['2026-02-01 80', '2026-02-01 80', '2026-02-01 95', '2026-02-01 100']);
    // March's own next call: 8,100 / 10,000 = 81 % → March's 80 %
    clock.set('2026-03-01T03:20:00Z');
    await book(ctx, call(p.hash, 100, '2026-03-01T03:19:00.000Z'));
    expect(await alertsOf(ctx, p.id)).toEqual(['2026-02-01 80', '2026-02-01 80', '2026-02-01 95', '2026-02-01 100', '2026-03-01 80']);
    await expectLedgerConsistent(ctx.deps.db);
  });

  it('re-arms only when usage falls more than 1 percentage point under the threshold: a tiny top-up at 100 % sends no second “you are out”', async () => {
    clock.set('2026-03-10T12:00:00Z');
    const p = await person(ctx);
    await book(ctx, call(p.hash, 10_000, '2026-03-10T11:00:00.000Z'));
    expect(await alertsOf(ctx, p.id)).toEqual(['2026-03-01 80', '2026-03-01 95', '2026-03-01 100']);
    await topUp(p.id, 50); // 10,000 / 10,050 = 99.50 %: within the margin, still armed
    await book(ctx, call(p.hash, 40, '2026-03-10T11:01:00.000Z')); // 99.90 %
    await book(ctx, call(p.hash, 20, '2026-03-10T11:02:00.000Z')); // overshoot: 100 %
    expect(await bal(ctx, p.id)).toMatchObject({ monthly: 0, topup: -10, used: 10_060, state: 'blocked' });
    expect(await alertsOf(ctx, p.id)).toEqual(['2026-03-01 80', '2026-03-01 95', '2026-03-01 100']);
    await topUp(p.id, 200); // 10,060 / 10,250 = 98.14 %: 100 re-armed (95 stays armed)
    await book(ctx, call(p.hash, 200, '2026-03-10T11:03:00.000Z')); // 100 % again
    expect(await alertsOf(ctx, p.id)).toEqual(['2026-03-01 80', '2026-03-01 95', '2026-03-01 100', '2026-03-01 100']);
    const mails = await rows<{ template: string }>(ctx.deps.db, sql`select template from mail_log where user_id = ${p.id} order by id`);
    expect(mails.map((m) => m.template)).toEqual(['alert_100', 'alert_100']);
  });

  it('a retried period reset with the same Idempotency-Key changes nothing twice and re-arms no alert', async () => {
    clock.set('2026-03-12T12:00:00Z');
    const p = await person(ctx);
    await book(ctx, call(p.hash, 9000, '2026-03-12T11:00:00.000Z')); // 80 %
    const key = uniq();
    const reset = () => ctx.api('POST', `/api/users/${p.id}/period/reset`, { reason: 'support ticket' }, { headers: { 'idempotency-key': key } });
    const first = await reset();
    expect(first.status).toBe(200);
    const body = await first.json();
    expect(body.balance).toMatchObject({ monthlyRemaining: 10_000, usedThisPeriod: 0, state: 'active' });
    await book(ctx, call(p.hash, 8500, '2026-03-12T11:30:00.000Z')); // 85 % of the fresh allowance: 80 again
    const retry = await reset();
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await retry.json()).toEqual(body);
    expect(await bal(ctx, p.id)).toMatchObject({ monthly: 1500, used: 8500, state: 'warned' });
    expect(await ledger(ctx, p.id)).toEqual([
      'grant 2026-03-01 10000 0',
      'usage 2026-03-01 -9000 0',
      'expiry 2026-03-01 -1000 0',
      'grant 2026-03-01 10000 0',
      'usage 2026-03-01 -8500 0',
    ]);
    const armed = await rows(ctx.deps.db, sql`select threshold_bp from alerts where user_id = ${p.id} and rearmed_at is null`);
    expect(armed).toEqual([{ threshold_bp: 8000 }]);
    const other = await ctx.api('POST', `/api/users/${p.id}/period/reset`, { reason: 'another reason' }, { headers: { 'idempotency-key': key } });
    expect(other.status).toBe(409);
    expect((await other.json()).error).toMatchObject({ code: 'idempotency_mismatch' });
    await expectLedgerConsistent(ctx.deps.db);
  });
});

const sorted = (list: string[]) => [...list].sort();
