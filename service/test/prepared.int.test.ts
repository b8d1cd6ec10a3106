import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { rows } from '../src/db/client.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { describeWith, needs } from './support/requires.js';

/**
 * db/client.ts `preparing`: the statements the service repeats are prepared (one round trip, no
 * re-parse); lists of many values are not, so the per-connection statement cache stays bounded.
 * Read in pg_prepared_statements of the connection itself (one transaction = one connection).
 */
describeWith('prepared statements on PostgreSQL', [needs.postgres()], () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(1);
  });
  afterAll(() => t?.close());

  const prepared = (tx: Parameters<Parameters<TestDatabase['db']['transaction']>[0]>[0], marker: string) =>
    rows<{ n: number }>(tx, sql`select count(*)::int as n from pg_prepared_statements where statement like ${`%${marker}%`} and statement not like '%pg_prepared_statements%'`);

  it('prepares a repeated statement with parameters, once per connection', async () => {
    await t.db.transaction(async (tx) => {
      for (let i = 0; i < 3; i++) await tx.execute(sql`select ${i}::int as prepared_marker_one`);
      expect((await prepared(tx, 'prepared_marker_one'))[0]!.n).toBe(1);
    });
    // outside a transaction too (the pool's connection), and the answer is right
    const [r] = await rows<{ v: number }>(t.db, sql`select ${41}::int + 1 as v /* prepared_marker_two */`);
    expect(r!.v).toBe(42);
  });

  it('does not prepare a statement with a long list of values', async () => {
    await t.db.transaction(async (tx) => {
      const list = Array.from({ length: 40 }, (_, i) => i);
      await tx.execute(sql`select ${sql.join(list.map((v) => sql`${v}::int`), sql`, `)} /* prepared_marker_three */`);
      expect((await prepared(tx, 'prepared_marker_three'))[0]!.n).toBe(0);
    });
  });
});
