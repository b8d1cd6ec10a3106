import type { Deps } from '../deps.js';
import type { Queryable } from '../db/client.js';
import { ApiError, conflict } from '../lib/errors.js';
import type { Actor, RequestMeta } from './actor.js';
import { audit } from './audit.js';
import { currentFactorMicro } from './factor.js';
import { idempotent, requestHash, type IdempotentResult } from './idempotency.js';
import { postEntry } from './ledger.js';
import { afterBalanceChange } from './balance-change.js';
import { enqueue } from './outbox.js';
import { currentKey, getUserView, loadUser, type UserView } from './users/view.js';
import { milliToCredits } from './money.js';

export interface AddCreditsInput {
  userId: string;
  amountMilli: number;
  reason: string;
  idempotencyKey: string;
  /** Defaults: positive → topup, negative → adjustment. */
  kind?: 'topup' | 'adjustment' | 'refund' | 'correction';
  /** What the entry is, for statements in the reader's language (ledger_entries.reason_code). */
  reasonCode?: string;
}

export interface CreditsResult {
  entry: { id: number; kind: string; amount: number; reason: string; createdAt: string };
  user: UserView;
}

/**
 * Add (or, negative, remove) credits. They go to the top-up bucket, which carries over between
 * periods. A removal larger than the top-up bucket is refused (422) rather than clamped.
 * After commit the outbox pushes the key's new max_budget.
 */
export async function addCredits(deps: Deps, actor: Actor, meta: RequestMeta, input: AddCreditsInput): Promise<IdempotentResult<CreditsResult>> {
  return deps.db.transaction((tx) => bookCredits(tx, deps, actor, meta, input));
}

/** addCredits inside the caller's transaction (the Stripe webhook books with its event row). */
export async function bookCredits(tx: Queryable, deps: Deps, actor: Actor, meta: RequestMeta, input: AddCreditsInput): Promise<IdempotentResult<CreditsResult>> {
  const hash = requestHash({ userId: input.userId, amountMilli: input.amountMilli, reason: input.reason, kind: input.kind ?? null });
  return idempotent(tx, `credits:${input.userId}`, input.idempotencyKey, hash, async () => {
    const { user, balance } = await loadUser(tx, input.userId);
    if (user.status === 'deleted') throw conflict('credits cannot be added to a deleted person');
    const kind = input.kind ?? (input.amountMilli >= 0 ? 'topup' : 'adjustment');
    const now = deps.clock.now();
    const posted = await postEntry(tx, {
      userId: user.id,
      kind,
      monthlyMilli: 0,
      topupMilli: input.amountMilli,
      factorMicro: await currentFactorMicro(tx),
      periodStart: balance.periodStart,
      idempotencyKey: `credits:${user.id}:${input.idempotencyKey}`,
      actor: actor.label,
      reason: input.reason,
      reasonCode: input.reasonCode ?? null,
      createdAt: now,
      guardTopup: true,
    });
    // The ledger's own unique key was booked already, but the stored result is gone (retention of
    // idempotency records): refuse rather than book twice.
    if (!posted) throw new ApiError('idempotency_mismatch', 'this Idempotency-Key was already used (its stored result has expired); use a new key');
    await afterBalanceChange(tx, deps, [user.id]);
    const key = await currentKey(tx, user.id);
    if (key) await enqueue(tx, 'litellm.sync_budget', key.id, { keyId: key.id });
    const view = await getUserView(tx, user.id);
    const entry = {
      id: posted.id,
      kind,
      amount: milliToCredits(input.amountMilli),
      reason: input.reason,
      createdAt: now.toISOString(),
    };
    await audit(tx, actor, meta, {
      action: 'credits.add',
      targetType: 'user',
      targetId: user.id,
      before: { monthlyRemaining: milliToCredits(balance.monthlyMilli), topupRemaining: milliToCredits(balance.topupMilli) },
      after: { entry, balance: view.balance },
    });
    return { status: 201, body: { entry, user: view } };
  });
}
