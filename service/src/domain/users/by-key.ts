import { and, eq, ne } from 'drizzle-orm';
import type { Deps } from '../../deps.js';
import { keys } from '../../db/schema/index.js';
import { notFound } from '../../lib/errors.js';
import { personState } from '../balance.js';
import { howToGetMore, quotaFacts } from './quota.js';
import { loadUser } from './view.js';

/**
 * What LiteLLM's callback needs to explain a refused chat to the person who owns a key: their
 * language, status and quota facts, and how to get more. Nothing else about them (no name, no
 * email): the caller holds only the webhook secret. Revoked keys and deleted people are unknown.
 */
export async function personForKeyHash(deps: Deps, keyHash: string) {
  const [key] = await deps.db
    .select({ userId: keys.userId })
    .from(keys)
    .where(and(eq(keys.tokenHash, keyHash), ne(keys.status, 'revoked')))
    .limit(1);
  if (!key) throw notFound('key');
  const { user, plan, balance } = await loadUser(deps.db, key.userId);
  if (user.status === 'deleted') throw notFound('key');
  return {
    person: { locale: user.locale, status: user.status, state: personState(user, balance) },
    quota: quotaFacts(plan, balance, deps.config.TIMEZONE),
    getMore: howToGetMore(deps.config, Boolean(deps.stripe)),
  };
}
