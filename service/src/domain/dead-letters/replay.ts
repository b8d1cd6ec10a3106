import { and, desc, eq, isNotNull, isNull, type SQL } from 'drizzle-orm';
import type { Deps } from '../../deps.js';
import type { Queryable } from '../../db/client.js';
import { deadLetters } from '../../db/schema/index.js';
import { ApiError, conflict, notFound } from '../../lib/errors.js';
import type { Actor, RequestMeta } from '../actor.js';
import { audit } from '../audit.js';
import { countWhere, paged } from '../paging.js';
import { bookUsage, prepareUsage } from '../usage/ingest.js';
import { countUnpriced } from '../../lib/metrics.js';

type DeadLetter = typeof deadLetters.$inferSelect;

export function deadLetterView(d: DeadLetter) {
  return {
    id: d.id,
    source: d.source,
    reason: d.reason,
    payload: d.payload,
    createdAt: d.createdAt.toISOString(),
    replayedAt: d.replayedAt?.toISOString() ?? null,
    replayedBy: d.replayedBy,
    replayOutcome: d.replayOutcome,
  };
}

/** Dead letters newest first: `open` (not replayed), `replayed`, or all. */
export async function listDeadLetters(q: Queryable, input: { status: 'open' | 'replayed' | 'all'; page: number; pageSize: number }) {
  const where: SQL | undefined = input.status === 'open' ? isNull(deadLetters.replayedAt) : input.status === 'replayed' ? isNotNull(deadLetters.replayedAt) : undefined;
  return paged(
    input,
    (limit, offset) => q.select().from(deadLetters).where(where).orderBy(desc(deadLetters.id)).limit(limit).offset(offset),
    () => countWhere(q, deadLetters, where),
    deadLetterView,
  );
}

/**
 * Replay one dead letter after a fix (a parser that now understands it, a key that now exists):
 * the stored item is parsed again with today's rules and booked through the normal ingestion path.
 * Booking is idempotent (the event's dedup key), so a replay that crashed before it was marked, or
 * two admins pressing the button at once, books the call once. An item that is still refused is
 * left open and answered 422 with today's reason.
 */
export async function replayDeadLetter(deps: Deps, actor: Actor, meta: RequestMeta, id: number) {
  const [letter] = await deps.db.select().from(deadLetters).where(eq(deadLetters.id, id));
  if (!letter) throw notFound('dead letter');
  if (letter.replayedAt) throw conflict('this dead letter was already replayed');
  let raw: unknown;
  try {
    raw = JSON.parse(letter.payload);
  } catch {
    throw new ApiError('unprocessable', 'the stored item is not complete JSON (it was not JSON, or it was cut at 64 KiB): it cannot be replayed');
  }
  const batch = prepareUsage([raw]);
  const still = batch.dead[0];
  if (still) throw new ApiError('unprocessable', `still refused: ${still.reason}`);
  const counts = await bookUsage(deps, batch, { source: letter.source });
  const outcome = counts.accepted ? 'accepted' : counts.unattributed ? 'unattributed' : counts.duplicate ? 'duplicate' : 'rejected';
  const [updated] = await deps.db
    .update(deadLetters)
    .set({ replayedAt: deps.clock.now(), replayedBy: actor.label, replayOutcome: outcome })
    .where(and(eq(deadLetters.id, id), isNull(deadLetters.replayedAt)))
    .returning();
  await audit(deps.db, actor, meta, { action: 'dead_letter.replay', targetType: 'dead_letter', targetId: String(id), after: { outcome } });
  const { alertsFired: _a, unpriced, ...result } = counts;
  countUnpriced(deps.metrics, unpriced);
  return { deadLetter: deadLetterView(updated ?? letter), result };
}
