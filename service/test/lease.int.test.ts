import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rows } from '../src/db/client.js';
import { releaseLease, renewLease, tryLease, withLease } from '../src/jobs/lease.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';

let database: TestDatabase;
let db: TestDatabase['db'];
beforeAll(async () => {
  database = await createTestDatabase();
  db = database.db;
});
afterAll(() => database.close());

const expiresIn = async (name: string) =>
  Number((await rows<{ s: string }>(db, sql`select extract(epoch from expires_at - now()) as s from job_leases where name = ${name}`))[0]!.s);

describe('job leases', () => {
  it('are exclusive, even for the holder that has one (no run overlaps itself)', async () => {
    expect(await tryLease(db, 'l1', 'a', 60)).toBe(true);
    expect(await tryLease(db, 'l1', 'a', 60)).toBe(false);
    expect(await tryLease(db, 'l1', 'b', 60)).toBe(false);
    await releaseLease(db, 'l1', 'a');
    expect(await tryLease(db, 'l1', 'b', 60)).toBe(true);
  });

  it('renew extends only a lease still held', async () => {
    expect(await tryLease(db, 'l2', 'a', 5)).toBe(true);
    expect(await renewLease(db, 'l2', 'a', 300)).toBe(true);
    expect(await expiresIn('l2')).toBeGreaterThan(290);
    expect(await renewLease(db, 'l2', 'b', 300)).toBe(false);
    await db.execute(sql`update job_leases set expires_at = now() - interval '1 second' where name = 'l2'`);
    expect(await renewLease(db, 'l2', 'a', 300)).toBe(false); // expired: someone else may have it now
  });

  it('withLease: of two concurrent runs only one works; the lease is renewed while it works, then released', async () => {
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = withLease(db, 'l3', 'a', 3, async () => {
      runs++;
      await gate;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(await withLease(db, 'l3', 'a', 3, async () => void runs++)).toBe(false);
    expect(await withLease(db, 'l3', 'b', 3, async () => void runs++)).toBe(false);
    await new Promise((r) => setTimeout(r, 4_000)); // longer than the lease: renewals keep it
    expect(await expiresIn('l3')).toBeGreaterThan(0);
    expect(await withLease(db, 'l3', 'b', 3, async () => void runs++)).toBe(false);
    release();
    expect(await first).toBe(true);
    expect(runs).toBe(1);
    expect(await withLease(db, 'l3', 'b', 3, async () => void runs++)).toBe(true);
    expect(runs).toBe(2);
  });
});
