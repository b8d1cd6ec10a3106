import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from './support/context.js';
import { attachKey, makeUser, payload } from './support/factories.js';
import { balanceOf } from './support/invariants.js';

const SIGNING = 'signing-secret-0123456789';
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { WEBHOOK_SIGNING_SECRET: SIGNING, RATE_LIMIT_API_PER_MINUTE: '30', RATE_LIMIT_WEBHOOK_PER_MINUTE: '5' } });
});
afterAll(() => ctx.close());

const sign = (body: string, t = Math.floor(Date.now() / 1000), secret = SIGNING) =>
  `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;

describe('webhook body signature (WEBHOOK_SIGNING_SECRET)', () => {
  it('books a correctly signed body and refuses a missing, wrong, stale or tampered one', async () => {
    const u = await makeUser(ctx);
    const { hash } = await attachKey(ctx, u.id);
    const body = JSON.stringify([payload(hash, 0.000376)]);
    const cases: [string | undefined, string][] = [
      [undefined, 'missing'],
      [sign(body, undefined, 'another-secret-entirely'), 'does not match'],
      [sign(body, Math.floor(Date.now() / 1000) - 3600), 'too old'],
      [sign(body.replace('0.000376', '0.000001')), 'does not match'],
    ];
    for (const [signature, message] of cases) {
      const res = await ctx.webhook(null, { raw: body, headers: signature ? { 'x-companion-signature': signature } : {} });
      expect(res.status).toBe(401);
      expect((await res.json()).error.message).toContain(message);
    }
    expect((await balanceOf(ctx.deps.db, u.id)).used).toBe(0);
    const ok = await ctx.webhook(null, { raw: body, headers: { 'x-companion-signature': sign(body) } });
    expect(await ok.json()).toMatchObject({ accepted: 1 });
  });
});

describe('rate limits', () => {
  it('limits the admin API per credential with 429 and Retry-After', async () => {
    let last: Response | undefined;
    for (let i = 0; i < 31; i++) last = (await ctx.api('GET', '/api/plans', undefined, { token: ctx.viewerToken })) as unknown as Response;
    expect(last!.status).toBe(429);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await last!.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    // another credential is not affected
    expect((await ctx.api('GET', '/api/plans')).status).toBe(200);
  });

  it('limits the webhook per source after authentication', async () => {
    const statuses = [];
    for (let i = 0; i < 6; i++) {
      const body = JSON.stringify([]);
      statuses.push((await ctx.webhook(null, { raw: body, headers: { 'x-companion-signature': sign(body) } })).status);
    }
    expect(statuses.slice(-1)).toEqual([429]);
  });
});
