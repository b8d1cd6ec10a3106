/**
 * A tiny per-process cache for expensive read-only aggregates: concurrent callers share one
 * in-flight computation, and the result is reused for `ttlMs`. Used where a few seconds of
 * staleness is harmless (the dashboard's overview numbers), never for balances or the ledger.
 */
export function ttlCache<T>(ttlMs: number, now: () => number = Date.now) {
  const entries = new Map<string, { at: number; value: Promise<T> }>();
  return (key: string, compute: () => Promise<T>): Promise<T> => {
    const hit = entries.get(key);
    if (hit && now() - hit.at < ttlMs) return hit.value;
    const value = compute();
    entries.set(key, { at: now(), value });
    value.catch(() => entries.delete(key)); // never cache a failure
    if (entries.size > 100) for (const [k, e] of entries) if (now() - e.at >= ttlMs) entries.delete(k);
    return value;
  };
}
