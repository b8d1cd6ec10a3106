import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rows } from '../src/db/client.js';
import { recoveredSql } from '../src/domain/usage/ingest.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { readFrom } from './support/plan.js';

/**
 * Every webhook batch asks which of its calls the reconciler already booked (recoveredSql). The
 * reconciler's rows only accumulate, so that question must cost per probe, not per stored row:
 * matching on the provider id alone read every recovered row for every batch.
 */
const STORED = 40_000;
const KEYS = 20;
const hashOf = (k: number) => `h${String(k).padStart(63, '0')}`;
const idOf = (n: number) => `chatcmpl-rec-${n}`;

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase(2);
  // STORED recovered calls over KEYS keys (call n belongs to key n % KEYS), and a few live ones
  await database.db.execute(sql`insert into usage_events (dedup_key, litellm_call_id, provider_id, key_hash, status, call_type, model,
      cost_nano, debit_milli, start_time, source, recovered, created_at)
    select 'rec:' || g, 'call-' || g, 'chatcmpl-rec-' || g, 'h' || lpad((g % ${KEYS}::int)::text, 63, '0'), 'success', 'acompletion', 'm',
      1000, 0, now() - make_interval(secs => g), 'reconciler', g % 100 <> 7, now()
    from generate_series(1, ${STORED}::int) g`);
  await database.db.execute(sql`analyze usage_events`);
}, 120_000);
afterAll(() => database.close());

describe('the recovered-call probe of a batch', () => {
  // 60 probes: 10 recovered calls with their own key, 10 recovered ids under another key, 10 live
  // (not recovered) calls, 30 ids never stored; one pair twice
  const probes = [
    ...Array.from({ length: 10 }, (_, i) => ({ keyHash: hashOf((i * 37 + 1) % KEYS), providerId: idOf(i * 37 + 1) })),
    ...Array.from({ length: 10 }, (_, i) => ({ keyHash: hashOf((i * 41 + 2 + 1) % KEYS), providerId: idOf(i * 41 + 2) })),
    ...Array.from({ length: 10 }, (_, i) => ({ keyHash: hashOf((i * 100 + 7) % KEYS), providerId: idOf(i * 100 + 7) })),
    ...Array.from({ length: 30 }, (_, i) => ({ keyHash: hashOf(i % KEYS), providerId: `chatcmpl-never-${i}` })),
    { keyHash: hashOf(1), providerId: idOf(1) },
  ];

  it('finds exactly the recovered calls of the same key', async () => {
    const [r] = await rows<{ found: [string, string][] | null }>(database.db, sql`select ${recoveredSql(probes)} as found`);
    const found = (r!.found ?? []).map(([h, i]) => `${h}|${i}`).sort();
    const expected = probes.slice(0, 10).map((p) => `${p.keyHash}|${p.providerId}`).sort();
    expect(found).toEqual(expected);
  });

  it(`reads about one index entry per probe, not the ${STORED.toLocaleString('en')} stored calls`, async () => {
    const read = await readFrom(database.db, 'usage_events', sql`select ${recoveredSql(probes)}`);
    expect(read.loops).toBeGreaterThan(0); // it did look
    expect(read.rows).toBeLessThanOrEqual(2 * probes.length);
  });

  it('asks nothing when the batch has no pairs', async () => {
    const [r] = await rows<{ found: unknown }>(database.db, sql`select ${recoveredSql([])} as found`);
    expect(r!.found).toBeNull();
  });
});
