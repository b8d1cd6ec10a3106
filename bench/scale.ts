/**
 * `npm run bench -- scale`: 100,000 people and keys (BENCH_SCALE_PEOPLE) against the LiteLLM
 * contract fake answering every admin call in BENCH_SCALE_LATENCY_MS (5) ms, + BENCH_SCALE_BULK_ITEM_MS
 * (3) ms per key of a /key/bulk_update, with the service as
 * `npm start` runs it (bundle, jobs on). People, balances and keys are seeded with SQL (and the
 * keys into the fake as /key/generate would have made them), then:
 *   A. month boundary: every balance is a month old, so the rollover at start grants the new month;
 *      time from the service's start until every key's new max_budget is in LiteLLM;
 *   B. factor change: PUT /api/settings/conversion-factor; time until every key is re-pushed;
 *   C. one reconciliation cycle over every key (POST /api/reconciliation/run) while chats flow
 *      through the fake (usage booked by the callback): its duration and false "unexplained" items;
 * and the service's peak RSS in each. Targets (issue 12): A, B, C < 60 s; RSS < 300 MB.
 * Report: stdout + bench/results/scale.json.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { maxBudgetNano } from '../service/src/domain/money.js';
import { startLiteLLMFake, type LiteLLMFake, type LiteLLMFakeOptions } from '../service/test/support/litellm-fake.js';
import { connect, createDatabase, dropDatabase, withDatabase } from './lib/db.js';
import { seedScalePeople, sha256, until, usd } from './lib/scale-seed.js';
import { benchDatabaseUrl, num, RESULTS } from './lib/env.js';
import { cpuSnapshot, freePort, machine, RssSampler, startService, type Service } from './lib/proc.js';
import { apiToken, call } from './lib/seed.js';

const N = num('BENCH_SCALE_PEOPLE', 100_000);
const LATENCY = num('BENCH_SCALE_LATENCY_MS', 5);
/**
 * Per key of a /key/bulk_update, on top of the call's LATENCY, one key after another as LiteLLM
 * writes them. 3 ms: LiteLLM spends ~0.56 of a /key/update's time per bulk item (the real pinned
 * proxy, same run: 77.5 keys/s in bulks of 100 against 43.6 keys/s key by key; README), times 5 ms.
 */
const BULK_ITEM_MS = num('BENCH_SCALE_BULK_ITEM_MS', 3);
const CHATTERS = num('BENCH_SCALE_CHATTERS', 200);
const say = (s: string) => process.stdout.write(`[scale] ${s}\n`);

