import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../src/lib/clock.js';
import { sha256Hex } from '../src/lib/crypto.js';
import { createTestContext, WEBHOOK_SECRET, type TestContext, type TestResponse } from './support/context.js';
import { attachKey, makeUser, payload, uniq } from './support/factories.js';
import { portalLoginWithKey } from './support/portal.js';
import { ROOT } from './support/processes.js';

/**
 * GET /webhooks/litellm/person: what litellm/companion_callback.py asks when LiteLLM refuses a
 * chat. 02:00 UTC on 1 December is still 30 November in São Paulo: the period is November's.
 */
const clock = manualClock('2026-12-01T02:00:00Z');
const F = 0.376; // default factor: 1 credit = 0.376 µUSD
const usd = (credits: number) => Number(((credits * F) / 1e6).toPrecision(12));
const HELP_PT = 'Peça mais tokens no canal #ajuda-ia.';

const get = (ctx: TestContext, keyHash: string | null, opts: { secret?: string | null; token?: string } = {}): Promise<TestResponse> => {
  const headers: Record<string, string> = {};
  const secret = opts.secret === undefined ? WEBHOOK_SECRET : opts.secret;
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  else if (secret) headers.authorization = `Bearer ${secret}`;
  const q = keyHash === null ? '' : `?key_hash=${encodeURIComponent(keyHash)}`;
  return Promise.resolve(ctx.app.request(`/webhooks/litellm/person${q}`, { headers }));
};

