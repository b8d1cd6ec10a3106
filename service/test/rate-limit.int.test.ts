import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryRateLimiter, redisRateLimiter } from '../src/lib/rate-limit.js';
import { testRedisUrl } from './support/env.js';
import { describeWith, needs } from './support/requires.js';

describe('memory rate limiter', () => {
  it('allows `limit` hits per window, then answers with a retry time', async () => {
    let now = 0;
    const rl = memoryRateLimiter(() => now);
    for (let i = 0; i < 3; i++) expect((await rl.hit('k', 3, 60)).allowed).toBe(true);
    expect(await rl.hit('k', 3, 60)).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 60 });
    now = 61_000;
    expect((await rl.hit('k', 3, 60)).allowed).toBe(true);
  });
});

describeWith('redis rate limiter (real Redis)', [needs.redis()], () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(testRedisUrl()!, { lazyConnect: false });
  });
  afterAll(() => redis?.quit());

  it('shares the count between two service instances', async () => {
    const key = `test:${randomBytes(4).toString('hex')}`;
    const a = redisRateLimiter(redis);
    const other = new Redis(testRedisUrl()!);
    const b = redisRateLimiter(other);
    expect((await a.hit(key, 3, 60)).allowed).toBe(true);
    expect((await b.hit(key, 3, 60)).allowed).toBe(true);
    expect((await a.hit(key, 3, 60)).allowed).toBe(true);
    const blocked = await b.hit(key, 3, 60);
    expect(blocked.allowed).toBe(false);
    expect(blocked.retryAfterSeconds).toBeGreaterThan(0);
    expect(await redis.ttl(`rl:${key}`)).toBeGreaterThan(0);
    await a.reset(key);
    expect((await b.hit(key, 3, 60)).allowed).toBe(true);
    await other.quit();
  });

  it('degrades to in-process limits when Redis is down', async () => {
    const dead = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    dead.on('error', () => {});
    const rl = redisRateLimiter(dead);
    expect((await rl.hit('x', 1, 60)).allowed).toBe(true);
    expect((await rl.hit('x', 1, 60)).allowed).toBe(false);
    dead.disconnect();
  });
});
