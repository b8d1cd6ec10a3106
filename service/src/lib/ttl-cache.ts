/**
 * A tiny per-process cache for expensive read-only aggregates: concurrent callers share one
 * in-flight computation, and the result is reused for `ttlMs`. Used where a few seconds of
 * staleness is harmless (the dashboard's overview numbers), never for balances or the ledger.
 *
 * Stale-while-revalidate: a value older than `ttlMs` but younger than `maxStaleMs` is still
 * answered at once while one refresh runs in the background, so no dashboard request waits on the
 * aggregate query after the first. Older than `maxStaleMs` (nobody asked for a while), the caller
 * waits for a fresh value. A failed refresh keeps the last good value; a failed first computation
 * is never cached.
 */
export function ttlCache<T>(ttlMs: number, opts: { maxStaleMs?: number; now?: () => number } = {}) {
  const now = opts.now ?? Date.now;
  const maxStaleMs = opts.maxStaleMs ?? ttlMs * 6;
  /** `at`: when `value` was computed; `busy`: a computation for this key is in flight. */
  const entries = new Map<string, { at: number; value: Promise<T>; busy: boolean }>();

  return (key: string, compute: () => Promise<T>): Promise<T> => {
    const hit = entries.get(key);
    if (entries.size > 100) for (const [k, e] of entries) if (!e.busy && now() - e.at >= maxStaleMs) entries.delete(k);
    if (hit && (hit.busy || now() - hit.at < ttlMs)) return hit.value;

    const started = now();
    const fresh = compute();
    const stale = hit && started - hit.at < maxStaleMs ? hit : undefined;
    const entry = stale ?? { at: started, value: fresh, busy: true };
    entry.busy = true;
    entries.set(key, entry);
    fresh.then(
      (v) => entries.set(key, { at: started, value: Promise.resolve(v), busy: false }),
      () => {
        if (stale) stale.busy = false; // keep the last good value; the next caller tries again
        else entries.delete(key);
      },
    );
    return stale ? stale.value : fresh;
  };
}
