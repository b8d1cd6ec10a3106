import { and, eq, ne } from 'drizzle-orm';
import type { Deps } from '../../deps.js';
import { keys, users } from '../../db/schema/index.js';
import { conflict, notFound } from '../../lib/errors.js';
import type { Actor, RequestMeta } from '../actor.js';
import { audit } from '../audit.js';
import { retireKey } from '../keys.js';
import { enqueue } from '../outbox.js';
import { endPortalSessions } from '../portal/sessions.js';
import { getUserView, type UserView } from './view.js';

type Transition = 'suspend' | 'activate' | 'delete';

/**
 * suspend → LiteLLM /key/block; activate → /key/unblock (credits permitting, LiteLLM's own
 * budget check still applies); delete → retire the key (block, then delete in LiteLLM), keep the
 * person and ledger. The LiteLLM calls go through the outbox, in order per key. Suspension and
 * deletion end the person's portal sessions.
 */
export async function changeStatus(deps: Deps, actor: Actor, meta: RequestMeta, id: string, transition: Transition): Promise<UserView> {
  return deps.db.transaction(async (tx) => {
    const [user] = await tx.select().from(users).where(eq(users.id, id)).for('update');
    if (!user) throw notFound('person');
    if (user.status === 'deleted') throw conflict('the person is deleted');
    const before = await getUserView(tx, id);
    const now = deps.clock.now();
    const live = await tx
      .select()
      .from(keys)
      .where(and(eq(keys.userId, id), ne(keys.status, 'revoked')));

    if (transition === 'suspend') {
      await tx.update(users).set({ status: 'suspended', updatedAt: now }).where(eq(users.id, id));
      for (const k of live) await enqueue(tx, 'litellm.block', k.id, { keyId: k.id });
      await endPortalSessions(tx, id);
    } else if (transition === 'activate') {
      await tx.update(users).set({ status: 'active', updatedAt: now }).where(eq(users.id, id));
      for (const k of live) {
        await enqueue(tx, 'litellm.unblock', k.id, { keyId: k.id });
        await enqueue(tx, 'litellm.sync_budget', k.id, { keyId: k.id });
      }
    } else {
      await tx.update(users).set({ status: 'deleted', deletedAt: now, updatedAt: now }).where(eq(users.id, id));
      for (const k of live) await retireKey(tx, k, now);
      await endPortalSessions(tx, id);
    }
    const after = await getUserView(tx, id);
    await audit(tx, actor, meta, { action: `user.${transition}`, targetType: 'user', targetId: id, before, after });
    return after;
  });
}
