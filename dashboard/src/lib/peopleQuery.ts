import type { PersonState } from '../api/types';

export type SortField = 'name' | 'email' | 'createdAt' | 'percentUsed' | 'credits';
export interface PeopleFilters {
  search: string;
  status: PersonState | '';
  plan: string;
  minPercent: number | null;
  sort: SortField;
  order: 'asc' | 'desc';
  page: number;
  pageSize: number;
}

export const DEFAULT_FILTERS: PeopleFilters = { search: '', status: '', plan: '', minPercent: null, sort: 'name', order: 'asc', page: 1, pageSize: 25 };
const STATES = ['active', 'warned', 'blocked', 'suspended', 'deleted'];
const SORTS = ['name', 'email', 'createdAt', 'percentUsed', 'credits'];

/** Filters from the page's URL search params, tolerating junk. */
export function parseFilters(p: Record<string, string | string[] | undefined>): PeopleFilters {
  const s = (k: string) => {
    const v = p[k];
    return (Array.isArray(v) ? v[0] : v) ?? '';
  };
  const int = (k: string, d: number, max: number) => {
    const n = Number.parseInt(s(k), 10);
    return Number.isFinite(n) && n >= 1 ? Math.min(n, max) : d;
  };
  const mp = Number(s('minPercent'));
  return {
    search: s('search').slice(0, 200),
    status: (STATES.includes(s('status')) ? s('status') : '') as PeopleFilters['status'],
    plan: s('plan'),
    minPercent: s('minPercent') !== '' && Number.isFinite(mp) && mp >= 0 && mp <= 100 ? mp : null,
    sort: (SORTS.includes(s('sort')) ? s('sort') : DEFAULT_FILTERS.sort) as SortField,
    order: s('order') === 'desc' ? 'desc' : 'asc',
    page: int('page', 1, 1_000_000),
    pageSize: int('pageSize', DEFAULT_FILTERS.pageSize, 200),
  };
}

/** The query for GET /api/users: only what differs from "no filter", search trimmed. */
export function toApiQuery(f: PeopleFilters): Record<string, string | number> {
  const q: Record<string, string | number> = {};
  const search = f.search.trim();
  if (search) q.search = search;
  if (f.status) q.status = f.status;
  if (f.plan) q.plan = f.plan;
  if (f.minPercent !== null) q.minPercent = f.minPercent;
  q.sort = f.sort;
  q.order = f.order;
  q.page = f.page;
  q.pageSize = f.pageSize;
  return q;
}

/** URL search params for the page: defaults left out so links stay short; `undefined` clears a key. */
export function toSearchParams(f: PeopleFilters): Record<string, string | undefined> {
  const d = DEFAULT_FILTERS;
  return {
    search: f.search || undefined,
    status: f.status || undefined,
    plan: f.plan || undefined,
    minPercent: f.minPercent === null ? undefined : String(f.minPercent),
    sort: f.sort === d.sort ? undefined : f.sort,
    order: f.order === d.order ? undefined : f.order,
    page: f.page === 1 ? undefined : String(f.page),
    pageSize: f.pageSize === d.pageSize ? undefined : String(f.pageSize),
  };
}

/** Clicking a column: same column flips the order, a new one starts ascending (descending for numbers). */
export function nextSort(f: PeopleFilters, field: SortField): Pick<PeopleFilters, 'sort' | 'order' | 'page'> {
  if (f.sort === field) return { sort: field, order: f.order === 'asc' ? 'desc' : 'asc', page: 1 };
  return { sort: field, order: field === 'percentUsed' || field === 'credits' || field === 'createdAt' ? 'desc' : 'asc', page: 1 };
}
