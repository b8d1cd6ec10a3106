import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rows } from '../src/db/client.js';
import { bookedAmongSql } from '../src/jobs/reconcile.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { readFrom } from './support/plan.js';

/**
 * For a key whose LiteLLM spend is ahead of the ledger, the reconciler asks which of the calls
 * LiteLLM logged are already booked (jobs/reconcile.ts bookedAmong). No index covers key_hash, so
 * asking by key hash alone read the whole usage_events table, for every such key, every cycle.
 * It must read one person's recent calls (and the unattributed ones) instead.
 */
const STORED = 40_000;
const PEOPLE = 20;
const hashOf = (k: number) => `h${String(k).padStart(63, '0')}`;

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase(2);
  // call g: person g % PEOPLE with their key, provider id chatcmpl-g, call id call-g, cost g; those
  // with g % 500 = 3 unattributed (booked before the key, person 3's, was ours); the first 400 are
  // 60 days old
  await database.db.execute(sql`insert into usage_events (dedup_key, litellm_call_id, provider_id, key_hash, user_id, status, call_type, model,
      cost_nano, debit_milli, start_time, source, created_at)
    select 'k:' || g, 'call-' || g, 'chatcmpl-' || g, 'h' || lpad((g % ${PEOPLE}::int)::text, 63, '0'),
      case when g % 500 = 3 then null else 'usr_' || (g % ${PEOPLE}::int) end, 'success', 'acompletion', 'm',
      g, 0, case when g <= 400 then now() - interval '60 days' else now() - make_interval(secs => g) end, 'generic_api', now()
    from generate_series(1, ${STORED}::int) g`);
  await database.db.execute(sql`analyze usage_events`);
}, 120_000);
afterAll(() => database.close());

describe("the reconciler's question: which logged calls of a key are booked", () => {
  const since = new Date(Date.now() - 36 * 86_400_000);
  // person 3: provider ids 1023, 2043; call ids 3063, 4083; the unattributed 3503 of their key;
  // 1004 is person 4's; 9999999 was never booked
  const ids = ['chatcmpl-1023', 'chatcmpl-2043', 'call-3063', 'call-4083', 'chatcmpl-3503', 'chatcmpl-1004', 'chatcmpl-9999999'];

  it('finds exactly that key’s calls, by provider id or call id, unattributed ones included', async () => {
    const found = await rows<{ provider_id: string; cost_nano: string }>(database.db, bookedAmongSql('usr_3', hashOf(3), ids, since));
    expect(found.map((r) => [r.provider_id, Number(r.cost_nano)]).sort()).toEqual([
      ['chatcmpl-1023', 1023],
      ['chatcmpl-2043', 2043],
      ['chatcmpl-3063', 3063],
      ['chatcmpl-3503', 3503],
      ['chatcmpl-4083', 4083],
    ]);
  });

  it('takes any number of ids in one statement (no bind parameter per id)', async () => {
    const many = Array.from({ length: 70_000 }, (_, i) => `chatcmpl-${i}`);
    const found = await rows<{ provider_id: string }>(database.db, bookedAmongSql('usr_3', hashOf(3), many, since));
    // key 3's calls: person 3's younger than 36 days, and the unattributed ones whatever their age
    const expected = Array.from({ length: STORED }, (_, g) => g + 1).filter((g) => g % PEOPLE === 3 && (g % 500 === 3 || g > 400)).length;
    expect(found.length).toBe(expected);
  });

  it(`reads one person's recent calls, not the ${STORED.toLocaleString('en')} stored`, async () => {
    const read = await readFrom(database.db, 'usage_events', bookedAmongSql('usr_3', hashOf(3), ids, since));
    expect(read.loops).toBeGreaterThan(0);
    // key 3 has STORED / PEOPLE calls (the unattributed among them)
    expect(read.rows).toBeLessThanOrEqual(STORED / PEOPLE + 100);
  });
});
