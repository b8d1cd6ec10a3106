/**
 * The booking statement must find each person's balance through balances_pkey, not by reading the
 * whole table. `usage_events.user_id` is COLLATE "C" (migration 0006) and `balances.user_id` is
 * not: compared as they are, the join takes C's collation and the default-collation index cannot
 * serve it — two sequential scans of `balances` per booking, 104 ms each at 100,000 people
 * (found with auto_explain in the scale bench). The statement relabels the column
 * (domain/usage/ingest.ts, bookEvents). This test captures the real statement as the service
 * sends it, asks PostgreSQL for its plan with enough people for an index to be worth it, and
 * fails on any sequential scan of `balances`.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { Db } from '../src/db/client.js';
import * as schema from '../src/db/schema/index.js';
import { ingestUsage } from '../src/domain/usage/ingest.js';
import { createTestContext, type TestContext } from './support/context.js';
import { attachKey, makeUser, payload } from './support/factories.js';
import { describeWith, needs } from './support/requires.js';

interface PlanNode { 'Node Type': string; 'Relation Name'?: string; Plans?: PlanNode[] }
const scans = (n: PlanNode): string[] => [
  ...(n['Relation Name'] ? [`${n['Node Type']} on ${n['Relation Name']}`] : []),
  ...(n.Plans ?? []).flatMap(scans),
];

describeWith('the booking statement at scale', [needs.postgres()], () => {
  let ctx: TestContext;
  let client: postgres.Sql;
  let explainer: postgres.Sql;
  beforeAll(async () => {
    ctx = await createTestContext();
    const url = ctx.database.url!;
    // 20,000 people with balances, then fresh statistics: an index lookup is what a planner picks.
    await ctx.deps.db.execute(sql`insert into users (id, email, name, plan_id)
      select 'usr_plan_' || g, 'plan' || g || '@example.com', 'P', (select id from plans order by id limit 1) from generate_series(1, 20000) g`);
    await ctx.deps.db.execute(sql`insert into balances (user_id, period_start, monthly_milli)
      select 'usr_plan_' || g, date_trunc('month', now())::date, 1000 from generate_series(1, 20000) g
      on conflict do nothing`);
    client = postgres(url, { max: 2, onnotice: () => {} });
    explainer = postgres(url, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await client?.end();
    await explainer?.end();
    await ctx?.close();
  });

  it('finds balances by their primary key, never by a sequential scan', async () => {
    const u = await makeUser(ctx);
    const { hash } = await attachKey(ctx, u.id);
    await ctx.deps.db.execute(sql`analyze`);
    const plans: PlanNode[] = [];
    // The service's statements pass through `unsafe` (drizzle's postgres-js session): explain the
    // booking one (it inserts into usage_events) on a second connection, then run it as sent.
    const capture = <T extends postgres.Sql>(c: T): T => new Proxy(c, {
      get(target, prop, receiver) {
        if (prop === 'unsafe') {
          return async (text: string, params: unknown[] = [], options: Record<string, unknown> = {}) => {
            if (/insert into usage_events/i.test(text)) {
              const [row] = await explainer.unsafe(`explain (format json) ${text}`, params as never);
              plans.push((row!['QUERY PLAN'] as { Plan: PlanNode }[])[0]!.Plan);
            }
            return target.unsafe(text, params as never, options);
          };
        }
        if (prop === 'begin') {
          return (fn: (inner: postgres.Sql) => unknown) => target.begin((inner) => fn(capture(inner as unknown as postgres.Sql)));
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    const db = drizzle(capture(client), { schema }) as unknown as Db;
    const r = await ingestUsage({ ...ctx.deps, db }, [payload(hash, 0.0000376)], { source: 'test' });
    expect(r).toMatchObject({ accepted: 1 });
    expect(plans.length).toBeGreaterThan(0);
    const balanceScans = plans.flatMap(scans).filter((s) => s.endsWith(' on balances'));
    expect(balanceScans.length).toBeGreaterThan(0);
    expect(balanceScans.filter((s) => s.startsWith('Seq Scan'))).toEqual([]);
  });
});
