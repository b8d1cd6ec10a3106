import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rows } from '../src/db/client.js';
import { balances, deadLetters, idempotencyRecords, mailLog, outbox, portalLoginTokens, portalSessions, sessions, usageEvents } from '../src/db/schema/index.js';
import { runRetention } from '../src/domain/retention.js';
import { createTestContext, type TestContext } from './support/context.js';
import { attachKey, makeUser, payload, uniq } from './support/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx?.close());

/** A dead letter as ingestion stores it (rejected by an older parser, or still bad). */
async function deadLetter(item: unknown, reason = 'response_cost is not a number'): Promise<number> {
  const [row] = await ctx.deps.db
    .insert(deadLetters)
    .values({ source: 'generic_api', reason, payload: typeof item === 'string' ? item : JSON.stringify(item) })
    .returning({ id: deadLetters.id });
  return row!.id;
}

describe('dead letters: admin view and replay after a fix (issue 14, hole 5)', () => {
  it('lists open dead letters with the reason and the item; viewers may not read them', async () => {
    const id = await deadLetter({ litellm_call_id: `c-${uniq()}`, response_cost: 'n/a' });
    const res = await ctx.api('GET', '/api/dead-letters?status=open&pageSize=200');
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.items.find((d: { id: number }) => d.id === id)).toEqual({
      id,
      source: 'generic_api',
      reason: 'response_cost is not a number',
      payload: expect.stringContaining('"response_cost":"n/a"'),
      createdAt: expect.any(String),
      replayedAt: null,
      replayedBy: null,
      replayOutcome: null,
    });
    expect((await ctx.api('GET', '/api/dead-letters', undefined, { token: ctx.viewerToken })).status).toBe(403);
    expect((await ctx.api('POST', `/api/dead-letters/${id}/replay`, undefined, { token: ctx.viewerToken })).status).toBe(403);
  });

  it('replays an item today’s rules accept: booked once, marked replayed, audited; a second press is 409', async () => {
    const u = await makeUser(ctx);
    const { hash } = await attachKey(ctx, u.id);
    const item = payload(hash, 0.0376); // 100,000 credits at f = 0.376
    const id = await deadLetter(item);
    const res = await ctx.api('POST', `/api/dead-letters/${id}/replay`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      deadLetter: expect.objectContaining({ id, replayedAt: expect.any(String), replayedBy: 'token:test-admin', replayOutcome: 'accepted' }),
      result: { accepted: 1, duplicate: 0, unattributed: 0, rejected: 0 },
    });
    const [bal] = await ctx.deps.db.select().from(balances).where(eq(balances.userId, u.id));
    expect(bal!.periodUsedMilli).toBe(100_000_000);
    expect(await ctx.deps.db.select().from(usageEvents).where(eq(usageEvents.litellmCallId, item.litellm_call_id))).toHaveLength(1);
    expect((await ctx.api('POST', `/api/dead-letters/${id}/replay`)).status).toBe(409);
    const audit = await (await ctx.api('GET', `/api/audit?action=dead_letter.replay&targetId=${id}`)).json();
    expect(audit.items).toHaveLength(1);
    // The same call in another dead letter is a duplicate, not a second booking.
    const again = await ctx.api('POST', `/api/dead-letters/${await deadLetter(item)}/replay`);
    expect((await again.json()).result).toEqual({ accepted: 0, duplicate: 1, unattributed: 0, rejected: 0 });
    const [after] = await ctx.deps.db.select().from(balances).where(eq(balances.userId, u.id));
    expect(after!.periodUsedMilli).toBe(100_000_000);
  });

  it('an item that is still refused stays open and answers 422 with today’s reason', async () => {
    const id = await deadLetter(payload(null, 'abc'));
    const res = await ctx.api('POST', `/api/dead-letters/${id}/replay`);
    expect(res.status).toBe(422);
    expect((await res.json()).error).toMatchObject({ code: 'unprocessable', message: expect.stringMatching(/^still refused: response_cost/) });
    const [row] = await ctx.deps.db.select().from(deadLetters).where(eq(deadLetters.id, id));
    expect(row!.replayedAt).toBeNull();
  });

  it('an item cut at 64 KiB or not JSON cannot be replayed (422); an unknown id is 404', async () => {
    const id = await deadLetter('{"litellm_call_id": "x", "messages": [{"content": "aaaa…', 'line is not valid JSON');
    expect((await ctx.api('POST', `/api/dead-letters/${id}/replay`)).status).toBe(422);
    expect((await ctx.api('POST', '/api/dead-letters/999999999/replay')).status).toBe(404);
    expect((await ctx.api('POST', '/api/dead-letters/abc/replay')).status).toBe(400);
  });
});

