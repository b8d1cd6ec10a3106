import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createLiteLLMClient } from '../../src/litellm/client.js';
import type { Clock } from '../../src/lib/clock.js';
import type { Logger } from '../../src/lib/logger.js';
import { createTestContext, WEBHOOK_SECRET, type TestContext } from './context.js';
import { startLiteLLMFake, type LiteLLMFake, type LiteLLMFakeOptions } from './litellm-fake.js';

export const MASTER_KEY = 'sk-master-0123456789abcdef';
/** 10 prompt × 0.00000188 + 20 completion × 0.00000094 = 0.0000376 USD = exactly 100 credits at f = 0.376. */
export const PRICE_100_CREDITS = { 'mock-model': { input: 0.00000188, output: 0.00000094 } };

export interface Stack {
  ctx: TestContext;
  fake: LiteLLMFake;
  fakeOptions: LiteLLMFakeOptions;
  serviceUrl: string;
  /** A chat completion through the (fake) LiteLLM proxy with a person's key. */
  chat(key: string, model?: string): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** The service on a real port, wired to the LiteLLM contract fake (and its usage callbacks). */
export async function startStack(opts: { clock?: Clock; env?: Record<string, string>; litellmTimeoutMs?: number; log?: Logger } = {}): Promise<Stack> {
  const fakeOptions: LiteLLMFakeOptions = { masterKey: MASTER_KEY, prices: PRICE_100_CREDITS };
  const fake = await startLiteLLMFake(fakeOptions);
  const litellm = createLiteLLMClient({ baseUrl: fake.url, masterKey: MASTER_KEY, timeoutMs: opts.litellmTimeoutMs ?? 2000 });
  const ctx = await createTestContext({ litellm, clock: opts.clock, env: opts.env, log: opts.log });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: ctx.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const serviceUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fakeOptions.webhook = { url: `${serviceUrl}/webhooks/litellm`, secret: WEBHOOK_SECRET };
  return {
    ctx,
    fake,
    fakeOptions,
    serviceUrl,
    async chat(key, model = 'mock-model') {
      const res = await fetch(`${fake.url}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
      });
      const body = await res.json();
      await fake.flushCallbacks();
      return { status: res.status, body };
    },
    async close() {
      await new Promise((r) => server.close(r));
      await fake.close();
      await ctx.close();
    },
  };
}
