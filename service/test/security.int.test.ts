/**
 * The security proof (issue 14): every route of the OpenAPI document, walked, against every way in
 * (in the style of unkey's route tests): no credentials, a viewer, an admin, another person's portal
 * session, forged / expired / revoked credentials, a wrong or foreign CSRF token. Routes are
 * classified by their declared `security`; an unclassified route, or a route the app serves that the
 * document does not list, fails the test, so a new route cannot be forgotten.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rows } from '../src/db/client.js';
import { sessions, portalSessions } from '../src/db/schema/index.js';
import { sha256Hex } from '../src/lib/crypto.js';
import { csrfTokenFor } from '../src/http/csrf.js';
import { createTestContext, WEBHOOK_SECRET, type TestContext, type TestResponse } from './support/context.js';
import { attachKey, makeUser, uniq } from './support/factories.js';
import { cookieHeader, portalLoginWithKey, someIp, type PortalClient } from './support/portal.js';
import { startStripeFake, stripeEnv, type StripeFake } from './support/stripe-fake.js';

type Realm = 'admin' | 'portal' | 'public' | 'webhook';
interface Op {
  method: string;
  path: string;
  realm: Realm;
  adminOnly: boolean;
}

/** POSTs a viewer may make (they change nothing). */
const READ_ONLY_POSTS = ['/api/settings/conversion-factor/preview', '/api/auth/logout'];
const ADMIN_PASSWORD = 'correct horse battery staple';

let ctx: TestContext;
let stripe: StripeFake;
let ops: Op[];
let a: { id: string; email: string; marker: string; portal: PortalClient };
let b: { id: string; email: string; portal: PortalClient; plaintext: string };
let admin: { cookie: string; csrf: string };
let otherAdmin: { csrf: string };
let revokedToken: string;
const expiredAdminCookie = `tcc_session=tcs_expired_${uniq()}`;
const expiredPortalCookie = `tcc_portal=tcp_expired_${uniq()}`;
let loggedOutPortal: PortalClient;

function realmOf(security: unknown): Realm {
  if (security === undefined) return 'admin'; // the document's default: bearer / admin session
  const names = (security as Record<string, unknown>[]).flatMap((s) => Object.keys(s));
  if (names.length === 0) return 'public';
  if (names.length === 1 && names[0] === 'portalSession') return 'portal';
  if (names.length === 1 && names[0] === 'webhookSecret') return 'webhook';
  throw new Error(`unclassified security ${JSON.stringify(security)}: teach security.int.test.ts about it`);
}

async function call(method: string, path: string, headers: Record<string, string> = {}): Promise<TestResponse> {
  const body = method === 'GET' || method === 'DELETE' ? undefined : '{}';
  return ctx.app.request(path, { method, headers: { 'x-forwarded-for': someIp(), ...(body ? { 'content-type': 'application/json' } : {}), ...headers }, body });
}

async function adminLogin() {
  const res: TestResponse = await ctx.app.request('/api/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': someIp() },
    body: JSON.stringify({ email: ctx.deps.config.ADMIN_EMAIL, password: ADMIN_PASSWORD }),
  });
  expect(res.status).toBe(200);
  return { cookie: cookieHeader(res), csrf: (await res.json()).csrfToken as string };
}

beforeAll(async () => {
  stripe = await startStripeFake();
  ctx = await createTestContext({ env: { ...stripeEnv(stripe), PUBLIC_URL: 'https://credits.example.com', TRUST_PROXY: 'true' } });
  const doc = (await (await ctx.app.request('/api/openapi.json')).json()) as { paths: Record<string, Record<string, { security?: unknown; 'x-admin-only'?: boolean }>> };
  ops = Object.entries(doc.paths).flatMap(([path, byMethod]) =>
    Object.entries(byMethod).map(([method, op]) => ({ method: method.toUpperCase(), path, realm: realmOf(op.security), adminOnly: op['x-admin-only'] === true })),
  );

  const person = async () => {
    const u = await makeUser(ctx);
    const { plaintext } = await attachKey(ctx, u.id);
    return { id: u.id, email: u.email, portal: await portalLoginWithKey(ctx, plaintext), plaintext };
  };
  const pa = await person();
  const marker = `only-for-a-${uniq()}`;
  await ctx.api('POST', `/api/users/${pa.id}/credits`, { amount: 7, reason: marker }, { headers: { 'idempotency-key': uniq() } });
  a = { ...pa, marker };
  b = await person();
  loggedOutPortal = await portalLoginWithKey(ctx, b.plaintext);
  expect((await loggedOutPortal.call('POST', '/api/portal/logout')).status).toBe(200);

  admin = await adminLogin();
  otherAdmin = await adminLogin();
  const created = await (await ctx.api('POST', '/api/auth/tokens', { name: 'to-revoke', role: 'admin' })).json();
  revokedToken = created.token;
  expect((await ctx.api('DELETE', `/api/auth/tokens/${created.id}`)).status).toBe(200);
  // Sessions that existed and expired a minute ago.
  const [adm] = await rows<{ id: string }>(ctx.deps.db, sql`select id from admins limit 1`);
  const past = new Date(Date.now() - 60_000);
  await ctx.deps.db.insert(sessions).values({ idHash: sha256Hex(expiredAdminCookie.split('=')[1]!), adminId: (adm ?? { id: '' }).id, expiresAt: past });
  await ctx.deps.db.insert(portalSessions).values({ idHash: sha256Hex(expiredPortalCookie.split('=')[1]!), userId: a.id, via: 'key', expiresAt: past });
});
afterAll(async () => {
  await ctx?.close();
  await stripe?.close();
});

