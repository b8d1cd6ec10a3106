import { afterAll, beforeAll, expect, it } from 'vitest';
import { rows, sql } from '../src/db/client.js';
import { groupBooker } from '../src/domain/usage/group.js';
import { prepareUsage } from '../src/domain/usage/ingest.js';
import { createTestContext, type TestContext } from './support/context.js';
import { attachKey, makeUser, payload } from './support/factories.js';
import { balanceOf, expectLedgerConsistent } from './support/invariants.js';
import { describeWith, needs } from './support/requires.js';

/**
 * Group commit (domain/usage/group.ts): batches waiting while another booking runs are booked in
 * one transaction, each answered with its own counts, every event once.
 */
describeWith('group commit of concurrent batches', [needs.postgres()], () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => ctx.close());

  it('books waiting batches in one transaction with their own counts; an event in two of them once', async () => {
    const a = await makeUser(ctx);
    const b = await makeUser(ctx);
    const ka = await attachKey(ctx, a.id);
    const kb = await attachKey(ctx, b.id);
    const booker = groupBooker(ctx.deps, 1, 4096);
    const shared = payload(kb.hash, 0.000376); // 1,000 credits
    const first = [payload(ka.hash, 0.000376)];
    const second = [payload(ka.hash, 0.000376), payload(ka.hash, 0.000376), shared];
    const third = [shared, payload(kb.hash, 0.000752), payload('f'.repeat(64), 0.000376)]; // the last key is not ours
    // the first is booked at once; the other two wait for it and go together
    const results = await Promise.all([first, second, third].map((batch) => booker.book(prepareUsage(batch), { source: 'generic_api' })));
    expect(results.map(({ accepted, duplicate, unattributed, rejected }) => ({ accepted, duplicate, unattributed, rejected }))).toEqual([
      { accepted: 1, duplicate: 0, unattributed: 0, rejected: 0 },
      { accepted: 3, duplicate: 0, unattributed: 0, rejected: 0 },
      { accepted: 1, duplicate: 1, unattributed: 1, rejected: 0 },
    ]);
    const tx = await rows<{ n: string; events: string }[]>(
      ctx.deps.db,
      // xmin: the transaction that wrote the row
      sql`select count(distinct xmin::text) as n, count(*) as events from usage_events where key_hash in (${ka.hash}, ${kb.hash}, ${'f'.repeat(64)})`,
    );
    expect(tx[0]).toEqual({ n: '2', events: '6' });
    expect((await balanceOf(ctx.deps.db, a.id)).used).toBe(3_000_000);
    expect((await balanceOf(ctx.deps.db, b.id)).used).toBe(3_000_000);
    await expectLedgerConsistent(ctx.deps.db);

    // re-sent, together: all duplicates, nothing booked twice
    const again = await Promise.all([first, second, third].map((batch) => booker.book(prepareUsage(batch), { source: 'generic_api' })));
    expect(again.map((r) => [r.accepted, r.duplicate, r.unattributed])).toEqual([[0, 1, 0], [0, 3, 0], [0, 3, 0]]);
    expect((await balanceOf(ctx.deps.db, a.id)).used).toBe(3_000_000);
  });
});
