import type { Queryable } from '../db/client.js';
import { auditLog } from '../db/schema/index.js';
import type { Actor, RequestMeta } from './actor.js';

export interface AuditInput {
  action: string;
  targetType?: string;
  targetId?: string;
  before?: unknown;
  after?: unknown;
}

/** Every mutation writes one audit row, in the same transaction as the change. */
export async function audit(q: Queryable, actor: Actor | string, meta: RequestMeta, input: AuditInput): Promise<void> {
  await q.insert(auditLog).values({
    actor: typeof actor === 'string' ? actor : actor.label,
    action: input.action,
    targetType: input.targetType,
    targetId: input.targetId,
    before: input.before ?? null,
    after: input.after ?? null,
    requestId: meta.requestId,
    ip: meta.ip,
  });
}
