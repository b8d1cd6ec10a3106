import { sql } from 'drizzle-orm';
import { rows, type Queryable } from '../../db/client.js';

/**
 * Models LiteLLM could not price: successful calls it reported at response_cost 0 although they
 * used tokens (and were not cache hits; parse.ts, UsageItem.unpriced). LiteLLM's cost map lacks the
 * model, so LiteLLM charged nothing and neither did we: free usage until the model gets prices in
 * LiteLLM's config (`input_cost_per_token`/`output_cost_per_token` under its `litellm_params`;
 * docs/operations.md). We never guess a price. Counted by the booking statement in usage_rollup;
 * `lastSeen` is the start of the last 15-minute bucket with one. Most calls first.
 */
export interface UnpricedModel {
  model: string;
  calls: number;
  lastSeen: string;
}

export async function unpricedModels(q: Queryable, since: Date): Promise<UnpricedModel[]> {
  const list = await rows<{ model: string; calls: string; last_seen: Date | string }>(
    q,
    sql`select model, sum(unpriced_calls) as calls, max(bucket) as last_seen
        from usage_rollup
        where status = 'success' and unpriced_calls > 0 and bucket >= ${since.toISOString()}::timestamptz
        group by model order by sum(unpriced_calls) desc, model limit 50`,
  );
  return list.map((r) => ({ model: r.model, calls: Number(r.calls), lastSeen: new Date(r.last_seen).toISOString() }));
}

/** One line for /ready: which models went unpriced in the period, or null when none did. */
export function unpricedDetail(models: UnpricedModel[]): string | null {
  if (models.length === 0) return null;
  const calls = models.reduce((a, m) => a + m.calls, 0);
  const names = models.slice(0, 5).map((m) => `${m.model} (${m.calls})`).join(', ');
  return `${calls} calls this period were free: ${models.length} model(s) without a price in LiteLLM's cost map: ${names}${models.length > 5 ? ', …' : ''}; set input_cost_per_token/output_cost_per_token in LiteLLM's config`;
}
