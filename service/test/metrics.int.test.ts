import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from './support/context.js';
import { attachKey, makeUser, payload } from './support/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { METRICS_TOKEN: 'metrics-token-123' } });
});
afterAll(() => ctx.close());

describe('GET /metrics', () => {
  it('needs the token when one is configured', async () => {
    expect((await ctx.app.request('/metrics')).status).toBe(401);
  });

  it('exposes request, ingestion and outbox metrics in Prometheus text', async () => {
    const u = await makeUser(ctx);
    const { hash } = await attachKey(ctx, u.id);
    const item = payload(hash, 0.000376);
    await ctx.webhook([item, item, { bad: true }]);
    await ctx.api('POST', `/api/users/${u.id}/credits`, { amount: 5, reason: 'm' }, { headers: { 'idempotency-key': 'metrics-1' } });
    const res = await ctx.app.request('/metrics', { headers: { authorization: 'Bearer metrics-token-123' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toContain('companion_usage_events_total{result="accepted"} 1');
    expect(text).toContain('companion_usage_events_total{result="duplicate"} 1');
    expect(text).toContain('companion_usage_events_total{result="rejected"} 1');
    expect(text).toMatch(/companion_http_requests_total\{method="POST",route="\/webhooks\/litellm",status="200"\} 1/);
    expect(text).toMatch(/companion_outbox_pending \d+/);
    expect(text).toContain('companion_scrape_ok 1');
  });
});
