import { sql } from 'drizzle-orm';
import type { Deps } from '../deps.js';
import { rows, type Queryable } from '../db/client.js';
import { conversionFactors } from '../db/schema/index.js';
import type { Actor, RequestMeta } from './actor.js';
import { audit } from './audit.js';
import { analyzeOutbox, OUTBOX_BURST } from './outbox.js';
import { currentFactorMicro } from './factor.js';
import { formatFactor, milliCreditsToNanoFloor, milliToCredits, nanoToUsd } from './money.js';

/**
 * Change f from now on: past entries keep the factor they were booked with; remaining credits
 * stay the same and the USD they allow changes, so every live key's max_budget is re-pushed
 * (one outbox row per key, written in the same transaction).
 */
export async function setFactor(deps: Deps, actor: Actor, meta: RequestMeta, input: { factorMicro: number; reason: string }) {
  const result = await deps.db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(7302003)`);
    const previous = await currentFactorMicro(tx);
    await tx.insert(conversionFactors).values({
      factorMicro: input.factorMicro,
      previousMicro: previous,
      reason: input.reason,
      actor: actor.label,
      createdAt: deps.clock.now(),
    });
    const queued = await rows<{ n: string }>(
      tx,
      sql`with ins as (
            insert into outbox (kind, aggregate, payload)
            select 'litellm.sync_budget', k.id, jsonb_build_object('keyId', k.id)
            from keys k where k.status in ('active', 'blocked') and k.token_hash is not null
            returning 1)
          select count(*) as n from ins`,
    );
    await audit(tx, actor, meta, {
      action: 'settings.conversion_factor',
      targetType: 'setting',
      targetId: 'conversion_factor',
      before: { factor: formatFactor(previous) },
      after: { factor: formatFactor(input.factorMicro), reason: input.reason },
    });
    return { factor: formatFactor(input.factorMicro), previous: formatFactor(previous), keysQueued: Number(queued[0]?.n ?? 0) };
  });
  if (result.keysQueued >= OUTBOX_BURST) await analyzeOutbox(deps.db);
  return result;
}

/** What-if: per person and in total, the remaining credits and the USD they allow before/after. */
export async function previewFactor(q: Queryable, factorMicro: number, limit = 500) {
  const current = await currentFactorMicro(q);
  const people = await rows<{ id: string; email: string; name: string; remaining: string }>(
    q,
    sql`select u.id, u.email, u.name, (b.monthly_milli + b.topup_milli) as remaining
        from users u join balances b on b.user_id = u.id where u.status <> 'deleted'
        order by remaining desc, u.id`,
  );
  let totalMilli = 0;
  let beforeNano = 0;
  let afterNano = 0;
  const list = people.map((p) => {
    const remaining = Math.max(0, Number(p.remaining));
    const before = milliCreditsToNanoFloor(remaining, current);
    const after = milliCreditsToNanoFloor(remaining, factorMicro);
    totalMilli += remaining;
    beforeNano += before;
    afterNano += after;
    return { userId: p.id, email: p.email, name: p.name, remainingCredits: milliToCredits(remaining), usdBefore: nanoToUsd(before), usdAfter: nanoToUsd(after) };
  });
  return {
    current: formatFactor(current),
    proposed: formatFactor(factorMicro),
    totals: { people: list.length, remainingCredits: milliToCredits(totalMilli), usdBefore: nanoToUsd(beforeNano), usdAfter: nanoToUsd(afterNano) },
    people: list.slice(0, limit),
  };
}
