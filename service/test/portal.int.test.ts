import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailLog, portalLoginTokens } from '../src/db/schema/index.js';
import { drainOutbox } from '../src/jobs/outbox.js';
import { makeUser, uniq } from './support/factories.js';
import { cookieHeader, eventually, portalClient, portalLoginWithKey, portalPost, someIp } from './support/portal.js';
import { startResendCapture } from './support/resend-capture.js';
import { startStack, type Stack } from './support/stack.js';
import type { TestResponse } from './support/context.js';

const PUBLIC_URL = 'https://credits.example.com';
let s: Stack;
let resend: Awaited<ReturnType<typeof startResendCapture>>;

beforeAll(async () => {
  resend = await startResendCapture();
  s = await startStack({ env: { RESEND_API_KEY: 're_test_key', RESEND_BASE_URL: resend.url, PUBLIC_URL, TRUST_PROXY: 'true', ADMIN_EMAIL: 'ops@example.com' } });
});
afterAll(async () => {
  await s?.close();
  await resend?.close();
});

const person = async () => {
  const u = await makeUser(s.ctx, { name: `Ana ${uniq()}` });
  return { ...u, plaintext: (u.key as unknown as { plaintext: string }).plaintext };
};

/** Ask for a link and return the token from the mail Resend received. */
async function emailedToken(email: string): Promise<string> {
  const before = resend.mails.length;
  const res = await portalPost(s.ctx, '/api/portal/login/email', { email });
  expect(res.status).toBe(202);
  // The mail is queued after the answer (same timing for every address): drain until it is sent.
  const mail = await eventually(async () => {
    await drainOutbox(s.ctx.deps);
    return resend.mails.slice(before).find((m) => m.to === email);
  });
  const m = /https:\/\/credits\.example\.com\/me\/login\?token=([\w%-]+)/.exec(mail!.text);
  expect(m).not.toBeNull();
  return decodeURIComponent(m![1]!);
}

describe('magic link sign-in', () => {
  it('emails a one-time link through Resend; the link opens a portal session once', async () => {
    const u = await person();
    const token = await emailedToken(u.email);
    const stored = await s.ctx.deps.db.select().from(portalLoginTokens).where(eq(portalLoginTokens.userId, u.id));
    expect(stored).toHaveLength(1);
    expect(stored[0]!.tokenHash).not.toContain(token); // only the hash is stored
    expect(stored[0]!.expiresAt.getTime() - stored[0]!.createdAt.getTime()).toBe(15 * 60_000);
    const [logged] = await s.ctx.deps.db.select().from(mailLog).where(eq(mailLog.to, u.email));
    expect(logged).toMatchObject({ template: 'portal_login', status: 'sent' });

    const res = await portalPost(s.ctx, '/api/portal/login/token', { token });
    expect(res.status).toBe(200);
    const session = res.headers.getSetCookie().find((c) => c.startsWith('tcc_portal='))!;
    expect(session).toMatch(/HttpOnly/);
    expect(session).toMatch(/SameSite=Strict/);
    expect(session).toMatch(/Path=\/api\/portal/);
    const body = await res.json();
    const client = portalClient(s.ctx, res, body.csrfToken);
    const me = await client.call('GET', '/api/portal/me');
    expect(me.status).toBe(200);
    expect((await me.json()).person).toMatchObject({ id: u.id, email: u.email });

    const again = await portalPost(s.ctx, '/api/portal/login/token', { token });
    expect(again.status).toBe(401);
    expect((await again.json()).error.code).toBe('unauthorized');
  });

  it('refuses an expired link', async () => {
    const u = await person();
    const token = await emailedToken(u.email);
    await s.ctx.deps.db.execute(sql`update portal_login_tokens set expires_at = now() - interval '1 second' where user_id = ${u.id}`);
    expect((await portalPost(s.ctx, '/api/portal/login/token', { token })).status).toBe(401);
  });

  it('answers 202 for an unknown address and sends nothing', async () => {
    const before = resend.mails.length;
    const email = `nobody-${uniq()}@example.com`;
    const res = await portalPost(s.ctx, '/api/portal/login/email', { email });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ ok: true });
    await new Promise((r) => setTimeout(r, 200)); // the background lookup
    while ((await drainOutbox(s.ctx.deps)) > 0);
    expect(resend.mails.length).toBe(before);
    expect(await s.ctx.deps.db.select().from(mailLog).where(eq(mailLog.to, email))).toHaveLength(0);
  });

  it('rate-limits link requests per address', async () => {
    const email = `flood-${uniq()}@example.com`;
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await portalPost(s.ctx, '/api/portal/login/email', { email })).status);
    expect(statuses).toEqual([202, 202, 202, 202, 202, 429]);
  });

  it('refuses a made-up token', async () => {
    expect((await portalPost(s.ctx, '/api/portal/login/token', { token: 'tcm_made-up-token-value' })).status).toBe(401);
  });
});

