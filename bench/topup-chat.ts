/**
 * Top-up → first accepted chat, through the REAL pinned LiteLLM proxy with its own database
 * (litellm/dev/run.sh) and the service as `npm start` runs it (bundle, JOBS_ENABLED, its own
 * outbox worker). Part of `npm run bench -- latency` (run after the fake-LiteLLM phases), or alone:
 * `npm run bench -- topup-chat`.
 *
 * Per person (BENCH_REAL_PEOPLE, default 30, one at a time so each figure is one person's wait):
 * a plan worth one mock-gpt call (0.00048 USD); chat until LiteLLM refuses (402 from our callback);
 * POST a top-up; then chat every BENCH_REAL_POLL_MS (20) until LiteLLM accepts. The figure is the
 * time from the top-up's 201 to that first 200. Report: stdout + bench/results/topup-chat.json.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startRealLiteLLM, type RealLiteLLM } from '../service/test/support/litellm-real.js';
import { litellmVenv } from '../service/test/support/requires.js';
import { chatOnce } from './lib/scale-seed.js';
import { createDatabase, dropDatabase, withDatabase } from './lib/db.js';
import { benchDatabaseUrl, num, RESULTS } from './lib/env.js';
import { cpuSnapshot, freePort, machine, startService, type Service } from './lib/proc.js';
import { apiToken, call } from './lib/seed.js';

const people = num('BENCH_REAL_PEOPLE', 30);
const pollMs = num('BENCH_REAL_POLL_MS', 20);
const say = (s: string) => process.stdout.write(`[topup-chat] ${s}\n`);
const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;

async function main() {
  if (!existsSync(path.join(litellmVenv(), 'bin', 'litellm'))) {
    say(`skipped: needs the pinned LiteLLM venv at ${litellmVenv()} (run litellm/setup-venv.sh)`);
    return;
  }
  mkdirSync(RESULTS, { recursive: true });
  const admin = benchDatabaseUrl();
  const dbName = `bench_topup_${randomBytes(4).toString('hex')}`;
  const pgVersion = await createDatabase(admin, dbName);
  const masterKey = `sk-bench-${randomBytes(12).toString('hex')}`;
  const secret = randomBytes(24).toString('base64url');
  const password = randomBytes(18).toString('base64url');
  const [servicePort, litellmPort] = [await freePort(), await freePort()];
  let service: Service | undefined;
  let litellm: RealLiteLLM | undefined;
  try {
    service = await startService({
      DATABASE_URL: withDatabase(admin, dbName), HOST: '127.0.0.1', PORT: String(servicePort), WEBHOOK_SECRET: secret,
      ADMIN_PASSWORD: password, LOG_LEVEL: 'warn', JOBS_ENABLED: 'true', NODE_ENV: 'production',
      PUBLIC_URL: `http://127.0.0.1:${servicePort}`, LITELLM_URL: `http://127.0.0.1:${litellmPort}`, LITELLM_MASTER_KEY: masterKey,
      RATE_LIMIT_API_PER_MINUTE: '1000000', RATE_LIMIT_WEBHOOK_PER_MINUTE: '1000000',
    }, path.join(RESULTS, 'service-topup-chat.log'));
    litellm = await startRealLiteLLM({
      masterKey, port: litellmPort, serverUrl: admin,
      webhook: { url: `${service.url}/webhooks/litellm`, secret },
    });
    say(`service ${service.url}, real LiteLLM ${litellm.url}`);
    const token = await apiToken(service.url, password);
    const auth = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
    // 1,300 credits = 0.0004888 USD at f = 0.376: one mock-gpt call (0.00048) passes, the next is refused.
    await call(`${service.url}/api/plans`, { method: 'POST', headers: auth, body: JSON.stringify({ slug: 'one-call', name: 'One call', monthlyCredits: 1300 }), expect: 201 });
    const chat = (key: string) => chatOnce(litellm!.url, key);
    const waits: number[] = [];
    const refusalsWhileWaiting: number[] = [];
    const cpu0 = cpuSnapshot(service.pid, undefined);
    const t0 = performance.now();
    for (let i = 0; i < people; i++) {
      const { body } = await call(`${service.url}/api/users`, { method: 'POST', headers: auth, body: JSON.stringify({ email: `real${i}.${dbName}@bench.example.com`, name: `Real ${i}`, plan: 'one-call' }), expect: 201 });
      const key = (body.key as { plaintext: string }).plaintext;
      let refused = 0;
      for (let n = 0; (await chat(key)) === 200; n++) if (n > 5) throw new Error('LiteLLM never refused');
      const topup = await call(`${service.url}/api/users/${String(body.id)}/credits`, {
        method: 'POST', headers: { ...auth, 'idempotency-key': `bench-${i}-${dbName}` },
        body: JSON.stringify({ amount: 10_000, reason: 'bench' }), expect: 201,
      });
      void topup;
      const start = performance.now();
      for (;;) {
        const s = await chat(key);
        if (s === 200) break;
        refused++;
        if (performance.now() - start > 30_000) throw new Error(`person ${i}: still refused (${s}) 30 s after the top-up`);
        await new Promise((r) => setTimeout(r, pollMs));
      }
      waits.push(performance.now() - start);
      refusalsWhileWaiting.push(refused);
    }
    const cpu = cpuSnapshot(service.pid, undefined);
    const wall = (performance.now() - t0) / 1000;
    const sorted = [...waits].sort((a, b) => a - b);
    const r1 = (x: number) => Math.round(x * 10) / 10;
    const result = {
      scenario: 'topup-chat', at: new Date().toISOString(), machine: machine(pgVersion),
      params: { people, pollMs },
      topupToAcceptedChatMs: { n: sorted.length, p50: r1(pct(sorted, 50)), p95: r1(pct(sorted, 95)), p99: r1(pct(sorted, 99)), max: r1(sorted.at(-1) ?? NaN) },
      refusedChatsWhileWaiting: { max: Math.max(...refusalsWhileWaiting), total: refusalsWhileWaiting.reduce((a, b) => a + b, 0) },
      cpuCores: { wallSeconds: r1(wall), ...diffCpu(cpu0, cpu, wall) },
    };
    writeFileSync(path.join(RESULTS, 'topup-chat.json'), `${JSON.stringify(result, null, 2)}\n`);
    say(`top-up → first accepted chat through real LiteLLM: p50 ${result.topupToAcceptedChatMs.p50} ms, p99 ${result.topupToAcceptedChatMs.p99} ms, max ${result.topupToAcceptedChatMs.max} ms (n=${sorted.length}, poll ${pollMs} ms)`);
    say(`CPU over the run (cores): ${JSON.stringify(result.cpuCores)}`);
  } finally {
    await litellm?.stop().catch(() => {});
    await service?.stop().catch(() => {});
    await dropDatabase(admin, dbName).catch(() => {});
  }
}

/** Cores used on average: service, PostgreSQL, this bench, and everything else (LiteLLM included). */
function diffCpu(a: ReturnType<typeof cpuSnapshot>, b: ReturnType<typeof cpuSnapshot>, wall: number) {
  const per = (k: 'service' | 'postgres' | 'bench' | 'machineBusy') => (b[k] - a[k]) / wall;
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return {
    service: r2(per('service')), postgres: r2(per('postgres')), bench: r2(per('bench')),
    othersIncludingLiteLLM: r2(per('machineBusy') - per('service') - per('postgres') - per('bench')),
  };
}

await main();
