import { desc } from 'drizzle-orm';
import type { Queryable } from '../db/client.js';
import { conversionFactors } from '../db/schema/index.js';
import { formatFactor } from './money.js';

export async function currentFactorMicro(q: Queryable): Promise<number> {
  const [row] = await q
    .select({ f: conversionFactors.factorMicro })
    .from(conversionFactors)
    .orderBy(desc(conversionFactors.id))
    .limit(1);
  if (!row) throw new Error('conversion factor is not initialised');
  return row.f;
}

export async function factorHistory(q: Queryable) {
  const list = await q.select().from(conversionFactors).orderBy(desc(conversionFactors.id)).limit(200);
  return list.map((r) => ({
    factor: formatFactor(r.factorMicro),
    previous: r.previousMicro === null ? null : formatFactor(r.previousMicro),
    reason: r.reason,
    actor: r.actor,
    createdAt: r.createdAt.toISOString(),
  }));
}
