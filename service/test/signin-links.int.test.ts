import { eq, sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rows } from '../src/db/client.js';
import { mailLog, portalLoginTokens } from '../src/db/schema/index.js';
import { drainOutbox } from '../src/jobs/outbox.js';
import { createTestContext, type TestContext, type TestResponse } from './support/context.js';
import { isPostgres } from './support/db.js';
import { makeUser, uniq } from './support/factories.js';
import { eventually, portalPost } from './support/portal.js';
import { startResendCapture } from './support/resend-capture.js';

const PUBLIC_URL = 'https://credits.example.com';
let ctx: TestContext;
let resend: Awaited<ReturnType<typeof startResendCapture>>;

beforeAll(async () => {
  resend = await startResendCapture();
  ctx = await createTestContext({ env: { RESEND_API_KEY: 're_test_key', RESEND_BASE_URL: resend.url, PUBLIC_URL, TRUST_PROXY: 'true' } });
});
afterAll(async () => {
  await ctx?.close();
  await resend?.close();
});

const LINK = /\/me\/login\?token=([^\s"<&]+)/g;

/** Ask for a link for `email` and wait until Resend received it; returns the emailed token. */
async function requestAndReceive(email: string): Promise<string> {
  const before = resend.mails.length;
  expect((await portalPost(ctx, '/api/portal/login/email', { email })).status).toBe(202);
  const mail = await eventually(async () => {
    await drainOutbox(ctx.deps);
    return resend.mails.slice(before).find((m) => m.to === email);
  });
  return decodeURIComponent([...mail.text.matchAll(LINK)][0]![1]!);
}

describe('sign-in links are never stored usable (issue 14, hole 1)', () => {
  it('a viewer who asks for a link for someone else cannot obtain a working one from the mail log', async () => {
    const u = await makeUser(ctx);
    const emailed = await requestAndReceive(u.email);
    // What a viewer can read: the mail log.
    const res = await ctx.api('GET', `/api/mail?userId=${u.id}`, undefined, { token: ctx.viewerToken });
    expect(res.status).toBe(200);
    const { items } = await res.json();
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ template: 'portal_login', status: 'sent', to: u.email });
    expect(items[0].text).toContain(`${PUBLIC_URL}/me/login?token=[redacted]`);
    expect(JSON.stringify(items)).not.toContain(emailed);
    for (const [, token] of JSON.stringify(items).matchAll(LINK)) {
      expect((await portalPost(ctx, '/api/portal/login/token', { token: decodeURIComponent(token!) })).status).not.toBe(200);
    }
    // Nowhere in the database: only the sha256 of the token.
    for (const table of ['mail_log', 'outbox', 'portal_login_tokens', 'audit_log']) {
      const dump = await rows<{ t: string }>(ctx.deps.db, sql`select coalesce(json_agg(x)::text, '') as t from ${sql.identifier(table)} x`);
      expect({ table, leaks: dump[0]!.t.includes(emailed) }).toEqual({ table, leaks: false });
    }
    const [stored] = await ctx.deps.db.select().from(portalLoginTokens).where(eq(portalLoginTokens.userId, u.id));
    expect(stored!.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    // The emailed link itself works, once.
    expect((await portalPost(ctx, '/api/portal/login/token', { token: emailed })).status).toBe(200);
    expect((await portalPost(ctx, '/api/portal/login/token', { token: emailed })).status).toBe(401);
  });

  it('the html part of the logged mail is redacted too', async () => {
    const u = await makeUser(ctx);
    const emailed = await requestAndReceive(u.email);
    const [logged] = await ctx.deps.db.select().from(mailLog).where(eq(mailLog.userId, u.id));
    expect(logged!.html).toContain('token=[redacted]');
    expect(logged!.html).not.toContain(emailed);
    const sent = resend.mails.find((m) => m.to === u.email)!;
    expect(sent.html).toContain(emailed);
  });

  it('without Resend nothing is sent and no token is made; the mail log shows the redacted mail', async () => {
    const plain = await createTestContext({ env: { PUBLIC_URL, TRUST_PROXY: 'true' } });
    try {
      const u = await makeUser(plain);
      expect((await portalPost(plain, '/api/portal/login/email', { email: u.email })).status).toBe(202);
      const [logged] = await eventually(async () => {
        const r = await plain.deps.db.select().from(mailLog).where(eq(mailLog.userId, u.id));
        return r.length ? r : undefined;
      });
      expect(logged).toMatchObject({ template: 'portal_login', status: 'logged' });
      expect(logged!.text).toContain(`${PUBLIC_URL}/me/login?token=[redacted]`);
      expect(await plain.deps.db.select().from(portalLoginTokens).where(eq(portalLoginTokens.userId, u.id))).toEqual([]);
    } finally {
      await plain.close();
    }
  });
});

describe('no links from request headers in production (issue 14, hole 3)', () => {
  it('NODE_ENV=production without PUBLIC_URL: sign-in by email answers a clear 503 and queues nothing', async () => {
    const prod = await createTestContext({ env: { NODE_ENV: 'production', TRUST_PROXY: 'true', RESEND_API_KEY: 're_test_key', RESEND_BASE_URL: resend.url } });
    try {
      const u = await makeUser(prod);
      const res: TestResponse = await prod.app.request('/api/portal/login/email', {
        method: 'POST',
        headers: { 'content-type': 'application/json', host: 'evil.example.net', 'x-forwarded-host': 'evil.example.net' },
        body: JSON.stringify({ email: u.email }),
      });
      expect(res.status).toBe(503);
      expect((await res.json()).error).toMatchObject({ code: 'dependency_unavailable', message: expect.stringContaining('PUBLIC_URL') });
      await new Promise((r) => setTimeout(r, 100));
      expect(await prod.deps.db.select().from(mailLog).where(eq(mailLog.userId, u.id))).toEqual([]);
    } finally {
      await prod.close();
    }
  });

  it('NODE_ENV=production with PUBLIC_URL: links use it, whatever the Host header says', async () => {
    const prod = await createTestContext({ env: { NODE_ENV: 'production', PUBLIC_URL, TRUST_PROXY: 'true' } });
    try {
      const u = await makeUser(prod);
      const res: TestResponse = await prod.app.request('/api/portal/login/email', {
        method: 'POST',
        headers: { 'content-type': 'application/json', host: 'evil.example.net', 'x-forwarded-host': 'evil.example.net' },
        body: JSON.stringify({ email: u.email }),
      });
      expect(res.status).toBe(202);
      const [logged] = await eventually(async () => {
        const r = await prod.deps.db.select().from(mailLog).where(eq(mailLog.userId, u.id));
        return r.length ? r : undefined;
      });
      expect(logged!.text).toContain(`${PUBLIC_URL}/me/login?token=`);
      expect(logged!.text).not.toContain('evil.example.net');
    } finally {
      await prod.close();
    }
  });
});

describe('known and unknown addresses take the same time (issue 16)', () => {
  it.runIf(isPostgres())('answers before looking the address up: 202 even while the mail log is locked', async () => {
    const u = await makeUser(ctx);
    const locker = postgres(ctx.database.url!, { max: 1, onnotice: () => {} });
    try {
      const reserved = await locker.reserve();
      await reserved`begin`;
      await reserved`lock table mail_log in access exclusive mode`;
      const answer = await Promise.race([
        portalPost(ctx, '/api/portal/login/email', { email: u.email }).then((r) => r.status),
        new Promise((r) => setTimeout(() => r('still waiting after 3 s'), 3000)),
      ]);
      expect(answer).toBe(202);
      await reserved`commit`;
      reserved.release();
    } finally {
      await locker.end();
    }
    // Once the lock is gone the mail is queued as usual.
    await eventually(async () => {
      const r = await ctx.deps.db.select().from(mailLog).where(eq(mailLog.userId, u.id));
      return r.length ? r : undefined;
    });
  });

  it('answers known and unknown addresses alike (same status, body and headers but the request id)', async () => {
    const u = await makeUser(ctx);
    const known = await portalPost(ctx, '/api/portal/login/email', { email: u.email });
    const unknown = await portalPost(ctx, '/api/portal/login/email', { email: `nobody-${uniq()}@example.com` });
    const shape = async (r: Response) => ({ status: r.status, body: await r.text(), headers: [...r.headers.keys()].filter((h) => h !== 'x-request-id').sort() });
    expect(await shape(known)).toEqual(await shape(unknown));
  });
});
