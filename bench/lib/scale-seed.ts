/**
 * What both scale scenarios seed (bench/scale.ts, bench/scale-real.ts): `n` people on plan
 * `basic` with month-old balances (40 % of last month's allowance used, so the rollover expires
 * the rest and grants the new month) and one active key each, written with SQL into our database
 * (which this first connection also migrates). Key i's plaintext is `plaintext(i)`; its row holds
 * the sha256 hex of it, as LiteLLM would report it.
 */
import { createHash } from 'node:crypto';
import { sql as dsql } from 'drizzle-orm';
import { openPostgres } from '../../service/src/db/client.js';
import { seedPlans } from '../../service/src/domain/plans.js';

export async function seedScalePeople(dbUrl: string, dbName: string, n: number) {
  const migrated = await openPostgres(dbUrl, 2); // applies the migrations
  try {
    await seedPlans(migrated.db);
    const tag = dbName.slice(-8);
    await migrated.db.execute(dsql`insert into users (id, email, name, plan_id)
      select 'usr_' || g, 'p' || g || '.${dsql.raw(tag)}@bench.example.com', 'Person ' || g, (select id from plans where slug = 'basic')
      from generate_series(1, ${n}::int) g`);
    const [plan] = (await migrated.db.execute(dsql`select monthly_milli as grant from plans where slug = 'basic'`)) as unknown as { grant: string }[];
    const grant = Number(plan!.grant);
    await migrated.db.execute(dsql`insert into balances (user_id, period_start, monthly_milli, period_used_milli)
      select 'usr_' || g, (date_trunc('month', now() at time zone 'America/Sao_Paulo') - interval '1 month')::date, ${Math.round(grant * 0.6)}::bigint, ${Math.round(grant * 0.4)}::bigint
      from generate_series(1, ${n}::int) g`);
    await migrated.db.execute(dsql`insert into keys (id, user_id, token_hash, key_alias, status)
      select 'key_' || g, 'usr_' || g, encode(sha256(('sk-bench-${dsql.raw(tag)}-' || g)::bytea), 'hex'), 'tcc-usr_' || g, 'active'
      from generate_series(1, ${n}::int) g`);
    await migrated.db.execute(dsql`analyze`);
    /** Milli-credits of the basic plan's monthly allowance; `Math.round(grant * 0.6)` is left of last month. */
    return { grant, tag, plaintext: (i: number) => `sk-bench-${tag}-${i}` };
  } finally {
    await migrated.close();
  }
}

/** One `mock-gpt` "hi" through a LiteLLM with this key; its HTTP status. */
export async function chatOnce(litellmUrl: string, key: string): Promise<number> {
  const r = await fetch(`${litellmUrl}/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user', content: 'hi' }] }),
  });
  await r.arrayBuffer();
  return r.status;
}

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
/** nano-USD as the float USD LiteLLM stores (9 places). */
export const usd = (nano: number) => Number((nano / 1e9).toFixed(9));

/** Poll `ok` every 200 ms until it holds (its wait in ms), or throw after `ms`. */
export async function until(what: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<number> {
  const t = performance.now();
  while (!(await ok())) {
    if (performance.now() - t > ms) throw new Error(`${what}: not reached in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return performance.now() - t;
}
