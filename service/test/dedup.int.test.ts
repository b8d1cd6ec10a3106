import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { rows } from '../src/db/client.js';
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

async function person() {
  const u = await makeUser(ctx, { plan: 'basic' });
  return { id: u.id, ...(await attachKey(ctx, u.id)) };
}
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

  it('recognises a re-delivery of an event booked under the old key (start time hashed as sent)', async () => {
    const p = await person();
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
      await ctx.deps.db.execute(sql`insert into usage_events (dedup_key, key_hash, status, cost_nano, start_time, source)
        values (${l.key}, ${p.hash}, 'success', 376000, ${l.start}::timestamptz, 'generic_api')`);
    }
    expect(await (await ctx.webhook([call, noCallId, noStart])).json()).toEqual({ accepted: 0, duplicate: 3, unattributed: 0, rejected: 0 });
    expect((await balanceOf(ctx.deps.db, p.id)).used).toBe(0);
    // a different call is still booked
    expect(await (await ctx.webhook([{ ...call, startTime: 1763790000.123457 }])).json()).toEqual({ accepted: 1, duplicate: 0, unattributed: 0, rejected: 0 });
  });

  it('looks legacy keys up only for start times before the cut-off the migration recorded', async () => {
    const [row] = await rows<{ before: string }>(ctx.deps.db, sql`select (value #>> '{}')::timestamptz > now() + interval '23 hours' as before from settings where key = 'dedup_legacy_before'`);
    expect(row).toEqual({ before: true });
    const p = await person();
    const later = payload(p.hash, COST, { litellm_call_id: 'call-after-cutoff', startTime: Date.now() / 1000 + 3 * 86400 });
    const k = `c:${sha256(`call-after-cutoff|${later.startTime}|${p.hash}`)}`;
    await ctx.deps.db.execute(sql`insert into usage_events (dedup_key, key_hash, status, cost_nano, start_time, source)
      values (${k}, ${p.hash}, 'success', 376000, ${new Date(later.startTime * 1000).toISOString()}::timestamptz, 'generic_api')`);
    expect(await (await ctx.webhook([later])).json()).toEqual({ accepted: 1, duplicate: 0, unattributed: 0, rejected: 0 });
  });
});
