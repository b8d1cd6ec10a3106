import { and, desc, eq, isNull } from 'drizzle-orm';
import type { Queryable } from '../../db/client.js';
import { apiTokens, type Role } from '../../db/schema/index.js';
import { sha256Hex } from '../../lib/crypto.js';
import { notFound } from '../../lib/errors.js';
import { newId, newSecret } from '../../lib/ids.js';
import type { Actor, RequestMeta } from '../actor.js';
import { audit } from '../audit.js';

type TokenRow = typeof apiTokens.$inferSelect;

function tokenView(t: TokenRow) {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    createdBy: t.createdBy,
    createdAt: t.createdAt.toISOString(),
    lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
    revokedAt: t.revokedAt?.toISOString() ?? null,
  };
}

/** API tokens for automation: the plaintext is returned once; we keep its sha256. */
export async function createApiToken(q: Queryable, actor: Actor, meta: RequestMeta, input: { name: string; role: Role }) {
  const token = newSecret('tck');
  const [row] = await q
    .insert(apiTokens)
    .values({ id: newId('tok'), name: input.name.trim(), role: input.role, tokenHash: sha256Hex(token), createdBy: actor.label })
    .returning();
  await audit(q, actor, meta, { action: 'token.create', targetType: 'api_token', targetId: row!.id, after: tokenView(row!) });
  return { ...tokenView(row!), token };
}

export async function listApiTokens(q: Queryable) {
  return (await q.select().from(apiTokens).orderBy(desc(apiTokens.createdAt))).map(tokenView);
}

export async function revokeApiToken(q: Queryable, actor: Actor, meta: RequestMeta, id: string) {
  const [row] = await q
    .update(apiTokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
    .returning();
  if (!row) throw notFound('active API token');
  await audit(q, actor, meta, { action: 'token.revoke', targetType: 'api_token', targetId: id, after: tokenView(row) });
  return tokenView(row);
}
