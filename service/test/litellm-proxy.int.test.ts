import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { openPostgres, rows, type Database } from '../src/db/client.js';
import { keys } from '../src/db/schema/index.js';
import { createApiToken } from '../src/domain/auth/tokens.js';
import { SYSTEM_ACTOR } from '../src/domain/actor.js';
import { sha256Hex } from '../src/lib/crypto.js';
import { WEBHOOK_SECRET } from './support/context.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { expectLedgerConsistent } from './support/invariants.js';
import { payload } from './support/factories.js';
import { freePort, killGroup, ROOT, run, startService, waitFor, type Proc } from './support/processes.js';
import { nextPeriod, periodOf } from '../src/lib/period.js';
import { describeWith, litellmVenv, needs } from './support/requires.js';

const VENV = litellmVenv();
const MASTER = 'sk-master-e2e-0123456789';
const PUBLIC_URL = 'https://credits.example.com';
// The test model prices 10 prompt + 20 completion tokens at 0.0005 USD = 500,000 nUSD,
// i.e. 1,329,787 milli-credits at f = 0.376 (1,329,787.23… rounded half-up).
const COST_NANO = 500_000;
const DEBIT_MILLI = 1_329_787;

async function startLiteLLM(config: string, env: Record<string, string>) {
  const port = await freePort();
  const { proc, output } = run(join(VENV, 'bin', 'litellm'), ['--config', config, '--host', '127.0.0.1', '--port', String(port)], {
    LITELLM_MASTER_KEY: MASTER,
    LITELLM_LOCAL_MODEL_COST_MAP: 'True',
    PYTHONPATH: join(ROOT, 'litellm'),
    ...env,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/health/liveliness`, 120_000, proc, output);
  return { url, proc, stop: () => killGroup(proc) };
}

/**
 * The callback path with a REAL LiteLLM proxy (pinned in litellm/requirements.txt, no database):
 * chat completions → our callback → ledger debits with the exact cost, exactly once, even when
 * the service is killed mid-stream. Real PostgreSQL (the service runs as a separate process).
 */
describeWith('a real LiteLLM proxy reports usage', [needs.postgres(), needs.litellm()], () => {
  let database: TestDatabase;
  let db: Database;
  let service: Proc;
  let durable: Awaited<ReturnType<typeof startLiteLLM>>;
  let generic: Awaited<ReturnType<typeof startLiteLLM>>;
  let servicePort: number;
  const spool = mkdtempSync(join(tmpdir(), 'companion-spool-'));
  const people: { id: string; key: string }[] = [];
  /** Out of tokens in the ledger AND refused by LiteLLM's test auth (budget 0): carol pt-BR, dave en. */
  const stopped: { id: string; key: string; locale: 'pt-BR' | 'en' }[] = [];
  let serviceEnv: Record<string, string>;

  beforeAll(async () => {
    database = await createTestDatabase(2);
    db = database;
    servicePort = await freePort();
    serviceEnv = { DATABASE_URL: database.url!, WEBHOOK_SECRET, ADMIN_PASSWORD: 'correct horse battery staple', JOBS_ENABLED: 'false', PUBLIC_URL };
    for (const [name, locale] of [['carol', 'pt-BR'], ['dave', 'en']] as const) stopped.push({ id: '', key: `sk-e2e-${name}-${randomBytes(6).toString('hex')}`, locale });
    service = await startService(serviceEnv, servicePort);
    const webhook = `http://127.0.0.1:${servicePort}/webhooks/litellm`;
    [durable, generic] = await Promise.all([
      startLiteLLM('litellm/config.test.yaml', {
        COMPANION_WEBHOOK_URL: webhook,
        WEBHOOK_SECRET,
        COMPANION_SPOOL_PATH: join(spool, 'spool.sqlite3'),
        COMPANION_FLUSH_INTERVAL: '0.2',
        TEST_AUTH_BUDGETS: JSON.stringify(Object.fromEntries(stopped.map((p) => [p.key, 0]))),
      }),
      startLiteLLM('litellm/config.test-generic.yaml', {
        COMPANION_WEBHOOK_URL: webhook,
        COMPANION_WEBHOOK_AUTH: `Bearer ${WEBHOOK_SECRET}`,
        DEFAULT_FLUSH_INTERVAL_SECONDS: '1',
      }),
    ]);
    const pg = await openPostgres(database.url!, 2);
    const { token } = await pg.db.transaction((tx) => createApiToken(tx, SYSTEM_ACTOR, {}, { name: 'e2e', role: 'admin' }));
    for (const name of ['alice', 'bob']) {
      const res = await fetch(`${service.url}/api/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ email: `${name}-${randomBytes(3).toString('hex')}@example.com`, name }),
      });
      expect(res.status).toBe(201);
      const { id } = (await res.json()) as { id: string };
      // No LiteLLM database here: give the person the hash of a key LiteLLM's test auth accepts.
      const key = `sk-e2e-${name}-${randomBytes(6).toString('hex')}`;
      await pg.db.update(keys).set({ tokenHash: sha256Hex(key), status: 'active' }).where(eq(keys.userId, id));
      people.push({ id, key });
    }
    for (const p of stopped) {
      const res = await fetch(`${service.url}/api/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ email: `${p.key.slice(7, 12)}-${randomBytes(3).toString('hex')}@example.com`, name: 'Stopped', locale: p.locale }),
      });
      expect(res.status).toBe(201);
      p.id = ((await res.json()) as { id: string }).id;
      await pg.db.update(keys).set({ tokenHash: sha256Hex(p.key), status: 'active' }).where(eq(keys.userId, p.id));
      // The whole monthly allowance (1,000,000 credits = 0.376 USD at f = 0.376) used up.
      const used = await fetch(`${service.url}/webhooks/litellm`, {
        method: 'POST',
        headers: { authorization: `Bearer ${WEBHOOK_SECRET}`, 'content-type': 'application/json' },
        body: JSON.stringify([payload(sha256Hex(p.key), 0.376)]),
      });
      expect(used.status).toBe(200);
    }
    await pg.close();
  }, 180_000);

  afterAll(async () => {
    await Promise.all([durable?.stop(), generic?.stop(), service?.kill()]);
    await database?.close();
    rmSync(spool, { recursive: true, force: true });
  });

  async function chat(proxy: string, key: string) {
    const res = await fetch(`${proxy}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user', content: 'hello' }] }),
    });
    expect(res.status).toBe(200);
    return res.headers.get('x-litellm-call-id');
  }

  /** Only alice's and bob's entries (carol and dave used their allowance up before the tests). */
  const ofPeople = () => sql`user_id in (${sql.join(people.map((p) => sql`${p.id}`), sql`, `)})`;

  async function bookedCount(): Promise<number> {
    const r = await rows<{ n: string }>(db.db, sql`select count(*) as n from ledger_entries where kind = 'usage' and ${ofPeople()}`);
    return Number(r[0]!.n);
  }

  async function until(expected: number, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && (await bookedCount()) < expected) await new Promise((r) => setTimeout(r, 200));
    expect(await bookedCount()).toBe(expected);
  }

  it('books each call through the durable callback with the exact cost', async () => {
    for (const p of people) for (let i = 0; i < 3; i++) await chat(durable.url, p.key);
    await until(6);
    const entries = await rows<{ user_id: string; amount_milli: string; usd_nano: string }>(
      db.db,
      sql`select user_id, amount_milli, usd_nano from ledger_entries where kind = 'usage' and ${ofPeople()}`,
    );
    expect(entries.every((e) => Number(e.amount_milli) === -DEBIT_MILLI && Number(e.usd_nano) === COST_NANO)).toBe(true);
    expect(entries.filter((e) => e.user_id === people[0]!.id)).toHaveLength(3);
  });

  it('a refused call tells the person, in their language, what this service says about them', async () => {
    const next = nextPeriod(periodOf(new Date(), 'UTC'));
    const [y, m] = next.split('-').map(Number) as [number, number];
    const month = (locale: string) => new Intl.DateTimeFormat(locale, { month: 'long', timeZone: 'UTC' }).format(new Date(Date.UTC(y, m - 1, 1)));
    const expected = {
      'pt-BR':
        'Seus tokens acabaram: você usou 1.000.000 de 1.000.000 tokens disponíveis neste mês, então o chat está pausado. ' +
        `Sua cota mensal de 1.000.000 tokens volta em 1º de ${month('pt-BR')} de ${y} (fuso horário UTC). ` +
        `Para continuar agora, peça mais tokens ao administrador (admin@example.com); seu saldo e seu extrato estão em ${PUBLIC_URL}/me.`,
      en:
        'You are out of tokens: you have used 1,000,000 of the 1,000,000 tokens available this month, so chat is paused. ' +
        `Your monthly allowance of 1,000,000 tokens comes back on ${month('en')} 1, ${y} (UTC time). ` +
        `To continue now, ask your administrator (admin@example.com) for more tokens; your balance and statement are at ${PUBLIC_URL}/me.`,
    };
    for (const p of stopped) {
      const res = await fetch(`${durable.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${p.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user', content: 'hello' }] }),
      });
      expect(res.status).toBe(402);
      expect(await res.json()).toEqual({ error: { message: expected[p.locale], type: 'budget_exceeded', param: null, code: '402' } });
    }
  });

  it('books every call exactly once after the service is killed mid-stream', async () => {
    const calls = Array.from({ length: 8 }, (_, i) => chat(durable.url, people[i % 2]!.key));
    await new Promise((r) => setTimeout(r, 50));
    await service.kill('SIGKILL'); // while calls and deliveries are in flight
    await Promise.all(calls);
    for (let i = 0; i < 4; i++) await chat(durable.url, people[0]!.key); // while the service is down
    service = await startService(serviceEnv, servicePort);
    await until(18, 60_000);
    await new Promise((r) => setTimeout(r, 1500)); // nothing more arrives late
    expect(await bookedCount()).toBe(18);
    await expectLedgerConsistent(db.db);
  });

  it('books calls reported by the no-code generic_api callback', async () => {
    await chat(generic.url, people[1]!.key);
    await chat(generic.url, people[1]!.key);
    await until(20, 30_000);
    const [bob] = await rows<{ used: string }>(db.db, sql`select period_used_milli as used from balances where user_id = ${people[1]!.id}`);
    expect(Number(bob!.used)).toBe((3 + 4 + 2) * DEBIT_MILLI);
    await expectLedgerConsistent(db.db);
  });
});
