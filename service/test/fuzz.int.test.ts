import { execFile } from 'node:child_process';
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { rows } from '../src/db/client.js';
import { SYSTEM_ACTOR } from '../src/domain/actor.js';
import { createApiToken } from '../src/domain/auth/tokens.js';
import { sha256Hex } from '../src/lib/crypto.js';
import { WEBHOOK_SECRET } from './support/context.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { payload } from './support/factories.js';
import { expectLedgerConsistent } from './support/invariants.js';
import { startLiteLLMFake, type LiteLLMFake } from './support/litellm-fake.js';
import { ROOT, startService, type Proc } from './support/processes.js';
import { describeWith, needs, toolsVenv } from './support/requires.js';

/**
 * The bad-input sweep (issue 6): requests generated from /api/openapi.json by schemathesis
 * (pinned in tools/schemathesis-requirements.txt, its own venv .venv-tools) against the real service
 * process on 127.0.0.1. Invalid input to every operation, nasty-but-valid input to every
 * read-only one, hand-picked inputs that once answered 500, and garbage webhook bodies:
 * no answer may be 5xx, and the data must not change.
 *
 * Seed: FUZZ_SEED=<n> reproduces a run (it is printed with every failure).
 */
const SCHEMATHESIS = join(toolsVenv(), 'bin', 'schemathesis');
const SEED = Number(process.env.FUZZ_SEED ?? randomInt(1, 2 ** 31));
const COST_USD = 0.0005; // 500,000 nUSD
const MASTER_KEY = 'sk-master-fuzz-0123456789';
const log = (msg: string) => process.stdout.write(`[fuzz seed=${SEED}] ${msg}\n`);

/** Tables whose rows may change without changing data: the audit trail and job bookkeeping. */
const VOLATILE_TABLES = new Set(['audit_log', 'job_leases', 'reconciliation_runs']);
/** Columns that reading touches. */
const VOLATILE_COLUMNS: Record<string, string[]> = { api_tokens: ['last_used_at'], admins: ['last_login_at'] };

