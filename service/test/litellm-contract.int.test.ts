/**
 * One contract, two servers: our LiteLLM client against the REAL pinned LiteLLM proxy with its own
 * database (litellm/dev/run.sh) and against the contract fake (support/litellm-fake.ts), so the
 * fake is proven faithful wherever tests still use it (fault injection: down, slow, erroring).
 * Each expectation here is what the real proxy does; the fake's comments cite the LiteLLM source.
 */
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLiteLLMClient, type LiteLLMClient } from '../src/litellm/client.js';
import { LiteLLMError } from '../src/litellm/errors.js';
import { startLiteLLMFake } from './support/litellm-fake.js';
import { needsRealLiteLLM, startRealLiteLLM } from './support/litellm-real.js';
import { describeWith } from './support/requires.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

interface Target {
  url: string;
  masterKey: string;
  /** Post-response work done (fake: spend and callbacks; real: nothing to await, see `eventually`). */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Reads until `ok`: the real proxy writes spend and spend logs to its database in batches every
 * PROXY_BATCH_WRITE_AT + random 0–5 s (proxy/proxy_server.py, the batch-writing job's interval);
 * the fake has written them once `settle` returns, so its first read passes.
 */
async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
}

// The models of litellm/config.dev.yaml; the fake prices the same name the same way.
const MODEL = 'mock-gpt';
const PRICE = { input: 0.00001, output: 0.00002 };

describeWith('LiteLLM key API contract: real LiteLLM 1.103.7 with its database', needsRealLiteLLM(), () =>
  contract(async () => {
    const masterKey = `sk-master-${randomUUID()}`;
    // LiteLLM's own answers: our callback's person-facing refusal (402) is off here, and tested
    // in story-real.int.test.ts.
    const p = await startRealLiteLLM({ masterKey, env: { COMPANION_REFUSAL_MESSAGES: 'false' } });
    // Spend reaches LiteLLM's database every PROXY_BATCH_WRITE_AT (1 s in tests) + jitter.
    return { url: p.url, masterKey, settle: async () => {}, stop: p.stop };
  }));

describe('LiteLLM key API contract: the contract fake', () =>
  contract(async () => {
    const masterKey = `sk-master-${randomUUID()}`;
    const f = await startLiteLLMFake({ masterKey, prices: { [MODEL]: PRICE } });
    return { url: f.url, masterKey, settle: () => f.flushCallbacks(), stop: () => f.close() };
  }));

function contract(start: () => Promise<Target>): void {
  let t: Target;
  let client: LiteLLMClient;

  beforeAll(async () => {
    t = await start();
    client = createLiteLLMClient({ baseUrl: t.url, masterKey: t.masterKey, timeoutMs: 10_000 });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const newKey = async (maxBudgetUsd = 1.5) => {
    const keyAlias = `person-${randomUUID()}`;
    const userId = `usr_${randomUUID().slice(0, 8)}`;
    const g = await client.generateKey({ keyAlias, userId, maxBudgetUsd, metadata: { companion_user_id: userId } });
    return { ...g, keyAlias, userId };
  };

  const chat = async (key: string) => {
    const res = await fetch(`${t.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const body = (await res.json()) as { id?: string; error?: { type: string; message: string; code: string } };
    return { status: res.status, body, cost: Number(res.headers.get('x-litellm-response-cost') ?? 'NaN') };
  };

  const caught = async (p: Promise<unknown>) => {
    const e = await p.then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(LiteLLMError);
    return e as LiteLLMError;
  };

  it('generate: plaintext once, token = sha256(key); info by hash and by key', async () => {
    const k = await newKey(1.5);
    expect(k.key).toMatch(/^sk-/);
    expect(k.token).toBe(sha256(k.key));
    expect(k.expires).toBeNull();
    const want = { spend: 0, maxBudget: 1.5, blocked: false, keyAlias: k.keyAlias, userId: k.userId, metadata: { companion_user_id: k.userId } };
    expect(await client.keyInfo(k.token)).toMatchObject(want);
    expect(await client.keyInfo(k.key)).toMatchObject(want);
    expect(await client.keyInfo(sha256(`sk-never-${randomUUID()}`))).toBeNull();
  });

  it('generate with a taken alias: 400, not retried', async () => {
    const k = await newKey();
    const e = await caught(client.generateKey({ keyAlias: k.keyAlias, userId: 'usr_x', maxBudgetUsd: 1, metadata: {} }));
    expect(e).toMatchObject({ code: 'http', status: 400, retryable: false });
  });

  it('update: absolute max_budget and metadata, answered with the full row', async () => {
    const k = await newKey(1);
    const row = await client.updateKey(k.token, { maxBudgetUsd: 2.25, metadata: { companion_user_id: k.userId, v: 2 } });
    expect(row).toMatchObject({ token: k.token, key_alias: k.keyAlias, user_id: k.userId, max_budget: 2.25, spend: 0 });
    await client.updateKey(k.key, { maxBudgetUsd: 0 });
    expect(await client.keyInfo(k.token)).toMatchObject({ maxBudget: 0, metadata: { companion_user_id: k.userId, v: 2 } });
  });

  it('bulk update: absolute max_budgets in one request; unknown and negative items fail alone', async () => {
    const a = await newKey(1);
    const b = await newKey(1);
    const gone = sha256(`sk-gone-${randomUUID()}`);
    const r = await client.bulkUpdateBudgets([
      { keyOrHash: a.token, maxBudgetUsd: 2.25 },
      { keyOrHash: gone, maxBudgetUsd: 3 },
      { keyOrHash: b.key, maxBudgetUsd: 0 },
      { keyOrHash: a.token, maxBudgetUsd: -1 },
    ]);
    expect(r.updated).toEqual([a.token, b.key]);
    expect(r.failed).toEqual([
      { keyOrHash: gone, reason: 'Key not found.' },
      { keyOrHash: a.token, reason: expect.stringContaining('max_budget must be a non-negative finite number') },
    ]);
    expect(await client.keyInfo(a.token)).toMatchObject({ maxBudget: 2.25, metadata: { companion_user_id: a.userId } });
    expect(await client.keyInfo(b.token)).toMatchObject({ maxBudget: 0 });
    // LiteLLM refuses an empty list, or more than 500 keys, as a whole.
    for (const keys of [[], Array.from({ length: 501 }, () => ({ key: a.token, max_budget: 1 }))]) {
      const res = await fetch(`${t.url}/key/bulk_update`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.masterKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ keys }),
      });
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(keys.length === 0 ? /No keys provided for update/ : /Maximum 500 keys/);
    }
  });

  it('update with max_budget < 0: 400; of an unknown key: 404 not_found_error', async () => {
    const k = await newKey();
    const negative = await caught(client.updateKey(k.token, { maxBudgetUsd: -1 }));
    expect(negative).toMatchObject({ status: 400, retryable: false });
    expect(negative.message).toContain('max_budget must be a non-negative finite number');
    const unknown = await caught(client.updateKey(sha256(`sk-gone-${randomUUID()}`), { maxBudgetUsd: 1 }));
    expect(unknown).toMatchObject({ status: 404, retryable: false, errorType: 'not_found_error' });
  });

  it('LiteLLM itself refuses at max_budget: 429 budget_exceeded, and books the spend it let through', async () => {
    const k = await newKey(1);
    const first = await chat(k.key);
    expect(first.status).toBe(200);
    expect(first.cost).toBeGreaterThan(0);
    // Allow 2.5 calls: the check is spend >= max_budget before the call (proxy/auth/auth_checks.py).
    await client.updateKey(k.token, { maxBudgetUsd: 2.5 * first.cost });
    expect((await chat(k.key)).status).toBe(200);
    expect((await chat(k.key)).status).toBe(200);
    const refused = await chat(k.key);
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ type: 'budget_exceeded', code: '429' });
    expect(refused.body.error?.message).toMatch(/^Budget has been exceeded!/);
    await t.settle();
    const info = await eventually(() => client.keyInfo(k.token), (i) => Math.abs((i?.spend ?? 0) - 3 * first.cost) < 1e-12);
    expect(info?.spend).toBeCloseTo(3 * first.cost, 12);
  });

  it('block: chat refused with 401; unblock: accepted again', async () => {
    const k = await newKey();
    expect(await client.blockKey(k.token)).toEqual({ blocked: true });
    expect((await client.keyInfo(k.token))?.blocked).toBe(true);
    const refused = await chat(k.key);
    expect(refused.status).toBe(401);
    expect(refused.body.error?.message).toMatch(/blocked/i);
    expect(await client.unblockKey(k.key)).toEqual({ blocked: false });
    expect((await chat(k.key)).status).toBe(200);
  });

  it('delete: gone for chat and for keyInfo (LiteLLM archives it); again: notFound', async () => {
    const k = await newKey();
    expect(await client.deleteKeys([k.token])).toEqual({ deleted: [k.token], notFound: false });
    expect(await client.keyInfo(k.token)).toBeNull();
    expect((await chat(k.key)).status).toBe(401);
    expect(await client.deleteKeys([k.token])).toEqual({ deleted: [], notFound: true });
  });

  it('keyInfoMany (POST /v2/key/info): live keys in one request, matched by alias; deleted ones absent', async () => {
    const a = await newKey(1);
    const b = await newKey(2);
    const gone = await newKey(3);
    await client.deleteKeys([gone.token]);
    const many = await client.keyInfoMany([a.token, b.token, gone.token]);
    expect(new Map(many.map((i) => [i.keyAlias, i.maxBudget]))).toEqual(new Map([[a.keyAlias, 1], [b.keyAlias, 2]]));
  });

  it('spend logs: one row per call of the key, priced as LiteLLM answered', async () => {
    const k = await newKey();
    const other = await newKey();
    const c1 = await chat(k.key);
    const c2 = await chat(k.key);
    await chat(other.key);
    await t.settle();
    const rows = await eventually(() => client.spendLogs({ apiKeyHash: k.token }), (r) => r.length >= 2);
    expect(rows.map((r) => r.spend).sort()).toEqual([c1.cost, c2.cost].sort());
    for (const r of rows) expect(r).toMatchObject({ apiKeyHash: k.token, status: 'success', totalTokens: r.promptTokens + r.completionTokens });
    expect(new Set(rows.map((r) => r.requestId))).toEqual(new Set([c1.body.id, c2.body.id]));
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    expect(await client.spendLogs({ apiKeyHash: k.token, startDate: today, endDate: tomorrow })).toHaveLength(2);
    expect(await client.spendLogs({ apiKeyHash: k.token, startDate: '2020-01-01', endDate: '2020-01-02' })).toEqual([]);
  });

  it('spend logs v2: the same rows, paginated newest first, dates required', async () => {
    const k = await newKey();
    const calls = [await chat(k.key), await chat(k.key), await chat(k.key)];
    await t.settle();
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const page = (n: number) => client.spendLogsPage({ apiKeyHash: k.token, startDate: today, endDate: tomorrow, page: n, pageSize: 2 });
    const first = await eventually(() => page(1), (p) => p.total >= 3);
    expect(first).toMatchObject({ total: 3, totalPages: 2 });
    expect(first.rows).toHaveLength(2);
    const second = await page(2);
    expect(second.rows).toHaveLength(1);
    const all = [...first.rows, ...second.rows];
    expect(new Set(all.map((r) => r.requestId))).toEqual(new Set(calls.map((c) => c.body.id)));
    expect(all.map((r) => r.startTime)).toEqual([...all.map((r) => r.startTime)].sort().reverse());
    const res = await fetch(`${t.url}/spend/logs/v2?api_key=${k.token}`, { headers: { authorization: `Bearer ${t.masterKey}` } });
    expect(res.status).toBe(400);
  });

  it('a wrong master key: 401, not retried, and the message holds no key', async () => {
    const wrong = createLiteLLMClient({ baseUrl: t.url, masterKey: `sk-wrong-${randomUUID()}` });
    const e = await caught(wrong.keyInfo(sha256('x')));
    expect(e).toMatchObject({ status: 401, retryable: false });
    expect(e.message).not.toMatch(/sk-[A-Za-z0-9_.-]{6}/);
  });
}
