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

/**
 * What only the fake can show: the exact request our client sends, and fault injection (down,
 * slow, erroring). Everything LiteLLM itself answers is in litellm-contract.int.test.ts, run
 * against the real proxy and the fake alike.
 */
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

  it('health reports reachability and never throws', async () => {
    expect(await client.health()).toBe(true);
    fake.faults.down(true);
    expect(await client.health()).toBe(false);
    fake.faults.down(false);
    await fake.close();
    expect(await client.health()).toBe(false);
    fake = await startLiteLLMFake({ masterKey }); // for afterEach
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
