import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { openPostgres, rows, type Database } from '../src/db/client.js';
import { createApiToken } from '../src/domain/auth/tokens.js';
import { SYSTEM_ACTOR } from '../src/domain/actor.js';
import { sha256Hex } from '../src/lib/crypto.js';
import { WEBHOOK_SECRET } from './support/context.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { testRedisUrl } from './support/env.js';
import { expectLedgerConsistent } from './support/invariants.js';
import { startLiteLLMFake, type LiteLLMFake } from './support/litellm-fake.js';
import { startService, type Proc } from './support/processes.js';
import { startResendCapture } from './support/resend-capture.js';
import { MASTER_KEY } from './support/stack.js';
import { describeWith, needs } from './support/requires.js';

/**
 * Two service processes on one PostgreSQL and one Redis, both running the jobs (outbox worker,
 * rollover, reconciler): the same usage events sent to both are booked once, each alert email is
 * sent once, each budget change reaches LiteLLM once.
 */
describeWith('two service replicas', [needs.postgres(), needs.redis()], () => {
  let database: TestDatabase;
  let pg: Database;
  let fake: LiteLLMFake;
  let resend: Awaited<ReturnType<typeof startResendCapture>>;
  const replicas: Proc[] = [];
  let token: string;

  beforeAll(async () => {
    database = await createTestDatabase(2);
    fake = await startLiteLLMFake({ masterKey: MASTER_KEY });
    resend = await startResendCapture();
    const env = {
      DATABASE_URL: database.url!,
      REDIS_URL: testRedisUrl()!,
      LITELLM_URL: fake.url,
      LITELLM_MASTER_KEY: MASTER_KEY,
      RESEND_API_KEY: 're_replicas',
      RESEND_BASE_URL: resend.url,
      WEBHOOK_SECRET,
      ADMIN_PASSWORD: 'correct horse battery staple',
      JOBS_ENABLED: 'true',
    };
    replicas.push(...(await Promise.all([startService(env), startService(env)])));
    pg = await openPostgres(database.url!, 2);
    token = (await pg.db.transaction((tx) => createApiToken(tx, SYSTEM_ACTOR, {}, { name: 'replicas', role: 'admin' }))).token;
  }, 120_000);

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.kill()));
    await pg?.close();
    await fake?.close();
    await resend?.close();
    await database?.close();
  });

  const api = (i: number, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${replicas[i]!.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  const until = async (what: () => Promise<boolean>, ms = 15_000) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (await what()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('condition not met in time');
  };

  it('books every event once, sends every alert once and applies every outbox item once', async () => {
    const people: { id: string; email: string; key: string }[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await api(i % 2, 'POST', '/api/users', { email: `rep-${i}-${randomBytes(3).toString('hex')}@example.com`, name: `R${i}` });
      expect(res.status).toBe(201);
      const u = (await res.json()) as { id: string; email: string; key: { plaintext: string } };
      people.push({ id: u.id, email: u.email, key: u.key.plaintext });
    }
    // 0.31 USD per person = 824,468.085… credits: crosses 80 % of the basic plan's 1,000,000
    const batches = people.map((p) =>
      Array.from({ length: 10 }, () => ({
        id: `chatcmpl-${randomUUID()}`,
        litellm_call_id: randomUUID(),
        call_type: 'acompletion',
        status: 'success',
        response_cost: 0.031,
        startTime: Date.now() / 1000,
        total_tokens: 30,
        metadata: { user_api_key_hash: sha256Hex(p.key) },
      })),
    );
    // every batch to both replicas at the same time, twice
    const sends = batches.flatMap((b) =>
      [0, 1, 0, 1].map((i) => fetch(`${replicas[i]!.url}/webhooks/litellm`, { method: 'POST', headers: { authorization: `Bearer ${WEBHOOK_SECRET}` }, body: JSON.stringify(b) })),
    );
    const results = await Promise.all(sends);
    expect(results.map((r) => r.status)).toEqual(Array(sends.length).fill(200));
    const counts = await Promise.all(results.map((r) => r.json() as Promise<{ accepted: number; duplicate: number }>));
    expect(counts.reduce((n, c) => n + c.accepted, 0)).toBe(60);
    expect(counts.reduce((n, c) => n + c.duplicate, 0)).toBe(180);

    // top-ups through both replicas: each budget change applied once the outbox drains
    for (const [i, p] of people.entries()) {
      const res = await api(i % 2, 'POST', `/api/users/${p.id}/credits`, { amount: 1000, reason: 'replicas' }, { 'idempotency-key': randomUUID() });
      expect(res.status).toBe(201);
    }
    await until(async () => (await rows<{ n: string }>(pg.db, sql`select count(*) as n from outbox where status = 'pending'`))[0]!.n === '0');
    await until(async () => resend.mails.length >= 6);
    await new Promise((r) => setTimeout(r, 1500)); // give a duplicate time to show up

    const used = await rows<{ n: string }>(pg.db, sql`select count(*) as n from ledger_entries where kind = 'usage'`);
    expect(Number(used[0]!.n)).toBe(60);
    expect(resend.mails.map((m) => m.to).sort()).toEqual(people.map((p) => p.email).sort()); // one 80 % email each
    const applied = await rows<{ id: string; attempts: number }>(pg.db, sql`select id, attempts from outbox where status = 'done' and kind = 'litellm.sync_budget'`);
    expect(applied.length).toBeGreaterThanOrEqual(6);
    expect(applied.every((o) => o.attempts === 1)).toBe(true); // claimed by exactly one worker, once
    for (const p of people) {
      // each 0.031 USD call debits 31,000,000 × 10^6 / 376,000 = 82,446,808.5 → 82,446,809 milli-credits;
      // remaining 10^9 − 10 × 82,446,809 + 10^6 top-up = 176,531,910 milli → × 0.376 = 66,375,998.16 → 66,375,998 nUSD
      // max_budget = 310,000,000 booked + 66,375,998 = 376,375,998 nUSD
      expect(fake.getKey(p.key)!.max_budget).toBe(0.376375998);
    }
    await expectLedgerConsistent(pg.db);
  });
});