describe('key sign-in', () => {
  it('accepts the person’s own key and refuses anything else, rate limited per address', async () => {
    const u = await person();
    const client = await portalLoginWithKey(s.ctx, u.plaintext);
    const me = await (await client.call('GET', '/api/portal/me')).json();
    expect(me.person.id).toBe(u.id);
    const ip = someIp();
    const wrong = await portalPost(s.ctx, '/api/portal/login/key', { key: `${u.plaintext}x` }, ip);
    expect(wrong.status).toBe(401);
    for (let i = 0; i < 9; i++) await portalPost(s.ctx, '/api/portal/login/key', { key: `sk-wrong-${i}` }, ip);
    const limited = await portalPost(s.ctx, '/api/portal/login/key', { key: u.plaintext }, ip);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('what the portal shows', () => {
  it('balance (monthly vs purchased), thresholds, projection, usage, statement and CSV, alerts', async () => {
    const u = await person();
    expect((await s.ctx.api('POST', `/api/users/${u.id}/credits`, { amount: 250_000, reason: 'bonus' }, { headers: { 'idempotency-key': uniq() } })).status).toBe(201);
    const chat = await s.chat(u.plaintext); // 100 credits
    expect(chat.status).toBe(200);
    const client = await portalLoginWithKey(s.ctx, u.plaintext);
    const me = await (await client.call('GET', '/api/portal/me')).json();
    expect(me.balance).toMatchObject({ credits: 1_249_900, monthlyRemaining: 999_900, topupRemaining: 250_000, usedThisPeriod: 100, state: 'active' });
    expect(me.thresholds).toEqual([80, 95, 100]);
    expect(me.projectedExhaustion).toEqual(expect.any(String)); // 100 credits in 7 days → far in the future
    expect(me).toMatchObject({ paymentsEnabled: false, contactEmail: 'ops@example.com', plan: { name: 'Basic', monthlyCredits: 1_000_000 } });
    expect(me.key).toMatchObject({ status: 'active' });

    const byModel = await (await client.call('GET', '/api/portal/usage?groupBy=model')).json();
    expect(byModel.items).toEqual([expect.objectContaining({ model: 'mock-model', calls: 1, credits: 100 })]);
    const ledger = await (await client.call('GET', '/api/portal/ledger')).json();
    expect(ledger.items.map((e: { kind: string; amount: number }) => [e.kind, e.amount])).toEqual([
      ['usage', -100],
      ['topup', 250_000],
      ['grant', 1_000_000],
    ]);
    const csv = await client.call('GET', '/api/portal/ledger.csv');
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const lines = (await csv.text()).trim().split('\n');
    expect(lines[0]).toBe('id,created_at,kind,amount,monthly,topup,period,reason,outcome');
    expect(lines).toHaveLength(4);
    expect(lines[2]).toContain(',topup,250000,0,250000,');
    const alerts = await (await client.call('GET', '/api/portal/alerts')).json();
    expect(alerts.items).toEqual([]);
    const packs = await (await client.call('GET', '/api/portal/packs')).json();
    expect(packs).toEqual({ paymentsEnabled: false, items: [] });
  });

  it('a blocked person sees state blocked and their 100% alert', async () => {
    const plan = await s.ctx.api('POST', '/api/plans', { slug: `tiny-${uniq()}`, name: 'Tiny', monthlyCredits: 100 });
    const u = await makeUser(s.ctx, { plan: (await plan.json()).slug });
    const key = (u.key as unknown as { plaintext: string }).plaintext;
    expect((await s.chat(key)).status).toBe(200); // exactly 100 credits
    const client = await portalLoginWithKey(s.ctx, key);
    const me = await (await client.call('GET', '/api/portal/me')).json();
    expect(me.balance).toMatchObject({ credits: 0, percentUsed: 100, state: 'blocked' });
    expect(me.projectedExhaustion).toBeNull();
    const alerts = await (await client.call('GET', '/api/portal/alerts')).json();
    expect(alerts.items.map((a: { threshold: number }) => a.threshold).sort()).toEqual([100, 80, 95]);
  });
});

describe('scoping: the portal is its own realm, one person per session', () => {
  let routes: { method: string; path: string }[];
  beforeAll(async () => {
    const doc = await (await s.ctx.api('GET', '/api/openapi.json', undefined, { token: null })).json();
    routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .filter(([path]) => path.startsWith('/api/portal/') && !path.startsWith('/api/portal/login/'))
      .flatMap(([path, ops]) => Object.keys(ops).map((method) => ({ method: method.toUpperCase(), path })));
  });

  it('every portal route answers 401 without a portal session, even with an admin token or admin session', async () => {
    expect(routes.length).toBeGreaterThanOrEqual(10);
    const login: TestResponse = await s.ctx.app.request('/api/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': someIp() },
      body: JSON.stringify({ email: s.ctx.deps.config.ADMIN_EMAIL, password: 'correct horse battery staple' }),
    });
    const adminCookie = cookieHeader(login);
    const { csrfToken } = await login.json();
    for (const r of routes) {
      const body = r.method === 'GET' ? undefined : JSON.stringify({});
      const none: TestResponse = await s.ctx.app.request(r.path, { method: r.method, headers: { 'content-type': 'application/json' }, body });
      expect({ ...r, status: none.status }).toEqual({ ...r, status: 401 });
      expect((await none.json()).error.code).toBe('unauthorized');
      const bearer = await s.ctx.api(r.method, r.path, r.method === 'GET' ? undefined : {});
      expect({ ...r, status: bearer.status }).toEqual({ ...r, status: 401 });
      const session = await s.ctx.app.request(r.path, { method: r.method, headers: { cookie: adminCookie, 'x-csrf-token': csrfToken, 'content-type': 'application/json' }, body });
      expect({ ...r, status: session.status }).toEqual({ ...r, status: 401 });
    }
  });

  it('a portal session reaches no admin route, and portal mutations need the CSRF header', async () => {
    const u = await person();
    const client = await portalLoginWithKey(s.ctx, u.plaintext);
    for (const [method, path] of [
      ['GET', '/api/users'],
      ['GET', `/api/users/${u.id}`],
      ['GET', `/api/users/${u.id}/ledger`],
      ['POST', `/api/users/${u.id}/credits`],
      ['POST', `/api/users/${u.id}/key/rotate`],
      ['GET', '/api/auth/me'],
      ['GET', '/api/payments'],
      ['POST', '/api/packs'],
    ] as const) {
      const res = await client.call(method, path, method === 'GET' ? undefined : { amount: 1, reason: 'x' }, { csrf: null });
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 401 });
    }
    const noCsrf = await client.call('POST', '/api/portal/key/rotate', undefined, { csrf: null });
    expect(noCsrf.status).toBe(403);
    const wrongCsrf = await client.call('POST', '/api/portal/checkout', { packId: 'x' }, { csrf: 'not-the-cookie' });
    expect(wrongCsrf.status).toBe(403);
  });

  it('person A sees only A', async () => {
    const a = await person();
    const b = await person();
    const reason = `only-for-b-${uniq()}`;
    await s.ctx.api('POST', `/api/users/${b.id}/credits`, { amount: 777, reason }, { headers: { 'idempotency-key': uniq() } });
    const client = await portalLoginWithKey(s.ctx, a.plaintext);
    const me = await (await client.call('GET', '/api/portal/me')).json();
    expect(me.person.id).toBe(a.id);
    const ledger = await (await client.call('GET', '/api/portal/ledger?pageSize=200')).json();
    expect(JSON.stringify(ledger)).not.toContain(reason);
    expect(ledger.items).toHaveLength(1); // A's grant only
    // Query parameters cannot widen the scope.
    const alerts = await (await client.call('GET', `/api/portal/alerts?userId=${b.id}`)).json();
    expect(alerts.items.every((x: { userId: string }) => x.userId === a.id)).toBe(true);
  });

  it('logging out ends the portal session', async () => {
    const u = await person();
    const client = await portalLoginWithKey(s.ctx, u.plaintext);
    expect((await client.call('POST', '/api/portal/logout')).status).toBe(200);
    expect((await client.call('GET', '/api/portal/me')).status).toBe(401);
  });
});

