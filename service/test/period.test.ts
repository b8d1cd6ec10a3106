import { describe, expect, it } from 'vitest';
import { nextPeriod, periodOf, periodStartInstant } from '../src/lib/period.js';

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
});
