import type { Redis } from 'ioredis';

export interface RateLimitResult {
  allowed: boolean;
  remaining: number;
  retryAfterSeconds: number;
}

/** Fixed-window counters. Redis when configured (shared by replicas), else in-process. */
export interface RateLimiter {
  /** Count one hit against `key` and say whether it is within `limit` for the window. */
  hit(key: string, limit: number, windowSeconds: number): Promise<RateLimitResult>;
  /** The hits counted in `key`'s current window, without counting one (0 when none). */
  peek(key: string): Promise<{ count: number; retryAfterSeconds: number }>;
  reset(key: string): Promise<void>;
}

/** Keys the in-process limiter holds at most; beyond, the oldest window is dropped. */
export const MEMORY_RATE_LIMIT_MAX_KEYS = 100_000;

interface Window {
  count: number;
  resetAt: number;
}

/**
 * In-process limiter, O(1) per call and bounded in size. Windows live in one Map per window
 * length, in the order they started, which is the order they end: expired windows are always at
 * the front, and each call drops up to two of them (so the maps never hold many expired ones).
 * At `maxKeys` the oldest window of all is dropped to make room (a flood of fresh keys can then
 * forget a counter early, never grow memory).
 */
export function memoryRateLimiter(now: () => number = Date.now, maxKeys = MEMORY_RATE_LIMIT_MAX_KEYS): RateLimiter {
  const byLength = new Map<number, Map<string, Window>>();
  const lengthOf = new Map<string, number>(); // key → its window length (ms)
  const sweep = (m: Map<string, Window>, t: number, n: number) => {
    for (const [k, w] of m) {
      if (n-- <= 0 || w.resetAt > t) return;
      m.delete(k);
      lengthOf.delete(k);
    }
  };
  const find = (key: string, t: number): Window | undefined => {
    const len = lengthOf.get(key);
    const w = len === undefined ? undefined : byLength.get(len)!.get(key);
    return w && w.resetAt > t ? w : undefined;
  };
  const drop = (key: string) => {
    const len = lengthOf.get(key);
    if (len !== undefined) byLength.get(len)!.delete(key);
    lengthOf.delete(key);
  };
  const dropOldest = () => {
    let oldest: [string, Window] | undefined;
    for (const m of byLength.values()) {
      const first = m.entries().next().value as [string, Window] | undefined;
      if (first && (!oldest || first[1].resetAt - lengthOf.get(first[0])! < oldest[1].resetAt - lengthOf.get(oldest[0])!)) oldest = first;
    }
    if (oldest) drop(oldest[0]);
  };
  return {
    async hit(key, limit, windowSeconds) {
      const t = now();
      const len = windowSeconds * 1000;
      let m = byLength.get(len);
      if (!m) byLength.set(len, (m = new Map()));
      sweep(m, t, 2);
      let w = find(key, t);
      if (!w) {
        drop(key); // an expired window, or one of another length: the new one goes to the back
        if (lengthOf.size >= maxKeys) dropOldest();
        w = { count: 0, resetAt: t + len };
        m.set(key, w);
        lengthOf.set(key, len);
      }
      w.count++;
      return {
        allowed: w.count <= limit,
        remaining: Math.max(0, limit - w.count),
        retryAfterSeconds: Math.max(1, Math.ceil((w.resetAt - t) / 1000)),
      };
    },
    async peek(key) {
      const t = now();
      const w = find(key, t);
      return w ? { count: w.count, retryAfterSeconds: Math.max(1, Math.ceil((w.resetAt - t) / 1000)) } : { count: 0, retryAfterSeconds: 0 };
    },
    async reset(key) {
      drop(key);
    },
    /** Keys held right now (tests). */
    get size() {
      return lengthOf.size;
    },
  } as RateLimiter & { readonly size: number };
}

/** INCR and, for a new window, EXPIRE in one atomic step; returns [count, ttl]. */
const HIT = `local c = redis.call('INCR', KEYS[1])
if c == 1 or redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {c, redis.call('TTL', KEYS[1])}`;

export function redisRateLimiter(redis: Redis, fallback: RateLimiter = memoryRateLimiter()): RateLimiter {
  return {
    async hit(key, limit, windowSeconds) {
      try {
        const [count, ttl] = (await redis.eval(HIT, 1, `rl:${key}`, windowSeconds)) as [number, number];
        return {
          allowed: count <= limit,
          remaining: Math.max(0, limit - count),
          retryAfterSeconds: ttl > 0 ? ttl : windowSeconds,
        };
      } catch {
        // Redis down: degrade to the in-process limiter rather than failing requests.
        return fallback.hit(key, limit, windowSeconds);
      }
    },
    async peek(key) {
      try {
        const [[, count], [, ttl]] = (await redis.multi().get(`rl:${key}`).ttl(`rl:${key}`).exec()) as [[null, string | null], [null, number]];
        return { count: Number(count ?? 0), retryAfterSeconds: Math.max(0, ttl) };
      } catch {
        return fallback.peek(key);
      }
    },
    async reset(key) {
      await redis.del(`rl:${key}`).catch(() => fallback.reset(key));
    },
  };
}
