import { eq } from 'drizzle-orm';
import type { Deps } from '../../deps.js';
import { users } from '../../db/schema/index.js';
import { conflict } from '../../lib/errors.js';
import type { Actor, RequestMeta } from '../actor.js';
import { audit } from '../audit.js';
import { resolvePlan } from '../plans.js';
import { getUserView, loadUser, type UserView } from './view.js';

export interface UpdateUserInput {
  name?: string;
  email?: string;
  plan?: string;
  locale?: 'pt-BR' | 'en';
}

/**
 * Edit a person. A plan change takes effect at the next period: the current period's grant
 * stands, the next rollover grants the new plan's allowance (docs/quotas.md).
 */
export async function updateUser(deps: Deps, actor: Actor, meta: RequestMeta, id: string, input: UpdateUserInput): Promise<UserView> {
  return deps.db.transaction(async (tx) => {
    const { user } = await loadUser(tx, id);
    if (user.status === 'deleted') throw conflict('a deleted person cannot be edited');
    const before = await getUserView(tx, id);
    const patch: Partial<typeof users.$inferInsert> = { updatedAt: deps.clock.now() };
    if (input.name !== undefined) patch.name = input.name.trim();
    if (input.locale !== undefined) patch.locale = input.locale;
    if (input.plan !== undefined) patch.planId = (await resolvePlan(tx, input.plan)).id;
    if (input.email !== undefined) {
      const email = input.email.trim().toLowerCase();
      const [other] = await tx.select({ id: users.id }).from(users).where(eq(users.email, email)).limit(1);
      if (other && other.id !== id) throw conflict(`a person with email ${email} already exists`);
      patch.email = email;
    }
    await tx.update(users).set(patch).where(eq(users.id, id));
    const after = await getUserView(tx, id);
    await audit(tx, actor, meta, { action: 'user.update', targetType: 'user', targetId: id, before, after });
    return after;
  });
}
