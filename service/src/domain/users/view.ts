import { and, desc, eq, ne } from 'drizzle-orm';
import type { Queryable } from '../../db/client.js';
import { balances, keys, plans, users, type Balance, type Key, type Plan, type User } from '../../db/schema/index.js';
import { notFound } from '../../lib/errors.js';
import { balanceView } from '../balance.js';
import { milliToCredits } from '../money.js';

export function keyView(k: Key | undefined) {
  if (!k) return null;
  return {
    id: k.id,
    alias: k.keyAlias,
    status: k.status,
    hint: k.keyHint,
    spendUsd: k.spendNano / 1e9,
    createdAt: k.createdAt.toISOString(),
  };
}

export function userView(u: User, plan: Plan, b: Balance, k?: Key) {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    status: u.status,
    locale: u.locale,
    plan: { id: plan.id, slug: plan.slug, name: plan.name, monthlyCredits: milliToCredits(plan.monthlyMilli) },
    balance: balanceView(u, b),
    key: keyView(k),
    createdAt: u.createdAt.toISOString(),
    updatedAt: u.updatedAt.toISOString(),
  };
}
export type UserView = ReturnType<typeof userView>;

/** The person's current key: the newest one that is not revoked. */
export async function currentKey(q: Queryable, userId: string): Promise<Key | undefined> {
  const [k] = await q
    .select()
    .from(keys)
    .where(and(eq(keys.userId, userId), ne(keys.status, 'revoked')))
    .orderBy(desc(keys.createdAt))
    .limit(1);
  return k;
}

export async function loadUser(q: Queryable, id: string): Promise<{ user: User; plan: Plan; balance: Balance }> {
  const [row] = await q
    .select({ user: users, plan: plans, balance: balances })
    .from(users)
    .innerJoin(plans, eq(plans.id, users.planId))
    .innerJoin(balances, eq(balances.userId, users.id))
    .where(eq(users.id, id))
    .limit(1);
  if (!row) throw notFound('person');
  return row;
}

export async function getUserView(q: Queryable, id: string): Promise<UserView> {
  const { user, plan, balance } = await loadUser(q, id);
  return userView(user, plan, balance, await currentKey(q, id));
}
