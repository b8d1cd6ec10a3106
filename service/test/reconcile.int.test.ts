import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { rows } from '../src/db/client.js';
import { drainOutbox } from '../src/jobs/outbox.js';
import { reconcile } from '../src/jobs/reconcile.js';
import { payload, uniq } from './support/factories.js';
import { balanceOf, expectLedgerConsistent } from './support/invariants.js';
import { startStack, type Stack } from './support/stack.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(() => s.close());

async function person() {
  const u = await (await s.ctx.api('POST', '/api/users', { email: `rec-${uniq()}@example.com`, name: 'R' })).json();
  return u as { id: string; key: { id: string; plaintext: string } };
}
const run = async () => (await s.ctx.api('POST', '/api/reconciliation/run')).json();

describe('the reconciler', () => {
  it('books calls whose callback was dropped, once, and a late callback is a duplicate', async () => {
    const u = await person();
    expect((await s.chat(u.key.plaintext)).status).toBe(200); // delivered
    const webhook = s.fakeOptions.webhook;
    s.fakeOptions.webhook = undefined; // LiteLLM drops the next callbacks
    await s.chat(u.key.plaintext);
    await s.chat(u.key.plaintext);
    s.fakeOptions.webhook = webhook;
    expect((await balanceOf(s.ctx.deps.db, u.id)).used).toBe(100_000);

    // Too young: the callback may still be on its way (15 min grace), so nothing is booked yet,
    // and LiteLLM being ahead by exactly those calls is delivery under way, not drift.
    const early = await run();
    expect(early.recovered).toBe(0);
    expect((early.items as { keyId: string }[]).filter((i) => i.keyId === u.key.id)).toEqual([]);
    // LiteLLM ahead by more than the young calls it logged is reported
    s.fake.setSpend(u.key.plaintext, 0.0000376 * 4);
    expect((await run()).items).toContainEqual(expect.objectContaining({ keyId: u.key.id, action: 'unexplained' }));
    s.fake.setSpend(u.key.plaintext, 0.0000376 * 3);

    // Later: the calls are recovered from /spend/logs, marked recovered.
    const later = await reconcile(s.ctx.deps, { graceMinutes: 0 });
    expect(later.recovered).toBe(2);
    expect((await balanceOf(s.ctx.deps.db, u.id)).used).toBe(300_000);
    const recovered = await rows<{ provider_id: string }>(s.ctx.deps.db, sql`select provider_id from usage_events where recovered and user_id = ${u.id}`);
    expect(recovered).toHaveLength(2);

    // The dropped callback shows up after all: a duplicate, not a second debit.
    const late = payload(s.fake.getKey(u.key.plaintext)!.token, 0.0000376, { id: recovered[0]!.provider_id });
    expect(await (await s.ctx.webhook([late])).json()).toMatchObject({ accepted: 0, duplicate: 1 });
    // and a second run finds nothing more to do
    const again = await reconcile(s.ctx.deps, { graceMinutes: 0 });
    expect((again.items as { keyId: string }[]).filter((i) => i.keyId === u.key.id)).toEqual([]);
    await expectLedgerConsistent(s.ctx.deps.db);
  });

  it('re-pushes a drifted max_budget and reports spend LiteLLM lost', async () => {
    const u = await person();
    await s.chat(u.key.plaintext);
    await s.ctx.deps.litellm!.updateKey(u.key.plaintext, { maxBudgetUsd: 5 }); // someone edited LiteLLM by hand
    s.fake.setSpend(u.key.plaintext, 0); // LiteLLM lost the spend (database error)
    const report = await reconcile(s.ctx.deps, { settleSeconds: 0 }); // the call is settled by now
    const mine = (report.items as { keyId: string; action: string }[]).filter((i) => i.keyId === u.key.id);
    expect(mine.map((i: { action: string }) => i.action).sort()).toEqual(['budget_repushed', 'unexplained']);
    while ((await drainOutbox(s.ctx.deps)) > 0);
    expect(s.fake.getKey(u.key.plaintext)!.max_budget).toBe(0.376); // 0.0000376 booked + 999,900 credits
    const view = await (await s.ctx.api('GET', '/api/reconciliation')).json();
    expect(view.lastRun).toMatchObject({ keysChecked: expect.any(Number), repushed: 1 });
  });

  it("a LiteLLM spend still behind a recent call is not drift (LiteLLM writes spend in batches)", async () => {
    const u = await person();
    await s.chat(u.key.plaintext);
    s.fake.setSpend(u.key.plaintext, 0); // as /key/info answers before LiteLLM's batch write
    const now = await reconcile(s.ctx.deps);
    expect((now.items as { keyId: string }[]).filter((i) => i.keyId === u.key.id)).toEqual([]);
    const settled = await reconcile(s.ctx.deps, { settleSeconds: 0 });
    expect((settled.items as { keyId: string; action: string }[]).filter((i) => i.keyId === u.key.id).map((i) => i.action)).toEqual(['unexplained']);
  });

  it('a key deleted in LiteLLM (its archive still answers /key/info) is reported missing, and nothing is pushed to it', async () => {
    const u = await person();
    await s.ctx.deps.litellm!.deleteKeys([u.key.plaintext]); // deleted behind our back
    const pushes = async () => Number((await rows<{ n: string }>(s.ctx.deps.db, sql`select count(*) as n from outbox where aggregate = ${u.key.id} and kind = 'litellm.sync_budget'`))[0]!.n);
    const before = await pushes();
    const report = await reconcile(s.ctx.deps);
    expect((report.items as { keyId: string; action: string; detail: string }[]).filter((i) => i.keyId === u.key.id))
      .toEqual([expect.objectContaining({ action: 'unexplained', detail: 'key is missing in LiteLLM' })]);
    expect(await pushes()).toBe(before);
  });

  it('reports LiteLLM errors per key without stopping the run', async () => {
    await person();
    s.fake.faults.failNext(1, 500); // the first /v2/key/info of the run fails
    const report = await reconcile(s.ctx.deps, { chunkSize: 1 });
    expect(report.errors).toBe(1);
    expect(report.keysChecked).toBeGreaterThan(1);
    expect((report.items as { action: string }[]).filter((i) => i.action === 'error')).toHaveLength(1);
  });
});
