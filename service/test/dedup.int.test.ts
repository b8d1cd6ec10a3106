import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import { MIGRATIONS_DIR, rows } from '../src/db/client.js';
import { createTestContext, type TestContext } from './support/context.js';
import { attachKey, makeUser, payload } from './support/factories.js';
import { balanceOf, expectLedgerConsistent } from './support/invariants.js';

// f = 0.376: 0.000376 USD = 1,000 credits = 1,000,000 milli-credits.
const COST = 0.000376;
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

async function personOf(c: TestContext) {
  const u = await makeUser(c, { plan: 'basic' });
  return { id: u.id, ...(await attachKey(c, u.id)) };
}
const person = () => personOf(ctx);
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('dedup key: the start instant, not its spelling', () => {
  it('books one call sent with its start time as epoch seconds, numeric text and ISO 8601, once', async () => {
    const p = await person();
    const call = payload(p.hash, COST, { litellm_call_id: 'call-spellings' });
    // 1796209999 s since the epoch is 2026-12-02T11:13:19Z
    const spellings = [1796209999, '1796209999.0', '2026-12-02T11:13:19Z', '2026-12-02T11:13:19.000Z', 1796209999000, '2026-12-02T11:13:19.0000001Z'];
    const answers = [];
    for (const startTime of spellings) answers.push(await (await ctx.webhook([{ ...call, startTime }])).json());
    expect(answers).toEqual([
      { accepted: 1, duplicate: 0, unattributed: 0, rejected: 0 },
      ...spellings.slice(1).map(() => ({ accepted: 0, duplicate: 1, unattributed: 0, rejected: 0 })),
    ]);
    // and in one batch
    expect(await (await ctx.webhook(spellings.map((startTime) => ({ ...call, startTime })))).json()).toEqual({ accepted: 0, duplicate: 6, unattributed: 0, rejected: 0 });
    expect((await balanceOf(ctx.deps.db, p.id)).used).toBe(1_000_000);
    const [ev] = await rows<{ n: number; start: string }>(ctx.deps.db, sql`select count(*)::int as n, min(start_time)::text as start from usage_events where litellm_call_id = 'call-spellings'`);
    expect(ev).toEqual({ n: 1, start: '2026-12-02 11:13:19+00' });
    await expectLedgerConsistent(ctx.deps.db);
  });

  it('keeps calls a microsecond apart apart, and treats sub-microsecond digits as the same instant', async () => {
    const p = await person();
    const call = payload(p.hash, COST, { litellm_call_id: 'call-micro' });
    const res = await ctx.webhook([
      { ...call, startTime: 1796209999.000001 },
      { ...call, startTime: 1796209999.000002 },
      { ...call, startTime: '2026-12-02T11:13:19.0000024Z' }, // rounds to .000002
      { ...call, startTime: '2026-12-02T11:13:19.000003Z' },
    ]);
    expect(await res.json()).toEqual({ accepted: 3, duplicate: 1, unattributed: 0, rejected: 0 });
    expect((await balanceOf(ctx.deps.db, p.id)).used).toBe(3_000_000);
  });
});

/**
 * A database migrated in more than one run (an upgrade from a version before migration 0009)
 * keeps the cut-off 0009 recorded: a day ahead, or the latest start time it had stored.
 */
