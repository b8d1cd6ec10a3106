import { describe, expect, it } from 'vitest';
import { lastDays, stack } from '../src/components/BarChart';
import { rangeQuery } from '../src/components/Ledger';
import { csvCell, parseCsv, toCsv } from '../src/lib/csv';
import { diff } from '../src/lib/diff';
import { projectExhaustion } from '../src/lib/projection';
import { aggregate, parseUsageCsv } from '../src/lib/report';
import { parseThresholds } from '../src/pages/Settings';

describe('csv', () => {
  it('quotes when needed and defuses spreadsheet formulas', () => {
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('=SUM(A1)')).toBe("'=SUM(A1)");
    expect(csvCell(-5)).toBe('-5');
    expect(csvCell(null)).toBe('');
    expect(toCsv(['a', 'b'], [[1, 'x\ny']])).toBe('a,b\n1,"x\ny"\n');
  });
  it('parses what it writes', () => {
    expect(parseCsv(toCsv(['a', 'b'], [['q"x', 'l1\nl2'], ['', 'z']]))).toEqual([['a', 'b'], ['q"x', 'l1\nl2'], ['', 'z']]);
  });
});

describe('reports', () => {
  const csv = 'day,email,name,model,calls,tokens,credits,usd\n2026-11-01,a@x,Ana,gpt-4o,2,100,1000.5,0.000376188\n2026-11-01,b@x,Bia,gpt-4o,1,50,500,0.000188\n2026-11-02,a@x,Ana,gemini-flash,3,30,10,0.00000376\n';
  it('aggregates the usage CSV by person, model and day', () => {
    const rows = parseUsageCsv(csv);
    expect(rows).toHaveLength(3);
    const byPerson = aggregate(rows, 'person');
    expect(byPerson.map((a) => [a.key, a.label, a.calls, a.credits])).toEqual([
      ['a@x', 'Ana', 5, 1010.5],
      ['b@x', 'Bia', 1, 500],
    ]);
    expect(aggregate(rows, 'model').map((a) => [a.key, a.calls])).toEqual([['gpt-4o', 3], ['gemini-flash', 3]]);
    expect(aggregate(rows, 'day').map((a) => a.key)).toEqual(['2026-11-01', '2026-11-02']);
  });
});

describe('chart stacking', () => {
  it('fills missing days, orders series by total and finds the max column', () => {
    const s = stack([{ x: '2026-11-02', series: 'a', value: 1 }, { x: '2026-11-02', series: 'b', value: 5 }, { x: '2026-11-01', series: 'a', value: 2 }], ['2026-11-01', '2026-11-02', '2026-11-03']);
    expect(s.series).toEqual(['b', 'a']);
    expect(s.columns).toEqual([
      { x: '2026-11-01', values: [0, 2], total: 2 },
      { x: '2026-11-02', values: [5, 1], total: 6 },
      { x: '2026-11-03', values: [0, 0], total: 0 },
    ]);
    expect(s.max).toBe(6);
    expect(lastDays(3, new Date('2026-11-22T10:00:00Z'))).toEqual(['2026-11-20', '2026-11-21', '2026-11-22']);
  });
});

describe('misc logic', () => {
  it('date range: `to` is inclusive in the UI, exclusive for the API', () => {
    expect(rangeQuery('2026-11-01', '2026-11-30')).toEqual({ from: '2026-11-01', to: '2026-12-01' });
    expect(rangeQuery('', '')).toEqual({});
  });
  it('projects exhaustion from the last 7 days burn rate', () => {
    const now = new Date('2026-11-22T12:00:00Z');
    const daily = [{ day: '2026-11-20', credits: 7000 }, { day: '2026-11-01', credits: 999999 }];
    expect(projectExhaustion(10000, daily, now)!.toISOString()).toBe('2026-12-02T12:00:00.000Z');
    expect(projectExhaustion(0, daily, now)).toBeNull();
    expect(projectExhaustion(100, [], now)).toBeNull();
  });
  it('diffs audit before/after into changed leaves', () => {
    expect(diff({ a: 1, b: { c: 2, d: 3 } }, { a: 1, b: { c: 5, d: 3 }, e: 'x' })).toEqual([
      { path: 'b.c', before: 2, after: 5 },
      { path: 'e', before: undefined, after: 'x' },
    ]);
    expect(diff(null, { s: 'active' })).toEqual([{ path: 's', before: undefined, after: 'active' }]);
  });
  it('parses alert thresholds', () => {
    expect(parseThresholds('95, 80;100')).toEqual([80, 95, 100]);
    expect(parseThresholds('80, 120')).toBeNull();
    expect(parseThresholds('')).toBeNull();
  });
});
