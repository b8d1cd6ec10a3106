/**
 * `npm run demo`: fill the configured database (DATABASE_URL, else PGlite under DATA_DIR) with a
 * living demo: ~200 people on three plans, 90 days of usage across four models with realistic
 * prices, some warned (≥80%), some blocked (≥100%), a few suspended, some top-ups.
 * Uses the service's own domain verbs, so balances, ledger, alerts and audit are all real.
 * Refuses if people already exist, unless --force. Options: --people=N.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { loadConfig } from '../config.js';
import { createDeps } from '../deps.js';
import { one, rows } from '../db/client.js';
import { keys, users } from '../db/schema/index.js';
import type { Actor } from '../domain/actor.js';
import { bootstrap } from '../domain/auth/bootstrap.js';
import { addCredits } from '../domain/credits.js';
import { currentFactorMicro } from '../domain/factor.js';
import { ingestUsage } from '../domain/usage/ingest.js';
import { createUser } from '../domain/users/create.js';
import { changeStatus } from '../domain/users/status.js';
import { manualClock } from '../lib/clock.js';
import { sha256Hex } from '../lib/crypto.js';

const args = process.argv.slice(2);
const FORCE = args.includes('--force');
const PEOPLE = Number(args.find((a) => a.startsWith('--people='))?.split('=')[1] ?? 200);
const DAYS = 90;
const DAY = 86_400_000;
const actor: Actor = { id: 'demo', label: 'demo-seed', role: 'admin', via: 'system' };

// USD per 1M input / output tokens (list prices), and how often each model is picked.
const MODELS = [
  { name: 'gpt-4o', in: 2.5, out: 10, weight: 3 },
  { name: 'gpt-4o-mini', in: 0.15, out: 0.6, weight: 5 },
  { name: 'claude-sonnet', in: 3, out: 15, weight: 2 },
  { name: 'gemini-flash', in: 0.1, out: 0.4, weight: 3 },
];
const FIRST = ['Ana', 'Bruno', 'Carla', 'Diego', 'Eduarda', 'Felipe', 'Gabriela', 'Heitor', 'Isabela', 'João', 'Larissa', 'Marcos', 'Natália', 'Otávio', 'Paula', 'Rafael', 'Sofia', 'Thiago', 'Vitória', 'William'];
const LAST = ['Silva', 'Santos', 'Oliveira', 'Souza', 'Lima', 'Pereira', 'Costa', 'Rodrigues', 'Almeida', 'Nascimento', 'Carvalho', 'Ribeiro', 'Gomes', 'Martins'];

let seed = 42; // mulberry32: small, deterministic
const rnd = () => {
  let t = (seed = (seed + 0x6d2b79f5) | 0);
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
};
const pick = <T>(a: T[]) => a[Math.floor(rnd() * a.length)]!;
const pickModel = () => {
  let r = rnd() * MODELS.reduce((n, m) => n + m.weight, 0);
  for (const m of MODELS) if ((r -= m.weight) < 0) return m;
  return MODELS[0]!;
};
/** Share of the period's credits a person will have used: most moderate, some warned, some blocked. */
const targetShare = () => {
  const r = rnd();
  if (r < 0.62) return 0.05 + rnd() * 0.65;
  if (r < 0.78) return 0.7 + rnd() * 0.1;
  if (r < 0.92) return 0.8 + rnd() * 0.19;
  return 1 + rnd() * 0.1;
};

