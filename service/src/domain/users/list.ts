import { and, asc, desc, eq, ilike, ne, or, sql, type SQL } from 'drizzle-orm';
import type { Queryable } from '../../db/client.js';
import { balances, keys, plans, users } from '../../db/schema/index.js';
import type { PersonState } from '../balance.js';
import { userView, type UserView } from './view.js';

export interface ListUsersInput {
  search?: string;
  status?: PersonState;
  plan?: string;
  /** Only people at or above this percent used. */
  minPercent?: number;
  sort?: 'name' | 'email' | 'createdAt' | 'percentUsed' | 'credits';
  order?: 'asc' | 'desc';
  page: number;
  pageSize: number;
}

const remaining = sql`(${balances.monthlyMilli} + ${balances.topupMilli})`;
const percentUsed = sql`case when ${remaining} <= 0 then 1.0
  else ${balances.periodUsedMilli}::float8 / (${balances.periodUsedMilli} + ${remaining}) end`;

function stateFilter(state: PersonState): SQL {
  switch (state) {
    case 'deleted':
    case 'suspended':
      return eq(users.status, state);
    case 'active':
      return and(eq(users.status, 'active'), eq(balances.creditState, 'ok'))!;
    case 'warned':
    case 'blocked':
      return and(eq(users.status, 'active'), eq(balances.creditState, state))!;
  }
}

export async function listUsers(q: Queryable, input: ListUsersInput): Promise<{ items: UserView[]; total: number; page: number; pageSize: number }> {
  const filters: SQL[] = [];
  // The count joins plans/balances only when a filter needs them (at 100k people this matters).
  const needsBalance = (input.status !== undefined && input.status !== 'deleted' && input.status !== 'suspended') || input.minPercent !== undefined;
  if (input.status) filters.push(stateFilter(input.status));
  else filters.push(ne(users.status, 'deleted'));
  if (input.search) {
    const like = `%${input.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    filters.push(or(ilike(users.email, like), ilike(users.name, like), eq(users.id, input.search))!);
  }
  if (input.plan) filters.push(input.plan.startsWith('pln_') ? eq(plans.id, input.plan) : eq(plans.slug, input.plan));
  if (input.minPercent !== undefined) filters.push(sql`${percentUsed} * 100 >= ${input.minPercent}`);
  const where = and(...filters);

  const sortColumn = {
    name: users.name,
    email: users.email,
    createdAt: users.createdAt,
    percentUsed,
    credits: remaining,
  }[input.sort ?? 'createdAt'];
  const direction = (input.order ?? (input.sort === 'name' || input.sort === 'email' ? 'asc' : 'desc')) === 'asc' ? asc : desc;

  const base = q
    .select({ user: users, plan: plans, balance: balances })
    .from(users)
    .innerJoin(plans, eq(plans.id, users.planId))
    .innerJoin(balances, eq(balances.userId, users.id))
    .where(where);
  const [page, [count]] = await Promise.all([
    base
      .orderBy(direction(sortColumn), direction(users.id)) // same direction: the (created_at, id) index serves it
      .limit(input.pageSize)
      .offset((input.page - 1) * input.pageSize),
    (() => {
      let count = q.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(users).$dynamic();
      if (input.plan) count = count.innerJoin(plans, eq(plans.id, users.planId));
      if (needsBalance) count = count.innerJoin(balances, eq(balances.userId, users.id));
      return count.where(where);
    })(),
  ]);

  const ids = page.map((r) => r.user.id);
  const keyRows = ids.length
    ? await q
        .select()
        .from(keys)
        .where(and(sql`${keys.userId} in ${ids}`, ne(keys.status, 'revoked')))
        .orderBy(asc(keys.createdAt))
    : [];
  const keyByUser = new Map(keyRows.map((k) => [k.userId, k])); // newest wins
  return {
    items: page.map((r) => userView(r.user, r.plan, r.balance, keyByUser.get(r.user.id))),
    total: count?.n ?? 0,
    page: input.page,
    pageSize: input.pageSize,
  };
}
