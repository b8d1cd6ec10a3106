/**
 * `npm run bench -- scale-real`: bench/scale.ts's three phases against the REAL pinned LiteLLM
 * proxy with its own database (litellm/dev/run.sh through service/test/support/litellm-real.ts,
 * as the real-LiteLLM tests start it) instead of the contract fake, at BENCH_SCALE_REAL_PEOPLE
 * (2,000) people: real LiteLLM is one Python worker with its database behind the engine shim, so
 * the count is bounded and every rate printed is the one measured "at N keys".
 *
 * Seed (SQL): people, month-old balances and keys in our database exactly as bench/scale.ts does;
 * the same N keys straight into LiteLLM's "LiteLLM_VerificationToken" as /key/generate would have
 * written them (token = sha256 hex of the plaintext, alias, user_id, max_budget, metadata), plus
 * one key N+1 known to LiteLLM only, for the seed check's chat (its usage reaches the service as
 * an unknown key, so no measured budget moves). Checked with LiteLLM's own GET /key/info (key 1)
 * and one mock-gpt /chat/completions (key N+1). Then:
 *   A. month boundary: start the service (its rollover grants the new month); time until every
 *      key's new max_budget is in LiteLLM's database;
 *   B. factor change: PUT /api/settings/conversion-factor; time until every key is re-pushed;
 *   C. one POST /api/reconciliation/run while BENCH_SCALE_REAL_CHATTERS (200) people chat through
 *      LiteLLM (usage reaches the service through litellm/companion_callback.py), the chats started
 *      BENCH_SCALE_REAL_CHAT_LEAD_S (15) s before it so LiteLLM's batched spend writes and the
 *      callback's deliveries are in flight; afterwards every accepted chat must be booked.
 * Per phase: seconds, keys/s, service peak RSS, cores of service / postgres / LiteLLM + engine
 * shim / bench / others. Report: stdout + bench/results/scale-real.json.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { maxBudgetNano } from '../service/src/domain/money.js';
import { startRealLiteLLM, type RealLiteLLM } from '../service/test/support/litellm-real.js';
import { litellmVenv } from '../service/test/support/requires.js';
import { chatOnce, seedScalePeople, sha256, until, usd } from './lib/scale-seed.js';
import { createDatabase, dropDatabase, withDatabase } from './lib/db.js';
import { benchDatabaseUrl, num, RESULTS } from './lib/env.js';
import { cpuSnapshot, freePort, machine, RssSampler, startService, type Service } from './lib/proc.js';
import { apiToken, call } from './lib/seed.js';

const N = num('BENCH_SCALE_REAL_PEOPLE', 2_000);
const CHATTERS = Math.min(N, num('BENCH_SCALE_REAL_CHATTERS', 200));
const TIMEOUT_MS = num('BENCH_SCALE_REAL_TIMEOUT_S', 1_800) * 1000;
/** LiteLLM's own default (litellm/constants.py): 10 s + random 0–5 s between its spend writes. */
const BATCH_WRITE_AT = num('BENCH_SCALE_REAL_BATCH_WRITE_AT', 10);
/** Seconds of chatting before the reconciliation run starts (bench/scale.ts starts both at once). */
const LEAD_S = num('BENCH_SCALE_REAL_CHAT_LEAD_S', 15);
const say = (s: string) => process.stdout.write(`[scale-real] ${s}\n`);

/** Outbox items that failed so far, by error (the service logs each at warn): timeouts waiting for LiteLLM and the like. */
function failedItems(log: string): Record<string, number> {
  const out: Record<string, number> = {};
  let text = '';
  try { text = readFileSync(log, 'utf8'); } catch { return out; }
  for (const line of text.split('\n')) {
    if (!line.includes('"outbox item failed"')) continue;
    const err = /"err":"([^"]*)/.exec(line)?.[1] ?? 'unknown';
    out[err] = (out[err] ?? 0) + 1;
  }
  return out;
}
const minus = (b: Record<string, number>, a: Record<string, number>) =>
  Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v - (a[k] ?? 0)]).filter(([, v]) => (v as number) > 0));