describe('GET /webhooks/litellm/person', () => {
  let ctx: TestContext;
  let tiny: string;
  beforeAll(async () => {
    ctx = await createTestContext({ clock, env: { TIMEZONE: 'America/Sao_Paulo', PUBLIC_URL: 'https://credits.example.com/', QUOTA_HELP_TEXT: HELP_PT } });
    tiny = (await (await ctx.api('POST', '/api/plans', { slug: `tiny-${uniq()}`, name: 'Tiny', monthlyCredits: 100 })).json()).slug;
  });
  afterAll(() => ctx?.close());

  async function blockedPerson(locale?: 'en') {
    const u = await makeUser(ctx, { plan: tiny });
    if (locale) expect((await ctx.api('PATCH', `/api/users/${u.id}`, { locale })).status).toBe(200);
    const { hash, plaintext } = await attachKey(ctx, u.id);
    expect((await ctx.webhook([payload(hash, usd(100), { startTime: clock.now().getTime() / 1000 })])).status).toBe(200);
    return { id: u.id, hash, plaintext };
  }

  it('states the same facts as the person’s portal (/api/portal/me)', async () => {
    const { id, hash, plaintext } = await blockedPerson();
    await ctx.api('POST', `/api/users/${id}/credits`, { amount: 30, reason: 'top-up' }, { headers: { 'idempotency-key': uniq() } });
    const portal = await portalLoginWithKey(ctx, plaintext);
    const me = await (await portal.call('GET', '/api/portal/me')).json();
    const view = await (await get(ctx, hash)).json();
    expect(me.quota).toEqual(view.quota);
    expect(me.getMore).toEqual(view.getMore);
    expect(me.quota).toMatchObject({ usedThisPeriod: 100, availableThisPeriod: 130, monthlyAllowance: 100, topupRemaining: 30, remaining: 30 });
    expect(me.renewsOn).toBe(view.quota.nextRefill);
  });

  it('gives a blocked person’s language, quota facts in whole tokens and the way out, nothing else', async () => {
    const { hash } = await blockedPerson();
    const res = await get(ctx, hash);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      person: { locale: 'pt-BR', status: 'active', state: 'blocked' },
      quota: {
        usedThisPeriod: 100,
        availableThisPeriod: 100,
        monthlyAllowance: 100,
        topupRemaining: 0,
        remaining: 0,
        period: '2026-11-01',
        nextRefill: '2026-12-01',
        timeZone: 'America/Sao_Paulo',
      },
      getMore: { url: 'https://credits.example.com/me', text: { 'pt-BR': HELP_PT, en: HELP_PT }, paymentsEnabled: false, contactEmail: ctx.deps.config.ADMIN_EMAIL },
    });
  });

  it('counts top-ups in what was available, and debt as nothing left', async () => {
    const { id, hash } = await blockedPerson('en');
    const credit = await ctx.api('POST', `/api/users/${id}/credits`, { amount: 50, reason: 'top-up' }, { headers: { 'idempotency-key': uniq() } });
    expect(credit.status).toBe(201);
    // 70 more credits of usage: the 50 purchased are spent and 20 become debt
    expect((await ctx.webhook([payload(hash, usd(70), { startTime: clock.now().getTime() / 1000 })])).status).toBe(200);
    const body = await (await get(ctx, hash)).json();
    expect(body.person).toEqual({ locale: 'en', status: 'active', state: 'blocked' });
    expect(body.quota).toMatchObject({ usedThisPeriod: 170, availableThisPeriod: 170, monthlyAllowance: 100, topupRemaining: -20, remaining: -20 });
  });

  it('says when the person is suspended', async () => {
    const { id, hash } = await blockedPerson();
    expect((await ctx.api('POST', `/api/users/${id}/suspend`)).status).toBe(200);
    expect((await (await get(ctx, hash)).json()).person).toEqual({ locale: 'pt-BR', status: 'suspended', state: 'suspended' });
  });

  it('knows no revoked key, no deleted person and no unknown hash (404)', async () => {
    const unknown = await get(ctx, sha256Hex(`sk-${uniq()}`));
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: { code: 'not_found', message: 'key not found', requestId: expect.any(String) } });

    const gone = await blockedPerson();
    expect((await ctx.api('DELETE', `/api/users/${gone.id}`)).status).toBe(200);
    expect((await get(ctx, gone.hash)).status).toBe(404);
  });

  it('refuses a key_hash that is not 64 lower-case hex characters (400), and a missing one', async () => {
    const { hash } = await blockedPerson();
    for (const bad of [hash.toUpperCase(), hash.slice(1), `${hash}0`, 'sk-live-plaintext-key', `${hash.slice(0, 63)}g`]) {
      const res = await get(ctx, bad);
      expect(res.status, bad).toBe(400);
      expect((await res.json()).error).toMatchObject({ code: 'validation_error' });
    }
    expect((await get(ctx, null)).status).toBe(400);
  });

  it('needs the webhook secret: none, a wrong one, or an admin API token get 401 and no facts', async () => {
    const { hash } = await blockedPerson();
    for (const res of [await get(ctx, hash, { secret: null }), await get(ctx, hash, { secret: `${WEBHOOK_SECRET}x` }), await get(ctx, hash, { token: ctx.adminToken })]) {
      expect(res.status).toBe(401);
      const body = await res.json();
      expect(body).toEqual({ error: { code: 'unauthorized', message: 'wrong or missing webhook secret', requestId: expect.any(String) } });
    }
  });

  it('is documented in the OpenAPI document, behind the webhook secret', async () => {
    const doc = await (await ctx.api('GET', '/api/openapi.json', undefined, { token: null })).json();
    const op = doc.paths['/webhooks/litellm/person'].get;
    expect(op.security).toEqual([{ webhookSecret: [] }]);
    expect(Object.keys(op.responses).sort()).toEqual(['200', '400', '401', '404', '429', '503']);
    expect(op.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toEqual(['query:key_hash']);
  });

  it('answers what the callback’s tests assume (litellm/tests/fixtures/person_view.json has the same fields)', async () => {
    const { hash } = await blockedPerson();
    const real = await (await get(ctx, hash)).json();
    const fixture = JSON.parse(readFileSync(join(ROOT, 'litellm/tests/fixtures/person_view.json'), 'utf8'));
    const shape = (v: unknown): unknown =>
      v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]).sort(([a], [b]) => String(a).localeCompare(String(b)))) : typeof v;
    const nullable = (a: unknown, b: unknown): unknown =>
      a !== null && typeof a === 'object' && b !== null && typeof b === 'object'
        ? Object.fromEntries(Object.keys(a).map((k) => [k, nullable((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])]))
        : a === 'object' || b === 'object' ? 'string|null' : a;
    // Same keys everywhere and the same JSON types (a string may be null on either side).
    expect(nullable(shape(real), shape(fixture))).toEqual(nullable(shape(fixture), shape(real)));
  });
});

describe('GET /webhooks/litellm/person without WEBHOOK_SECRET configured', () => {
  it('answers 503, never the facts', async () => {
    const ctx = await createTestContext({ env: { WEBHOOK_SECRET: '' } });
    try {
      const res = await get(ctx, 'a'.repeat(64), { secret: 'anything-at-all-0123' });
      expect(res.status).toBe(503);
      expect((await res.json()).error.code).toBe('dependency_unavailable');
    } finally {
      await ctx.close();
    }
  });
});
