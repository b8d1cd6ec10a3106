import { and, eq, gt, isNull, lt } from 'drizzle-orm';
import type { Deps } from '../../deps.js';
import type { Db } from '../../db/client.js';
import { admins, apiTokens, sessions } from '../../db/schema/index.js';
import { DUMMY_PASSWORD_HASH, sha256Hex, verifyPassword } from '../../lib/crypto.js';
import { ApiError } from '../../lib/errors.js';
import { newSecret } from '../../lib/ids.js';
import type { Actor, RequestMeta } from '../actor.js';
import { audit } from '../audit.js';
import { adminView, findAdminByEmail } from './admins.js';

const LOGIN_LIMIT_PER_ACCOUNT = 5;
const LOGIN_LIMIT_PER_IP = 20;
const LOGIN_WINDOW_SECONDS = 15 * 60;

/**
 * Password login → a session token (for the httpOnly cookie). Rate limited per account and per
 * IP; the same timing and message whether the account exists or not; failures audited.
 */
export async function login(deps: Deps, meta: RequestMeta, email: string, password: string) {
  const account = email.trim().toLowerCase();
  for (const [key, limit] of [
    [`login:acct:${account}`, LOGIN_LIMIT_PER_ACCOUNT],
    [`login:ip:${meta.ip ?? 'unknown'}`, LOGIN_LIMIT_PER_IP],
  ] as const) {
    const r = await deps.rateLimiter.hit(key, limit, LOGIN_WINDOW_SECONDS);
    if (!r.allowed) {
      throw new ApiError('rate_limited', 'too many login attempts; try again later', undefined, { 'Retry-After': String(r.retryAfterSeconds) });
    }
  }
  const admin = await findAdminByEmail(deps.db, account);
  const ok = await verifyPassword(password, admin?.passwordHash ?? DUMMY_PASSWORD_HASH);
  if (!admin || !ok || admin.disabled) {
    await audit(deps.db, account || 'unknown', meta, { action: 'auth.login_failed', targetType: 'admin', targetId: admin?.id });
    throw new ApiError('unauthorized', 'wrong email or password');
  }
  await deps.rateLimiter.reset(`login:acct:${account}`);
  const token = newSecret('tcs');
  const now = deps.clock.now();
  await deps.db.transaction(async (tx) => {
    await tx.insert(sessions).values({
      idHash: sha256Hex(token),
      adminId: admin.id,
      createdAt: now,
      expiresAt: new Date(now.getTime() + deps.config.SESSION_TTL_HOURS * 3600_000),
    });
    await tx.update(admins).set({ lastLoginAt: now }).where(eq(admins.id, admin.id));
    await tx.delete(sessions).where(lt(sessions.expiresAt, now));
    await audit(tx, admin.email, meta, { action: 'auth.login', targetType: 'admin', targetId: admin.id });
  });
  return { token, admin: adminView(admin), expiresAt: new Date(now.getTime() + deps.config.SESSION_TTL_HOURS * 3600_000) };
}

export async function logout(db: Db, token: string): Promise<void> {
  await db.delete(sessions).where(eq(sessions.idHash, sha256Hex(token)));
}

export async function actorFromSession(db: Db, token: string, now: Date): Promise<Actor | null> {
  const [row] = await db
    .select({ admin: admins })
    .from(sessions)
    .innerJoin(admins, eq(admins.id, sessions.adminId))
    .where(and(eq(sessions.idHash, sha256Hex(token)), gt(sessions.expiresAt, now)))
    .limit(1);
  if (!row || row.admin.disabled) return null;
  return { id: row.admin.id, label: row.admin.email, role: row.admin.role, via: 'session' };
}

export async function actorFromApiToken(db: Db, token: string, now: Date): Promise<Actor | null> {
  const [row] = await db
    .update(apiTokens)
    .set({ lastUsedAt: now })
    .where(and(eq(apiTokens.tokenHash, sha256Hex(token)), isNull(apiTokens.revokedAt)))
    .returning();
  if (!row) return null;
  return { id: row.id, label: `token:${row.name}`, role: row.role, via: 'token' };
}
