import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { openPostgres, rows, type Database, type Queryable } from '../src/db/client.js';
import { keys } from '../src/db/schema/index.js';
import { SYSTEM_ACTOR } from '../src/domain/actor.js';
import { createApiToken } from '../src/domain/auth/tokens.js';
import { nanoToMilliCredits } from '../src/domain/money.js';
import { sha256Hex } from '../src/lib/crypto.js';
import { WEBHOOK_SECRET } from './support/context.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { payload } from './support/factories.js';
import { expectLedgerConsistent } from './support/invariants.js';
import { freePort, killGroup, run, startService, type Proc } from './support/processes.js';
import { describeWith, needs, postgresBin, redisServerBin } from './support/requires.js';

/**
 * Faults with real components (issue 6): PostgreSQL restarted during ingestion, Redis killed,
 * the service SIGKILLed mid-batch. (LiteLLM down: story.int.test.ts; the durable callback's
 * full disk: litellm/tests/test_spool.py.)
 */
const COST_USD = 0.0005;
const DEBIT_MILLI = nanoToMilliCredits(500_000, 376_000); // 1,329,787 at the default factor
const ADMIN_EMAIL = 'ops@example.com';
const ADMIN_PASSWORD = 'correct horse battery staple';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Person ids and key hashes, as provisioning would leave them (no LiteLLM here). */
async function seedPeople(url: string, db: Database['db'], token: string, n: number) {
  const people: { id: string; hash: string }[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${url}/api/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: `p${i}-${randomBytes(3).toString('hex')}@example.com`, name: `Person ${i}` }),
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    const hash = sha256Hex(`sk-fault-${randomBytes(8).toString('hex')}`);
    await db.update(keys).set({ tokenHash: hash, status: 'active' }).where(eq(keys.userId, id));
    people.push({ id, hash });
  }
  return people;
}

async function creditsOf(q: Queryable): Promise<Map<string, number>> {
  const r = await rows<{ user_id: string; total: string }>(q, sql`select user_id, monthly_milli + topup_milli as total from balances`);
  return new Map(r.map((x) => [x.user_id, Number(x.total)]));
}

async function usageCounts(q: Queryable) {
  const [r] = await rows<{ events: string; entries: string }>(
    q,
    sql`select (select count(*) from usage_events) as events, (select count(*) from ledger_entries where kind = 'usage') as entries`,
  );
  return { events: Number(r!.events), entries: Number(r!.entries) };
}

/** Each person lost exactly one debit per event booked against their key. */
async function expectDebited(q: Queryable, before: Map<string, number>, perPerson: Map<string, number>) {
  const after = await creditsOf(q);
  for (const [userId, n] of perPerson) expect(after.get(userId), userId).toBe(before.get(userId)! - n * DEBIT_MILLI);
}

/**
 * Deliver one batch the way the durable callback does: resend the same body until a 2xx,
 * bounded in attempts and time. Returns the final counts and every status seen on the way.
 */
async function deliver(url: string, body: string, seen: Record<string, number>, timeoutMs = 45_000) {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 1000 && Date.now() < deadline; attempt++) {
    let status = 'network';
    const sentAt = Date.now();
    try {
      const res = await fetch(`${url}/webhooks/litellm`, {
        method: 'POST',
        headers: { authorization: `Bearer ${WEBHOOK_SECRET}`, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(15_000),
      });
      status = String(res.status);
      if (res.ok) {
        seen[status] = (seen[status] ?? 0) + 1;
        return (await res.json()) as { accepted: number; duplicate: number; unattributed: number; rejected: number };
      }
      await res.arrayBuffer();
    } catch (e) {
      // refused or reset: the service is down or was killed; retry
      if (process.env.FAULTS_DEBUG) process.stdout.write(`[deliver] ${(e as Error).message} ${String((e as Error).cause)} after ${Date.now() - sentAt} ms\n`);
    }
    if (process.env.FAULTS_DEBUG && Date.now() - sentAt > 1000) process.stdout.write(`[deliver] ${status} after ${Date.now() - sentAt} ms\n`);
    seen[status] = (seen[status] ?? 0) + 1;
    await sleep(100);
  }
  throw new Error(`batch not delivered within ${timeoutMs} ms: ${JSON.stringify(seen)}`);
}

// ---------------------------------------------------------------------------------------------
// A private PostgreSQL cluster (initdb + pg_ctl), so restarting it disturbs no other test file.

