import { randomBytes, randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { keys } from '../../src/db/schema/index.js';
import { sha256Hex } from '../../src/lib/crypto.js';
import type { TestContext } from './context.js';

export const uniq = () => randomBytes(4).toString('hex');

/** Create a person through the API; returns the body. */
export async function makeUser(ctx: TestContext, input: { plan?: string; email?: string; name?: string } = {}) {
  const res = await ctx.api('POST', '/api/users', { email: input.email ?? `p-${uniq()}@example.com`, name: input.name ?? `Person ${uniq()}`, plan: input.plan });
  if (res.status !== 201) throw new Error(`makeUser: ${res.status} ${await res.text()}`);
  return (await res.json()) as { id: string; email: string; key: { id: string } | null; balance: Record<string, number | string> };
}

/**
 * Give a person's (pending) key a LiteLLM hash, as provisioning would, without LiteLLM.
 * Returns the plaintext and hash to put in usage events.
 */
export async function attachKey(ctx: TestContext, userId: string) {
  const plaintext = `sk-${randomBytes(16).toString('hex')}`;
  const hash = sha256Hex(plaintext);
  await ctx.deps.db.update(keys).set({ tokenHash: hash, status: 'active' }).where(eq(keys.userId, userId));
  return { plaintext, hash };
}

/** A StandardLoggingPayload as LiteLLM sends it (fields we use, plus some noise). */
export function payload(keyHash: string | null, costUsd: number | string | null, extra: Record<string, unknown> = {}) {
  const start = Date.now() / 1000;
  return {
    id: `chatcmpl-${uniq()}`,
    litellm_call_id: randomUUID(),
    trace_id: randomUUID(),
    call_type: 'acompletion',
    status: 'success',
    response_cost: costUsd,
    prompt_tokens: 10,
    completion_tokens: 20,
    total_tokens: 30,
    startTime: start,
    endTime: start + 0.4,
    completionStartTime: start + 0.1,
    model: 'gpt-4o-mini',
    model_group: 'gpt-4o-mini',
    model_id: 'abc',
    api_base: 'https://api.openai.com',
    cache_hit: false,
    messages: [{ role: 'user', content: 'secret prompt' }],
    response: { choices: [{ message: { content: 'secret answer' } }] },
    metadata: {
      user_api_key_hash: keyHash,
      user_api_key_alias: 'alias',
      user_api_key_user_id: 'u',
      user_api_key_team_id: null,
      user_api_key_spend: 0,
    },
    hidden_params: {},
    ...extra,
  };
}