async function main() {
  const started = Date.now();
  const config = loadConfig();
  const now = new Date();
  const clock = manualClock(now);
  const deps = await createDeps(config, { clock });
  await bootstrap(deps);
  const existing = Number((await one<{ n: number }>(deps.db, sql`select count(*)::int as n from users`))?.n ?? 0);
  if (existing > 0 && !FORCE) {
    process.stdout.write(`The database already has ${existing} people; not adding a demo on top. Re-run with --force to add anyway.\n`);
    await deps.close();
    return;
  }
  const factor = (await currentFactorMicro(deps.db)) / 1e6; // USD per million credits
  const tag = randomBytes(2).toString('hex');
  const events: { at: number; raw: Record<string, unknown> }[] = [];
  const created: { id: string; name: string }[] = [];
  const plans = ['basic', 'basic', 'basic', 'pro', 'pro', 'enterprise'];
  const allowance: Record<string, number> = { basic: 1_000_000, pro: 5_000_000, enterprise: 10_000_000 };

  for (let i = 0; i < PEOPLE; i++) {
    const first = pick(FIRST);
    const last = pick(LAST);
    const plan = pick(plans);
    const u = await createUser(deps, actor, {}, {
      email: `${first}.${last}.${i}${FORCE ? `.${tag}` : ''}@example.org`.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase(),
      name: `${first} ${last}`,
      plan,
      locale: rnd() < 0.85 ? 'pt-BR' : 'en',
    });
    const createdAt = new Date(now.getTime() - (DAYS + Math.floor(rnd() * 200)) * DAY);
    await deps.db.update(users).set({ createdAt }).where(eq(users.id, u.id));
    const hash = sha256Hex(`sk-demo-${randomUUID()}`);
    await deps.db.update(keys).set({ tokenHash: hash, status: 'active' }).where(eq(keys.userId, u.id));
    let credits = allowance[plan] ?? u.plan.monthlyCredits;
    if (rnd() < 0.15) {
      const topup = pick([250_000, 500_000, 1_000_000, 2_000_000]);
      await addCredits(deps, actor, {}, { userId: u.id, amountMilli: topup * 1000, reason: 'demo: top-up purchased', idempotencyKey: `demo-${u.id}` });
      credits += topup;
    }
    // Spend this person's share over the last 90 days, busier recently and on weekdays.
    let budget = targetShare() * credits * factor * 1e-6;
    const heavy = rnd();
    for (let k = 0; budget > 0 && k < 250; k++) {
      const m = pickModel();
      const promptTokens = Math.round(200 + rnd() * 3000 * (0.3 + heavy));
      const completionTokens = Math.round(50 + rnd() * 900);
      let cost = (promptTokens * m.in + completionTokens * m.out) / 1e6;
      if (k === 249 || cost > budget) cost = budget;
      budget -= cost;
      let day = Math.floor(Math.pow(rnd(), 0.7) * DAYS);
      if ([0, 6].includes(new Date(now.getTime() - day * DAY).getUTCDay()) && rnd() < 0.6) day = Math.max(0, day - 2);
      const at = now.getTime() - day * DAY - Math.floor(rnd() * 10 * 3600_000);
      events.push({
        at,
        raw: {
          id: `chatcmpl-${randomUUID()}`, litellm_call_id: randomUUID(), call_type: 'acompletion', status: 'success',
          response_cost: Number(cost.toFixed(9)), prompt_tokens: promptTokens, completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens, startTime: at / 1000, endTime: at / 1000 + 2, model: m.name, model_group: m.name,
          metadata: { user_api_key_hash: hash },
        },
      });
    }
    created.push({ id: u.id, name: u.name });
  }

  // Book usage in time order, one batch per day, with the clock at that day (alerts get real dates).
  events.sort((a, b) => a.at - b.at);
  let accepted = 0;
  for (let i = 0; i < events.length; ) {
    const dayEnd = Math.floor(events[i]!.at / DAY) * DAY + DAY;
    const batch: unknown[] = [];
    while (i < events.length && events[i]!.at < dayEnd) batch.push(events[i++]!.raw);
    clock.set(new Date(Math.min(dayEnd, now.getTime())));
    accepted += (await ingestUsage(deps, batch, { source: 'demo' })).accepted;
  }
  clock.set(now);
  for (const p of created.slice(0, 4)) await changeStatus(deps, actor, {}, p.id, 'suspend');

  const list = await rows<{ state: string; n: number }>(deps.db, sql`select credit_state as state, count(*)::int as n from balances group by 1 order by 1`);
  process.stdout.write(
    `\nDemo ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${deps.dbKind}):\n` +
      `  ${created.length} people, ${accepted} usage events over ${DAYS} days (${MODELS.map((m) => m.name).join(', ')})\n` +
      `  credit states: ${list.map((s) => `${s.state} ${s.n}`).join(', ')}; suspended: 4\n\n` +
      `Start the service (same env) and open http://localhost:${config.PORT}/\n` +
      `  log in as ${config.ADMIN_EMAIL} with ADMIN_PASSWORD (or the password printed on first start)\n`,
  );
  await deps.close();
}

main().catch((err) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
