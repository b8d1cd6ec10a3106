import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientIp } from '../src/http/middleware.js';
import { loadConfig } from '../src/config.js';
import { createTestContext, type TestContext } from './support/context.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { TRUST_PROXY: 'true' } });
});
afterAll(() => ctx.close());

const PASSWORD = 'correct horse battery staple';
const login = (email: string, password: string, from: string) =>
  ctx.app.request('/api/auth/login', {
    method: 'POST',
    // the client may put anything first; the trusted proxy appends the address it saw
    headers: { 'content-type': 'application/json', 'x-forwarded-for': `198.51.100.1, ${from}` },
    body: JSON.stringify({ email, password }),
  });

describe('client address behind TRUST_PROXY', () => {
  const ipOf = (hops: string, xff?: string) => {
    const app = new Hono();
    app.use(async (c, next) => {
      c.set('deps' as never, { config: loadConfig({ TRUST_PROXY: hops }) } as never);
      await next();
    });
    app.get('/', (c) => c.text(clientIp(c as never)));
    return Promise.resolve(app.request('/', { headers: xff === undefined ? {} : { 'x-forwarded-for': xff } })).then((r) => r.text());
  };

  it('is the address the outermost trusted proxy appended, not the leftmost (forgeable) one', async () => {
    expect(await ipOf('true', 'forged, 203.0.113.7')).toBe('203.0.113.7');
    expect(await ipOf('1', ' forged ,203.0.113.7 ')).toBe('203.0.113.7');
    expect(await ipOf('2', 'forged, 203.0.113.7, 10.0.0.2')).toBe('203.0.113.7');
    expect(await ipOf('3', '203.0.113.7, 10.0.0.2')).toBe('203.0.113.7'); // fewer entries than hops
    expect(await ipOf('false', 'forged, 203.0.113.7')).toBe('unknown'); // no proxy: the socket (none in app.request)
    expect(await ipOf('true')).toBe('unknown');
  });

  it('refuses a TRUST_PROXY that is neither a boolean nor a hop count', () => {
    expect(() => loadConfig({ TRUST_PROXY: 'yes' })).toThrow(/TRUST_PROXY: must be true, false or the number of proxies/);
  });
});

describe('login limits', () => {
  it('a forged X-Forwarded-For does not buy more attempts from the same address', async () => {
    const statuses = [];
    for (let i = 0; i < 21; i++) {
      const res = await ctx.app.request('/api/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.9.${i}.1, 192.0.2.50` },
        body: JSON.stringify({ email: `nobody${i}@example.com`, password: 'wrong password!!' }),
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([...Array(20).fill(401), 429]);
  });

  it('an attack on an account from many addresses does not lock out the right password from an address that has not failed', async () => {
    const admin = ctx.deps.config.ADMIN_EMAIL;
    for (let a = 0; a < 10; a++) for (let i = 0; i < 5; i++) expect((await login(admin, 'guess guess guess', `192.0.2.${a}`)).status).toBe(401);
    // the guessing addresses now wait, even with the right password
    const blocked = await login(admin, PASSWORD, '192.0.2.3');
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    // the admin, from an address that has not failed, signs in
    expect((await login(admin, PASSWORD, '203.0.113.20')).status).toBe(200);
    // an address with a single failure while the account is under attack waits
    expect((await login(admin, 'one typo here!', '203.0.113.21')).status).toBe(401);
    expect((await login(admin, PASSWORD, '203.0.113.21')).status).toBe(429);
  });

  it('an address that failed 5 times for an account waits; other accounts and addresses do not', async () => {
    const email = 'viewer-limits@example.com';
    await ctx.api('POST', '/api/auth/admins', { email, name: 'V', role: 'viewer', password: 'a long enough passphrase' });
    for (let i = 0; i < 5; i++) expect((await login(email, 'not the password!', '192.0.2.200')).status).toBe(401);
    expect((await login(email, 'a long enough passphrase', '192.0.2.200')).status).toBe(429);
    expect((await login(email, 'a long enough passphrase', '192.0.2.201')).status).toBe(200);
  });
});
