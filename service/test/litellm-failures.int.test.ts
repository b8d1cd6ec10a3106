import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { openPostgres, rows, type Database } from '../src/db/client.js';
import { keys } from '../src/db/schema/index.js';
import { usdToNano } from '../src/domain/money.js';
import { createApiToken } from '../src/domain/auth/tokens.js';
import { SYSTEM_ACTOR } from '../src/domain/actor.js';
import { sha256Hex } from '../src/lib/crypto.js';
import { WEBHOOK_SECRET } from './support/context.js';
import { createTestDatabase, isPostgres, type TestDatabase } from './support/db.js';
import { expectLedgerConsistent } from './support/invariants.js';
import { freePort, killGroup, ROOT, run, startService, waitFor, type Proc } from './support/processes.js';

const VENV = process.env.LITELLM_VENV ?? join(ROOT, '.venv-litellm');
const PY = join(VENV, 'bin', 'python');

/**
 * The REAL LiteLLM proxy (pinned; no database) in front of litellm/fake_provider.py, reporting
 * through our durable callback to the real service: an interrupted stream, a retried call and an
 * unpriced model end up in the ledger as LiteLLM priced them. (billing.int.test.ts holds the same
 * payloads captured, for the exact cases.)
 */
describe.runIf(isPostgres() && existsSync(join(VENV, 'bin', 'litellm')))('a real LiteLLM proxy reports failed and unpriced calls', () => {
  let database: TestDatabase;
  let db: Database;
  let service: Proc;
  let provider: ReturnType<typeof run>;
  let proxy: ReturnType<typeof run>;
  let proxyUrl: string;
  let token: string;
  const spool = mkdtempSync(join(tmpdir(), 'companion-spool-'));
  const key = `sk-failures-${randomBytes(6).toString('hex')}`;
  /** LiteLLM's own failure spend rows (litellm/tests/spend_spy.py: _ProxyDBLogger, recorded). */
  const spentPath = join(spool, 'litellm-spend-rows.jsonl');
  let userId: string;

  beforeAll(async () => {
    database = await createTestDatabase(2);
    db = database;
    const servicePort = await freePort();
    service = await startService({ DATABASE_URL: database.url!, WEBHOOK_SECRET, ADMIN_PASSWORD: 'correct horse battery staple', JOBS_ENABLED: 'false' }, servicePort);
    const providerPort = await freePort();
    provider = run(PY, ['litellm/fake_provider.py', String(providerPort)], {});
    await waitFor(`http://127.0.0.1:${providerPort}/health`, 30_000, provider.proc, provider.output);
    const proxyPort = await freePort();
    proxy = run(join(VENV, 'bin', 'litellm'), ['--config', 'litellm/config.test-failures.yaml', '--host', '127.0.0.1', '--port', String(proxyPort)], {
      LITELLM_MASTER_KEY: 'sk-master-failures-0123',
      LITELLM_LOCAL_MODEL_COST_MAP: 'True',
      PYTHONPATH: join(ROOT, 'litellm'),
      COMPANION_WEBHOOK_URL: `${service.url}/webhooks/litellm`,
      WEBHOOK_SECRET,
      COMPANION_SPOOL_PATH: join(spool, 'spool.sqlite3'),
      COMPANION_FLUSH_INTERVAL: '0.2',
      FAKE_PROVIDER_URL: `http://127.0.0.1:${providerPort}/v1`,
      SPEND_SPY_PATH: spentPath,
    });
    proxyUrl = `http://127.0.0.1:${proxyPort}`;
    await waitFor(`${proxyUrl}/health/liveliness`, 120_000, proxy.proc, proxy.output);

    const pg = await openPostgres(database.url!, 2);
    token = (await pg.db.transaction((tx) => createApiToken(tx, SYSTEM_ACTOR, {}, { name: 'e2e', role: 'admin' }))).token;
    const res = await fetch(`${service.url}/api/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: `failures-${randomBytes(3).toString('hex')}@example.com`, name: 'Failures' }),
    });
    expect(res.status).toBe(201);
    userId = ((await res.json()) as { id: string }).id;
    await pg.db.update(keys).set({ tokenHash: sha256Hex(key), status: 'active' }).where(eq(keys.userId, userId));
    await pg.close();
  }, 240_000);

  afterAll(async () => {
    await Promise.all([proxy && killGroup(proxy.proc), provider && killGroup(provider.proc), service?.kill()]);
    await database?.close();
    rmSync(spool, { recursive: true, force: true });
  });

  async function chat(model: string, stream = false) {
    const res = await fetch(`${proxyUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hello' }] }),
    });
    await res.text().catch(() => ''); // a broken stream ends the body early
    return res.status;
  }

  async function booked() {
    return rows<{ status: string; model: string; cost_nano: string; debit_milli: string; prompt_tokens: number; completion_tokens: number }>(
      db.db,
      sql`select status, model_group as model, cost_nano, debit_milli, prompt_tokens, completion_tokens from usage_events
          where user_id = ${userId} order by start_time, status`,
    );
  }

  async function until(n: number) {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && (await booked()).length < n) await new Promise((r) => setTimeout(r, 200));
    await new Promise((r) => setTimeout(r, 1000)); // nothing more arrives late
    return booked();
  }

  it('debits the broken stream its partial cost, books the retried call once per report, and counts the unpriced model', async () => {
    expect(await chat('break-stream', true)).toBe(200); // headers were sent before the stream broke
    expect(await chat('flaky')).toBe(200);
    expect(await chat('unpriced')).toBe(200);
    // 8 prompt tokens ("hello" with the chat template) + 3 streamed completion tokens:
    // 8 × 0.00001 + 3 × 0.00002 = 0.00014 USD = 140,000 nUSD → 372,340 milli-credits (372,340.4 half-up);
    // 0.0005 USD → 1,329,787 milli-credits.
    expect(await until(4)).toEqual([
      { status: 'failure', model: 'break-stream', cost_nano: '140000', debit_milli: '372340', prompt_tokens: 8, completion_tokens: 3 },
      { status: 'failure', model: 'flaky', cost_nano: '0', debit_milli: '0', prompt_tokens: 0, completion_tokens: 0 },
      { status: 'success', model: 'flaky', cost_nano: '500000', debit_milli: '1329787', prompt_tokens: 10, completion_tokens: 20 },
      { status: 'success', model: 'unpriced', cost_nano: '0', debit_milli: '0', prompt_tokens: 10, completion_tokens: 20 },
    ]);
    const ledger = (await (await fetch(`${service.url}/api/users/${userId}/ledger?kind=usage`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      items: { amount: number; outcome: string | null }[];
    };
    expect(ledger.items.map((e) => [e.amount, e.outcome])).toEqual([
      [-1329.787, null],
      [-372.34, 'interrupted'],
    ]);
    const stats = (await (await fetch(`${service.url}/api/stats`, { headers: { authorization: `Bearer ${token}` } })).json()) as { unpricedModels: { model: string; calls: number }[] };
    expect(stats.unpricedModels.map(({ model, calls }) => ({ model, calls }))).toEqual([{ model: 'unpriced', calls: 1 }]);
    expect(await (await fetch(`${service.url}/metrics`)).text()).toContain('companion_unpriced_calls_total{model="unpriced"} 1');
    await expectLedgerConsistent(db.db);
  });

  it('books what LiteLLM charges for a timed-out call (and its two timed-out retries) and a client disconnect', async () => {
    const before = (await booked()).length;
    const spentRows = () =>
      existsSync(spentPath) ? readFileSync(spentPath, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { request_id: string; response_cost: number }) : [];
    const charged0 = spentRows().length;
    expect(await chat('slow')).toBe(408); // timeout 1 s, the provider answers after 3 s; retried twice
    const hangUp = new AbortController();
    const t = setTimeout(() => hangUp.abort(), 500);
    await fetch(`${proxyUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'slow', messages: [{ role: 'user', content: 'hello' }] }),
      signal: hangUp.signal,
    }).catch(() => undefined);
    clearTimeout(t);
    // LiteLLM: <id>, <id>-attempt-0, <id>-attempt-1 for the timeout, <id> for the disconnect
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && spentRows().length < charged0 + 4) await new Promise((r) => setTimeout(r, 200));
    const rowsNow = spentRows().slice(charged0);
    expect(rowsNow).toHaveLength(4);
    // ours: 2 failure events (cost 0) + 2 -billed + 2 attempts
    const all = await until(before + 6);
    const mine = all.slice(before);
    expect(mine).toHaveLength(6);
    const chargedNano = rowsNow.reduce((a, r) => a + usdToNano(r.response_cost), 0);
    expect(chargedNano).toBe(4 * 80_000); // "hello": 8 prompt tokens × 0.00001 USD, four times
    expect(mine.reduce((a, e) => a + Number(e.cost_nano), 0)).toBe(chargedNano);
    const ledger = (await (await fetch(`${service.url}/api/users/${userId}/ledger?kind=usage`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      items: { amount: number; outcome: string | null }[];
    };
    // 80,000 nUSD → 212,765.96… → 212,766 milli-credits each
    expect(ledger.items.slice(0, 4).map((e) => [e.amount, e.outcome]).sort()).toEqual([
      [-212.766, 'cancelled'],
      [-212.766, 'timed_out'],
      [-212.766, 'timed_out'],
      [-212.766, 'timed_out'],
    ]);
    await expectLedgerConsistent(db.db);
  }, 90_000);
});
