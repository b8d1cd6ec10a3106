/**
 * People list at 100,000 people: seeds users and balances with SQL into a throwaway database
 * (BENCH_PEOPLE_DATABASE_URL, default a local `people100k` database that must exist), then times
 * the admin list query (search, filters, sort, deep pages) that the People screen uses.
 * Run: createdb people100k; npx tsx bench/people.ts
 */
import { sql } from 'drizzle-orm';
import { openPostgres, rows } from '../service/src/db/client.js';
import { listUsers } from '../service/src/domain/users/list.js';
import { seedPlans } from '../service/src/domain/plans.js';
const url = process.env.BENCH_PEOPLE_DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/people100k';
const db = await openPostgres(url, 4);
await seedPlans(db.db);
await db.db.execute(sql`insert into users (id, email, name, plan_id)
  select 'usr_' || g, 'person' || g || '@example.com', 'Person ' || g, (select id from plans where slug = 'basic')
  from generate_series(1, 100000) g on conflict do nothing`);
await db.db.execute(sql`insert into balances (user_id, period_start, monthly_milli, topup_milli, period_used_milli, credit_state)
  select 'usr_' || g, '2026-11-01', (g::bigint * 7919) % 1000000000, 0, (g::bigint * 104729) % 1000000000, case when g % 10 = 0 then 'warned' else 'ok' end
  from generate_series(1, 100000) g on conflict do nothing`);
await db.db.execute(sql`analyze`);
for (const [name, input] of [
  ['page 1, newest', { page: 1, pageSize: 50 }],
  ['page 1000, newest', { page: 1000, pageSize: 50 }],
  ['sort by percent used', { page: 1, pageSize: 50, sort: 'percentUsed' }],
  ['filter warned', { page: 1, pageSize: 50, status: 'warned' }],
  ['search "person9999"', { page: 1, pageSize: 50, search: 'person9999' }],
  ['min 80 %', { page: 1, pageSize: 50, minPercent: 80 }],
] as const) {
  const times: number[] = [];
  let total = 0;
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    total = (await listUsers(db.db, input as any)).total;
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  console.log(`${name.padEnd(24)} total=${String(total).padEnd(7)} median ${times[3]!.toFixed(1)} ms  max ${times[6]!.toFixed(1)} ms`);
}
await db.close();
