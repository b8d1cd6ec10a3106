import type { Queryable } from '../db/client.js';
import { outbox } from '../db/schema/index.js';

export type OutboxKind = 'litellm.sync_budget' | 'litellm.block' | 'litellm.unblock' | 'litellm.delete' | 'mail.send';

/** Write a side effect in the caller's transaction; the worker performs it after commit. */
export async function enqueue(q: Queryable, kind: OutboxKind, aggregate: string, payload: Record<string, unknown>): Promise<void> {
  await q.insert(outbox).values({ kind, aggregate, payload });
}