describeWith('bad-input sweep from the OpenAPI document', [needs.postgres(), needs.schemathesis()], () => {
  let database: TestDatabase;
  let service: Proc;
  let litellm: LiteLLMFake;
  let token: string;
  let work: string;
  const people: { id: string; hash: string }[] = [];
  let before: Snapshot;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'companion-fuzz-'));
    database = await createTestDatabase(2);
    // Every optional dependency configured (LiteLLM: the contract fake; Stripe: an address that
    // refuses), so that no 503 "not configured" hides among the answers.
    litellm = await startLiteLLMFake({ masterKey: MASTER_KEY });
    service = await startService({
      DATABASE_URL: database.url!,
      WEBHOOK_SECRET,
      LITELLM_URL: litellm.url,
      LITELLM_MASTER_KEY: MASTER_KEY,
      STRIPE_SECRET_KEY: 'sk_test_fuzz_0123456789',
      STRIPE_WEBHOOK_SECRET: 'whsec_fuzz_0123456789',
      STRIPE_API_BASE: 'http://127.0.0.1:9',
      ADMIN_PASSWORD: 'correct horse battery staple',
      JOBS_ENABLED: 'false', // nothing changes the data but the requests
      RATE_LIMIT_API_PER_MINUTE: '1000000',
      RATE_LIMIT_WEBHOOK_PER_MINUTE: '1000000',
      WEBHOOK_MAX_BODY_BYTES: String(1024 * 1024),
      LOG_LEVEL: 'error',
    });
    token = (await database.db.transaction((tx) => createApiToken(tx, SYSTEM_ACTOR, {}, { name: 'fuzz', role: 'admin' }))).token;

    // Something to break: two people with keys, a top-up, a plan, booked usage.
    const api = (method: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${service.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    expect((await api('POST', '/api/plans', { slug: 'fuzz-pro', name: 'Pro', monthlyCredits: 5000 })).status).toBe(201);
    for (const name of ['Ana', 'Bruno']) {
      const res = await api('POST', '/api/users', { email: `${name.toLowerCase()}-${randomBytes(3).toString('hex')}@example.com`, name });
      expect(res.status).toBe(201);
      const { id, key } = (await res.json()) as { id: string; key: { status: string; plaintext: string } };
      expect(key.status).toBe('active');
      people.push({ id, hash: sha256Hex(key.plaintext) });
    }
    expect((await api('POST', `/api/users/${people[0]!.id}/credits`, { amount: 1234.5, reason: 'seed' }, { 'idempotency-key': 'seed-1' })).status).toBe(201);
    const booked = await webhook(JSON.stringify(people.flatMap((p) => [payload(p.hash, COST_USD), payload(p.hash, COST_USD)])));
    expect(booked.status).toBe(200);
    expect(await booked.json()).toMatchObject({ accepted: 4 });
    before = await snapshot(database);
    log(`service ${service.url}; snapshot ${JSON.stringify(before.money)}`);
  }, 120_000);

  afterAll(async () => {
    await service?.kill();
    await litellm?.close();
    await database?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const webhook = (body: string | Buffer | Uint8Array, headers: Record<string, string> = {}) =>
    fetch(`${service.url}/webhooks/litellm`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WEBHOOK_SECRET}`, 'content-type': 'application/json', ...headers },
      body,
      signal: AbortSignal.timeout(15_000),
    });

  /** One schemathesis run; returns its report and every 5xx it saw (from the NDJSON events). */
  async function schemathesis(name: string, args: string[], env: Record<string, string> = {}) {
    const dir = join(work, name);
    const result = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(
        SCHEMATHESIS,
        [
          'run',
          `${service.url}/api/openapi.json`,
          '--header',
          `Authorization: Bearer ${token}`,
          '--checks',
          'not_a_server_error',
          '--phases',
          'coverage,fuzzing', // not stateful: it follows links with valid data (it once revoked our token)
          // Our valid bearer replaces whatever it generates for the auth header, so a case whose
          // only invalid part is the auth header would be a valid request: don't generate those.
          '--generation-with-security-parameters',
          'false',
          '--seed',
          String(SEED),
          '--workers',
          '2',
          '--request-timeout',
          '10',
          '--generation-database',
          'none',
          '--no-color',
          '--report',
          'junit,ndjson',
          '--report-dir',
          dir,
          ...args,
        ],
        // Its own cwd: no schemathesis.toml or .hypothesis/ is picked up or left in the repo.
        {
          cwd: work,
          timeout: 120_000,
          maxBuffer: 32 * 1024 * 1024,
          env: { ...process.env, SCHEMATHESIS_HOOKS: join(ROOT, 'tools', 'schemathesis_hooks.py'), ...env },
        },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out: `${stdout}\n${stderr}` }),
      );
    });
    const junit = readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.xml'))!), 'utf8');
    const tests = Number(/<testsuites[^>]* tests="(\d+)"/.exec(junit)?.[1] ?? 0);
    const failures = Number(/<testsuites[^>]* failures="(\d+)"/.exec(junit)?.[1] ?? 0);
    const errors = Number(/<testsuites[^>]* errors="(\d+)"/.exec(junit)?.[1] ?? 0);
    const statuses: Record<string, number> = {};
    const serverErrors: string[] = [];
    const mutations: string[] = []; // 2xx answers to non-GET requests
    const ndjson = readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.ndjson'))!), 'utf8');
    for (const line of ndjson.split('\n')) {
      if (!line.startsWith('{"ScenarioFinished"')) continue;
      const recorder = JSON.parse(line).ScenarioFinished.recorder as {
        label: string;
        interactions?: Record<string, { request: { method: string; uri: string }; response?: { status_code: number; content?: { $base64?: string } } }>;
        cases?: Record<string, { value: { meta?: unknown; body?: unknown; query?: unknown; headers?: unknown } }>;
      };
      for (const [caseId, i] of Object.entries(recorder.interactions ?? {})) {
        const status = i.response?.status_code;
        if (status === undefined) continue;
        statuses[status] = (statuses[status] ?? 0) + 1;
        const body = Buffer.from(i.response?.content?.$base64 ?? '', 'base64').toString('utf8');
        if (status >= 500) serverErrors.push(`${recorder.label}: ${status} ${i.request.method} ${i.request.uri} ${body.slice(0, 200)}`);
        if (status < 300 && i.request.method !== 'GET' && !/\/logout$/.test(i.request.uri)) mutations.push(`${status} ${i.request.method} ${i.request.uri} ${JSON.stringify(recorder.cases?.[caseId]?.value ?? {}).slice(0, 600)}`);
      }
    }
    const requests = Object.values(statuses).reduce((a, b) => a + b, 0);
    log(`${name}: exit ${result.code}, ${tests} operations, ${failures} failures, ${errors} errors, ${requests} requests ${JSON.stringify(statuses)}`);
    return { ...result, tests, failures, errors, requests, statuses, serverErrors, mutations };
  }

  function expectClean(run: Awaited<ReturnType<typeof schemathesis>>, minOperations: number) {
    const why = `seed ${SEED}\n${run.serverErrors.slice(0, 20).join('\n')}\n${run.out.slice(-6000)}\nservice log:\n${service.output().slice(-4000)}`;
    expect(run.serverErrors, why).toEqual([]);
    expect(run.failures + run.errors, why).toBe(0);
    expect(run.code, why).toBe(0);
    expect(run.tests, why).toBeGreaterThanOrEqual(minOperations);
    expect(run.requests, why).toBeGreaterThan(minOperations * 5);
  }

  it('invalid input to every operation never answers 5xx and changes nothing', async () => {
    const run = await schemathesis(
      'negative',
      [
        ...['--mode', 'negative', '--max-examples', '20', '--max-time', '40', '--suppress-health-check', 'all'],
        // No input at all, so nothing invalid to send; a body-less POST ignores a bogus Content-Type
        // and really runs (covered by reconcile.int.test.ts).
        ...['--exclude-path', '/api/reconciliation/run'],
      ],
      { SWEEP_NEGATIVE_ONLY: '1' }, // see tools/schemathesis_hooks.py
    );
    expectClean(run, 37);
    expect(run.mutations, 'invalid input accepted').toEqual([]);
    // the sweep really ran (how many cases fit in the time budget depends on the machine's load)
    expect(run.statuses['400'] ?? 0).toBeGreaterThan(150);
    expect(await snapshot(database)).toEqual(before);
  }, 100_000);

  it('nasty but valid input to every read-only operation never answers 5xx', async () => {
    const run = await schemathesis('read-only', ['--mode', 'positive', '--include-method', 'GET', '--max-examples', '15', '--max-time', '15']);
    expectClean(run, 20);
    expect(await snapshot(database)).toEqual(before);
  }, 60_000);

  it('inputs that once answered 500 now answer 4xx and change nothing', async () => {
    const nul = '\u0000';
    const id = people[0]!.id;
    const probes: [string, string, unknown, Record<string, string>?][] = [
      // NUL: PostgreSQL text cannot hold it (was 500 everywhere a string reaches the database).
      ['GET', '/api/users?search=a%00b', undefined],
      ['GET', '/api/audit?action=%00', undefined],
      ['GET', '/api/users/%00', undefined],
      ['GET', `/api/users/${id}/ledger?kind=usage&from=2020-01-01%00`, undefined],
      ['POST', '/api/users', { email: 'nul@example.com', name: `x${nul}y` }],
      ['PATCH', `/api/users/${id}`, { name: `x${nul}` }],
      ['POST', '/api/plans', { slug: 'nul', name: `n${nul}`, monthlyCredits: 1 }],
      ['POST', `/api/users/${id}/credits`, { amount: 1, reason: `r${nul}` }, { 'idempotency-key': 'nul-1' }],
      ['PUT', '/api/settings/conversion-factor', { factor: '0.5', reason: `r${nul}` }],
      ['POST', '/api/auth/tokens', { name: nul, role: 'viewer' }],
      ['POST', '/api/auth/login', { email: `a${nul}@example.com`, password: 'x' }],
      // Dates JavaScript parses but PostgreSQL's timestamptz refuses (was 500).
      ['GET', '/api/reports/usage.csv?from=275760-09-13', undefined],
      ['GET', '/api/reports/usage.csv?from=0000-01-01', undefined],
      ['GET', `/api/users/${id}/usage?from=-000001-01-01`, undefined],
      ['GET', `/api/users/${id}/ledger?to=%2B010000-01-01`, undefined],
      // Numbers past every bound.
      ['POST', `/api/users/${id}/credits`, { amount: 1e308, reason: 'r' }, { 'idempotency-key': 'big-1' }],
      ['POST', `/api/users/${id}/credits`, { amount: -9007199254740993, reason: 'r' }, { 'idempotency-key': 'big-2' }],
      ['PUT', '/api/settings/conversion-factor', { factor: '1e400', reason: 'r' }],
      ['PUT', '/api/settings/conversion-factor', { factor: 'NaN', reason: 'r' }],
      ['PATCH', '/api/plans/whatever', { monthlyCredits: 1e300 }],
      ['GET', '/api/users?page=1e400&pageSize=-1', undefined],
    ];
    const bad: string[] = [];
    for (const [method, path, body, headers] of probes) {
      const res = await fetch(`${service.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(headers ?? {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (res.status < 400 || res.status >= 500) bad.push(`${res.status} ${method} ${path} ${(await res.text()).slice(0, 200)}`);
    }
    // A JSON body sent as text/plain (was 500 from the OpenAPI media-type gate).
    for (const path of ['/api/settings/conversion-factor/preview', '/api/auth/login']) {
      const res = await fetch(`${service.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body: '{"factor":"0.5"}' });
      if (res.status !== 415) bad.push(`${res.status} POST ${path} as text/plain`);
    }
    expect(bad, service.output().slice(-4000)).toEqual([]);
    expect(await snapshot(database)).toEqual(before);
  }, 30_000);

  it('garbage webhook bodies never answer 5xx nor move the ledger; good items beside them are booked', async () => {
    const rnd = mulberry32(SEED);
    const bodies = garbageBodies(rnd, people.map((p) => p.hash), 240);
    const statuses: Record<number, number> = {};
    const bad: string[] = [];
    const deadline = Date.now() + 40_000;
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < bodies.length && Date.now() < deadline) {
          const b = bodies[next++]!;
          // A keep-alive socket the service closed after refusing an unread body (401, 413) can
          // fail the next request sent on it: one retry; and a too-large body may get no answer.
          const res = await webhook(b.body, b.headers)
            .catch(() => webhook(b.body, b.headers))
            .catch((e: Error) => {
              if (b.label !== 'too large') bad.push(`no answer to ${b.label}: ${e.message} ${String((e.cause as Error)?.message ?? '')}`);
              return null;
            });
          if (!res) continue;
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
          if (res.status >= 500) bad.push(`${res.status} ${b.label}: ${(await res.text()).slice(0, 200)} ← ${describeBody(b.body)}`);
          else await res.arrayBuffer();
        }
      }),
    );
    log(`webhook garbage: ${next} bodies ${JSON.stringify(statuses)}`);
    expect(bad, `seed ${SEED}\n${bad.slice(0, 20).join('\n')}\n${service.output().slice(-4000)}`).toEqual([]);
    expect(next).toBe(bodies.length);
    // Unattributed events and dead letters are where garbage belongs; nothing else moved.
    // (and the overview's rollup of those events, which must still add up to them).
    const after = await snapshot(database, ['usage_events', 'usage_rollup', 'dead_letters']);
    expect(after).toEqual(withoutTables(before, ['usage_events', 'usage_rollup', 'dead_letters']));
    const [sums] = await rows<{ events: string; rollup: string }>(
      database.db,
      sql`select (select count(*) from usage_events where start_time is not null) || '/' || (select coalesce(sum(cost_nano), 0) from usage_events where start_time is not null) as events,
                 (select coalesce(sum(calls), 0) from usage_rollup) || '/' || (select coalesce(sum(cost_nano), 0) from usage_rollup) as rollup`,
    );
    expect(sums!.rollup).toBe(sums!.events);
    await expectLedgerConsistent(database.db);

    // One bad item never rejects the good ones in its batch.
    const good = payload(people[1]!.hash, COST_USD);
    const mixed = [null, 42, 'x', { response_cost: 'lots', metadata: { user_api_key_hash: people[1]!.hash } }, good, { status: `\u0000` }, deep(200)];
    const res = await webhook(JSON.stringify(mixed));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ accepted: 1, rejected: 6 });
    const [n] = await rows<{ n: string }>(database.db, sql`select count(*) as n from ledger_entries where kind = 'usage'`);
    expect(Number(n!.n)).toBe(before.money.usageEntries + 1);
    await expectLedgerConsistent(database.db);
  }, 60_000);
});

interface Snapshot {
  tables: Record<string, string>;
  money: { users: number; monthly: number; topup: number; used: number; ledgerEntries: number; ledgerSum: number; usageEntries: number; keys: number; keySpend: number; usageEvents: number; usageCost: number; plans: number; factors: number; settings: number };
}

/**
 * Every table of the schema (whatever other features add), as row count + a hash of its rows,
 * plus the sums that matter in plain numbers (so a failure says what moved).
 */
async function snapshot(database: TestDatabase, skip: string[] = []): Promise<Snapshot> {
  const q = database.db;
  const names = await rows<{ name: string }>(
    q,
    sql`select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1`,
  );
  const tables: Record<string, string> = {};
  for (const { name } of names) {
    if (VOLATILE_TABLES.has(name) || skip.includes(name)) continue;
    const minus = (VOLATILE_COLUMNS[name] ?? []).map((c) => ` - '${c}'`).join('');
    const [r] = await rows<{ n: number; h: string }>(
      q,
      sql.raw(`select count(*)::int as n, coalesce(md5(string_agg(j::text, '|' order by j::text)), '') as h
               from (select to_jsonb(t)${minus} as j from "${name}" t) x`),
    );
    tables[name] = `${r!.n} rows ${r!.h}`;
  }
  const [m] = await rows<Record<string, string>>(
    q,
    sql`select (select count(*) from users) as users,
               (select coalesce(sum(monthly_milli), 0) from balances) as monthly,
               (select coalesce(sum(topup_milli), 0) from balances) as topup,
               (select coalesce(sum(period_used_milli), 0) from balances) as used,
               (select count(*) from ledger_entries) as "ledgerEntries",
               (select coalesce(sum(amount_milli), 0) from ledger_entries) as "ledgerSum",
               (select count(*) from ledger_entries where kind = 'usage') as "usageEntries",
               (select count(*) from keys) as keys,
               (select coalesce(sum(spend_nano), 0) from keys) as "keySpend",
               (select count(*) from usage_events where user_id is not null) as "usageEvents",
               (select coalesce(sum(cost_nano), 0) from usage_events) as "usageCost",
               (select count(*) from plans) as plans,
               (select count(*) from conversion_factors) as factors,
               (select count(*) from settings) as settings`,
  );
  const money = Object.fromEntries(Object.entries(m!).map(([k, v]) => [k, Number(v)])) as Snapshot['money'];
  if (skip.includes('usage_events')) money.usageCost = 0;
  return { tables, money };
}

function withoutTables(s: Snapshot, skip: string[]): Snapshot {
  return { tables: Object.fromEntries(Object.entries(s.tables).filter(([k]) => !skip.includes(k))), money: { ...s.money, usageCost: 0 } };
}

/** Deterministic PRNG, so FUZZ_SEED reproduces the garbage. */
function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function deep(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

function describeBody(b: string | Buffer): string {
  const s = typeof b === 'string' ? b : `<${b.length} bytes>`;
  return JSON.stringify(s.slice(0, 160));
}

/**
 * Webhook bodies that must not book anything: every item that names one of our keys has an
 * invalid status or cost (so it is dead-lettered), the rest are unknown keys or not events at all;
 * wrapped in every shape a body can take, with NUL, lone surrogates, deep nesting, huge numbers.
 */
function garbageBodies(rnd: () => number, ourHashes: string[], count: number): { label: string; body: string | Buffer; headers?: Record<string, string> }[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const strings = ['', ' ', '\u0000', 'a\u0000b', '\ud800', '\udfff\ud800', '😀', 'ä'.repeat(3000), 'x'.repeat(70_000), 'None', 'null', '0', '-1', '1e400', 'NaN', 'Infinity', '0x10', '١٢٣', '\u202e', '<script>', "'; drop table users; --", '\\u0000', '%00'];
  const numbers = [0, -0, -1, 1e-320, 1e308, -1e308, 2 ** 53 + 1, 2 ** 31, 2 ** 63, 0.1, 123456789.123456789];
  const anything = (): unknown => {
    switch (Math.floor(rnd() * 8)) {
      case 0: return pick(strings);
      case 1: return pick(numbers);
      case 2: return pick([true, false, null]);
      case 3: return [];
      case 4: return {};
      case 5: return deep(1 + Math.floor(rnd() * 3000));
      case 6: return { [pick(strings)]: pick(strings) };
      default: return Array.from({ length: 1 + Math.floor(rnd() * 5) }, () => pick(strings));
    }
  };
  const badCosts: unknown[] = ['lots', 'NaN', 'Infinity', '-Infinity', '1e400', '9'.repeat(400), -1, -0.0001, '-0.5', 1e300, 2e6, {}, [], true, '0x10', '١', ' ', '', '1,5', '\u0000', '1\u0000'];
  const badStatuses: unknown[] = ['SUCCESS', 'ok', '', 0, 1, true, {}, [], '\u0000', 'success\u0000', 'failure '];
  const fields = ['id', 'litellm_call_id', 'call_type', 'model', 'model_group', 'startTime', 'endTime', 'prompt_tokens', 'completion_tokens', 'total_tokens', 'end_user', 'error_information', 'messages', 'response', '__proto__', 'constructor', 'metadata'];

  const item = (mayBeOurs: boolean): unknown => {
    const roll = rnd();
    if (roll < 0.15) return anything(); // not an event at all
    const ours = mayBeOurs && rnd() < 0.6;
    const p: Record<string, unknown> = payload(ours ? pick(ourHashes) : rnd() < 0.5 ? sha256Hex(randomUUID()) : (pick(strings) as string), rnd() < 0.5 ? 0.001 : pick(numbers));
    if (ours) {
      // Our key: must be refused, by its status or its cost.
      if (rnd() < 0.5) p.status = pick(badStatuses);
      else if (rnd() < 0.8) p.response_cost = pick(badCosts);
      else delete p.response_cost;
    }
    for (let i = Math.floor(rnd() * 4); i > 0; i--) {
      const f = pick(fields);
      if (f === 'metadata') (p.metadata as Record<string, unknown>)[pick(['user_api_key_alias', 'user_api_key_user_id', 'user_api_key_spend', 'requester_ip_address', 'x'])] = anything();
      else p[f] = anything();
    }
    return p;
  };

  const out: { label: string; body: string | Buffer; headers?: Record<string, string> }[] = [
    { label: 'empty', body: '' },
    { label: 'whitespace', body: ' \n\t ' },
    { label: 'truncated', body: '[{"response_cost": 0.1, "metadata": {' },
    { label: 'deep array', body: '['.repeat(20_000) + ']'.repeat(20_000) },
    { label: 'deep object', body: '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000) },
    { label: 'nul byte', body: '\u0000' },
    { label: 'ndjson with raw nul', body: `{"status":"x"}\n{"a":"\u0000\n` },
    { label: 'many nulls', body: JSON.stringify(Array(20_000).fill(null)) },
    { label: 'invalid utf-8', body: Buffer.from([0x5b, 0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc0, 0x22, 0x7d, 0x5d]) },
    { label: 'utf-16', body: Buffer.from(JSON.stringify([payload(ourHashes[0]!, 'lots')]), 'utf16le') },
    { label: 'bom', body: `\ufeff${JSON.stringify([payload(ourHashes[0]!, -1)])}` },
    { label: 'too large', body: JSON.stringify([{ x: 'y'.repeat(1024 * 1024 + 10) }]) },
    { label: 'lying gzip', body: '[]', headers: { 'content-encoding': 'gzip' } },
    { label: 'lying length', body: JSON.stringify([{ a: 1 }]), headers: { 'content-type': 'text/plain' } },
    { label: 'form', body: 'a=1&b=2', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
    { label: 'wrong secret', body: JSON.stringify([payload(ourHashes[0]!, 0.001)]), headers: { authorization: 'Bearer nope' } },
    { label: 'no secret', body: JSON.stringify([payload(ourHashes[0]!, 0.001)]), headers: { authorization: '' } },
    { label: 'secret with nul-ish', body: '[]', headers: { authorization: `Bearer ${WEBHOOK_SECRET}%00` } },
  ];
  while (out.length < count) {
    const shape = rnd();
    // Flipped bytes could turn a refused status or cost into a valid one: only unknown keys there.
    const items = Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => item(shape < 0.9));
    if (shape < 0.5) out.push({ label: 'array', body: JSON.stringify(items) });
    else if (shape < 0.7) out.push({ label: 'object', body: JSON.stringify(items[0]) });
    else if (shape < 0.9) {
      // NDJSON, some lines cut short.
      const lines = items.map((i) => JSON.stringify(i) ?? 'undefined').map((l) => (rnd() < 0.2 ? l.slice(0, Math.floor(l.length / 2)) : l));
      out.push({ label: 'ndjson', body: lines.join(rnd() < 0.5 ? '\n' : '\r\n') });
    } else {
      // A valid body with bytes flipped.
      const b = Buffer.from(JSON.stringify(items));
      for (let i = 0; i < 1 + Math.floor(rnd() * 8); i++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      out.push({ label: 'flipped bytes', body: b });
    }
  }
  return out;
}
