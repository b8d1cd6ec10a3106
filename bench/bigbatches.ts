/**
 * `npm run bench -- bigbatches`: memory under big webhook batches (issue 16). See bench/README.md.
 * fresh DB → service child process (default WEBHOOK_* limits) → people via the admin API → 40
 * parallel ~9.5 MB batches over loopback, each retried as the durable callback does (429/503 →
 * wait Retry-After) → peak RSS of the service (VmHWM and 50 ms samples), CPU of every process on
 * the machine → exactness checks → report (stdout + bench/results/bigbatches.json) → drop DB.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { connect, createDatabase, dropDatabase, verify, withDatabase, type Check, type Expected, type Sql } from './lib/db.js';
import { buildEvent, milliOf, pickPerson, type Person } from './lib/events.js';
import { cpuSnapshot, freePort, machine, RssSampler, startService, type Service, runScenario } from './lib/proc.js';
import { seedPeople } from './lib/seed.js';
import { env, num, RESULTS } from './lib/env.js';

const params = {
  people: num('BENCH_PEOPLE', 200),
  batches: num('BENCH_BIG_BATCHES', 40),
  batchBytes: num('BENCH_BIG_BATCH_BYTES', 9.5e6),
  /** The whole run (all batches acknowledged) must end within this; else it fails. */
  deadlineSeconds: num('BENCH_SECONDS', 300),
};
const TARGETS = { peakRssMb: 300 };
const adminUrl = env.BENCH_DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres';
const dbName = `bench_big_${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}_${randomBytes(2).toString('hex')}`;
const dbUrl = withDatabase(adminUrl, dbName);
const MB = (b: number) => +(b / 2 ** 20).toFixed(1);

let service: Service | undefined, sql: Sql | undefined, dbCreated = false, cleaning: Promise<void> | undefined;
function cleanup() {
  cleaning ??= (async () => {
    await sql?.end({ timeout: 2 }).catch(() => {});
    await service?.stop().catch(() => {});
    if (dbCreated && env.BENCH_KEEP_DB !== '1') await dropDatabase(adminUrl, dbName).catch((e: Error) => console.error(`could not drop ${dbName}: ${e.message}`));
  })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => void cleanup().then(() => process.exit(130)));

