import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { rows } from '../src/db/client.js';
import { runRollover } from '../src/domain/periods/rollover.js';
import { manualClock } from '../src/lib/clock.js';
import { createTestContext, type TestContext } from './support/context.js';
import { describeWith, needs } from './support/requires.js';
import { expectLedgerConsistent } from './support/invariants.js';

// The catch-up job rolls people set-based (service/src/domain/periods/rollover.ts, rollOverUsers):
// ROLLOVER_BATCH people per transaction. These people are seeded with SQL, a ledger that matches
// their balances, in three states; every result is checked against amounts worked out by hand.
// São Paulo: March 2026 starts at 2026-03-01T03:00:00Z, its grace window ends at 03:15Z.

const clock = manualClock('2026-03-01T03:05:00Z');
let ctx: TestContext;
const A = 600; // February, 4,000 left of 10,000, 6,000 used: rolls with the grace window open
const B = 300; // idle since December with 2,000 left and a 3,000-credit debt: rolls three periods
const C = 300; // already in March: untouched
const id = (group: string, i: number) => `usr_${group}${String(i).padStart(4, '0')}`;

beforeAll(async () => {
  ctx = await createTestContext({ clock, env: { TIMEZONE: 'America/Sao_Paulo' } });
  await ctx.api('POST', '/api/plans', { slug: 'p10', name: 'P10', monthlyCredits: 10_000 });
  const seed = async (group: string, n: number, period: string, monthly: number, topup: number, used: number) => {
    const people = sql`(select '${sql.raw(`usr_${group}`)}' || lpad(g::text, 4, '0') as uid from generate_series(0, ${n - 1}::int) g)`;
    await ctx.deps.db.execute(sql`insert into users (id, email, name, plan_id)
        select uid, uid || '@batch.example.com', uid, (select id from plans where slug = 'p10') from ${people} s`);
    await ctx.deps.db.execute(sql`insert into balances (user_id, period_start, monthly_milli, topup_milli, period_used_milli)
        select uid, ${period}::date, ${monthly}::bigint, ${topup}::bigint, ${used}::bigint from ${people} s`);
    await ctx.deps.db.execute(sql`insert into ledger_entries (user_id, kind, amount_milli, monthly_milli, topup_milli, factor_micro, period_start, idempotency_key, actor)
        select uid, 'adjustment', ${monthly + topup}::bigint, ${monthly}::bigint, ${topup}::bigint, 376000, ${period}::date, 'seed:' || uid, 'test' from ${people} s`);
    await ctx.deps.db.execute(sql`insert into keys (id, user_id, token_hash, key_alias, status)
        select 'key_' || uid, uid, md5(uid), 'tcc-' || uid, 'active' from ${people} s`);
  };
  await seed('a', A, '2026-02-01', 4_000_000, 0, 6_000_000);
  await seed('b', B, '2025-12-01', 2_000_000, -3_000_000, 8_000_000);
  await seed('c', C, '2026-03-01', 9_000_000, 500_000, 1_000_000);
});
afterAll(async () => {
  await ctx?.close();
});

async function balance(userId: string) {
  const [b] = await rows<Record<string, string | null>>(
    ctx.deps.db,
    sql`select period_start::text as period, monthly_milli, topup_milli, period_used_milli, prev_period_start::text as prev,
               prev_monthly_milli, prev_used_milli, grace_until, credit_state from balances where user_id = ${userId}`,
  );
  return {
    period: b!.period, monthly: Number(b!.monthly_milli), topup: Number(b!.topup_milli), used: Number(b!.period_used_milli),
    prev: b!.prev, prevMonthly: Number(b!.prev_monthly_milli), prevUsed: Number(b!.prev_used_milli),
    graceUntil: b!.grace_until ? new Date(b!.grace_until).toISOString() : null, state: b!.credit_state,
  };
}

const entries = async (userId: string) =>
  (await rows<{ kind: string; period_start: string; monthly_milli: string; topup_milli: string }>(
    ctx.deps.db,
    sql`select kind, period_start::text, monthly_milli, topup_milli from ledger_entries where user_id = ${userId} and kind <> 'adjustment' order by id`,
  )).map((e) => `${e.kind} ${e.period_start} ${e.monthly_milli} ${e.topup_milli}`);

const pushes = async () =>
  Number((await rows<{ n: string }>(ctx.deps.db, sql`select count(*) as n from outbox where kind = 'litellm.sync_budget' and status = 'pending'`))[0]!.n);

