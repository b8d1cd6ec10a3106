import { nextBoundary } from '../src/jobs/index.js';
import { describe, expect, it } from 'vitest';
import { graceEnd, nextPeriod, periodOf, periodPlacer, periodStartInstant, previousPeriod } from '../src/lib/period.js';

describe('periods are calendar months in the configured time zone', () => {
  it('names the period by its first day', () => {
    expect(periodOf(new Date('2026-11-22T12:00:00Z'), 'UTC')).toBe('2026-11-01');
  });
  it('uses the zone, not UTC, at month boundaries', () => {
    // 02:00 UTC on Dec 1st is still Nov 30th in São Paulo (UTC−3).
    expect(periodOf(new Date('2026-12-01T02:00:00Z'), 'America/Sao_Paulo')).toBe('2026-11-01');
    expect(periodOf(new Date('2026-12-01T03:00:00Z'), 'America/Sao_Paulo')).toBe('2026-12-01');
    expect(periodOf(new Date('2026-11-30T23:30:00Z'), 'Asia/Tokyo')).toBe('2026-12-01');
  });
  it('rolls over the year', () => {
    expect(nextPeriod('2026-12-01')).toBe('2027-01-01');
    expect(nextPeriod('2026-01-01')).toBe('2026-02-01');
  });
  it('finds the instant a period starts', () => {
    expect(periodStartInstant('2026-12-01', 'America/Sao_Paulo').toISOString()).toBe('2026-12-01T03:00:00.000Z');
    expect(periodStartInstant('2026-04-01', 'Europe/Lisbon').toISOString()).toBe('2026-03-31T23:00:00.000Z'); // summer time
    expect(periodStartInstant('2026-11-01', 'UTC').toISOString()).toBe('2026-11-01T00:00:00.000Z');
  });
  it('goes back a period across the year', () => {
    expect(previousPeriod('2027-01-01')).toBe('2026-12-01');
    expect(previousPeriod('2026-03-01')).toBe('2026-02-01');
  });
  it('places events by start time, 1 ms either side of midnight, with the grace window', () => {
    // Cairo: summer time ends at 24:00 on 31 October 2030, the boundary itself (EEST → EET)
    expect(periodStartInstant('2030-11-01', 'Africa/Cairo').toISOString()).toBe('2030-10-31T22:00:00.000Z');
    expect(graceEnd('2030-11-01', 'Africa/Cairo', 15).toISOString()).toBe('2030-10-31T22:15:00.000Z');
    const inside = periodPlacer(new Date('2030-10-31T22:14:59.999Z'), 'Africa/Cairo', 15);
    expect(inside.place(new Date('2030-10-31T21:59:59.999Z'))).toEqual({ period: '2030-10-01', previous: true, late: false });
    expect(inside.place(new Date('2030-10-31T22:00:00.000Z'))).toEqual({ period: '2030-11-01', previous: false, late: false });
    expect(inside.place(new Date('2030-09-30T20:59:59.999Z'))).toEqual({ period: '2030-09-01', previous: false, late: true });
    expect(inside.place(null)).toEqual({ period: '2030-11-01', previous: false, late: false }); // arrival time
    const after = periodPlacer(new Date('2030-10-31T22:15:00.000Z'), 'Africa/Cairo', 15);
    expect(after.place(new Date('2030-10-31T21:59:59.999Z'))).toEqual({ period: '2030-10-01', previous: false, late: true });
    // a start time in the future is a clock skew: the event belongs to its arrival
    const before = periodPlacer(new Date('2030-10-31T21:59:59.000Z'), 'Africa/Cairo', 15);
    expect(before.place(new Date('2030-10-31T22:00:01.000Z'))).toEqual({ period: '2030-10-01', previous: false, late: false });
    // no grace window: the previous period's events are late at once
    expect(periodPlacer(new Date('2026-02-01T03:00:00.001Z'), 'America/Sao_Paulo', 0).place(new Date('2026-02-01T02:59:59.999Z')))
      .toEqual({ period: '2026-01-01', previous: false, late: true });
  });
});

describe('nextBoundary (the rollover job wakes at it, not up to an interval later)', () => {
  const sp = 'America/Sao_Paulo';
  it('is the end of the grace window while it is open, then the next period start', () => {
    expect(nextBoundary(new Date('2026-03-01T03:05:00Z'), sp, 15).toISOString()).toBe('2026-03-01T03:15:00.000Z');
    expect(nextBoundary(new Date('2026-03-01T03:15:00Z'), sp, 15).toISOString()).toBe('2026-04-01T03:00:00.000Z');
    expect(nextBoundary(new Date('2026-03-31T23:59:59Z'), sp, 15).toISOString()).toBe('2026-04-01T03:00:00.000Z');
    // New York: November starts at 04:00Z (EDT), December at 05:00Z (EST)
    expect(nextBoundary(new Date('2026-11-15T12:00:00Z'), 'America/New_York', 0).toISOString()).toBe('2026-12-01T05:00:00.000Z');
  });
});
