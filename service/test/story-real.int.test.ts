/**
 * The product's promise, end to end through the REAL pinned LiteLLM proxy with its own database
 * (litellm/dev/run.sh) and our durable callback: a person gets a real virtual key, chats through
 * LiteLLM, the callback books each call, and at 100 % LiteLLM ITSELF refuses; a top-up lets the
 * person chat again; suspend/activate/rotate/delete act on the real key; a factor change and a
 * month rollover re-raise max_budget in LiteLLM. The ledger's USD equals LiteLLM's key spend.
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { rows } from '../src/db/client.js';
import { runRollover } from '../src/domain/periods/rollover.js';
import { maxBudgetNano, nanoToUsd, usdToNano } from '../src/domain/money.js';
import { drainOutbox } from '../src/jobs/outbox.js';
import { reconcile } from '../src/jobs/reconcile.js';
import { manualClock } from '../src/lib/clock.js';
import { createLiteLLMClient, type LiteLLMClient } from '../src/litellm/client.js';
import { createTestContext, WEBHOOK_SECRET, type TestContext } from './support/context.js';
import { uniq } from './support/factories.js';
import { balanceOf, expectLedgerConsistent } from './support/invariants.js';
import { needsRealLiteLLM, startRealLiteLLM, type RealLiteLLM } from './support/litellm-real.js';
import { freePort } from './support/processes.js';
import { describeWith } from './support/requires.js';

const MASTER = `sk-master-story-${uniq()}`;
const clock = manualClock(new Date());
let litellm: RealLiteLLM;
let client: LiteLLMClient;
let ctx: TestContext;
let server: ServerType;

/** The service in process on a real port, wired both ways to a real LiteLLM. */
function lifecycle(): void {
  beforeAll(async () => {
    const port = await freePort();
    client = createLiteLLMClient({ baseUrl: `http://127.0.0.1:${port}`, masterKey: MASTER, timeoutMs: 10_000 });
    ctx = await createTestContext({ litellm: client, clock, env: { TIMEZONE: 'America/Sao_Paulo' } });
    server = await new Promise((resolve) => {
      const s = serve({ fetch: ctx.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    const webhook = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/litellm`;
    litellm = await startRealLiteLLM({ masterKey: MASTER, port, webhook: { url: webhook, secret: WEBHOOK_SECRET } });
    // 4,000 credits = 0.001504 USD at f = 0.376: four calls of mock-gpt (0.00048 USD each) pass.
    expect((await ctx.api('POST', '/api/plans', { slug: 'real', name: 'Real', monthlyCredits: 4000 })).status).toBe(201);
  });
  afterAll(async () => {
    if (server) await new Promise((r) => server.close(r));
    await litellm?.stop();
    await ctx?.close();
  });
}

async function chat(key: string) {
  const res = await fetch(`${litellm.url}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user', content: 'hi' }] }),
  });
  const body = (await res.json()) as { error?: { type: string; message: string } };
  return { status: res.status, body, cost: res.headers.get('x-litellm-response-cost') };
}

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function drain() {
  await ctx.deps.db.execute(sql`update outbox set next_attempt_at = now() where status = 'pending'`);
  while ((await drainOutbox(ctx.deps)) > 0);
}

/** USD booked against the key by the ledger (nano-USD), successful calls and refused ones. */
async function booked(keyHash: string) {
  const [r] = await rows<{ nano: string; n: string; failed: string }>(ctx.deps.db, sql`
    select coalesce(sum(cost_nano), 0) as nano, count(*) filter (where status = 'success') as n,
           count(*) filter (where status = 'failure') as failed
    from usage_events where key_hash = ${keyHash}`);
  return { nano: Number(r!.nano), calls: Number(r!.n), failed: Number(r!.failed) };
}

async function newPerson() {
  const res = await ctx.api('POST', '/api/users', { email: `real-${uniq()}@example.com`, name: 'Real', plan: 'real' });
  expect(res.status).toBe(201);
  const u = (await res.json()) as { id: string; key: { id: string; status: string; plaintext: string } };
  expect(u.key).toMatchObject({ status: 'active', plaintext: expect.stringMatching(/^sk-/) });
  const [k] = await rows<{ token_hash: string }>(ctx.deps.db, sql`select token_hash from keys where id = ${u.key.id}`);
  return { id: u.id, keyId: u.key.id, key: u.key.plaintext, hash: k!.token_hash };
}

describeWith('the whole story through real LiteLLM with its database', needsRealLiteLLM(), () => {
  lifecycle();
  it('LiteLLM itself stops the person at 100 %; a top-up lets them chat again; the ledger equals LiteLLM', async () => {
    const p = await newPerson();
    expect(await client.keyInfo(p.hash)).toMatchObject({ maxBudget: 0.001504, spend: 0, blocked: false, userId: p.id });

    const costs: string[] = [];
    for (let i = 1; ; i++) {
      const r = await chat(p.key);
      if (r.status !== 200) {
        // LiteLLM refuses (BudgetExceededError, 429) and our callback's post-call failure hook
        // turns it into the person's explanation: 402, which no client retries.
        expect(r.status).toBe(402);
        expect(r.body.error).toMatchObject({ type: 'budget_exceeded', code: '402' });
        process.stdout.write(`[story-real] refusal: ${r.body.error!.message}\n`);
        break;
      }
      costs.push(r.cost!);
      await until('call booked', () => booked(p.hash), (b) => b.calls === i);
      expect(i).toBeLessThan(10);
    }
    expect(costs).toEqual(['0.00048', '0.00048', '0.00048', '0.00048']);
    const nano = costs.reduce((a, c) => a + usdToNano(c), 0);
    // The refused call reaches us too, as a free failure event (LiteLLM's post_call_failure_hook).
    expect(await until('refusal reported', () => booked(p.hash), (b) => b.failed === 1)).toEqual({ nano: 4 * 480_000, calls: 4, failed: 1 });
    // 4 × 1,276,596 milli-credits (480,000 nUSD / 0.376 rounded half-up) against 4,000,000 granted
    expect(await balanceOf(ctx.deps.db, p.id)).toMatchObject({ used: 5_106_384, state: 'blocked' });
    // LiteLLM's own spend for the key (written in batches) equals what the ledger booked.
    const settled = await until('LiteLLM spend settled', () => client.keyInfo(p.hash), (i) => usdToNano(i!.spend) === nano);
    expect(usdToNano(settled!.spend)).toBe(nano);
    // The last call overdrew the allowance (LiteLLM checks before a call, prices after it): the
    // budget stays at or under the spend, so LiteLLM keeps refusing.
    await drain();
    expect((await client.keyInfo(p.hash))!.maxBudget!).toBeLessThanOrEqual(settled!.spend);
    expect((await chat(p.key)).status).toBe(402);

    // Top-up: 10,000 credits = 0.00376 USD; time until LiteLLM accepts the person's next chat.
    const t0 = Date.now();
    const added = await ctx.api('POST', `/api/users/${p.id}/credits`, { amount: 10_000, reason: 'more' }, { headers: { 'idempotency-key': uniq() } });
    expect(added.status).toBe(201);
    await drain();
    const again = await until('chat accepted after top-up', () => chat(p.key), (r) => r.status === 200, 10_000);
    const delayMs = Date.now() - t0;
    process.stdout.write(`[story-real] top-up → first accepted chat through real LiteLLM: ${delayMs} ms\n`);
    expect(again.cost).toBe('0.00048');
    await until('call booked', () => booked(p.hash), (b) => b.calls === 5);
    await expectLedgerConsistent(ctx.deps.db);

    // The reconciler, against real LiteLLM once its batch write has landed: nothing to report.
    await until('LiteLLM spend settled', () => client.keyInfo(p.hash), (i) => usdToNano(i!.spend) === 5 * 480_000);
    const run = await reconcile(ctx.deps, { settleSeconds: 0 });
    expect((run.items as { keyId: string }[]).filter((i) => i.keyId === p.keyId)).toEqual([]);
  });

  it('suspend → refused, activate → accepted, rotate → old key refused and new one works, delete → gone', async () => {
    const p = await newPerson();
    expect((await chat(p.key)).status).toBe(200);
    expect((await ctx.api('POST', `/api/users/${p.id}/suspend`)).status).toBe(200);
    await drain();
    expect((await client.keyInfo(p.hash))?.blocked).toBe(true);
    const suspended = await chat(p.key);
    expect(suspended.status).toBe(401);
    expect(suspended.body.error?.message).toMatch(/suspensa pelo administrador/);
    expect((await ctx.api('POST', `/api/users/${p.id}/activate`)).status).toBe(200);
    await drain();
    expect((await chat(p.key)).status).toBe(200);

    const rotated = (await (await ctx.api('POST', `/api/users/${p.id}/key/rotate`)).json()) as { plaintext: string };
    expect(rotated.plaintext).toMatch(/^sk-/);
    await drain();
    expect(await client.keyInfo(p.hash)).toBeNull(); // deleted: LiteLLM's archive answers, we treat it as gone
    expect((await chat(p.key)).status).toBe(401);
    expect((await chat(rotated.plaintext)).status).toBe(200);
    await until('3 calls booked to the person', () => balanceOf(ctx.deps.db, p.id), (b) => b.used === 3 * 1_276_596);

    expect((await ctx.api('DELETE', `/api/users/${p.id}`)).status).toBeLessThan(300);
    await drain();
    expect((await chat(rotated.plaintext)).status).toBe(401);
  });

  it('a factor change and a month rollover re-raise max_budget in LiteLLM', async () => {
    const p = await newPerson();
    expect((await chat(p.key)).status).toBe(200);
    await until('call booked', () => booked(p.hash), (b) => b.calls === 1);
    // f = 0.5: the 2,723,404 milli-credits left are worth 0.001361702 USD; + 0.00048 booked.
    expect((await ctx.api('PUT', '/api/settings/conversion-factor', { factor: '0.5', reason: 'prices' })).status).toBe(200);
    await drain();
    const left = 4_000_000 - 1_276_596;
    expect((await client.keyInfo(p.hash))?.maxBudget).toBe(nanoToUsd(maxBudgetNano(480_000, left, 500_000)));

    // Next month: the unused allowance expires, 4,000 credits are granted again (0.002 USD at f = 0.5).
    const now = clock.now();
    clock.set(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 2, 12)));
    await runRollover(ctx.deps);
    await drain();
    expect((await client.keyInfo(p.hash))?.maxBudget).toBe(nanoToUsd(maxBudgetNano(480_000, 4_000_000, 500_000)));
    expect((await chat(p.key)).status).toBe(200);
  });
});