describe('the set-based month rollover (1,200 people, batches of 500)', () => {
  it('rolls everyone behind exactly, in batches, and leaves those already in the month alone', async () => {
    expect(await runRollover(ctx.deps)).toEqual({ people: A + B, periods: A + 3 * B, closed: 0 });
    expect(await runRollover(ctx.deps)).toEqual({ people: 0, periods: 0, closed: 0 });

    for (const i of [0, 7, A - 1]) {
      expect(await balance(id('a', i))).toEqual({
        period: '2026-03-01', monthly: 10_000_000, topup: 0, used: 0,
        prev: '2026-02-01', prevMonthly: 4_000_000, prevUsed: 6_000_000, graceUntil: '2026-03-01T03:15:00.000Z', state: 'ok',
      });
      expect(await entries(id('a', i))).toEqual(['grant 2026-03-01 10000000 0']);
    }
    for (const i of [0, B - 1]) {
      // Dec: 2,000 expire; Jan: the grant pays the 3,000 debt first; Jan's 7,000 expire; Feb granted and,
      // at the last boundary inside the grace window, moved aside (its usage was 0: it was idle)
      expect(await balance(id('b', i))).toEqual({
        period: '2026-03-01', monthly: 10_000_000, topup: 0, used: 0,
        prev: '2026-02-01', prevMonthly: 10_000_000, prevUsed: 0, graceUntil: '2026-03-01T03:15:00.000Z', state: 'ok',
      });
      expect(await entries(id('b', i))).toEqual([
        'expiry 2025-12-01 -2000000 0',
        'grant 2026-01-01 7000000 3000000',
        'expiry 2026-01-01 -7000000 0',
        'grant 2026-02-01 10000000 0',
        'grant 2026-03-01 10000000 0',
      ]);
    }
    expect(await balance(id('c', 3))).toMatchObject({ period: '2026-03-01', monthly: 9_000_000, topup: 500_000, used: 1_000_000, prev: null });
    expect(await entries(id('c', 3))).toEqual([]);
    // one budget push per person rolled into March, for their key; none for those already there
    expect(await pushes()).toBe(A + B);
    expect(await rows(ctx.deps.db, sql`select aggregate from outbox where aggregate like 'key_usr_c%'`)).toEqual([]);
    await expectLedgerConsistent(ctx.deps.db);
  });

  it('closes every grace window at 03:15Z in the same batches: the leftover expires once, nothing is pushed', async () => {
    const before = await pushes();
    clock.set('2026-03-01T03:15:00.000Z');
    expect(await runRollover(ctx.deps)).toEqual({ people: 0, periods: 0, closed: A + B });
    expect(await runRollover(ctx.deps)).toEqual({ people: 0, periods: 0, closed: 0 });
    expect(await balance(id('a', 1))).toMatchObject({ monthly: 10_000_000, prev: null, prevMonthly: 0, prevUsed: 0, graceUntil: null });
    expect((await entries(id('a', 1))).slice(-1)).toEqual(['expiry 2026-02-01 -4000000 0']);
    expect((await entries(id('b', 1))).slice(-1)).toEqual(['expiry 2026-02-01 -10000000 0']);
    expect(await pushes()).toBe(before);
    await expectLedgerConsistent(ctx.deps.db);
  });
});

// Two connections at once: a booking's transaction holds a row while the job runs (PostgreSQL; PGlite has one connection).
describeWith('the catch-up job beside a booking', [needs.postgres()], () => {
  let pg: TestContext;
  beforeAll(async () => {
    pg = await createTestContext({ clock: manualClock('2026-03-01T04:00:00Z'), env: { TIMEZONE: 'America/Sao_Paulo' } });
    await pg.api('POST', '/api/plans', { slug: 'p10', name: 'P10', monthlyCredits: 10_000 });
    for (const uid of ['usr_h1', 'usr_h2', 'usr_h3']) {
      await pg.deps.db.execute(sql`insert into users (id, email, name, plan_id) values (${uid}, ${`${uid}@batch.example.com`}, ${uid}, (select id from plans where slug = 'p10'))`);
      await pg.deps.db.execute(sql`insert into balances (user_id, period_start) values (${uid}, '2026-02-01')`);
    }
  });
  afterAll(async () => {
    await pg?.close();
  });

  it('skips a person whose balance row a booking holds instead of waiting, and catches them up on the next run', async () => {
    let release!: () => void;
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = pg.deps.db.transaction(async (tx) => {
      await tx.execute(sql`select 1 from balances where user_id = 'usr_h2' for update`);
      locked();
      await new Promise<void>((r) => (release = r));
    });
    await isLocked;
    try {
      expect(await runRollover(pg.deps)).toEqual({ people: 2, periods: 2, closed: 0 }); // would hang if it waited
    } finally {
      release();
      await holder;
    }
    const periods = await rows<{ user_id: string; period_start: string }>(pg.deps.db, sql`select user_id, period_start::text from balances order by user_id`);
    expect(periods).toEqual([
      { user_id: 'usr_h1', period_start: '2026-03-01' },
      { user_id: 'usr_h2', period_start: '2026-02-01' },
      { user_id: 'usr_h3', period_start: '2026-03-01' },
    ]);
    expect(await runRollover(pg.deps)).toEqual({ people: 1, periods: 1, closed: 0 });
  });
});