async function main() {
  mkdirSync(RESULTS, { recursive: true });
  const admin = benchDatabaseUrl();
  const dbName = `bench_scale_${randomBytes(4).toString('hex')}`;
  const pgVersion = await createDatabase(admin, dbName);
  const dbUrl = withDatabase(admin, dbName);
  const masterKey = `sk-bench-${randomBytes(12).toString('hex')}`;
  const secret = randomBytes(24).toString('base64url');
  const password = randomBytes(18).toString('base64url');
  let fake: LiteLLMFake | undefined;
  let service: Service | undefined;
  try {
    // ---- seed: plans, people, month-old balances, keys (ours and the fake's) -------------------------
    const { grant, tag, plaintext } = await seedScalePeople(dbUrl, dbName, N);
    const fakeOptions: LiteLLMFakeOptions = { masterKey, latencyMs: LATENCY, bulkItemMs: BULK_ITEM_MS, prices: { 'mock-model': { input: 0.00000188, output: 0.00000094 } } };
    fake = await startLiteLLMFake(fakeOptions);
    const oldBudget = usd(maxBudgetNano(0, Math.round(grant * 0.6), 376_000));
    fake.seedKeys(Array.from({ length: N }, (_, k) => ({ key: plaintext(k + 1), key_alias: `tcc-usr_${k + 1}`, user_id: `usr_${k + 1}`, max_budget: oldBudget })));
    if (!fake.getKey(sha256(plaintext(1)))) throw new Error('seed: key hashes disagree');
    say(`seeded ${N} people, balances a month old, keys in the fake (${LATENCY} ms per admin call, + ${BULK_ITEM_MS} ms per bulk-update key)`);

    // ---- A. month boundary: the rollover at start, then every key's new budget in LiteLLM ----------
    const port = await freePort();
    // the bundle first: the clock starts when the service process does
    if (spawnSync('npm', ['run', '--silent', 'build:service'], { stdio: 'inherit' }).status !== 0) throw new Error('npm run build:service failed');
    const t0 = performance.now();
    service = await startService({
      DATABASE_URL: dbUrl, HOST: '127.0.0.1', PORT: String(port), WEBHOOK_SECRET: secret, ADMIN_PASSWORD: password,
      LOG_LEVEL: 'warn', JOBS_ENABLED: 'true', NODE_ENV: 'production', TIMEZONE: 'America/Sao_Paulo',
      PUBLIC_URL: `http://127.0.0.1:${port}`, LITELLM_URL: fake.url, LITELLM_MASTER_KEY: masterKey,
      RATE_LIMIT_API_PER_MINUTE: '1000000', RATE_LIMIT_WEBHOOK_PER_MINUTE: '1000000',
    }, path.join(RESULTS, 'service-scale.log'), (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean), { build: false }); // node args: e.g. --cpu-prof
    const rss = new RssSampler(service.pid);
    rss.phase = 'month';
    const cpuA = cpuSnapshot(service.pid, undefined);
    const newBudget = usd(maxBudgetNano(0, grant, 376_000));
    const allAt = (v: number) => () => fake!.countKeys((k) => k.max_budget === v) === N;
    // When the last person was rolled over (booked in our database), beside when LiteLLM had every budget.
    const probe = connect(dbUrl, 1);
    let rolledMs: number | undefined;
    const watchRollover = (async () => {
      while (rolledMs === undefined) {
        // exists(), once a second: a count(*) every 200 ms took a fifth of a core of PostgreSQL's from the run it measures
        const [r] = await probe<{ behind: boolean }[]>`select exists (select 1 from balances where period_start < date_trunc('month', now() at time zone 'America/Sao_Paulo')::date) as behind`;
        if (!r!.behind) rolledMs = performance.now() - t0;
        else await new Promise((res) => setTimeout(res, 1000));
      }
    })();
    const monthMs = (performance.now() - t0) + (await until('month boundary pushed', allAt(newBudget), 600_000));
    await watchRollover;
    await probe.end();
    const cpuA2 = cpuSnapshot(service.pid, undefined);
    say(`A. month boundary: ${N} people rolled over ${(rolledMs! / 1000).toFixed(1)} s and ${N} keys at the new max_budget ${newBudget} USD ${(monthMs / 1000).toFixed(1)} s after the service started (migrations checked); peak RSS ${(rss.peak('month') / 2 ** 20).toFixed(0)} MB`);

    // ---- B. factor change -----------------------------------------------------------------------
    const token = await apiToken(service.url, password);
    const auth = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
    rss.phase = 'factor';
    const t1 = performance.now();
    await call(`${service.url}/api/settings/conversion-factor`, { method: 'PUT', headers: auth, body: JSON.stringify({ factor: '0.5', reason: 'bench' }), expect: 200 });
    const factorBudget = usd(maxBudgetNano(0, grant, 500_000));
    const factorMs = performance.now() - t1 + (await until('factor change pushed', allAt(factorBudget), 600_000));
    const cpuB = cpuSnapshot(service.pid, undefined);
    say(`B. factor change: ${N} keys re-pushed (${factorBudget} USD) in ${(factorMs / 1000).toFixed(1)} s; peak RSS ${(rss.peak('factor') / 2 ** 20).toFixed(0)} MB`);

    // ---- C. one reconciliation cycle while chats flow ---------------------------------------------
    // From here the fake reports each chat's usage to the service, as LiteLLM's callback does.
    fakeOptions.webhook = { url: `${service.url}/webhooks/litellm`, secret };
    rss.phase = 'reconcile';
    let chatting = true;
    let chats = 0;
    const chatLoop = (async () => {
      while (chatting) {
        const i = 1 + Math.floor(Math.random() * CHATTERS);
        const r = await fetch(`${fake!.url}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${plaintext(i)}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: 'hi' }] }) });
        await r.arrayBuffer();
        chats++;
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
    const t2 = performance.now();
    const run = (await call(`${service.url}/api/reconciliation/run`, { method: 'POST', headers: auth, expect: 200 })).body as { keysChecked: number; unexplained: number; errors: number; repushed: number; recovered: number };
    const reconcileMs = performance.now() - t2;
    chatting = false;
    await chatLoop;
    const cpuC = cpuSnapshot(service.pid, undefined);
    say(`C. reconciliation: ${run.keysChecked} keys in ${(reconcileMs / 1000).toFixed(1)} s while ${chats} chats flowed; unexplained ${run.unexplained}, errors ${run.errors}, re-pushed ${run.repushed}; peak RSS ${(rss.peak('reconcile') / 2 ** 20).toFixed(0)} MB`);
    rss.stop();

    const cores = (a: ReturnType<typeof cpuSnapshot>, b: ReturnType<typeof cpuSnapshot>) => {
      const wall = (b.at - a.at) / 1000;
      const f = (x: number) => Math.round((x / wall) * 100) / 100;
      return { service: f(b.service - a.service), postgres: f(b.postgres - a.postgres), benchAndFake: f(b.bench - a.bench), others: f((b.machineBusy - a.machineBusy) - (b.service - a.service) - (b.postgres - a.postgres) - (b.bench - a.bench)) };
    };
    const mb = (phase: string) => Math.round(rss.peak(phase) / 2 ** 20);
    const result = {
      scenario: 'scale', at: new Date().toISOString(), machine: machine(pgVersion), params: { people: N, latencyMs: LATENCY, bulkItemMs: BULK_ITEM_MS, chatters: CHATTERS },
      monthBoundary: { seconds: Math.round(monthMs / 100) / 10, rolledOverSeconds: Math.round(rolledMs! / 100) / 10, peakRssMB: mb('month'), cores: cores(cpuA, cpuA2), target: '< 60 s' },
      factorChange: { seconds: Math.round(factorMs / 100) / 10, peakRssMB: mb('factor'), cores: cores(cpuA2, cpuB), target: '< 60 s' },
      reconcile: { seconds: Math.round(reconcileMs / 100) / 10, ...run, chatsDuring: chats, peakRssMB: mb('reconcile'), cores: cores(cpuB, cpuC), target: '< 60 s, 0 unexplained' },
    };
    writeFileSync(path.join(RESULTS, 'scale.json'), `${JSON.stringify(result, null, 2)}\n`);
    say(`written bench/results/scale.json`);
  } finally {
    await service?.stop().catch(() => {});
    await fake?.close().catch(() => {});
    if (process.env.BENCH_KEEP_DB === '1') say(`kept database ${dbName} (BENCH_KEEP_DB=1)`);
    else await dropDatabase(admin, dbName).catch(() => {});
  }
}

await main();
