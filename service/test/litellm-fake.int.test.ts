import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256, startLiteLLMFake, type LiteLLMFake } from './support/litellm-fake.js';

interface Captured {
  authorization: string | undefined;
  body: unknown;
}

let fake: LiteLLMFake;
let capture: Server;
let captured: Captured[];
const masterKey = `sk-master-${randomUUID()}`;
const secret = `whsec-${randomUUID()}`;

beforeEach(async () => {
  captured = [];
  capture = createServer((req, res) => {
    let data = '';
    req.on('data', (chunk: Buffer) => (data += chunk.toString()));
    req.on('end', () => {
      captured.push({ authorization: req.headers.authorization, body: JSON.parse(data) as unknown });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => capture.listen(0, '127.0.0.1', resolve));
  const { port } = capture.address() as AddressInfo;
  fake = await startLiteLLMFake({ masterKey, webhook: { url: `http://127.0.0.1:${port}/webhooks/litellm`, secret } });
});
afterEach(async () => {
  await fake.close();
  await new Promise((resolve) => capture.close(resolve));
});

async function admin(path: string, body?: unknown, key = masterKey) {
  const res = await fetch(fake.url + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function generate(maxBudget: number | null) {
  const { body } = await admin('/key/generate', { key_alias: `a-${randomUUID()}`, user_id: 'usr_9', max_budget: maxBudget });
  return { key: body.key as string, token: body.token as string, alias: body.key_alias as string };
}

async function chat(key: string, path = '/chat/completions', model = 'mock-model') {
  const res = await fetch(fake.url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }] }),
  });
  const body = (await res.json()) as Record<string, any>;
  await fake.flushCallbacks();
  return { status: res.status, body, callId: res.headers.get('x-litellm-call-id') };
}

describe('LiteLLM contract fake', () => {
  it('allows exactly 2 calls of 0.00005 under max_budget 0.0001, then answers budget_exceeded', async () => {
    const { key, token } = await generate(0.0001);
    expect((await chat(key)).status).toBe(200);
    expect((await chat(key)).status).toBe(200);
    expect(fake.getKey(token)?.spend).toBe(0.0001);
    const third = await chat(key, '/v1/chat/completions');
    expect(third.status).toBe(429);
    expect(third.body).toEqual({
      error: {
        message: `Budget has been exceeded! Key=${String(fake.getKey(token)?.key_alias)} (sk-...${key.slice(-4)}) Current cost: 0.0001, Max budget: 0.0001`,
        type: 'budget_exceeded', param: null, code: '429',
      },
    });
    expect(fake.getKey(token)?.spend).toBe(0.0001);
    expect(captured).toHaveLength(2);
  });

  it('answers an OpenAI-shaped completion with the mock usage', async () => {
    const { key } = await generate(null);
    const { status, body } = await chat(key, '/v1/chat/completions');
    expect(status).toBe(200);
    expect(body).toMatchObject({ object: 'chat.completion', model: 'mock-model', usage: { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 } });
    expect(body.id).toMatch(/^chatcmpl-/);
  });

  it('blocks with 401 and lets the key through again after unblock', async () => {
    const { key, token } = await generate(1);
    expect((await admin('/key/block', { key: token })).body).toMatchObject({ token, blocked: true });
    const blocked = await chat(key);
    expect(blocked.status).toBe(401);
    expect(blocked.body.error).toMatchObject({ type: 'auth_error', code: '401' });
    expect((await admin('/key/unblock', { key })).body).toMatchObject({ blocked: false });
    expect((await chat(key)).status).toBe(200);
  });

  it('rejects unknown keys, missing auth and unknown models', async () => {
    expect((await chat(`sk-${randomUUID()}`)).status).toBe(401);
    const { key } = await generate(1);
    const unknownModel = await chat(key, '/chat/completions', 'gpt-nope');
    expect(unknownModel.status).toBe(400);
    expect(unknownModel.body.error.message).toContain('Invalid model name passed in model=gpt-nope');
    const noAuth = await fetch(`${fake.url}/key/info?key=x`);
    expect(noAuth.status).toBe(401);
  });

  it("posts one StandardLoggingPayload per call to the webhook with the key's hash and cost", async () => {
    const { key, token, alias } = await generate(1);
    const { callId, body: completion } = await chat(key);
    expect(captured).toHaveLength(1);
    expect(captured[0]?.authorization).toBe(`Bearer ${secret}`);
    const batch = captured[0]?.body as Record<string, any>[];
    expect(batch).toHaveLength(1);
    const event = batch[0]!;
    expect(event).toMatchObject({
      id: completion.id, litellm_call_id: callId, call_type: 'acompletion', status: 'success', response_cost: 0.00005,
      prompt_tokens: 10, completion_tokens: 20, total_tokens: 30, model: 'mock-model', model_group: 'mock-model',
      metadata: { user_api_key_hash: token, user_api_key_alias: alias, user_api_key_user_id: 'usr_9', user_api_key_spend: 0 },
    });
    expect(event.litellm_call_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof event.startTime).toBe('number');
    expect(event.endTime).toBeGreaterThanOrEqual(event.startTime);
  });

  it('answers admin auth failures with LiteLLM\'s error shape', async () => {
    const wrong = await admin('/key/info?key=x', undefined, 'sk-wrong-1234');
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toMatchObject({ type: 'auth_error', param: 'None', code: '401' });
    expect(wrong.body.error.message).toContain('Received API Key = sk-...1234');
  });

  it('mirrors /key/info, /key/update and /key/delete semantics', async () => {
    const { key, token } = await generate(1);
    const info = await admin(`/key/info?key=${key}`);
    expect(info.body.key).toBe(key);
    expect(info.body.info).toMatchObject({ spend: 0, max_budget: 1, user_id: 'usr_9', expires: null, budget_reset_at: null });
    expect(info.body.info.token).toBeUndefined();
    expect((await admin('/key/update', { key: token, max_budget: -0.5 })).status).toBe(400);
    expect((await admin('/key/update', { key: sha256('nope'), max_budget: 1 })).status).toBe(404);
    expect((await admin('/key/delete', { keys: [sha256('nope')] })).status).toBe(404);
    const partial = await admin('/key/delete', { keys: [token, sha256('nope')] });
    expect(partial).toEqual({ status: 200, body: { deleted_keys: [token, sha256('nope')] } });
    const archived = await admin(`/key/info?key=${token}`);
    expect(archived.status).toBe(200);
    expect(archived.body.info).toMatchObject({ status: 'deleted', user_id: 'usr_9' });
    expect((await admin(`/key/info?key=${sha256('never')}`)).status).toBe(404);
    expect(fake.calls.map((c) => c.path)).toEqual(['/key/generate', '/key/info', '/key/update', '/key/update', '/key/delete', '/key/delete', '/key/info', '/key/info']);
  });

  it('summarizes /spend/logs per day when given dates without summarize=false', async () => {
    const { key, token } = await generate(1);
    await chat(key);
    await chat(key);
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const { body } = await admin(`/spend/logs?api_key=${token}&start_date=${today}&end_date=${tomorrow}`);
    expect(body).toEqual([
      { startTime: today, spend: 0.0001, [token]: 0.0001, users: { usr_9: 0.0001 }, models: { 'mock-model': 0.0001 } },
      { startTime: tomorrow, spend: 0, users: {}, models: {} },
    ]);
  });
});
