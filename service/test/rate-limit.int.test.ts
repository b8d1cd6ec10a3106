import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryRateLimiter, redisRateLimiter, type RateLimiter } from '../src/lib/rate-limit.js';
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

  it('never holds more than its bound: a new key evicts the oldest', async () => {
    let now = 0;
    const rl = memoryRateLimiter(() => now) as RateLimiter & { size: number };
    for (let i = 0; i < 100_000; i++) await rl.hit(`fill:${i}`, 5, 900);
    expect(rl.size).toBe(100_000);
    now = 1000; // nothing expired yet: every new key must make room
    for (let i = 0; i < 5_000; i++) await rl.hit(`fresh:${i}`, 5, 900);
    expect(rl.size).toBe(100_000);
    // the newest counters survive; the oldest were dropped
    expect((await rl.peek('fresh:4999')).count).toBe(1);
    expect((await rl.peek('fill:0')).count).toBe(0);
  });

  it('drops expired windows as it goes, whatever their lengths', async () => {
    let now = 0;
    const rl = memoryRateLimiter(() => now) as RateLimiter & { size: number };
    for (let i = 0; i < 1000; i++) await rl.hit(`short:${i}`, 5, 60);
    for (let i = 0; i < 10; i++) await rl.hit(`long:${i}`, 5, 3600);
    now = 61_000;
    for (let i = 0; i < 600; i++) await rl.hit('busy', 10_000, 60);
    expect(rl.size).toBe(11); // the long windows and the busy one
    expect((await rl.peek('long:3')).count).toBe(1);
  });

  it('peeks without counting, and a reset forgets the key', async () => {
    const rl = memoryRateLimiter(() => 0);
    expect(await rl.peek('p')).toEqual({ count: 0, retryAfterSeconds: 0 });
    await rl.hit('p', 5, 60);
    await rl.hit('p', 5, 60);
    expect(await rl.peek('p')).toEqual({ count: 2, retryAfterSeconds: 60 });
    expect(await rl.peek('p')).toEqual({ count: 2, retryAfterSeconds: 60 });
    await rl.reset('p');
    expect(await rl.peek('p')).toEqual({ count: 0, retryAfterSeconds: 0 });
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

  it('sets the window on the first hit in the same step, and peeks without counting', async () => {
    const key = `test:${randomBytes(4).toString('hex')}`;
    const rl = redisRateLimiter(redis);
    expect(await rl.peek(key)).toEqual({ count: 0, retryAfterSeconds: 0 });
    expect(await rl.hit(key, 2, 90)).toEqual({ allowed: true, remaining: 1, retryAfterSeconds: 90 });
    expect(await redis.ttl(`rl:${key}`)).toBe(90);
    expect(await rl.peek(key)).toEqual({ count: 1, retryAfterSeconds: 90 });
    await rl.hit(key, 2, 90);
    expect((await rl.hit(key, 2, 90)).allowed).toBe(false);
    expect((await rl.peek(key)).count).toBe(3);
    // a key left without a TTL (e.g. by the old two-step code) gets one on its next hit
    await redis.set(`rl:${key}:x`, '7');
    await rl.hit(`${key}:x`, 10, 30);
    expect(await redis.ttl(`rl:${key}:x`)).toBe(30);
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
