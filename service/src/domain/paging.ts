import { sql, type SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { Queryable } from '../db/client.js';

export interface PageInput {
  page: number;
  pageSize: number;
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
}

/** Fetch one page and the total count together, and map the rows. */
export async function paged<R, T>(
  input: PageInput,
  fetch: (limit: number, offset: number) => Promise<R[]>,
  count: () => Promise<number>,
  map: (row: R) => T,
): Promise<Page<T>> {
  const [rows, total] = await Promise.all([fetch(input.pageSize, (input.page - 1) * input.pageSize), count()]);
  return { items: rows.map(map), total, page: input.page, pageSize: input.pageSize };
}

export async function countWhere(q: Queryable, table: PgTable, where: SQL | undefined): Promise<number> {
  const [r] = await q.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(table).where(where);
  return r?.n ?? 0;
}
