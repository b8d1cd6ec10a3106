import { and, eq } from 'drizzle-orm';
import type { Queryable } from '../db/client.js';
import { idempotencyRecords } from '../db/schema/index.js';
import { sha256Hex } from '../lib/crypto.js';
import { ApiError } from '../lib/errors.js';

export interface IdempotentResult<T> {
  status: number;
  body: T;
  replayed: boolean;
}

/** Stable hash of a request body (keys sorted) for "same key, same body" checks. */
export function requestHash(value: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]))
        : v;
  return sha256Hex(JSON.stringify(canonical(value)));
}

/**
 * Run `work` once per (scope, key) inside the caller's transaction. The same key with the same
 * request returns the stored result; with a different request it is a 409. A concurrent
 * duplicate waits on the unique key until the first commits, then replays. Errors are not
 * stored: the transaction rolls back and the key stays free.
 */
export async function idempotent<T>(
  tx: Queryable,
  scope: string,
  key: string,
  hash: string,
  work: () => Promise<{ status: number; body: T }>,
): Promise<IdempotentResult<T>> {
  const [claimed] = await tx
    .insert(idempotencyRecords)
    .values({ scope, key, requestHash: hash, statusCode: 0, response: {} })
    .onConflictDoNothing()
    .returning({ key: idempotencyRecords.key });
  if (!claimed) {
    const [existing] = await tx
      .select()
      .from(idempotencyRecords)
      .where(and(eq(idempotencyRecords.scope, scope), eq(idempotencyRecords.key, key)));
    if (!existing || existing.requestHash !== hash) {
      throw new ApiError('idempotency_mismatch', 'this Idempotency-Key was already used with a different request');
    }
    return { status: existing.statusCode, body: existing.response as T, replayed: true };
  }
  const result = await work();
  await tx
    .update(idempotencyRecords)
    .set({ statusCode: result.status, response: result.body as object })
    .where(and(eq(idempotencyRecords.scope, scope), eq(idempotencyRecords.key, key)));
  return { ...result, replayed: false };
}
