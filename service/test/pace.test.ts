import { describe, expect, it } from 'vitest';
import { Pace } from '../src/lib/pace.js';

describe('Pace: batch sizes that answer in about the target time', () => {
  it('starts at `first`, then follows the measured time per item', () => {
    const p = new Pace({ targetMs: 1000, first: 20, max: 500 });
    expect(p.size()).toBe(20);
    p.observe(20, 100); // 5 ms per item
    expect(p.size()).toBe(200);
    p.observe(200, 1000); // still 5 ms
    expect(p.size()).toBe(200);
  });

  it('never goes above `max` for a fast server, nor below 1 for a slow one', () => {
    const fast = new Pace({ targetMs: 1000, first: 20, max: 500 });
    fast.observe(100, 5);
    expect(fast.size()).toBe(500);
    const slow = new Pace({ targetMs: 1000, first: 20, max: 500 });
    slow.observe(10, 30_000);
    expect(slow.size()).toBe(1);
  });

  it('shrinks at once when a server slows down, and harder on a timeout', () => {
    const p = new Pace({ targetMs: 1000, first: 20, max: 500 });
    p.observe(100, 500); // 5 ms → 200
    p.observe(200, 5000); // 25 ms: smoothed 15 ms → 66
    expect(p.size()).toBe(66);
    const t = new Pace({ targetMs: 1000, first: 20, max: 500 });
    t.observe(100, 500);
    t.observe(66, 5000, true); // counted as 10 s: 151.5 ms, smoothed 78 ms → 12
    expect(t.size()).toBe(12);
  });
});
