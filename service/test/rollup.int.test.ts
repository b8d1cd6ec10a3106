import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { rows } from '../src/db/client.js';
import { milliToCredits, nanoToUsd } from '../src/domain/money.js';
import { dailyUsage, stats } from '../src/domain/reports.js';
import { ingestUsage } from '../src/domain/usage/ingest.js';
import { periodOf, periodStartInstant } from '../src/lib/period.js';
import { createTestContext, type TestContext } from './support/context.js';
import { attachKey, makeUser, payload, uniq } from './support/factories.js';

/**
 * The overview's numbers come from usage_rollup, kept by the booking statement. They must equal
 * the same sums taken straight from usage_events — in time zones whose midnight is not on a whole
 * UTC hour too — and so must the migration's backfill.
 */
const ZONES = ['America/Sao_Paulo', 'Asia/Kathmandu', 'America/St_Johns', 'Europe/Berlin'];
const DAYS = 35;
let ctx: TestContext;
const now = new Date();

beforeAll(async () => {
  ctx = await createTestContext();
  const u = await makeUser(ctx, { plan: 'enterprise' });
  const { hash } = await attachKey(ctx, u.id);
  // Every 7 min 13 s over DAYS days, plus 1 ms either side of each zone's local midnights.
  const starts: number[] = [];
  for (let t = now.getTime() - DAYS * 86_400_000; t <= now.getTime(); t += 433_000) starts.push(t);
  for (const tz of ZONES) {
    const midnights = await rows<{ at: Date | string }>(
      ctx.deps.db,
      sql`select (d at time zone ${tz}) as at
          from generate_series(date_trunc('day', ${now.toISOString()}::timestamptz at time zone ${tz}) - make_interval(days => ${DAYS}::int),
                               date_trunc('day', ${now.toISOString()}::timestamptz at time zone ${tz}), interval '1 day') d`,
    );
    for (const m of midnights) starts.push(new Date(m.at).getTime() - 1, new Date(m.at).getTime());
  }
  const events = starts.map((t, i) => {
    const failed = i % 10 === 3 || i % 30 === 7;
    // some failures LiteLLM billed (an interrupted stream's partial usage), most free
    return payload(i % 9 === 4 ? uniq().repeat(8) : hash, failed && i % 30 !== 7 ? null : (1 + (i % 97)) * 1e-8, {
      startTime: t / 1000,
      status: failed ? 'failure' : 'success',
      model: i % 2 ? 'gpt-4o-mini' : 'claude-3-5-haiku',
      model_group: i % 3 ? (i % 2 ? 'gpt-4o-mini' : 'claude') : null,
    });
  });
  events.push(payload(hash, 1e-7, { startTime: undefined })); // in no time range
  for (let i = 0; i < events.length; i += 500) await ingestUsage(ctx.deps, events.slice(i, i + 500), { source: 'test' });
});
afterAll(() => ctx.close());

/** stats() and dailyUsage() against the same sums from usage_events. */
async function expectOverviewMatchesEvents(tz: string) {
  const period = periodOf(now, tz);
  const periodStart = periodStartInstant(period, tz);
  const overview = await stats(ctx.deps.db, { now, timeZone: tz, periodStart, period });
  const [direct] = await rows<{ today_milli: string; today_nano: string; calls: string }>(
    ctx.deps.db,
    sql`select (select coalesce(sum(debit_milli), 0) from usage_events
                 where start_time >= date_trunc('day', ${now.toISOString()}::timestamptz at time zone ${tz}) at time zone ${tz}) as today_milli,
               (select coalesce(sum(cost_nano), 0) from usage_events
                 where start_time >= date_trunc('day', ${now.toISOString()}::timestamptz at time zone ${tz}) at time zone ${tz}) as today_nano,
               (select count(*) from usage_events where start_time >= ${periodStart.toISOString()}::timestamptz) as calls`,
  );
  expect({ tz, today: overview.today, calls: overview.period.calls }).toEqual({
    tz,
    today: { credits: milliToCredits(Number(direct!.today_milli)), usd: nanoToUsd(Number(direct!.today_nano)) },
    calls: Number(direct!.calls),
  });
  expect(overview.period.calls).toBeGreaterThan(0);

  for (const days of [1, 7, 30]) {
    const daily = await dailyUsage(ctx.deps.db, { now, days, timeZone: tz });
    const expected = await rows<{ day: string; model: string; milli: string; nano: string; calls: string }>(
      ctx.deps.db,
      sql`select to_char(start_time at time zone ${tz}, 'YYYY-MM-DD') as day, coalesce(model_group, model, 'unknown') as model,
                 sum(debit_milli) as milli, sum(cost_nano) as nano, count(*) filter (where status = 'success') as calls
          from usage_events
          where user_id is not null
            and start_time >= (date_trunc('day', ${now.toISOString()}::timestamptz at time zone ${tz}) - make_interval(days => ${days - 1}::int)) at time zone ${tz}
          group by 1, 2 having count(*) filter (where status = 'success') > 0 or sum(debit_milli) > 0 order by 1, 2`,
    );
    expect(new Set(daily.map((d) => d.day)).size).toBe(days);
    expect({ tz, days, daily }).toEqual({
      tz,
      days,
      daily: expected.map((r) => ({ day: r.day, model: r.model, credits: milliToCredits(Number(r.milli)), usd: nanoToUsd(Number(r.nano)), calls: Number(r.calls) })),
    });
  }
}

describe('usage_rollup', () => {
  it('gives the overview the same numbers as the events, in every time zone', async () => {
    for (const tz of ZONES) await expectOverviewMatchesEvents(tz);
  });

  it('is rebuilt exactly by the backfill of migration 0008', async () => {
    const migration = readFileSync(new URL('../../migrations/0008_usage_rollup.sql', import.meta.url), 'utf8');
    const backfill = migration.split('--> statement-breakpoint').at(-1)!;
    expect(backfill).toMatch(/INSERT INTO "usage_rollup"/);
    await ctx.deps.db.execute(sql`delete from usage_rollup`);
    await ctx.deps.db.execute(sql.raw(backfill));
    for (const tz of ZONES) await expectOverviewMatchesEvents(tz);
  });
});