const PG_BIN = postgresBin();
const IS_ROOT = process.getuid?.() === 0;

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** A PostgreSQL binary, as the `postgres` OS user when we are root (PostgreSQL refuses root). */
function pgRun(tool: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const [cmd, argv] = IS_ROOT
    ? ['su', ['postgres', '-s', '/bin/sh', '-c', [join(PG_BIN!, tool), ...args].map(shq).join(' ')]]
    : [join(PG_BIN!, tool), args];
  return new Promise((resolve, reject) =>
    execFile(cmd, argv as string[], { timeout: timeoutMs }, (err, stdout, stderr) =>
      err ? reject(new Error(`${tool} ${args.join(' ')}: ${err.message}\n${stdout}\n${stderr}`)) : resolve(`${stdout}${stderr}`),
    ),
  );
}

async function privateCluster() {
  const dir = mkdtempSync(join(tmpdir(), 'companion-pg-'));
  if (IS_ROOT) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const port = await freePort();
  await pgRun('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=40`;
  const start = () => pgRun('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', options, '-w', '-t', '30', 'start']);
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop: (mode: 'fast' | 'immediate' = 'fast') => pgRun('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '30', 'stop']),
    async remove() {
      await pgRun('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '30', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describeWith('PostgreSQL restarted during ingestion', [needs.postgres(), needs.postgresServer()], () => {
  let cluster: Awaited<ReturnType<typeof privateCluster>>;
  let service: Proc;
  let pg: Database;
  let people: { id: string; hash: string }[];

  beforeAll(async () => {
    cluster = await privateCluster();
    service = await startService({
      DATABASE_URL: cluster.url,
      DATABASE_POOL_SIZE: '4',
      WEBHOOK_SECRET,
      ADMIN_PASSWORD,
      JOBS_ENABLED: 'false',
      RATE_LIMIT_WEBHOOK_PER_MINUTE: '1000000',
      LOG_LEVEL: 'error', // the outage logs an error per refused request (kept in memory: an unexpected 500 shows its cause)
    });
    pg = await openPostgres(cluster.url, 2); // migrated by the service already
    const { token } = await pg.db.transaction((tx) => createApiToken(tx, SYSTEM_ACTOR, {}, { name: 'faults', role: 'admin' }));
    people = await seedPeople(service.url, pg.db, token, 2);
  }, 120_000);

  afterAll(async () => {
    await service?.kill();
    await pg?.close().catch(() => undefined);
    await cluster?.remove();
  });

  it('answers 503 (never 500) while it is down; a retrying sender books every event exactly once', async () => {
    const before = await creditsOf(pg.db);
    const BATCHES = 40;
    const PER_BATCH = 20;
    const perPerson = new Map(people.map((p) => [p.id, 0]));
    const bodies = Array.from({ length: BATCHES }, (_, b) =>
      JSON.stringify(
        Array.from({ length: PER_BATCH }, (_, i) => {
          const p = people[(b + i) % people.length]!;
          perPerson.set(p.id, perPerson.get(p.id)! + 1);
          return payload(p.hash, COST_USD, { litellm_call_id: `pg-${b}-${i}` });
        }),
      ),
    );

    const seen: Record<string, number> = {};
    const results: { accepted: number; duplicate: number }[] = [];
    let next = 0;
    let delivered = 0;
    const senders = Array.from({ length: 3 }, async () => {
      while (next < bodies.length) {
        const i = next++;
        results[i] = await deliver(service.url, bodies[i]!, seen);
        delivered++;
        await sleep(40);
      }
    });

    // Stop PostgreSQL once ingestion is under way, keep it down, start it again.
    const t0 = Date.now();
    while (delivered < 8 && Date.now() - t0 < 20_000) await sleep(10);
    const dbg = (m: string) => process.env.FAULTS_DEBUG && process.stdout.write(`[pg] ${Date.now() - t0} ms: ${m} (delivered ${delivered})\n`);
    dbg('stopping');
    await cluster.stop('fast');
    dbg('stopped');
    await sleep(1000);
    const readyWhileDown = await fetch(`${service.url}/ready`).catch((e: Error) => {
      throw new Error(`the service died with PostgreSQL down: ${e.message}\n${service.output().slice(-3000)}`);
    });
    await sleep(1500);
    dbg('starting');
    await cluster.start();
    dbg('started');
    await Promise.all(senders);
    dbg('all delivered');

    process.stdout.write(`[faults] PostgreSQL stopped after ${delivered >= 8 ? 8 : delivered}+ batches; answers seen: ${JSON.stringify(seen)}\n`);
    expect(readyWhileDown.status).toBe(503);
    const unhandled = () => service.output().split('\n').filter((l) => l.includes('unhandled error')).slice(0, 3).join('\n');
    expect(seen['500'] ?? 0, `${JSON.stringify(seen)}\n${seen['500'] ? unhandled() : ''}`).toBe(0);
    expect(seen['503'] ?? 0, JSON.stringify(seen)).toBeGreaterThan(0);
    expect(Object.keys(seen).sort(), JSON.stringify(seen)).toEqual(['200', '503']);
    for (const r of results) expect(r.accepted + r.duplicate).toBe(PER_BATCH);
    expect(await usageCounts(pg.db)).toEqual({ events: BATCHES * PER_BATCH, entries: BATCHES * PER_BATCH });
    await expectDebited(pg.db, before, perPerson);
    await expectLedgerConsistent(pg.db);
  }, 90_000);
});

// ---------------------------------------------------------------------------------------------

const REDIS_SERVER = redisServerBin();

async function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => s.write('PING\r\n'));
    s.setTimeout(500, () => (s.destroy(), resolve(false)));
    s.on('data', (d) => (s.destroy(), resolve(d.toString().startsWith('+PONG'))));
    s.on('error', () => resolve(false));
  });
}

