import type { Deps } from '../../deps.js';
import { balances, keys, users } from '../../db/schema/index.js';
import { conflict } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { periodOf } from '../../lib/period.js';
import type { Actor, RequestMeta } from '../actor.js';
import { audit } from '../audit.js';
import { currentFactorMicro } from '../factor.js';
import { postEntry } from '../ledger.js';
import { afterBalanceChange } from '../balance-change.js';
import { resolvePlan } from '../plans.js';
import { getUserView, type UserView } from './view.js';

export interface CreateUserInput {
  email: string;
  name: string;
  plan?: string;
  locale?: 'pt-BR' | 'en';
}

/**
 * Create a person with their balance, the first monthly grant (the full allowance, whatever
 * the day of the month) and a `pending` key record. The LiteLLM key is provisioned after commit
 * by the caller (domain/keys.ts), because its plaintext can only be shown once.
 */
export async function createUser(deps: Deps, actor: Actor, meta: RequestMeta, input: CreateUserInput): Promise<UserView> {
  const now = deps.clock.now();
  const period = periodOf(now, deps.config.TIMEZONE);
  const email = input.email.trim().toLowerCase();
  return deps.db.transaction(async (tx) => {
    const plan = await resolvePlan(tx, input.plan ?? 'basic');
    const id = newId('usr');
    const [user] = await tx
      .insert(users)
      .values({ id, email, name: input.name.trim(), planId: plan.id, locale: input.locale ?? 'pt-BR', createdAt: now, updatedAt: now })
      .onConflictDoNothing({ target: users.email })
      .returning();
    if (!user) throw conflict(`a person with email ${email} already exists`);
    await tx.insert(balances).values({ userId: id, periodStart: period, updatedAt: now });
    await postEntry(tx, {
      userId: id,
      kind: 'grant',
      monthlyMilli: plan.monthlyMilli,
      topupMilli: 0,
      factorMicro: await currentFactorMicro(tx),
      periodStart: period,
      idempotencyKey: `grant:${id}:${period}`,
      actor: actor.label,
      reason: `monthly allowance (${plan.slug})`,
      createdAt: now,
    });
    await afterBalanceChange(tx, deps, [id]);
    await tx.insert(keys).values({ id: newId('key'), userId: id, keyAlias: `tcc-${id}`, status: 'pending', createdAt: now, updatedAt: now });
    const view = await getUserView(tx, id);
    await audit(tx, actor, meta, { action: 'user.create', targetType: 'user', targetId: id, after: view });
    return view;
  });
}