describe('dedup key: an upgraded database looks old keys up', () => {
  let up: TestContext;
  beforeAll(async () => {
    up = await createTestContext();
    // what 0009 records on an upgrade (0015 leaves it), set before this app's first booking reads it
    await up.deps.db.execute(sql`update settings set value = to_jsonb(now() + interval '1 day') where key = 'dedup_legacy_before'`);
  });
  afterAll(() => up.close());

  it('recognises a re-delivery of an event booked under the old key (start time hashed as sent)', async () => {
    const p = await personOf(up);
    const call = payload(p.hash, COST, { litellm_call_id: 'call-legacy', startTime: 1763790000.123456 });
    const noCallId = payload(p.hash, COST, { litellm_call_id: undefined, id: 'chatcmpl-legacy', startTime: '1763790001.5' });
    const noStart = payload(p.hash, COST, { litellm_call_id: 'call-legacy-nostart', startTime: undefined });
    // What versions before migration 0009 stored for these three (their key and start_time).
    const legacy = [
      { key: `c:${sha256(`call-legacy|1763790000.123456|${p.hash}`)}`, start: new Date(1763790000.123456 * 1000).toISOString() },
      { key: `h:${sha256(`chatcmpl-legacy|1763790001.5|${p.hash}|acompletion`)}`, start: new Date(1763790001500).toISOString() },
      { key: `c:${sha256(`call-legacy-nostart||${p.hash}`)}`, start: null },
    ];
    for (const l of legacy) {
      await up.deps.db.execute(sql`insert into usage_events (dedup_key, key_hash, status, cost_nano, start_time, source)
        values (${l.key}, ${p.hash}, 'success', 376000, ${l.start}::timestamptz, 'generic_api')`);
    }
    expect(await (await up.webhook([call, noCallId, noStart])).json()).toEqual({ accepted: 0, duplicate: 3, unattributed: 0, rejected: 0 });
    expect((await balanceOf(up.deps.db, p.id)).used).toBe(0);
    // a different call is still booked
    expect(await (await up.webhook([{ ...call, startTime: 1763790000.123457 }])).json()).toEqual({ accepted: 1, duplicate: 0, unattributed: 0, rejected: 0 });
  });

  it('looks legacy keys up only for start times before the cut-off the migration recorded', async () => {
    const p = await personOf(up);
    const later = payload(p.hash, COST, { litellm_call_id: 'call-after-cutoff', startTime: Date.now() / 1000 + 3 * 86400 });
    const k = `c:${sha256(`call-after-cutoff|${later.startTime}|${p.hash}`)}`;
    await up.deps.db.execute(sql`insert into usage_events (dedup_key, key_hash, status, cost_nano, start_time, source)
      values (${k}, ${p.hash}, 'success', 376000, ${new Date(later.startTime * 1000).toISOString()}::timestamptz, 'generic_api')`);
    expect(await (await up.webhook([later])).json()).toEqual({ accepted: 1, duplicate: 0, unattributed: 0, rejected: 0 });
  });
});

describe('dedup key: a database this version created has no old keys to look up', () => {
  it('drops the cut-off to -infinity when every migration ran in one run (migration 0015)', async () => {
    const [row] = await rows<{ cutoff: string }>(ctx.deps.db, sql`select value #>> '{}' as cutoff from settings where key = 'dedup_legacy_before'`);
    expect(row).toEqual({ cutoff: '-infinity' });
    // a row under an old key cannot exist here; one planted is not looked for: the event is booked
    const p = await person();
    const call = payload(p.hash, COST, { litellm_call_id: 'call-fresh', startTime: 1763790000.5 });
    await ctx.deps.db.execute(sql`insert into usage_events (dedup_key, key_hash, status, cost_nano, start_time, source)
      values (${`c:${sha256(`call-fresh|1763790000.5|${p.hash}`)}`}, ${p.hash}, 'success', 376000, ${new Date(1763790000500).toISOString()}::timestamptz, 'generic_api')`);
    expect(await (await ctx.webhook([call])).json()).toEqual({ accepted: 1, duplicate: 0, unattributed: 0, rejected: 0 });
  });

  it('keeps the cut-off of a database a version before 0009 created (upgraded in a later run)', async () => {
    // migrations up to 0008 in one run (a version that wrote v1 keys), the rest in another: an upgrade
    const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    const journalPath = join(dir, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { tag: string }[] };
    const upTo = journal.entries.findIndex((e) => e.tag.startsWith('0009_'));
    writeFileSync(journalPath, JSON.stringify({ ...journal, entries: journal.entries.slice(0, upTo) }));
    const pg = new PGlite();
    try {
      const db = drizzle(pg);
      await migrate(db, { migrationsFolder: dir });
      await migrate(db, { migrationsFolder: MIGRATIONS_DIR });
      const after = (await pg.query<{ ahead: boolean; by: string }>(
        `select (value #>> '{}')::timestamptz > now() + interval '23 hours' as ahead, updated_by as by from settings where key = 'dedup_legacy_before'`,
      )).rows[0];
      expect(after).toEqual({ ahead: true, by: 'migration 0009' });
      // and the same folder in one run gives -infinity
      const fresh = new PGlite();
      await migrate(drizzle(fresh), { migrationsFolder: MIGRATIONS_DIR });
      expect((await fresh.query<{ v: string }>(`select value #>> '{}' as v from settings where key = 'dedup_legacy_before'`)).rows[0]!.v).toBe('-infinity');
      await fresh.close();
    } finally {
      await pg.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
