import { eq } from 'drizzle-orm';
import type { Deps } from '../deps.js';
import { anyOf, one, rows, sql, type Queryable } from '../db/client.js';
import { keys, type Key } from '../db/schema/index.js';
import { ApiError, conflict } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import type { Actor, RequestMeta } from './actor.js';
import { audit } from './audit.js';
import { currentFactorMicro } from './factor.js';
import { maxBudgetNano, nanoToUsd } from './money.js';
import { enqueue } from './outbox.js';
import { endPortalSessions } from './portal/sessions.js';
import { currentKey, keyView, loadUser } from './users/view.js';

/** What LiteLLM must enforce for this key now, from the ledger (nano-USD). */
export async function desiredBudgetNano(q: Queryable, keyId: string): Promise<number> {
  const target = (await desiredBudgetsNano(q, [keyId])).get(keyId);
  if (!target) throw new Error(`key ${keyId} has no balance`);
  return target.budgetNano;
}

export interface BudgetTarget {
  keyId: string;
  userId: string;
  tokenHash: string | null;
  status: string;
  /** max_budget the ledger allows now, nano-USD (as desiredBudgetNano). */
  budgetNano: number;
}

/** desiredBudgetNano for many keys in one query (the outbox pushes budgets in batches). */
export async function desiredBudgetsNano(q: Queryable, keyIds: string[]): Promise<Map<string, BudgetTarget>> {
  if (keyIds.length === 0) return new Map();
  const found = await rows<{ id: string; user_id: string; token_hash: string | null; status: string; spend_nano: string; remaining: string }>(
    q,
    sql`select k.id, k.user_id, k.token_hash, k.status, k.spend_nano, (b.monthly_milli + b.topup_milli) as remaining
        from keys k join balances b on b.user_id = k.user_id
        where k.id = ${anyOf(keyIds)}`,
  );
  const factor = await currentFactorMicro(q);
  return new Map(found.map((r) => [r.id, {
    keyId: r.id, userId: r.user_id, tokenHash: r.token_hash, status: r.status,
    budgetNano: maxBudgetNano(Number(r.spend_nano), Number(r.remaining), factor),
  }]));
}

function hintOf(plaintext: string): string {
  return `${plaintext.slice(0, 3)}…${plaintext.slice(-4)}`;
}

/**
 * Generate the LiteLLM key for a `pending` key row and record its hash. Returns the plaintext,
 * which is never stored. Without LiteLLM configured, or when LiteLLM fails, the row stays
 * pending (a later rotate provisions it) and null is returned.
 */
export async function provisionKey(deps: Deps, key: Key): Promise<string | null> {
  if (!deps.litellm) return null;
  const { user } = await loadUser(deps.db, key.userId);
  try {
    const budget = await desiredBudgetNano(deps.db, key.id);
    const generated = await deps.litellm.generateKey({
      keyAlias: key.keyAlias,
      userId: user.id,
      maxBudgetUsd: nanoToUsd(budget),
      blocked: user.status === 'suspended',
      metadata: { companion_user_id: user.id, companion_key_id: key.id },
    });
    const now = deps.clock.now();
    await deps.db
      .update(keys)
      .set({ tokenHash: generated.token, keyHint: hintOf(generated.key), status: 'active', pushedBudgetNano: budget, pushedAt: now, updatedAt: now })
      .where(eq(keys.id, key.id));
    return generated.key;
  } catch (err) {
    deps.log.warn({ err: (err as Error).message, keyId: key.id }, 'key provisioning failed; key stays pending');
    return null;
  }
}

/**
 * Take a key out of service: revoked at once on our side; in LiteLLM, through the outbox in this
 * order for the key, first blocked, then deleted. A delete that keeps failing (and goes dead) thus
 * leaves a blocked key behind, never one with a budget (LiteLLM's auth refuses a key with `blocked`
 * set before any budget check: pinned 1.103.7 proxy/auth/user_api_key_auth.py:
 * _user_api_key_auth_builder, "Key is blocked").
 */
export async function retireKey(tx: Queryable, key: Key, now: Date): Promise<void> {
  await tx.update(keys).set({ status: 'revoked', revokedAt: now, updatedAt: now }).where(eq(keys.id, key.id));
  if (!key.tokenHash) return;
  await enqueue(tx, 'litellm.block', key.id, { keyId: key.id });
  await enqueue(tx, 'litellm.delete', key.id, { keyId: key.id });
}

/**
 * Rotate: generate a new key, then retire the old one (LiteLLM's regenerate is enterprise-only).
 * Every portal session of the person ends (one opened with a leaked key must not outlive it),
 * except `keepPortalSession`: the one the person rotated from.
 */
export async function rotateKey(deps: Deps, actor: Actor, meta: RequestMeta, userId: string, opts: { keepPortalSession?: string } = {}) {
  if (!deps.litellm) throw new ApiError('dependency_unavailable', 'LiteLLM is not configured (LITELLM_URL)');
  const { user } = await loadUser(deps.db, userId);
  if (user.status === 'deleted') throw conflict('the person is deleted');
  const now = deps.clock.now();
  const old = await currentKey(deps.db, userId);
  const [fresh] = await deps.db
    .insert(keys)
    .values({ id: newId('key'), userId, keyAlias: `tcc-${userId}-${now.getTime().toString(36)}`, status: 'pending', createdAt: now, updatedAt: now })
    .returning();
  const plaintext = await provisionKey(deps, fresh!);
  if (!plaintext) {
    await deps.db.update(keys).set({ status: 'revoked', revokedAt: now }).where(eq(keys.id, fresh!.id));
    throw new ApiError('dependency_unavailable', 'LiteLLM did not generate the new key; the old key still works');
  }
  const view = await deps.db.transaction(async (tx) => {
    if (old) await retireKey(tx, old, now);
    await endPortalSessions(tx, userId, { keep: opts.keepPortalSession });
    const [row] = await tx.select().from(keys).where(eq(keys.id, fresh!.id));
    const v = keyView(row);
    await audit(tx, actor, meta, { action: 'key.rotate', targetType: 'user', targetId: userId, before: keyView(old), after: v });
    return v!;
  });
  return { ...view, plaintext };
}
