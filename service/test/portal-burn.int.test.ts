import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usedInWindow, usedInWindowSql } from '../src/domain/alerts/projection.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { readFrom } from './support/plan.js';

/**
 * The burn rate (the 80 % email's exhaustion date, and every /me view) sums the last 7 days of a
 * person's debits. It must read those 7 days, not the person's whole history.
 */
const HISTORY = 30_000;
const now = new Date('2026-12-03T12:00:00Z');

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase(2);
  const at = sql`${now.toISOString()}::timestamptz`;
  // call g started g × 1000 s before now (a year of history); every 10th is another person's;
  // every 7th failed, billed (debit g) when g % 14 = 0, free otherwise
  await database.db.execute(sql`insert into usage_events (dedup_key, litellm_call_id, key_hash, user_id, status, call_type, model,
      cost_nano, debit_milli, start_time, source, created_at)
    select 'k:' || g, 'call-' || g, 'h', case when g % 10 = 0 then 'usr_2' else 'usr_1' end,
      case when g % 7 = 0 then 'failure' else 'success' end, 'acompletion', 'm',
      g, case when g % 7 = 0 and g % 14 <> 0 then 0 else g end, ${at} - make_interval(secs => g * 1000), 'generic_api', ${at}
    from generate_series(1, ${HISTORY}::int) g`);
  // 50 calls without a start time, received 1–50 hours ago, debit 5 each; one received 8 days ago;
  // one that starts after now
  await database.db.execute(sql`insert into usage_events (dedup_key, litellm_call_id, key_hash, user_id, status, call_type, model,
      cost_nano, debit_milli, start_time, source, created_at)
    select 'n:' || g, 'ncall-' || g, 'h', 'usr_1', 'success', 'acompletion', 'm', 5, 5, null::timestamptz, 'generic_api', ${at} - make_interval(hours => g)
    from generate_series(1, 50) g
    union all select 'old', 'old', 'h', 'usr_1', 'success', 'acompletion', 'm', 7, 7, null, 'generic_api', ${at} - interval '8 days'
    union all select 'future', 'future', 'h', 'usr_1', 'success', 'acompletion', 'm', 9, 9, ${at} + interval '1 hour', 'generic_api', ${at}`);
  await database.db.execute(sql`analyze usage_events`);
}, 120_000);
afterAll(() => database.close());

describe('the burn window', () => {
  it('sums the debits of the last 7 days, billed failures included, by start time or else received time', async () => {
    let expected = 50 * 5;
    for (let g = 1; g <= HISTORY; g++) {
      if (g % 10 === 0 || g * 1000 > 7 * 86_400) continue;
      expected += g % 7 === 0 && g % 14 !== 0 ? 0 : g;
    }
    const used = await usedInWindow(database.db, ['usr_1', 'usr_3'], now);
    expect(used.get('usr_1')).toBe(expected);
    expect(used.has('usr_3')).toBe(false);
  });

  it(`reads the window's calls, not the person's ${HISTORY.toLocaleString('en')}-call history`, async () => {
    const read = await readFrom(database.db, 'usage_events', usedInWindowSql(['usr_1'], now));
    expect(read.loops).toBeGreaterThan(0);
    // 604 calls started in the window (9 in 10 of them usr_1's), 50 without a start time
    expect(read.rows).toBeLessThanOrEqual(700);
  });
});
