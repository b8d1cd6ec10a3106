import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { rows } from '../src/db/client.js';
import { createTestContext, type TestContext } from './support/context.js';
import { attachKey, makeUser, payload, uniq } from './support/factories.js';
import { balanceOf } from './support/invariants.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Every usage event and dead letter as text: where a secret must not be. */
async function storedText(): Promise<string> {
  const [r] = await rows<{ t: string }>(ctx.deps.db, sql`select coalesce((select json_agg(u)::text from usage_events u), '') || coalesce((select json_agg(d)::text from dead_letters d), '') as t`);
  return r!.t;
}

describe('what ingestion stores of what LiteLLM sends', () => {
  it('keeps a key hash only when it is shaped like sha256 hex; any other value is stored as its hash', async () => {
    const bearer = `not-an-sk-key-${uniq()}`;
    const res = await ctx.webhook([payload(bearer, 0.000376, { litellm_call_id: `c-${uniq()}` })]);
    expect(await res.json()).toEqual({ accepted: 0, duplicate: 0, unattributed: 1, rejected: 0 });
    const [ev] = await rows<{ key_hash: string; metadata: Record<string, unknown> }>(ctx.deps.db, sql`select key_hash, metadata from usage_events where key_hash = ${sha256(bearer)}`);
    expect(ev).toEqual({ key_hash: sha256(bearer), metadata: expect.objectContaining({ key_hash_rehashed: true }) });
    expect(await storedText()).not.toContain(bearer);
    const list = await (await ctx.api('GET', '/api/events/unattributed')).text();
    expect(list).toContain(sha256(bearer));
    expect(list).not.toContain(bearer);
  });

  it('books an event whose "hash" is the raw sk- key (its sha256 is the key\'s hash) or upper-case hex to the person', async () => {
    const u = await makeUser(ctx, { plan: 'basic' });
    const k = await attachKey(ctx, u.id);
    const res = await ctx.webhook([payload(k.plaintext, 0.000376), payload(k.hash.toUpperCase(), 0.000376)]);
    expect(await res.json()).toEqual({ accepted: 2, duplicate: 0, unattributed: 0, rejected: 0 });
    expect((await balanceOf(ctx.deps.db, u.id)).used).toBe(2_000_000);
    expect(await storedText()).not.toContain(k.plaintext);
  });

  it('dead-letters a malformed event without its messages, response or raw bearer value', async () => {
    const bearer = `raw-bearer-${uniq()}`;
    const bad = payload(bearer, '$0.05', { litellm_call_id: `bad-${uniq()}` });
    const res = await ctx.webhook([bad]);
    expect(await res.json()).toEqual({ accepted: 0, duplicate: 0, unattributed: 0, rejected: 1 });
    const [dl] = await rows<{ reason: string; payload: string }>(ctx.deps.db, sql`select reason, payload from dead_letters where payload like ${`%${bad.litellm_call_id}%`}`);
    expect(dl!.reason).toMatch(/^response_cost "\$0\.05"/);
    const stored = JSON.parse(dl!.payload);
    expect(stored).toMatchObject({ litellm_call_id: bad.litellm_call_id, response_cost: '$0.05', metadata: { user_api_key_hash: sha256(bearer) } });
    expect(stored.stripped).toEqual(expect.arrayContaining(['messages', 'response']));
    expect(dl!.payload).not.toMatch(/secret prompt|secret answer/);
    expect(await storedText()).not.toContain(bearer);
  });
});
