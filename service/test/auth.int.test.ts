import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from './support/context.js';

let ctx: TestContext;
let routes: { method: string; path: string }[];

beforeAll(async () => {
  ctx = await createTestContext();
  const doc = await (await ctx.api('GET', '/api/openapi.json', undefined, { token: null })).json();
  routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
    // /api/portal/* is the portal's own realm: see portal.int.test.ts
    .filter(([path]) => path.startsWith('/api/') && path !== '/api/auth/login' && !path.startsWith('/api/portal/'))
    .flatMap(([path, ops]) => Object.keys(ops).map((method) => ({ method: method.toUpperCase(), path: path.replace(/\{id\}/g, 'usr_doesnotexist00') })));
});
afterAll(() => ctx.close());

const READ_ONLY_POSTS = ['/api/settings/conversion-factor/preview', '/api/auth/logout'];

describe('every protected route', () => {
  it('is listed in the OpenAPI document', () => {
    expect(routes.length).toBeGreaterThan(20);
    expect(routes).toContainEqual({ method: 'POST', path: '/api/users/usr_doesnotexist00/credits' });
  });

  it('answers 401 without credentials, in the error shape', async () => {
    for (const r of routes) {
      const res = await ctx.api(r.method, r.path, r.method === 'GET' ? undefined : {}, { token: null });
      expect({ ...r, status: res.status }).toEqual({ ...r, status: 401 });
      const body = await res.json();
      expect(body.error).toMatchObject({ code: 'unauthorized', requestId: expect.any(String) });
    }
  });

  it('answers 401 for an unknown or revoked token', async () => {
    const res = await ctx.api('GET', '/api/users', undefined, { token: 'tck_not-a-real-token' });
    expect(res.status).toBe(401);
    const created = await (await ctx.api('POST', '/api/auth/tokens', { name: 'temp', role: 'admin' })).json();
    expect((await ctx.api('GET', '/api/users', undefined, { token: created.token })).status).toBe(200);
    expect((await ctx.api('DELETE', `/api/auth/tokens/${created.id}`)).status).toBe(200);
    expect((await ctx.api('GET', '/api/users', undefined, { token: created.token })).status).toBe(401);
  });

  it('answers 403 to a viewer on every mutation, and lets a viewer read', async () => {
    const mutations = routes.filter((r) => r.method !== 'GET' && !READ_ONLY_POSTS.includes(r.path));
    expect(mutations.length).toBeGreaterThan(10);
    for (const r of mutations) {
      const res = await ctx.api(r.method, r.path, {}, { token: ctx.viewerToken });
      expect({ ...r, status: res.status }).toEqual({ ...r, status: 403 });
      expect((await res.json()).error.code).toBe('forbidden');
    }
    for (const path of ['/api/users', '/api/plans', '/api/stats', '/api/audit', '/api/settings/conversion-factor']) {
      expect((await ctx.api('GET', path, undefined, { token: ctx.viewerToken })).status).toBe(200);
    }
  });
});

describe('session login', () => {
  async function login(email: string, password: string) {
    return ctx.app.request('/api/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.0.0.1' },
      body: JSON.stringify({ email, password }),
    });
  }

  it('sets an httpOnly SameSite cookie and requires the CSRF header on mutations', async () => {
    const res = await login(ctx.deps.config.ADMIN_EMAIL, 'correct horse battery staple');
    expect(res.status).toBe(200);
    const cookies = res.headers.getSetCookie();
    const session = cookies.find((c) => c.startsWith('tcc_session='))!;
    expect(session).toMatch(/HttpOnly/);
    expect(session).toMatch(/SameSite=Strict/);
    const { csrfToken } = (await res.json()) as { csrfToken: string };
    const cookie = cookies.map((c) => c.split(';')[0]).join('; ');

    const me = await ctx.app.request('/api/auth/me', { headers: { cookie } });
    expect(await me.json()).toMatchObject({ role: 'admin', via: 'session' });

    const body = JSON.stringify({ email: 'csrf@example.com', name: 'C' });
    const noCsrf = await ctx.app.request('/api/users', { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body });
    expect(noCsrf.status).toBe(403);
    const withCsrf = await ctx.app.request('/api/users', {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': csrfToken },
      body,
    });
    expect(withCsrf.status).toBe(201);

    const out = await ctx.app.request('/api/auth/logout', { method: 'POST', headers: { cookie, 'x-csrf-token': csrfToken } });
    expect(out.status).toBe(200);
    expect((await ctx.app.request('/api/auth/me', { headers: { cookie } })).status).toBe(401);
  });

  it('answers wrong credentials with one message, audits them, and rate-limits per account', async () => {
    const email = 'viewer-rl@example.com';
    await ctx.api('POST', '/api/auth/admins', { email, name: 'V', role: 'viewer', password: 'a long enough passphrase' });
    const unknown = await login('nobody@example.com', 'whatever-whatever');
    const wrong = await login(email, 'not the password!');
    expect(unknown.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(((await unknown.json()) as any).error.message).toBe(((await wrong.json()) as any).error.message);
    const audit = await (await ctx.api('GET', '/api/audit?action=auth.login_failed')).json();
    expect(audit.items.some((a: { actor: string }) => a.actor === email)).toBe(true);
    let last: Response | undefined;
    for (let i = 0; i < 5; i++) last = await login(email, 'not the password!');
    expect(last!.status).toBe(429);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    // even the right password waits out the window
    expect((await login(email, 'a long enough passphrase')).status).toBe(429);
  });

  it('enforces the admin password policy', async () => {
    const res = await ctx.api('POST', '/api/auth/admins', { email: 'weak@example.com', name: 'W', role: 'admin', password: 'short' });
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toContain('at least 12');
  });
});
