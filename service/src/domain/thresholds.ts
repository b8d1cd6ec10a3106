import { eq } from 'drizzle-orm';
import type { Queryable } from '../db/client.js';
import { settings } from '../db/schema/index.js';

export const DEFAULT_THRESHOLDS = [80, 95, 100];

/** Alert thresholds in percent, ascending; the last one is always 100. */
export async function alertThresholds(q: Queryable): Promise<number[]> {
  const [row] = await q.select().from(settings).where(eq(settings.key, 'alert_thresholds')).limit(1);
  const value = row?.value;
  if (Array.isArray(value) && value.every((v) => typeof v === 'number')) return value as number[];
  return DEFAULT_THRESHOLDS;
}

/** The lowest threshold under 100 %, in basis points: from there a person is `warned`. */
export function warnBpOf(thresholds: number[]): number {
  return Math.round((thresholds.filter((v) => v < 100)[0] ?? 100) * 100);
}

export async function warnThresholdBp(q: Queryable): Promise<number> {
  return warnBpOf(await alertThresholds(q));
}