describe('retention (issue 14, hole 5)', () => {
  const config = { RETENTION_DEAD_LETTERS_DAYS: 90, RETENTION_IDEMPOTENCY_DAYS: 30, RETENTION_OUTBOX_DAYS: 7, RETENTION_MAIL_LOG_DAYS: 180, RETENTION_SESSIONS_DAYS: 7 };
  const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000);

  it('deletes what is older than configured and keeps the rest (0 keeps forever)', async () => {
    const u = await makeUser(ctx);
    const tag = uniq();
    const [oldDl, newDl] = [await deadLetter({ tag }), await deadLetter({ tag })];
    await ctx.deps.db.update(deadLetters).set({ createdAt: daysAgo(91) }).where(eq(deadLetters.id, oldDl));
    await ctx.deps.db.insert(idempotencyRecords).values([
      { scope: `t:${tag}`, key: 'old', requestHash: 'h', statusCode: 201, response: {}, createdAt: daysAgo(31) },
      { scope: `t:${tag}`, key: 'new', requestHash: 'h', statusCode: 201, response: {}, createdAt: daysAgo(29) },
    ]);
    const ob = await ctx.deps.db
      .insert(outbox)
      .values([
        { kind: 'mail.send', aggregate: `a:${tag}`, payload: { n: 1 }, status: 'done', doneAt: daysAgo(8) },
        { kind: 'mail.send', aggregate: `a:${tag}`, payload: { n: 2 }, status: 'done', doneAt: daysAgo(6) },
        { kind: 'mail.send', aggregate: `a:${tag}`, payload: { n: 3 }, status: 'dead', createdAt: daysAgo(30) },
        { kind: 'mail.send', aggregate: `a:${tag}`, payload: { n: 4 }, status: 'pending', createdAt: daysAgo(30), nextAttemptAt: new Date(Date.now() + 3600_000) },
      ])
      .returning({ id: outbox.id });
    const mail = (status: 'sent' | 'queued', created: Date) => ({ userId: u.id, to: u.email, subject: tag, template: 't', locale: 'en', text: '', html: '', status, createdAt: created });
    await ctx.deps.db.insert(mailLog).values([mail('sent', daysAgo(181)), mail('sent', daysAgo(179)), mail('queued', daysAgo(200))]);
    const adminId = (await rows<{ id: string }>(ctx.deps.db, sql`select id from admins limit 1`))[0]!.id;
    await ctx.deps.db.insert(sessions).values([
      { idHash: `old-${tag}`, adminId, expiresAt: daysAgo(8) },
      { idHash: `new-${tag}`, adminId, expiresAt: daysAgo(1) },
    ]);
    await ctx.deps.db.insert(portalSessions).values([
      { idHash: `old-${tag}`, userId: u.id, via: 'key', expiresAt: daysAgo(8) },
      { idHash: `live-${tag}`, userId: u.id, via: 'key', expiresAt: new Date(Date.now() + 3600_000) },
    ]);
    await ctx.deps.db.insert(portalLoginTokens).values([{ tokenHash: `old-${tag}`, userId: u.id, expiresAt: daysAgo(8) }]);

    const result = await runRetention(ctx.deps.db, config, new Date());
    expect(result.deadLetters).toBeGreaterThanOrEqual(1);
    expect(result.sessions).toBeGreaterThanOrEqual(3);

    const dls = await ctx.deps.db.select({ id: deadLetters.id }).from(deadLetters).where(sql`payload like ${`%${tag}%`}`);
    expect(dls.map((d) => d.id)).toEqual([newDl]);
    expect((await ctx.deps.db.select().from(idempotencyRecords).where(eq(idempotencyRecords.scope, `t:${tag}`))).map((r) => r.key)).toEqual(['new']);
    expect((await ctx.deps.db.select().from(outbox).where(eq(outbox.aggregate, `a:${tag}`)).orderBy(outbox.id)).map((o) => o.id)).toEqual([ob[1]!.id, ob[2]!.id, ob[3]!.id]);
    expect((await ctx.deps.db.select().from(mailLog).where(eq(mailLog.subject, tag))).map((m) => m.status).sort()).toEqual(['queued', 'sent']);
    expect((await ctx.deps.db.select().from(sessions).where(sql`id_hash like ${`%-${tag}`}`)).map((s) => s.idHash)).toEqual([`new-${tag}`]);
    expect((await ctx.deps.db.select().from(portalSessions).where(eq(portalSessions.userId, u.id))).map((s) => s.idHash)).toEqual([`live-${tag}`]);
    expect(await ctx.deps.db.select().from(portalLoginTokens).where(eq(portalLoginTokens.userId, u.id))).toEqual([]);

    // 0 keeps forever
    const keep = await deadLetter({ tag: `${tag}-keep` });
    await ctx.deps.db.update(deadLetters).set({ createdAt: daysAgo(5000) }).where(eq(deadLetters.id, keep));
    expect((await runRetention(ctx.deps.db, { ...config, RETENTION_DEAD_LETTERS_DAYS: 0 }, new Date())).deadLetters).toBe(0);
    expect(await ctx.deps.db.select().from(deadLetters).where(eq(deadLetters.id, keep))).toHaveLength(1);
  });

  it('an Idempotency-Key whose stored result expired is refused (409), never booked twice', async () => {
    const u = await makeUser(ctx);
    const key = uniq();
    const credit = () => ctx.api('POST', `/api/users/${u.id}/credits`, { amount: 1000, reason: 'bonus' }, { headers: { 'idempotency-key': key } });
    expect((await credit()).status).toBe(201);
    await ctx.deps.db.update(idempotencyRecords).set({ createdAt: daysAgo(31) }).where(eq(idempotencyRecords.key, key));
    await runRetention(ctx.deps.db, config, new Date());
    const again = await credit();
    expect(again.status).toBe(409);
    expect((await again.json()).error.code).toBe('idempotency_mismatch');
    const [bal] = await ctx.deps.db.select().from(balances).where(eq(balances.userId, u.id));
    expect(bal!.topupMilli).toBe(1_000_000);
  });

  it('reads its periods from the configuration, with documented defaults', async () => {
    const { loadConfig } = await import('../src/config.js');
    expect(loadConfig({})).toMatchObject(config);
    expect(loadConfig({ RETENTION_MAIL_LOG_DAYS: '0' }).RETENTION_MAIL_LOG_DAYS).toBe(0);
    expect(() => loadConfig({ RETENTION_OUTBOX_DAYS: '-1' })).toThrow('RETENTION_OUTBOX_DAYS');
  });
});