/** Path parameters: a real person's id where it matters (refusals must not depend on the target being absent). */
const fill = (path: string, id: string) => path.replace(/\{id\}/g, id);
const isMutation = (op: Op) => !['GET', 'HEAD'].includes(op.method);
const viewerMay = (op: Op) => !op.adminOnly && (!isMutation(op) || READ_ONLY_POSTS.includes(op.path));

/** Run `check` for each op, collect every mismatch, and fail once with all of them. */
async function each(filter: (op: Op) => boolean, check: (op: Op) => Promise<string | null>) {
  const chosen = ops.filter(filter);
  expect(chosen.length).toBeGreaterThan(0);
  const failures: string[] = [];
  for (const op of chosen) {
    const problem = await check(op);
    if (problem) failures.push(`${op.method} ${op.path}: ${problem}`);
  }
  expect(failures).toEqual([]);
}
const expectStatus = (res: TestResponse, want: number) => (res.status === want ? null : `status ${res.status}, expected ${want}`);
const expectNot = (res: TestResponse, refused: number[]) => (refused.includes(res.status) || res.status >= 500 ? `status ${res.status}` : null);

describe('the API document covers the app', () => {
  it('every route the app serves under /api and /webhooks is in the document, classified', () => {
    const documented = new Set(ops.map((o) => `${o.method} ${o.path}`));
    const served = new Set(
      ctx.app.routes
        .filter((r) => r.method !== 'ALL' && (r.path.startsWith('/api/') || r.path.startsWith('/webhooks/')) && r.path !== '/api/openapi.json')
        .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`),
    );
    expect([...served].filter((r) => !documented.has(r))).toEqual([]);
    const counts = Object.fromEntries((['admin', 'portal', 'public', 'webhook'] as const).map((r) => [r, ops.filter((o) => o.realm === r).length]));
    expect(counts.admin).toBeGreaterThan(30);
    expect(counts.portal).toBeGreaterThanOrEqual(10);
    expect(counts.webhook).toBe(2); // POST /webhooks/litellm (usage), GET /webhooks/litellm/person (refusal facts)
    expect(ops.filter((o) => o.realm === 'public').map((o) => `${o.method} ${o.path}`).sort()).toEqual([
      'POST /api/auth/login',
      'POST /api/portal/login/email',
      'POST /api/portal/login/key',
      'POST /api/portal/login/token',
      'POST /webhooks/stripe',
    ]);
  });
});

describe('admin routes', () => {
  const admins = (op: Op) => op.realm === 'admin';

  it('no credentials → 401 in the error shape', () =>
    each(admins, async (op) => {
      const res = await call(op.method, fill(op.path, a.id));
      const body = await res.json();
      return expectStatus(res, 401) ?? (body.error?.code === 'unauthorized' && body.error.requestId ? null : `body ${JSON.stringify(body)}`);
    }));

  it('a forged token, a revoked token, an expired session → 401', () =>
    each(admins, async (op) => {
      const path = fill(op.path, a.id);
      return (
        expectStatus(await call(op.method, path, { authorization: `Bearer tck_${uniq()}${uniq()}` }), 401) ??
        expectStatus(await call(op.method, path, { authorization: `Bearer ${revokedToken}` }), 401) ??
        expectStatus(await call(op.method, path, { cookie: expiredAdminCookie, 'x-csrf-token': csrfTokenFor(expiredAdminCookie.split('=')[1]!, 'admin') }), 401)
      );
    }));

  it("a person's portal session → 401 (another realm), even on that person's own records", () =>
    each(admins, async (op) => expectStatus(await a.portal.call(op.method, fill(op.path, a.id), op.method === 'GET' ? undefined : {}), 401)));

  it('a viewer reads (but admin-only reads) and is refused every mutation with 403', () =>
    each(admins, async (op) => {
      const res = await call(op.method, fill(op.path, a.id), { authorization: `Bearer ${ctx.viewerToken}` });
      if (viewerMay(op)) return expectNot(res, [401, 403]);
      const problem = expectStatus(res, 403);
      return problem ?? ((await res.json()).error.code === 'forbidden' ? null : 'not forbidden');
    }));

  it('an admin token passes authentication everywhere (never 401/403, never 5xx but 503 for absent dependencies)', () =>
    each(admins, async (op) => {
      const res = await call(op.method, fill(op.path, 'usr_doesnotexist00').replace('/dead-letters/usr_doesnotexist00', '/dead-letters/999999999'), {
        authorization: `Bearer ${ctx.adminToken}`,
      });
      if (res.status === 503) return null; // e.g. LiteLLM not configured for key rotation or reconciliation
      return expectNot(res, [401, 403]);
    }));

  it('an admin session must send its own CSRF token on mutations (none, wrong, another session’s → 403)', () =>
    each(
      (op) => admins(op) && isMutation(op),
      async (op) => {
        const path = fill(op.path, 'usr_doesnotexist00');
        const forged = { cookie: `${admin.cookie}; tcc_csrf=forged`, 'x-csrf-token': 'forged' };
        // The other session's token with a matching cookie pair: the double-submit alone would pass it.
        const foreign = { cookie: admin.cookie.replace(/tcc_csrf=[^;]+/, `tcc_csrf=${otherAdmin.csrf}`), 'x-csrf-token': otherAdmin.csrf };
        const problem =
          expectStatus(await call(op.method, path, { cookie: admin.cookie }), 403) ??
          expectStatus(await call(op.method, path, forged), 403) ??
          expectStatus(await call(op.method, path, foreign), 403);
        if (problem) return problem;
        if (op.path === '/api/auth/logout') return null; // would end the session the remaining checks use
        const ok = await call(op.method, path, { cookie: admin.cookie, 'x-csrf-token': admin.csrf });
        return ok.status === 503 ? null : expectNot(ok, [401, 403]);
      },
    ));

  it('admin GETs need no CSRF token with a session', () =>
    each(
      (op) => admins(op) && !isMutation(op),
      async (op) => expectNot(await call(op.method, fill(op.path, 'usr_doesnotexist00').replace('/dead-letters/usr_doesnotexist00', '/dead-letters/1'), { cookie: admin.cookie }), [401, 403]),
    ));
});

describe('portal routes', () => {
  const portal = (op: Op) => op.realm === 'portal';
  const logoutLast = (op: Op) => op.path !== '/api/portal/logout';

  it('no session, an admin token or an admin session → 401', () =>
    each(portal, async (op) =>
      expectStatus(await call(op.method, op.path), 401) ??
      expectStatus(await call(op.method, op.path, { authorization: `Bearer ${ctx.adminToken}` }), 401) ??
      expectStatus(await call(op.method, op.path, { cookie: admin.cookie, 'x-csrf-token': admin.csrf }), 401),
    ));

  it('a forged, an expired or a logged-out (revoked) portal session → 401', () =>
    each(portal, async (op) =>
      expectStatus(await call(op.method, op.path, { cookie: `tcc_portal=tcp_${uniq()}${uniq()}`, 'x-csrf-token': 'x' }), 401) ??
      expectStatus(await call(op.method, op.path, { cookie: expiredPortalCookie, 'x-csrf-token': csrfTokenFor(expiredPortalCookie.split('=')[1]!, 'portal') }), 401) ??
      expectStatus(await loggedOutPortal.call(op.method, op.path, op.method === 'GET' ? undefined : {}), 401),
    ));

  it('mutations need the session’s own CSRF token (none, or another person’s → 403)', () =>
    each(
      (op) => portal(op) && isMutation(op),
      async (op) => {
        // B's token with a matching cookie pair on A's session: the double-submit alone would pass it.
        const foreignPair = { cookie: a.portal.cookie.replace(/tcc_portal_csrf=[^;]+/, `tcc_portal_csrf=${b.portal.csrf}`), 'x-csrf-token': b.portal.csrf };
        return (
          expectStatus(await a.portal.call(op.method, op.path, {}, { csrf: null }), 403) ??
          expectStatus(await a.portal.call(op.method, op.path, {}, { csrf: b.portal.csrf }), 403) ??
          expectStatus(await call(op.method, op.path, foreignPair), 403)
        );
      },
    ));

  it("another person's session never sees this person's data (query parameters cannot widen it)", () =>
    each(
      (op) => portal(op) && !isMutation(op) && logoutLast(op),
      async (op) => {
        const res = await b.portal.call(op.method, `${op.path}?userId=${a.id}&user_id=${a.id}`);
        if (res.status !== 200 && res.status !== 400) return `status ${res.status}`;
        const text = await res.text();
        return [a.id, a.email, a.marker].some((s) => text.includes(s)) ? 'leaks the other person' : null;
      },
    ));

  it('the own session works on every read', () =>
    each(
      (op) => portal(op) && !isMutation(op),
      async (op) => expectStatus(await a.portal.call(op.method, op.path), 200),
    ));
});

describe('public and webhook routes', () => {
  it('public routes validate their input (400 for an empty body, never 5xx, never 401 for lack of a session)', () =>
    each(
      (op) => op.realm === 'public',
      async (op) => expectStatus(await call(op.method, op.path), 400),
    ));

  it('forged, expired and used sign-in credentials → 401', async () => {
    const forgedLink = await call('POST', '/api/portal/login/token', {});
    expect(forgedLink.status).toBe(400);
    const post = (path: string, body: unknown) =>
      ctx.app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': someIp() }, body: JSON.stringify(body) });
    expect((await post('/api/portal/login/token', { token: `tcm_${uniq()}${uniq()}` })).status).toBe(401);
    const expired = `tcm_expired_${uniq()}`;
    await ctx.deps.db.execute(sql`insert into portal_login_tokens (token_hash, user_id, expires_at) values (${sha256Hex(expired)}, ${a.id}, now() - interval '1 minute')`);
    expect((await post('/api/portal/login/token', { token: expired })).status).toBe(401);
    const used = `tcm_used_${uniq()}`;
    await ctx.deps.db.execute(sql`insert into portal_login_tokens (token_hash, user_id, expires_at, used_at) values (${sha256Hex(used)}, ${a.id}, now() + interval '5 minutes', now())`);
    expect((await post('/api/portal/login/token', { token: used })).status).toBe(401);
    expect((await post('/api/portal/login/key', { key: `sk-${uniq()}${uniq()}` })).status).toBe(401);
    expect((await post('/api/auth/login', { email: ctx.deps.config.ADMIN_EMAIL, password: 'not the password at all' })).status).toBe(401);
  });

  it('webhooks: no, wrong or another realm’s credentials → 401 (LiteLLM); a missing or forged signature → 400 (Stripe)', () =>
    each(
      (op) => op.realm === 'webhook' || op.path === '/webhooks/stripe',
      async (op) => {
        if (op.path === '/webhooks/stripe') {
          return expectStatus(await call(op.method, op.path), 400) ?? expectStatus(await call(op.method, op.path, { 'stripe-signature': 't=1,v1=forged' }), 400);
        }
        return (
          expectStatus(await call(op.method, op.path), 401) ??
          expectStatus(await call(op.method, op.path, { authorization: `Bearer ${WEBHOOK_SECRET}x` }), 401) ??
          expectStatus(await call(op.method, op.path, { authorization: `Bearer ${ctx.adminToken}` }), 401) ??
          expectStatus(await a.portal.call(op.method, op.path, op.method === 'GET' ? undefined : []), 401)
        );
      },
    ));
});

describe('headers', () => {
  it('every /api answer says Cache-Control: no-store; https answers carry HSTS, plain http ones do not', () =>
    each(
      (op) => op.path.startsWith('/api/'),
      async (op) => {
        const res = await call(op.method, fill(op.path, a.id));
        if (res.headers.get('cache-control') !== 'no-store') return `cache-control ${res.headers.get('cache-control')}`;
        if (res.headers.get('strict-transport-security')) return 'HSTS over plain http';
        const tls = await call(op.method, fill(op.path, a.id), { 'x-forwarded-proto': 'https' });
        return tls.headers.get('strict-transport-security') === 'max-age=31536000; includeSubDomains' ? null : 'no HSTS over https';
      },
    ));

  it('an unknown /api path too (404, no-store)', async () => {
    const res = await call('GET', '/api/no-such-thing', { authorization: `Bearer ${ctx.adminToken}` });
    expect(res.status).toBe(404);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});
