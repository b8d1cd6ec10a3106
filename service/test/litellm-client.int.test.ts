import { createHash, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLiteLLMClient, type LiteLLMClient } from '../src/litellm/client.js';
import { LiteLLMError } from '../src/litellm/errors.js';
import { startLiteLLMFake, type FaultKind, type LiteLLMFake } from './support/litellm-fake.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

let fake: LiteLLMFake;
let client: LiteLLMClient;
let masterKey: string;

beforeEach(async () => {
  masterKey = `sk-master-${randomUUID()}`;
  fake = await startLiteLLMFake({ masterKey });
  client = createLiteLLMClient({ baseUrl: fake.url, masterKey, timeoutMs: 2_000 });
});
afterEach(async () => {
  await fake.close();
});

const alias = () => `person-${randomUUID()}`;

async function newKey(maxBudgetUsd = 1.5) {
  const keyAlias = alias();
  const generated = await client.generateKey({ keyAlias, userId: 'usr_1', maxBudgetUsd, metadata: { personId: 'usr_1' } });
  return { ...generated, keyAlias };
}

async function chat(key: string) {
  const res = await fetch(`${fake.url}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.json();
  await fake.flushCallbacks();
  return res.status;
}

async function caught(p: Promise<unknown>): Promise<LiteLLMError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(LiteLLMError);
  const e = err as LiteLLMError;
  expect(e.message).not.toContain(masterKey);
  expect(e.message).not.toMatch(/sk-[A-Za-z0-9_.\-]/);
  return e;
}

describe('LiteLLM client against the contract fake', () => {
  it('generateKey sends exactly our fields (no budget_duration) and returns key, hash, alias', async () => {
    const { key, token, keyAlias, expires } = await newKey(1.5);
    expect(key).toMatch(/^sk-/);
    expect(token).toBe(sha256(key));
    expect(expires).toBeNull();
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]).toMatchObject({ method: 'POST', path: '/key/generate' });
    expect(fake.calls[0]?.body).toEqual({ key_alias: keyAlias, user_id: 'usr_1', max_budget: 1.5, metadata: { personId: 'usr_1' } });
    expect(fake.getKey(token)).toMatchObject({ spend: 0, max_budget: 1.5, user_id: 'usr_1', key_alias: keyAlias, blocked: null });
  });

  it('generateKey with a duplicate alias fails with a non-retryable 400', async () => {
    const { keyAlias } = await newKey();
    const e = await caught(client.generateKey({ keyAlias, userId: 'usr_2', maxBudgetUsd: 1, metadata: {} }));
    expect(e).toMatchObject({ code: 'http', status: 400, retryable: false, errorType: 'bad_request_error' });
  });

  it('keyInfo returns exact values by hash and by plaintext key, and null for an unknown key', async () => {
    const { key, token, keyAlias } = await newKey(2);
    fake.setSpend(token, 0.42);
    const info = await client.keyInfo(token);
    expect(info).toMatchObject({ spend: 0.42, maxBudget: 2, blocked: false, keyAlias, userId: 'usr_1', metadata: { personId: 'usr_1' } });
    expect(info?.raw.budget_reset_at).toBeNull();
    expect((await client.keyInfo(key))?.spend).toBe(0.42);
    expect(await client.keyInfo(sha256('sk-never-issued'))).toBeNull();
  });

  it('updateKey sets an absolute max_budget and metadata', async () => {
    const { key, token } = await newKey(1);
    const res = await client.updateKey(token, { maxBudgetUsd: 2.25, metadata: { personId: 'usr_1', v: 2 } });
    expect(res).toMatchObject({ key: token, max_budget: 2.25 });
    await client.updateKey(key, { maxBudgetUsd: 0 });
    expect(await client.keyInfo(token)).toMatchObject({ maxBudget: 0, metadata: { personId: 'usr_1', v: 2 } });
  });

  it('updateKey with max_budget < 0 or an unknown key fails without retry', async () => {
    const { token } = await newKey();
    const negative = await caught(client.updateKey(token, { maxBudgetUsd: -1 }));
    expect(negative).toMatchObject({ code: 'http', status: 400, retryable: false });
    expect(negative.message).toContain('max_budget cannot be negative');
    const unknown = await caught(client.updateKey(sha256('sk-gone'), { maxBudgetUsd: 1 }));
    expect(unknown).toMatchObject({ status: 404, retryable: false });
  });

  it('deleteKeys deletes, and deleting again reports notFound instead of failing', async () => {
    const { token } = await newKey();
    expect(await client.deleteKeys([token])).toEqual({ deleted: [token], notFound: false });
    expect(await client.keyInfo(token)).toBeNull();
    expect(await client.deleteKeys([token])).toEqual({ deleted: [], notFound: true });
    expect(await client.deleteKeys([])).toEqual({ deleted: [], notFound: false });
  });

  it('blockKey and unblockKey flip blocked', async () => {
    const { key, token } = await newKey();
    expect(await client.blockKey(token)).toEqual({ blocked: true });
    expect(fake.getKey(token)?.blocked).toBe(true);
    expect(await chat(key)).toBe(401);
    expect(await client.unblockKey(key)).toEqual({ blocked: false });
    expect((await client.keyInfo(token))?.blocked).toBe(false);
    expect(await chat(key)).toBe(200);
  });

  it('blocking an unknown plaintext key fails with a message that does not echo the key', async () => {
    const e = await caught(client.blockKey(`sk-unknown-${randomUUID()}`));
    expect(e).toMatchObject({ status: 404, retryable: false });
  });

  it('spendLogs returns the rows of one key, with and without a date range', async () => {
    const { key, token } = await newKey();
    const other = await newKey();
    expect(await chat(key)).toBe(200);
    expect(await chat(key)).toBe(200);
    expect(await chat(other.key)).toBe(200);
    const rows = await client.spendLogs({ apiKeyHash: token });
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row).toMatchObject({ apiKeyHash: token, spend: 0.00005, promptTokens: 10, completionTokens: 20, totalTokens: 30, model: 'mock-model', user: 'usr_1', status: 'success' });
      expect(row.requestId).toMatch(/^chatcmpl-/);
    }
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    expect(await client.spendLogs({ apiKeyHash: token, startDate: today, endDate: tomorrow })).toHaveLength(2);
    expect(await client.spendLogs({ apiKeyHash: token, startDate: '2020-01-01', endDate: '2020-01-02' })).toEqual([]);
    expect(fake.calls.at(-1)?.query).toMatchObject({ summarize: 'false' });
  });

  it('health reports reachability and never throws', async () => {
    expect(await client.health()).toBe(true);
    fake.faults.down(true);
    expect(await client.health()).toBe(false);
    fake.faults.down(false);
    await fake.close();
    expect(await client.health()).toBe(false);
    fake = await startLiteLLMFake({ masterKey }); // for afterEach
  });

  it('a wrong master key gets a non-retryable 401 whose message holds no key', async () => {
    const wrong = createLiteLLMClient({ baseUrl: fake.url, masterKey: `sk-wrong-${randomUUID()}` });
    const err = await wrong.keyInfo(sha256('x')).then(() => undefined, (e: unknown) => e as LiteLLMError);
    expect(err).toBeInstanceOf(LiteLLMError);
    expect(err).toMatchObject({ code: 'http', status: 401, retryable: false, errorType: 'auth_error' });
    expect(err?.message).not.toMatch(/sk-[A-Za-z0-9_.\-]/);
    const bare = createLiteLLMClient({ baseUrl: fake.url, masterKey: 'not-an-sk-key-secret' });
    const bareErr = await bare.deleteKeys(['x']).then(() => undefined, (e: unknown) => e as LiteLLMError);
    expect(bareErr).toMatchObject({ status: 401, retryable: false });
    expect(bareErr?.message).not.toContain('not-an-sk-key-secret');
  });

  it.each<[FaultKind, Partial<LiteLLMError>]>([
    [500, { code: 'http', status: 500 }],
    ['timeout', { code: 'timeout', status: 0 }],
    ['garbage', { code: 'invalid_response', status: 200 }],
    ['reset', { code: 'network', status: 0 }],
  ])('fault %s becomes a retryable LiteLLMError', async (kind, expected) => {
    const { token } = await newKey();
    const fast = createLiteLLMClient({ baseUrl: fake.url, masterKey, timeoutMs: 150 });
    fake.faults.failNext(1, kind);
    const e = await caught(fast.updateKey(token, { maxBudgetUsd: 3 }));
    expect(e).toMatchObject({ ...expected, retryable: true });
    expect(await fast.updateKey(token, { maxBudgetUsd: 3 })).toMatchObject({ max_budget: 3 });
    expect(fake.calls.filter((c) => c.path === '/key/update').map((c) => c.fault)).toEqual([kind, undefined]);
  });

  it('a LiteLLM that is down answers 503, which is retryable', async () => {
    fake.faults.down(true);
    const e = await caught(client.keyInfo(sha256('x')));
    expect(e).toMatchObject({ code: 'http', status: 503, retryable: true });
  });

  it('a connection refused is a retryable network error', async () => {
    await fake.close();
    const e = await caught(client.generateKey({ keyAlias: alias(), userId: 'u', maxBudgetUsd: 1, metadata: {} }));
    expect(e).toMatchObject({ code: 'network', status: 0, retryable: true });
    fake = await startLiteLLMFake({ masterKey });
  });
});