async function main() {
  if (!existsSync(path.join(litellmVenv(), 'bin', 'litellm'))) {
    say(`skipped: needs the pinned LiteLLM venv at ${litellmVenv()} (run litellm/dev/setup.sh)`);
    return;
  }
  mkdirSync(RESULTS, { recursive: true });
  const admin = benchDatabaseUrl();
  const dbName = `bench_scale_real_${randomBytes(4).toString('hex')}`;
  const pgVersion = await createDatabase(admin, dbName);
  const dbUrl = withDatabase(admin, dbName);
  const masterKey = `sk-bench-${randomBytes(12).toString('hex')}`;
  const secret = randomBytes(24).toString('base64url');
  const password = randomBytes(18).toString('base64url');
  const port = await freePort();
  const serviceLog = path.join(RESULTS, 'service-scale-real.log');
  let litellm: RealLiteLLM | undefined;
  let lsql: postgres.Sql | undefined;
  let service: Service | undefined;
  let rss: RssSampler | undefined;
  try {
    // ---- seed our database: plans, people, month-old balances, keys (as bench/scale.ts) ------------
    const { grant, tag, plaintext } = await seedScalePeople(dbUrl, dbName, N);

    // ---- the real LiteLLM with its own database; its callback reports to the service's port -------
    litellm = await startRealLiteLLM({
      masterKey, serverUrl: admin, webhook: { url: `http://127.0.0.1:${port}/webhooks/litellm`, secret },
      env: { PROXY_BATCH_WRITE_AT: String(BATCH_WRITE_AT) },
    });
    lsql = postgres(litellm.databaseUrl, { max: 2, onnotice: () => {} });
    const oldBudget = usd(maxBudgetNano(0, Math.round(grant * 0.6), 376_000));
    // The row /key/generate writes (key_management_endpoints.py, generate_key_helper_fn: key_data;
    // key_name = abbreviate_api_key, auth/auth_utils.py); the other columns take the schema's
    // defaults (schema.prisma, model LiteLLM_VerificationToken; `models String[]` has none).
    await lsql`insert into "LiteLLM_VerificationToken"
        (token, key_name, key_alias, spend, models, max_budget, user_id, metadata, created_by, updated_by)
      select encode(sha256(('sk-bench-' || ${tag}::text || '-' || g)::bytea), 'hex'),
             'sk-...' || right('sk-bench-' || ${tag}::text || '-' || g, 4),
             case when g <= ${N}::int then 'tcc-usr_' || g else 'bench-seed-check' end,
             0, '{}'::text[], ${oldBudget}::float8,
             case when g <= ${N}::int then 'usr_' || g else 'bench-seed-check' end,
             jsonb_build_object('companion_user_id', 'usr_' || g, 'companion_key_id', 'key_' || g),
             'bench', 'bench'
      from generate_series(1, ${N + 1}::int) g`;
    await lsql`analyze "LiteLLM_VerificationToken"`;
    const info = await fetch(`${litellm.url}/key/info?key=${sha256(plaintext(1))}`, { headers: { authorization: `Bearer ${masterKey}` } });
    const infoBody = (await info.json()) as { info?: { key_alias?: string; max_budget?: number; user_id?: string; spend?: number } };
    if (info.status !== 200 || infoBody.info?.key_alias !== 'tcc-usr_1' || infoBody.info.max_budget !== oldBudget || infoBody.info.user_id !== 'usr_1' || infoBody.info.spend !== 0) {
      throw new Error(`seed: LiteLLM's /key/info for key 1 answered ${info.status} ${JSON.stringify(infoBody).slice(0, 300)}`);
    }
    const chat = (key: string) => chatOnce(litellm!.url, key);
    const seedChat = await chat(plaintext(N + 1));
    if (seedChat !== 200) throw new Error(`seed: a mock-gpt chat with a seeded key answered ${seedChat}`);
    say(`seeded ${N} people, balances a month old, keys in LiteLLM's own database (+1 for the seed check); /key/info and a mock-gpt chat answered 200`);

    // ---- A. month boundary: the rollover at start, then every key's new budget in LiteLLM ----------
    // /key/update writes max_budget to this table at once: key_management_endpoints.py update_key_fn
    // → prisma_client.update_data(token=key, …) → proxy/utils.py PrismaClient.update_data →
    // VerificationTokenRepository(self).table.update(where={"token": token}, …), before it answers.
    const atBudget = async (v: number) => {
      const [r] = await lsql!`select count(*)::int as n from "LiteLLM_VerificationToken" where key_alias like 'tcc-usr\\_%' and max_budget = ${v}::float8`;
      return r!.n as number;
    };
    const allAt = (v: number) => async () => (await atBudget(v)) === N;
    const t0 = performance.now();
    const cpu0 = cpuSnapshot(process.pid, undefined, undefined, litellm.pid);
    service = await startService({
      DATABASE_URL: dbUrl, HOST: '127.0.0.1', PORT: String(port), WEBHOOK_SECRET: secret, ADMIN_PASSWORD: password,
      LOG_LEVEL: 'warn', JOBS_ENABLED: 'true', NODE_ENV: 'production', TIMEZONE: 'America/Sao_Paulo',
      PUBLIC_URL: `http://127.0.0.1:${port}`, LITELLM_URL: litellm.url, LITELLM_MASTER_KEY: masterKey,
      RATE_LIMIT_API_PER_MINUTE: '1000000', RATE_LIMIT_WEBHOOK_PER_MINUTE: '1000000',
    }, serviceLog, (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean));
    rss = new RssSampler(service.pid);
    rss.phase = 'month';
    // The service's CPU is read from its pid; until it exists the bench's own pid stands in (cpu0
    // is only used for postgres / LiteLLM / machine figures, the service starts from 0).
    const cpuA = { ...cpu0, service: 0 };
    const newBudget = usd(maxBudgetNano(0, grant, 376_000));
    const monthMs = (performance.now() - t0) + (await until('month boundary pushed', allAt(newBudget), TIMEOUT_MS));
    const cpuA2 = cpuSnapshot(service.pid, undefined, undefined, litellm.pid);
    const failedA = failedItems(serviceLog);
    say(`A. month boundary: ${N} keys at the new max_budget ${newBudget} USD in LiteLLM's database ${(monthMs / 1000).toFixed(1)} s after the service started (${(N / (monthMs / 1000)).toFixed(0)} keys/s at ${N} keys); peak RSS ${(rss.peak('month') / 2 ** 20).toFixed(0)} MB`);

    // ---- B. factor change -----------------------------------------------------------------------
    const token = await apiToken(service.url, password);
    const auth = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
    rss.phase = 'factor';
    const t1 = performance.now();
    await call(`${service.url}/api/settings/conversion-factor`, { method: 'PUT', headers: auth, body: JSON.stringify({ factor: '0.5', reason: 'bench' }), expect: 200 });
    const factorBudget = usd(maxBudgetNano(0, grant, 500_000));
    const factorMs = performance.now() - t1 + (await until('factor change pushed', allAt(factorBudget), TIMEOUT_MS));
    const cpuB = cpuSnapshot(service.pid, undefined, undefined, litellm.pid);
    const failedB = failedItems(serviceLog);
    say(`B. factor change: ${N} keys re-pushed (${factorBudget} USD) in ${(factorMs / 1000).toFixed(1)} s (${(N / (factorMs / 1000)).toFixed(0)} keys/s at ${N} keys); peak RSS ${(rss.peak('factor') / 2 ** 20).toFixed(0)} MB`);

    // ---- C. one reconciliation cycle while chats flow through LiteLLM -----------------------------
    rss.phase = 'reconcile';
    let chatting = true;
    const statuses = new Map<number, number>();
    const chatLoop = (async () => {
      while (chatting) {
        const s = await chat(plaintext(1 + Math.floor(Math.random() * CHATTERS)));
        statuses.set(s, (statuses.get(s) ?? 0) + 1);
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
    // Chats already flowing (and LiteLLM's batched spend writes behind them) when the cycle starts.
    await new Promise((res) => setTimeout(res, LEAD_S * 1000));
    const cpuC0 = cpuSnapshot(service.pid, undefined, undefined, litellm.pid);
    const t2 = performance.now();
    const run = (await call(`${service.url}/api/reconciliation/run`, { method: 'POST', headers: auth, expect: 200 })).body as { keysChecked: number; unexplained: number; errors: number; repushed: number; recovered: number; items?: { action: string; detail: string }[] };
    const reconcileMs = performance.now() - t2;
    chatting = false;
    await chatLoop;
    const cpuC = cpuSnapshot(service.pid, undefined, undefined, litellm.pid);
    const failedC = failedItems(serviceLog);
    const accepted = statuses.get(200) ?? 0;
    const chats = [...statuses.values()].reduce((a, b) => a + b, 0);
    say(`C. reconciliation: ${run.keysChecked} keys in ${(reconcileMs / 1000).toFixed(1)} s (${(run.keysChecked / (reconcileMs / 1000)).toFixed(0)} keys/s at ${N} keys) while chats went through LiteLLM (${chats} from ${LEAD_S} s before it to its end: ${JSON.stringify(Object.fromEntries(statuses))}); unexplained ${run.unexplained}, errors ${run.errors}, re-pushed ${run.repushed}, recovered ${run.recovered}; peak RSS ${(rss.peak('reconcile') / 2 ** 20).toFixed(0)} MB`);
    rss.stop();
    // Every accepted chat reaches the ledger through the callback (not timed; a check).
    const ours = postgres(dbUrl, { max: 1, onnotice: () => {} });
    let booked = 0;
    try {
      await until('chats booked', async () => {
        const [r] = await ours`select count(*)::int as n from usage_events where user_id is not null`;
        booked = r!.n as number;
        return booked >= accepted;
      }, 60_000).catch(() => {});
    } finally {
      await ours.end();
    }
    say(`after C: ${booked} of the ${accepted} accepted chats booked by the service`);

    const cores = (a: ReturnType<typeof cpuSnapshot>, b: ReturnType<typeof cpuSnapshot>) => {
      const wall = (b.at - a.at) / 1000;
      const f = (x: number) => Math.round((x / wall) * 100) / 100;
      const d = (k: 'service' | 'postgres' | 'group' | 'bench' | 'machineBusy') => b[k] - a[k];
      return { service: f(d('service')), postgres: f(d('postgres')), litellmAndShim: f(d('group')), bench: f(d('bench')), others: f(d('machineBusy') - d('service') - d('postgres') - d('group') - d('bench')) };
    };
    const mb = (phase: string) => Math.round(rss!.peak(phase) / 2 ** 20);
    const s1 = (ms: number) => Math.round(ms / 100) / 10;
    const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));
    const result = {
      scenario: 'scale-real', at: new Date().toISOString(), machine: machine(pgVersion),
      params: { people: N, chatters: CHATTERS, chatLeadSeconds: LEAD_S, litellm: '1.103.7 (one worker, own PostgreSQL database through the engine shim)', proxyBatchWriteAt: BATCH_WRITE_AT },
      monthBoundary: { seconds: s1(monthMs), keysPerSecond: rate(N, monthMs), failedOutboxItems: failedA, peakRssMB: mb('month'), cores: cores(cpuA, cpuA2), target: '< 60 s' },
      factorChange: { seconds: s1(factorMs), keysPerSecond: rate(N, factorMs), failedOutboxItems: minus(failedB, failedA), peakRssMB: mb('factor'), cores: cores(cpuA2, cpuB), target: '< 60 s' },
      reconcile: {
        seconds: s1(reconcileMs), keysPerSecond: rate(run.keysChecked, reconcileMs), keysChecked: run.keysChecked, unexplained: run.unexplained, errors: run.errors,
        repushed: run.repushed, recovered: run.recovered, chatsIncludingLead: chats, chatStatuses: Object.fromEntries(statuses), acceptedChatsBooked: booked, failedOutboxItems: minus(failedC, failedB),
        unexplainedDetails: (run.items ?? []).filter((i) => i.action !== 'budget_repushed').slice(0, 5).map((i) => `${i.action}: ${i.detail}`),
        peakRssMB: mb('reconcile'), cores: cores(cpuC0, cpuC), target: '< 60 s, 0 unexplained',
      },
    };
    writeFileSync(path.join(RESULTS, 'scale-real.json'), `${JSON.stringify(result, null, 2)}\n`);
    const c = (x: { cores: ReturnType<typeof cores> }) => `service ${x.cores.service} / postgres ${x.cores.postgres} / LiteLLM+shim ${x.cores.litellmAndShim} / bench ${x.cores.bench} / others ${x.cores.others}`;
    say(`outbox items failed (retried) A: ${JSON.stringify(result.monthBoundary.failedOutboxItems)}, B: ${JSON.stringify(result.factorChange.failedOutboxItems)}, C: ${JSON.stringify(result.reconcile.failedOutboxItems)}`);
    say(`cores A: ${c(result.monthBoundary)}`);
    say(`cores B: ${c(result.factorChange)}`);
    say(`cores C: ${c(result.reconcile)}`);
    say('written bench/results/scale-real.json (rates are measured at this N only, not extrapolated)');
    if (booked < accepted) throw new Error(`${accepted - booked} accepted chats were not booked within 60 s`);
  } finally {
    rss?.stop();
    await service?.stop().catch(() => {});
    await lsql?.end().catch(() => {});
    await litellm?.stop().catch(() => {});
    if (process.env.BENCH_KEEP_DB === '1') say(`kept database ${dbName} (BENCH_KEEP_DB=1)`);
    else await dropDatabase(admin, dbName).catch(() => {});
  }
}

await main();