async function startRedis(port: number) {
  const r = run(REDIS_SERVER!, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {});
  for (let i = 0; i < 50 && !(await redisPing(port)); i++) await sleep(100);
  expect(await redisPing(port), r.output()).toBe(true);
  return r;
}

describeWith('Redis down', [needs.postgres(), needs.redisServer()], () => {
  let database: TestDatabase;
  let service: Proc;
  let redis: ReturnType<typeof run>;
  let redisPort: number;
  let token: string;
  let people: { id: string; hash: string }[];

  beforeAll(async () => {
    database = await createTestDatabase(2);
    redisPort = await freePort();
    redis = await startRedis(redisPort);
    service = await startService({
      DATABASE_URL: database.url!,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      WEBHOOK_SECRET,
      ADMIN_EMAIL,
      ADMIN_PASSWORD,
      JOBS_ENABLED: 'false',
      LOG_LEVEL: 'fatal', // every Redis reconnect attempt logs a warning
    });
    token = (await database.db.transaction((tx) => createApiToken(tx, SYSTEM_ACTOR, {}, { name: 'faults', role: 'admin' }))).token;
    people = await seedPeople(service.url, database.db, token, 1);
  }, 120_000);

  afterAll(async () => {
    await service?.kill();
    if (redis) await killGroup(redis.proc, 'SIGKILL');
    await database?.close();
  });

  /** Login, admin API (token and session), webhook, a top-up: all must work. */
  async function everyPath(tag: string) {
    const started = Date.now();
    const login = await fetch(`${service.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
    });
    expect(login.status, tag).toBe(200);
    const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    expect((await fetch(`${service.url}/api/auth/me`, { headers: { cookie } })).status, tag).toBe(200);
    expect((await fetch(`${service.url}/api/users`, { headers: { authorization: `Bearer ${token}` } })).status, tag).toBe(200);
    const topup = await fetch(`${service.url}/api/users/${people[0]!.id}/credits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': `redis-${tag}` },
      body: JSON.stringify({ amount: 10, reason: `top-up ${tag}` }),
    });
    expect(topup.status, tag).toBe(201);
    const hook = await fetch(`${service.url}/webhooks/litellm`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WEBHOOK_SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify([payload(people[0]!.hash, COST_USD)]),
    });
    expect(hook.status, tag).toBe(200);
    expect(await hook.json(), tag).toMatchObject({ accepted: 1 });
    return Date.now() - started;
  }

  async function ready() {
    const res = await fetch(`${service.url}/ready`);
    return { status: res.status, body: (await res.json()) as { checks: { redis?: { ok: boolean } } } };
  }

  it('keeps serving logins, the API and the webhook with Redis killed; /ready says degraded', async () => {
    expect((await ready()).body.checks.redis?.ok).toBe(true);
    await everyPath('redis up');

    await killGroup(redis.proc, 'SIGKILL');
    expect(await redisPing(redisPort)).toBe(false);
    const ms = await everyPath('redis down');
    expect(ms).toBeLessThan(10_000); // degraded, not hanging on Redis
    const r = await ready();
    expect(r.status).toBe(200);
    expect(r.body.checks.redis?.ok).toBe(false);

    // Redis back: the service reconnects by itself.
    redis = await startRedis(redisPort);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && (await ready()).body.checks.redis?.ok !== true) await sleep(250);
    expect((await ready()).body.checks.redis?.ok).toBe(true);
    await everyPath('redis back');

    const [n] = await rows<{ n: string }>(database.db, sql`select count(*) as n from ledger_entries where kind = 'usage'`);
    expect(Number(n!.n)).toBe(3);
    await expectLedgerConsistent(database.db);
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------

describeWith('service killed mid-batch', [needs.postgres()], () => {
  let database: TestDatabase;
  let service: Proc;
  let port: number;
  let env: Record<string, string>;
  let people: { id: string; hash: string }[];

  beforeAll(async () => {
    database = await createTestDatabase(2);
    port = await freePort();
    env = { DATABASE_URL: database.url!, WEBHOOK_SECRET, ADMIN_PASSWORD, JOBS_ENABLED: 'false', RATE_LIMIT_WEBHOOK_PER_MINUTE: '1000000' };
    service = await startService(env, port);
    const { token } = await database.db.transaction((tx) => createApiToken(tx, SYSTEM_ACTOR, {}, { name: 'faults', role: 'admin' }));
    people = await seedPeople(service.url, database.db, token, 3);
  }, 120_000);

  afterAll(async () => {
    await service?.kill();
    await database?.close();
  });

  it('books every batch fully or not at all; resending all of them books each event once', async () => {
    const before = await creditsOf(database.db);
    const BATCHES = 24;
    const PER_BATCH = 250;
    const perPerson = new Map(people.map((p) => [p.id, 0]));
    const bodies = Array.from({ length: BATCHES }, (_, b) =>
      JSON.stringify(
        Array.from({ length: PER_BATCH }, (_, i) => {
          const p = people[(b * 7 + i) % people.length]!;
          perPerson.set(p.id, perPerson.get(p.id)! + 1);
          return payload(p.hash, COST_USD, { litellm_call_id: `kill-${b}-${i}` });
        }),
      ),
    );

    // All at once; SIGKILL as soon as the first batch is acknowledged (the rest are in flight).
    const acked = new Set<number>();
    let firstAck: () => void;
    const firstAcked = new Promise<void>((r) => (firstAck = r));
    const inFlight = bodies.map((body, b) =>
      fetch(`${service.url}/webhooks/litellm`, {
        method: 'POST',
        headers: { authorization: `Bearer ${WEBHOOK_SECRET}`, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(30_000),
      })
        .then(async (res) => {
          if (res.ok) {
            acked.add(b);
            firstAck();
          }
          await res.arrayBuffer();
        })
        .catch(() => undefined),
    );
    await Promise.race([firstAcked, sleep(20_000)]);
    await service.kill('SIGKILL');
    await Promise.all(inFlight);

    // Fully booked or not at all, batch by batch (PostgreSQL rolled back the cut transactions).
    const perBatch = await rows<{ batch: string; events: string; entries: string }>(
      database.db,
      sql`select split_part(e.litellm_call_id, '-', 2) as batch, count(*) as events, count(l.id) as entries
          from usage_events e left join ledger_entries l on l.usage_event_id = e.id
          where e.litellm_call_id like 'kill-%' group by 1`,
    );
    const booked = new Map(perBatch.map((r) => [Number(r.batch), { events: Number(r.events), entries: Number(r.entries) }]));
    for (const [b, n] of booked) expect(n, `batch ${b}`).toEqual({ events: PER_BATCH, entries: PER_BATCH });
    for (const b of acked) expect(booked.has(b), `acknowledged batch ${b}`).toBe(true);
    process.stdout.write(`[faults] killed with ${acked.size} batches acknowledged, ${booked.size} of ${BATCHES} committed\n`);
    expect(acked.size).toBeGreaterThan(0);
    expect(booked.size, 'the kill came after every batch was booked: nothing was cut').toBeLessThan(BATCHES);
    await expectLedgerConsistent(database.db);

    // Restart and resend everything, like the durable callback after a crash.
    service = await startService(env, port);
    const seen: Record<string, number> = {};
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < bodies.length) {
          const r = await deliver(service.url, bodies[next++]!, seen);
          expect(r.accepted + r.duplicate).toBe(PER_BATCH);
        }
      }),
    );
    expect(await usageCounts(database.db)).toEqual({ events: BATCHES * PER_BATCH, entries: BATCHES * PER_BATCH });
    await expectDebited(database.db, before, perPerson);
    await expectLedgerConsistent(database.db);
  }, 90_000);
});
