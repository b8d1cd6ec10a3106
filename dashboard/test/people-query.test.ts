import { describe, expect, it } from 'vitest';
import { queryString } from '../src/api/client';
import { DEFAULT_FILTERS, nextSort, parseFilters, toApiQuery, toSearchParams } from '../src/lib/peopleQuery';

describe('people table query', () => {
  it('builds the API query from filters, trimming the search and leaving out empty filters', () => {
    const q = toApiQuery({ ...DEFAULT_FILTERS, search: '  ana ', status: 'warned', minPercent: 80, page: 3 });
    expect(queryString(q)).toBe('?search=ana&status=warned&minPercent=80&sort=name&order=asc&page=3&pageSize=25');
    expect(queryString(toApiQuery(DEFAULT_FILTERS))).toBe('?sort=name&order=asc&page=1&pageSize=25');
  });

  it('keeps a 0% minimum (it is a filter, not "empty")', () => {
    expect(toApiQuery({ ...DEFAULT_FILTERS, minPercent: 0 }).minPercent).toBe(0);
  });

  it('parses URL params, rejecting junk values', () => {
    expect(parseFilters({ status: 'hacked', sort: 'drop table', order: 'sideways', page: '-2', pageSize: 'abc', minPercent: '150' })).toEqual(DEFAULT_FILTERS);
    expect(parseFilters({ pageSize: '9999' }).pageSize).toBe(200);
    expect(parseFilters({ status: 'blocked', sort: 'percentUsed', order: 'desc', page: '4', minPercent: '95', search: 'x', plan: 'pro' })).toEqual({
      ...DEFAULT_FILTERS,
      status: 'blocked',
      sort: 'percentUsed',
      order: 'desc',
      page: 4,
      minPercent: 95,
      search: 'x',
      plan: 'pro',
    });
  });

  it('round-trips through URL params, leaving defaults out', () => {
    const f = { ...DEFAULT_FILTERS, search: 'bo', status: 'active' as const, page: 2 };
    const params = toSearchParams(f);
    expect(params).toEqual({ search: 'bo', status: 'active', plan: undefined, minPercent: undefined, sort: undefined, order: undefined, page: '2', pageSize: undefined });
    const clean = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) as Record<string, string>;
    expect(parseFilters(clean)).toEqual(f);
  });

  it('sorting: same column flips, a numeric column starts descending, and the page resets', () => {
    expect(nextSort({ ...DEFAULT_FILTERS, page: 5 }, 'name')).toEqual({ sort: 'name', order: 'desc', page: 1 });
    expect(nextSort(DEFAULT_FILTERS, 'percentUsed')).toEqual({ sort: 'percentUsed', order: 'desc', page: 1 });
    expect(nextSort(DEFAULT_FILTERS, 'email')).toEqual({ sort: 'email', order: 'asc', page: 1 });
  });
});
