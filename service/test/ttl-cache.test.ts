import { describe, expect, it } from 'vitest';
import { ttlCache } from '../src/lib/ttl-cache.js';

/** A computation the test settles by hand, counting calls. */
function source() {
  const calls: { resolve(v: number): void; reject(e: Error): void }[] = [];
  const compute = () =>
    new Promise<number>((resolve, reject) => {
      calls.push({ resolve, reject });
    });
  return { calls, compute };
}

const tick = () => new Promise((r) => setImmediate(r));

/** A cache (TTL 1 s) on a hand-moved clock, already holding 1 computed at t = 0. */
async function primed(maxStaleMs: number) {
  const clock = { t: 0 };
  const cache = ttlCache<number>(1000, { maxStaleMs, now: () => clock.t });
  const s = source();
  const first = cache('k', s.compute);
  s.calls[0]!.resolve(1);
  await first;
  return { clock, cache, s };
}

describe('ttlCache', () => {
  it('shares one computation between concurrent callers and reuses it within the TTL', async () => {
    let t = 0;
    const cache = ttlCache<number>(1000, { now: () => t });
    const s = source();
    const a = cache('k', s.compute);
    const b = cache('k', s.compute);
    expect(s.calls).toHaveLength(1);
    s.calls[0]!.resolve(1);
    expect([await a, await b]).toEqual([1, 1]);
    t = 999;
    expect(await cache('k', s.compute)).toBe(1);
    expect(s.calls).toHaveLength(1);
  });

  it('answers a stale value at once and refreshes it once in the background', async () => {
    const { clock, cache, s } = await primed(10_000);
    clock.t = 1500;
    expect(await cache('k', s.compute)).toBe(1); // stale, not waiting
    expect(await cache('k', s.compute)).toBe(1); // refresh still running: no second one
    expect(s.calls).toHaveLength(2);
    s.calls[1]!.resolve(2);
    await tick();
    expect(await cache('k', s.compute)).toBe(2);
    expect(s.calls).toHaveLength(2);
  });

  it('keeps the last good value when a refresh fails, and tries again on the next call', async () => {
    const { clock, cache, s } = await primed(10_000);
    clock.t = 2000;
    expect(await cache('k', s.compute)).toBe(1);
    s.calls[1]!.reject(new Error('database down'));
    await tick();
    expect(await cache('k', s.compute)).toBe(1);
    expect(s.calls).toHaveLength(3);
  });

  it('waits for a fresh value when the cached one is too old, and never caches a failure', async () => {
    const { clock, cache, s } = await primed(5000);
    clock.t = 5000;
    const late = cache('k', s.compute);
    s.calls[1]!.reject(new Error('boom'));
    await expect(late).rejects.toThrow('boom');
    const retry = cache('k', s.compute);
    expect(s.calls).toHaveLength(3);
    s.calls[2]!.resolve(3);
    expect(await retry).toBe(3);
  });
});
