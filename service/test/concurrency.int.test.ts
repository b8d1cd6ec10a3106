import { afterAll, beforeAll, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createDeps, type Deps } from '../src/deps.js';
import { openPostgres } from '../src/db/client.js';
import { createLogger } from '../src/lib/logger.js';
import { createTestContext, WEBHOOK_SECRET, type TestContext } from './support/context.js';
import { attachKey, makeUser, payload } from './support/factories.js';
import { balanceOf, expectLedgerConsistent } from './support/invariants.js';
import { describeWith, needs } from './support/requires.js';

/**
 * Many service instances (each with its own connection pool) hammer one person with usage
 * debits and credits at once: no update may be lost. Real PostgreSQL only (PGlite has one
 * connection, so there is nothing concurrent to prove there).
 */
describeWith('concurrent writers on one person', [needs.postgres()], () => {
  let ctx: TestContext;
  const instances: { deps: Deps; app: ReturnType<typeof createApp> }[] = [];

  beforeAll(async () => {
    ctx = await createTestContext();
    for (let i = 0; i < 4; i++) {
      const database = await openPostgres(ctx.database.url!, 5);
      // every batch is sent at once: let them all wait their turn rather than be refused
      const config = loadConfig({ LOG_LEVEL: 'silent', WEBHOOK_SECRET, DASHBOARD_DIR: '/nonexistent', WEBHOOK_MAX_QUEUED: '100' });
      const deps = await createDeps(config, { database, log: createLogger('silent') });
      instances.push({ deps, app: createApp(deps) });
    }
  });
  afterAll(async () => {
    for (const i of instances) await i.deps.close();
    await ctx.close();
  });

  it('never loses an update', async () => {
    const u = await makeUser(ctx);
    const { hash } = await attachKey(ctx, u.id);
    const DEBITS = 400; // 1,000 credits each, 0.000376 USD
    const CREDITS = 40; // +500 credits each
    const batches = Array.from({ length: DEBITS / 10 }, () => Array.from({ length: 10 }, () => payload(hash, 0.000376)));
    const jobs: Promise<Response>[] = [];
    // with Content-Length, as LiteLLM sends it: admitted by size (3 at a time), not as a body of unknown size
    const post = (app: ReturnType<typeof createApp>, body: string) =>
      Promise.resolve(app.request('/webhooks/litellm', { method: 'POST', headers: { authorization: `Bearer ${WEBHOOK_SECRET}`, 'content-length': String(Buffer.byteLength(body)) }, body }));
    batches.forEach((batch, i) => {
      const { app } = instances[i % instances.length]!;
      jobs.push(post(app, JSON.stringify(batch)));
      // every batch is also delivered a second time, by another instance, concurrently
      const other = instances[(i + 1) % instances.length]!;
      jobs.push(post(other.app, JSON.stringify(batch)));
    });
    for (let i = 0; i < CREDITS; i++) {
      jobs.push(ctx.api('POST', `/api/users/${u.id}/credits`, { amount: 500, reason: 'concurrent' }, { headers: { 'idempotency-key': randomUUID() } }) as unknown as Promise<Response>);
    }
    const results = await Promise.all(jobs);
    expect(results.filter((r) => r.status >= 300).map((r) => r.status)).toEqual([]);
    const b = await balanceOf(ctx.deps.db, u.id);
    // 1,000,000 granted − 400 × 1,000 used; + 40 × 500 top-up
    expect(b.monthly).toBe((1_000_000 - 400_000) * 1000);
    expect(b.topup).toBe(20_000 * 1000);
    expect(b.used).toBe(400_000 * 1000);
    await expectLedgerConsistent(ctx.deps.db);
  });
});