/** VmHWM: the process's peak resident set size so far (bytes), as the kernel counts it. */
function hwmBytes(pid: number): number {
  const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

interface Batch { body: Buffer; events: number; costs: { person: number; nano: bigint }[] }

function buildBatches(people: Person[]): Batch[] {
  const out: Batch[] = [];
  const now = Date.now() / 1000;
  for (let b = 0; b < params.batches; b++) {
    const parts: Buffer[] = [];
    const costs: Batch['costs'] = [];
    let size = 2;
    while (size < params.batchBytes) {
      const e = buildEvent(people, pickPerson(people.length), now);
      parts.push(e.body);
      costs.push({ person: e.person, nano: e.costNano });
      size += e.body.length + 1;
    }
    const body = Buffer.concat([Buffer.from('['), ...parts.flatMap((p, i) => (i ? [Buffer.from(','), p] : [p])), Buffer.from(']')]);
    out.push({ body, events: parts.length, costs });
  }
  return out;
}

interface Sent { status: number; retryAfter: string | undefined; body: string; ms: number }
function post(url: URL, secret: string, body: Buffer): Promise<Sent> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      agent: false, // one connection per batch, as 40 LiteLLM workers flushing at once
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', 'content-length': body.length, 'x-companion-source': 'durable-callback' },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body: Buffer.concat(chunks).toString(), ms: performance.now() - t }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main() {
  mkdirSync(RESULTS, { recursive: true });
  const pgVersion = await createDatabase(adminUrl, dbName);
  dbCreated = true;
  const password = randomBytes(18).toString('base64url');
  const secret = randomBytes(24).toString('base64url').slice(0, 32);
  service = await startService({
    DATABASE_URL: dbUrl, PORT: String(await freePort()), HOST: '127.0.0.1', WEBHOOK_SECRET: secret, ADMIN_PASSWORD: password,
    LOG_LEVEL: 'warn', JOBS_ENABLED: 'false', NODE_ENV: 'production',
    RATE_LIMIT_API_PER_MINUTE: '1000000', RATE_LIMIT_WEBHOOK_PER_MINUTE: '1000000',
  }, path.join(RESULTS, 'service.log'));
  sql = connect(dbUrl, 2);
  const people = await seedPeople(service.url, password, sql, params.people);
  const [f] = await sql<{ factor_micro: string }[]>`select factor_micro from conversion_factors order by id desc limit 1`;
  const factorMicro = BigInt(f!.factor_micro);
  let t = performance.now();
  const batches = buildBatches(people);
  console.log(`bench: ${batches.length} batches of ${batches[0]!.events} events, ${MB(batches[0]!.body.length)} MB each, built in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const rss = new RssSampler(service.pid, 50);
  await new Promise((r) => setTimeout(r, 500));
  const rssBefore = rss.sample();
  const hwmBefore = hwmBytes(service.pid);
  rss.phase = 'load';
  const cpuStart = cpuSnapshot(service.pid, undefined);
  const url = new URL('/webhooks/litellm', service.url);
  const deadline = Date.now() + params.deadlineSeconds * 1000;
  const statuses: Record<string, number> = {};
  const errors: string[] = [];
  let accepted = 0, duplicate = 0, attempts = 0;
  const firstAttemptMs: number[] = [];
  t = performance.now();
  await Promise.all(batches.map(async (b) => {
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      attempts++;
      let r: Sent;
      try {
        r = await post(url, secret, b.body);
      } catch (e) {
        statuses.network = (statuses.network ?? 0) + 1;
        await new Promise((res) => setTimeout(res, 1000));
        continue;
      }
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (attempt === 0) firstAttemptMs.push(r.ms);
      if (r.status === 200) {
        const c = JSON.parse(r.body) as { accepted: number; duplicate: number };
        accepted += c.accepted;
        duplicate += c.duplicate;
        return;
      }
      if (r.status !== 429 && r.status !== 503) {
        errors.push(`${r.status}: ${r.body.slice(0, 200)}`);
        return;
      }
      // as litellm/companion_callback.py: wait max(backoff, Retry-After)
      const wait = Math.max(Number(r.retryAfter ?? 1), 0.5 * 2 ** Math.min(attempt, 4) * (0.5 + Math.random() / 2));
      await new Promise((res) => setTimeout(res, wait * 1000));
    }
    errors.push('deadline passed before the batch was acknowledged');
  }));
  const wallS = (performance.now() - t) / 1000;
  const cpuEnd = cpuSnapshot(service.pid, undefined);
  rss.phase = 'after';
  await new Promise((r) => setTimeout(r, 1000));
  const rssAfter = rss.sample();
  const hwm = hwmBytes(service.pid);
  rss.stop();

  // What the ledger must now hold, computed from what was sent.
  const per = new Map<number, { milli: bigint; nano: bigint; events: number }>();
  let totalMilli = 0n, totalNano = 0n, events = 0;
  for (const b of batches) for (const c of b.costs) {
    const m = milliOf(c.nano, factorMicro);
    const p = per.get(c.person) ?? { milli: 0n, nano: 0n, events: 0 };
    p.milli += m; p.nano += c.nano; p.events++;
    per.set(c.person, p);
    totalMilli += m; totalNano += c.nano; events++;
  }
  const expected: Expected = {
    totalMilli: String(totalMilli), totalNano: String(totalNano),
    perPerson: [...per].map(([i, p]) => ({ userId: people[i]!.userId, milli: String(p.milli), nano: String(p.nano), events: p.events })),
  };
  const checks: Check[] = await verify(sql, { errors, warmupEvents: 0, uniqueEventsAcked: events, expected, totals: { accepted, duplicate, dupSent: 0 } });
  if (service.died) checks.push({ name: 'service stayed up', ok: false, expected: 'running', actual: service.died });
  const cpuS = (cpuEnd.at - cpuStart.at) / 1000;
  const cores = (a: number, b: number) => +((b - a) / cpuS).toFixed(2);
  const cpu = {
    windowSeconds: +cpuS.toFixed(1),
    serviceCores: cores(cpuStart.service, cpuEnd.service),
    postgresCores: cores(cpuStart.postgres, cpuEnd.postgres),
    senderCores: cores(cpuStart.bench, cpuEnd.bench),
    machineBusyCores: cores(cpuStart.machineBusy, cpuEnd.machineBusy),
    otherProcessesCores: +((cpuEnd.machineBusy - cpuStart.machineBusy - (cpuEnd.service - cpuStart.service) - (cpuEnd.postgres - cpuStart.postgres) - (cpuEnd.bench - cpuStart.bench)) / cpuS).toFixed(2),
    stealCores: cores(cpuStart.steal, cpuEnd.steal),
  };
  const peak = Math.max(hwm, rss.peak());
  const result = {
    at: new Date().toISOString(),
    machine: machine(pgVersion),
    method: {
      ...params,
      eventsPerBatch: batches[0]!.events,
      batchMb: MB(batches[0]!.body.length),
      transport: 'HTTP/1.1, one connection per batch, all sent at once, Content-Length bodies; 429/503 retried after max(Retry-After, backoff)',
      service: 'node dist/service/index.js (esbuild bundle, as npm start), NODE_ENV=production, default WEBHOOK_MAX_CONCURRENT / WEBHOOK_MAX_BODY_BYTES / WEBHOOK_MAX_QUEUED',
    },
    results: {
      wallSeconds: +wallS.toFixed(1),
      attempts,
      statuses,
      eventsBooked: accepted,
      firstAnswerMs: { min: Math.round(Math.min(...firstAttemptMs)), max: Math.round(Math.max(...firstAttemptMs)) },
      rssMb: { before: MB(rssBefore), peak: MB(peak), peakSampled: MB(rss.peak('load')), highWaterMarkBefore: MB(hwmBefore), after: MB(rssAfter) },
      cpu,
    },
    checks,
    targets: { peakRssMb: { target: `< ${TARGETS.peakRssMb}`, measured: MB(peak), pass: MB(peak) < TARGETS.peakRssMb } },
  };
  await sql.end({ timeout: 5 });
  sql = undefined;
  await service.stop();
  writeFileSync(path.join(RESULTS, 'bigbatches.json'), `${JSON.stringify(result, null, 2)}\n`);
  const R = result.results, m = result.machine;
  console.log(`
──────── big batches ────────
machine   ${m.nproc} CPU (${m.cpuModel}), ${m.totalMemoryMb} MB RAM, Node ${m.node}, PostgreSQL ${m.postgres}
method    ${params.batches} batches × ${result.method.eventsPerBatch} events (${result.method.batchMb} MB) sent at once to 127.0.0.1, retried on 429/503
run       ${R.wallSeconds} s until all acknowledged, ${R.attempts} attempts, statuses ${JSON.stringify(R.statuses)}, ${R.eventsBooked} events booked
RSS       before ${R.rssMb.before} MB, peak ${R.rssMb.peak} MB (VmHWM; sampled every 50 ms: ${R.rssMb.peakSampled} MB), after ${R.rssMb.after} MB
CPU       service ${cpu.serviceCores} cores, postgres ${cpu.postgresCores}, sender (this process) ${cpu.senderCores}, other processes ${cpu.otherProcessesCores}, machine busy ${cpu.machineBusyCores} of ${m.nproc}, steal ${cpu.stealCores}
checks`);
  for (const c of checks) console.log(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.ok ? '' : ` — expected ${c.expected}, got ${c.actual}`}`);
  console.log(`targets\n  ${result.targets.peakRssMb.pass ? 'PASS' : 'FAIL'} peak RSS ${R.rssMb.peak} MB (target < ${TARGETS.peakRssMb})\nwritten bench/results/bigbatches.json`);
  return checks.every((c) => c.ok) && (env.BENCH_STRICT !== '1' || result.targets.peakRssMb.pass);
}

runScenario(main, cleanup, path.join(RESULTS, 'service.log'));