describe('rotating the key from the portal', () => {
  it('returns the new key once; the old key stops working in LiteLLM and for sign-in', async () => {
    const u = await person();
    const client = await portalLoginWithKey(s.ctx, u.plaintext);
    const res = await client.call('POST', '/api/portal/key/rotate');
    expect(res.status).toBe(200);
    const k = await res.json();
    expect(k.plaintext).toMatch(/^sk-/);
    expect(k.plaintext).not.toBe(u.plaintext);
    expect(k.status).toBe('active');
    while ((await drainOutbox(s.ctx.deps)) > 0);
    expect((await s.chat(u.plaintext)).status).toBe(401);
    expect((await s.chat(k.plaintext)).status).toBe(200);
    expect((await portalPost(s.ctx, '/api/portal/login/key', { key: u.plaintext })).status).toBe(401);
    await portalLoginWithKey(s.ctx, k.plaintext);
    const audit = await (await s.ctx.api('GET', `/api/audit?action=key.rotate&targetId=${u.id}`)).json();
    expect(audit.items[0].actor).toBe(`self:${u.email}`);
    // the me view shows the new key's hint, never the key
    const me = await (await client.call('GET', '/api/portal/me')).json();
    expect(JSON.stringify(me)).not.toContain(k.plaintext);
    expect(me.key.hint).toBe(`${k.plaintext.slice(0, 3)}…${k.plaintext.slice(-4)}`);
  });
});
