import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys, outbox, portalSessions } from '../src/db/schema/index.js';
import { drainOutbox } from '../src/jobs/outbox.js';
import { makeUser, uniq } from './support/factories.js';
import { portalLoginWithKey } from './support/portal.js';
import { startStack, type Stack } from './support/stack.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack({ env: { TRUST_PROXY: 'true', PUBLIC_URL: 'https://credits.example.com' } });
});
afterAll(() => s?.close());

const drain = async () => {
  while ((await drainOutbox(s.ctx.deps)) > 0);
};
async function person() {
  const u = await makeUser(s.ctx, { name: `P ${uniq()}` });
  return { ...u, plaintext: (u.key as unknown as { plaintext: string }).plaintext };
}
const sessionsOf = async (userId: string) => s.ctx.deps.db.select().from(portalSessions).where(eq(portalSessions.userId, userId));

describe('portal sessions end when the key or the person is taken out of service (issue 14, hole 2)', () => {
  it('an admin key rotation ends every portal session of the person: the leaked-key session cannot rotate again', async () => {
    const u = await person();
    const attacker = await portalLoginWithKey(s.ctx, u.plaintext); // opened with the leaked key
    const other = await portalLoginWithKey(s.ctx, u.plaintext);
    expect((await attacker.call('GET', '/api/portal/me')).status).toBe(200);
    const rotated = await s.ctx.api('POST', `/api/users/${u.id}/key/rotate`);
    expect(rotated.status).toBe(200);
    expect((await attacker.call('GET', '/api/portal/me')).status).toBe(401);
    expect((await attacker.call('POST', '/api/portal/key/rotate')).status).toBe(401);
    expect((await other.call('GET', '/api/portal/me')).status).toBe(401);
    expect(await sessionsOf(u.id)).toHaveLength(0);
  });

  it('a rotation from the portal keeps the session it came from and ends the others', async () => {
    const u = await person();
    const mine = await portalLoginWithKey(s.ctx, u.plaintext);
    const leaked = await portalLoginWithKey(s.ctx, u.plaintext);
    const res = await mine.call('POST', '/api/portal/key/rotate');
    expect(res.status).toBe(200);
    expect((await mine.call('GET', '/api/portal/me')).status).toBe(200);
    expect((await leaked.call('GET', '/api/portal/me')).status).toBe(401);
    expect(await sessionsOf(u.id)).toHaveLength(1);
  });

  it('suspension ends the sessions (signing in again shows the suspended account)', async () => {
    const u = await person();
    const client = await portalLoginWithKey(s.ctx, u.plaintext);
    expect((await s.ctx.api('POST', `/api/users/${u.id}/suspend`)).status).toBe(200);
    expect((await client.call('GET', '/api/portal/me')).status).toBe(401);
    expect(await sessionsOf(u.id)).toHaveLength(0);
  });

  it('deletion (which revokes the key) ends the sessions', async () => {
    const u = await person();
    const client = await portalLoginWithKey(s.ctx, u.plaintext);
    expect((await s.ctx.api('DELETE', `/api/users/${u.id}`)).status).toBe(200);
    expect((await client.call('GET', '/api/portal/me')).status).toBe(401);
    expect(await sessionsOf(u.id)).toHaveLength(0);
  });

  it("ends only that person's sessions", async () => {
    const a = await person();
    const b = await person();
    const bClient = await portalLoginWithKey(s.ctx, b.plaintext);
    expect((await s.ctx.api('POST', `/api/users/${a.id}/key/rotate`)).status).toBe(200);
    expect((await bClient.call('GET', '/api/portal/me')).status).toBe(200);
  });
});

describe('rotation blocks the old key in LiteLLM before deleting it (issue 14, hole 8)', () => {
  it('queues block then delete for the old key, in that order', async () => {
    const u = await person();
    const [old] = await s.ctx.deps.db.select().from(keys).where(eq(keys.userId, u.id));
    expect((await s.ctx.api('POST', `/api/users/${u.id}/key/rotate`)).status).toBe(200);
    const items = await s.ctx.deps.db.select().from(outbox).where(eq(outbox.aggregate, old!.id)).orderBy(outbox.id);
    expect(items.map((i) => [i.kind, i.payload])).toEqual([
      ['litellm.block', { keyId: old!.id }],
      ['litellm.delete', { keyId: old!.id }],
    ]);
    await drain();
    expect(s.fake.getKey(old!.tokenHash!)).toBeUndefined(); // deleted in the end
  });

  it('when the delete goes dead, the old key is blocked in LiteLLM and cannot chat', async () => {
    const u = await person();
    const [old] = await s.ctx.deps.db.select().from(keys).where(eq(keys.userId, u.id));
    expect((await s.chat(u.plaintext)).status).toBe(200);
    const rotated = await (await s.ctx.api('POST', `/api/users/${u.id}/key/rotate`)).json();
    // The deletion fails for good (as a dead outbox item would).
    await s.ctx.deps.db.execute(sql`update outbox set status = 'dead', last_error = 'simulated' where aggregate = ${old!.id} and kind = 'litellm.delete'`);
    await drain();
    expect(s.fake.getKey(old!.tokenHash!)).toMatchObject({ blocked: true });
    const chat = await s.chat(u.plaintext);
    expect(chat.status).toBe(401);
    expect((await s.chat(rotated.plaintext)).status).toBe(200);
    const [row] = await s.ctx.deps.db.select().from(keys).where(and(eq(keys.id, old!.id)));
    expect(row!.status).toBe('revoked');
  });
});
