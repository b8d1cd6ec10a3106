import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { rows } from '../src/db/client.js';
import { drainOutbox } from '../src/jobs/outbox.js';
import { uniq } from './support/factories.js';
import { balanceOf, expectLedgerConsistent } from './support/invariants.js';
import { MASTER_KEY, startStack, type Stack } from './support/stack.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack();
  const plan = await s.ctx.api('POST', '/api/plans', { slug: 'story', name: 'Story', monthlyCredits: 1000 });
  expect(plan.status).toBe(201);
});
afterAll(() => s.close());

async function personWithKey() {
  const res = await s.ctx.api('POST', '/api/users', { email: `story-${uniq()}@example.com`, name: 'Story', plan: 'story' });
  expect(res.status).toBe(201);
  const u = await res.json();
  return u as { id: string; key: { id: string; status: string; plaintext: string; hint: string } };
}

/** Let time pass for the outbox: make every pending item due now, then drain until empty. */
async function drain() {
  await s.ctx.deps.db.execute(sql`update outbox set next_attempt_at = now() where status = 'pending'`);
  while ((await drainOutbox(s.ctx.deps)) > 0);
}

describe('a person is stopped by LiteLLM at 100 % and resumes after credits', () => {
  it('runs the whole story with exact balances', async () => {
    const u = await personWithKey();
    // the key is provisioned in LiteLLM with max_budget = 1000 credits × 0.376 µUSD = 0.000376 USD
    expect(u.key).toMatchObject({ status: 'active', plaintext: expect.stringMatching(/^sk-/) });
    const key = u.key.plaintext;
    const row = s.fake.getKey(key)!;
    expect(row).toMatchObject({ max_budget: 0.000376, key_alias: `tcc-${u.id}`, user_id: u.id, spend: 0 });
    expect((row as { budget_duration?: unknown }).budget_duration ?? null).toBeNull();
    // the plaintext is never stored
    const leaked = await rows(s.ctx.deps.db, sql`select 1 from keys where token_hash = ${key} or key_hint = ${key}`);
    expect(leaked).toEqual([]);

    // 10 calls × 100 credits: each one booked through the usage callback
    for (let i = 1; i <= 10; i++) {
      const r = await s.chat(key);
      expect(r.status).toBe(200);
      expect(await balanceOf(s.ctx.deps.db, u.id)).toMatchObject({ monthly: (1000 - 100 * i) * 1000 });
    }
    expect(await balanceOf(s.ctx.deps.db, u.id)).toEqual({ monthly: 0, topup: 0, used: 1_000_000, state: 'blocked' });

    // the 11th call is refused by LiteLLM itself
    const refused = await s.chat(key);
    expect(refused.status).toBe(429);
    expect(refused.body.error.type).toBe('budget_exceeded');
    expect((await balanceOf(s.ctx.deps.db, u.id)).used).toBe(1_000_000);

    // the admin adds 500 credits → the outbox pushes max_budget = 0.000376 booked + 0.000188
    const added = await s.ctx.api('POST', `/api/users/${u.id}/credits`, { amount: 500, reason: 'more' }, { headers: { 'idempotency-key': uniq() } });
    expect((await added.json()).user.balance).toMatchObject({ credits: 500, state: 'active' });
    await drain();
    expect(s.fake.getKey(key)!.max_budget).toBe(0.000564);

    // calls pass again: 5 more, then LiteLLM stops the person again
    for (let i = 0; i < 5; i++) expect((await s.chat(key)).status).toBe(200);
    expect((await s.chat(key)).body.error.type).toBe('budget_exceeded');
    expect(await balanceOf(s.ctx.deps.db, u.id)).toEqual({ monthly: 0, topup: 0, used: 1_500_000, state: 'blocked' });
    await expectLedgerConsistent(s.ctx.deps.db);
  });

  it('suspends (LiteLLM blocks the key), activates, and rotates the key', async () => {
    const u = await personWithKey();
    const key = u.key.plaintext;
    await s.ctx.api('POST', `/api/users/${u.id}/suspend`);
    await drain();
    expect((await s.chat(key)).status).toBe(401);
    await s.ctx.api('POST', `/api/users/${u.id}/activate`);
    await drain();
    expect((await s.chat(key)).status).toBe(200);

    const rotated = await (await s.ctx.api('POST', `/api/users/${u.id}/key/rotate`)).json();
    expect(rotated.plaintext).toMatch(/^sk-/);
    expect(rotated.plaintext).not.toBe(key);
    await drain();
    expect(s.fake.getKey(key)).toBeUndefined(); // old key deleted in LiteLLM
    expect((await s.chat(key)).status).toBe(401);
    const next = await s.chat(rotated.plaintext);
    expect(next.status).toBe(200);
    // usage on the new key is booked to the same person: 2 calls in all
    expect((await balanceOf(s.ctx.deps.db, u.id)).used).toBe(200_000);
    // the new key's budget = its own booked spend (one call, 0.0000376) + 800 credits left (0.0003008);
    // usage never changes max_budget: spend and remaining move together
    expect(s.fake.getKey(rotated.plaintext)).toMatchObject({ max_budget: 0.0003384, spend: 0.0000376 });
  });

  it('keeps changes while LiteLLM is down and applies each once when it returns', async () => {
    const u = await personWithKey();
    const key = u.key.plaintext;
    s.fake.faults.down(true);
    for (const amount of [100, 200]) {
      await s.ctx.api('POST', `/api/users/${u.id}/credits`, { amount, reason: 'while down' }, { headers: { 'idempotency-key': uniq() } });
    }
    await s.ctx.api('POST', `/api/users/${u.id}/suspend`);
    await drain();
    const pending = await rows<{ n: string }>(s.ctx.deps.db, sql`select count(*) as n from outbox where status = 'pending' and aggregate = ${u.key.id}`);
    expect(Number(pending[0]!.n)).toBe(3);
    s.fake.faults.down(false);
    const before = s.fake.calls.length;
    await drain();
    const applied = s.fake.calls.slice(before).map((c) => c.path);
    // the two budget changes coalesce into one push of the latest value, then the block, in order
    expect(applied).toEqual(['/key/bulk_update', '/key/block']);
    expect(s.fake.getKey(key)).toMatchObject({ max_budget: 0.0004888, blocked: true });
    const left = await rows<{ n: string }>(s.ctx.deps.db, sql`select count(*) as n from outbox where status = 'pending'`);
    expect(Number(left[0]!.n)).toBe(0);
  });

  it('pushes a key alone when the bulk update could not: a key LiteLLM lost ends dead (404), the others land', async () => {
    const [lost, kept] = [await personWithKey(), await personWithKey()];
    await drain();
    // The key disappears from LiteLLM behind our back.
    const del = await fetch(`${s.fake.url}/key/delete`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ keys: [lost.key.plaintext] }),
    });
    expect(del.status).toBe(200);
    for (const u of [lost, kept]) {
      await s.ctx.api('POST', `/api/users/${u.id}/credits`, { amount: 100, reason: 'x' }, { headers: { 'idempotency-key': uniq() } });
    }
    const before = s.fake.calls.length;
    await drain();
    const calls = s.fake.calls.slice(before);
    expect(calls.map((c) => c.path)).toEqual(['/key/bulk_update', '/key/update']);
    expect((calls[0]!.body as { keys: unknown[] }).keys).toHaveLength(2);
    expect(s.fake.getKey(kept.key.plaintext)).toMatchObject({ max_budget: 0.0004136 });
    const [item] = await rows<{ status: string; last_error: string }>(
      s.ctx.deps.db,
      sql`select status, last_error from outbox where aggregate = ${lost.key.id} and kind = 'litellm.sync_budget' order by id desc limit 1`,
    );
    expect(item).toMatchObject({ status: 'dead', last_error: expect.stringContaining('404') });
  });

  it.each([500, 'timeout', 'garbage', 'reset'] as const)('retries a budget push after a %s answer', async (fault) => {
    const u = await personWithKey();
    s.fake.faults.failNext(1, fault);
    await s.ctx.api('POST', `/api/users/${u.id}/credits`, { amount: 1000, reason: 'x' }, { headers: { 'idempotency-key': uniq() } });
    await drainOutbox(s.ctx.deps); // fails
    const [item] = await rows<{ attempts: number; last_error: string; status: string }>(
      s.ctx.deps.db,
      sql`select attempts, last_error, status from outbox where aggregate = ${u.key.id} order by id desc limit 1`,
    );
    expect(item).toMatchObject({ attempts: 1, status: 'pending' });
    expect(item!.last_error).not.toContain(u.key.plaintext);
    await drain();
    expect(s.fake.getKey(u.key.plaintext)!.max_budget).toBe(0.000752);
  });

  it('keeps the key pending when LiteLLM fails at creation, and rotation provisions it', async () => {
    s.fake.faults.failNext(1, 500);
    const res = await s.ctx.api('POST', '/api/users', { email: `pending-${uniq()}@example.com`, name: 'P', plan: 'story' });
    expect(res.status).toBe(201);
    const u = await res.json();
    expect(u.key).toMatchObject({ status: 'pending' });
    expect(u.key.plaintext).toBeUndefined();
    const rotated = await (await s.ctx.api('POST', `/api/users/${u.id}/key/rotate`)).json();
    expect(rotated).toMatchObject({ status: 'active', plaintext: expect.stringMatching(/^sk-/) });
    expect((await s.chat(rotated.plaintext)).status).toBe(200);
  });

  // last: the stack's client then remembers the proxy has no bulk endpoint
  it('pushes every key alone when the proxy has no /key/bulk_update (404), and remembers it', async () => {
    const [a, b] = [await personWithKey(), await personWithKey()];
    await drain();
    for (const u of [a, b]) {
      await s.ctx.api('POST', `/api/users/${u.id}/credits`, { amount: 200, reason: 'x' }, { headers: { 'idempotency-key': uniq() } });
    }
    s.fake.faults.failNext(1, 404);
    const before = s.fake.calls.length;
    await drain();
    expect(s.fake.calls.slice(before).map((c) => [c.path, c.fault])).toEqual([
      ['/key/bulk_update', 404], ['/key/update', undefined], ['/key/update', undefined],
    ]);
    for (const u of [a, b]) expect(s.fake.getKey(u.key.plaintext)).toMatchObject({ max_budget: 0.0004512 });
    const left = await rows<{ n: string }>(s.ctx.deps.db, sql`select count(*) as n from outbox where status = 'pending'`);
    expect(Number(left[0]!.n)).toBe(0);
    // remembered: the next pushes go key by key without asking again
    await s.ctx.api('POST', `/api/users/${a.id}/credits`, { amount: 100, reason: 'x' }, { headers: { 'idempotency-key': uniq() } });
    const later = s.fake.calls.length;
    await drain();
    expect(s.fake.calls.slice(later).map((c) => c.path)).toEqual(['/key/update']);
  });
});
