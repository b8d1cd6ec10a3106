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

/** Attempts per client address (any account), per window. */
const LOGIN_LIMIT_PER_IP = 20;
/** Failed passwords for one account from one address, per window: then that address waits. */
const LOGIN_FAILURES_PER_ACCOUNT_ADDRESS = 5;
/**
 * Failed passwords for one account from all addresses, per window: then the account is under
 * attack and every address that has failed for it waits too — but not an address that has not
 * failed, so a distributed guesser cannot lock the real admin out.
 */
const LOGIN_FAILURES_PER_ACCOUNT = 50;
const LOGIN_WINDOW_SECONDS = 15 * 60;

function tooMany(retryAfterSeconds: number): ApiError {
  return new ApiError('rate_limited', 'too many login attempts; try again later', undefined, { 'Retry-After': String(retryAfterSeconds) });
}

/**
 * The login limits (docs/operations.md): per address, every attempt; per (account, address) and per
 * account, failed ones only. Returns what to count when the password turns out wrong.
 */
async function checkLoginLimits(deps: Deps, account: string, ip: string) {
  const perIp = await deps.rateLimiter.hit(`login:ip:${ip}`, LOGIN_LIMIT_PER_IP, LOGIN_WINDOW_SECONDS);
  if (!perIp.allowed) throw tooMany(perIp.retryAfterSeconds);
  const pairKey = `login:fail:${account}:${ip}`;
  const accountKey = `login:fail:${account}`;
  const pair = await deps.rateLimiter.peek(pairKey);
  if (pair.count >= LOGIN_FAILURES_PER_ACCOUNT_ADDRESS) throw tooMany(pair.retryAfterSeconds);
  if (pair.count > 0) {
    const all = await deps.rateLimiter.peek(accountKey);
    if (all.count >= LOGIN_FAILURES_PER_ACCOUNT) throw tooMany(all.retryAfterSeconds);
  }
  return {
    failed: async () => {
      await deps.rateLimiter.hit(pairKey, LOGIN_FAILURES_PER_ACCOUNT_ADDRESS, LOGIN_WINDOW_SECONDS);
      await deps.rateLimiter.hit(accountKey, LOGIN_FAILURES_PER_ACCOUNT, LOGIN_WINDOW_SECONDS);
    },
    succeeded: () => deps.rateLimiter.reset(pairKey),
  };
}

/**
 * Password login → a session token (for the httpOnly cookie). Rate limited per address and, for
 * failures, per account and address and per account (checkLoginLimits); the same timing and
 * message whether the account exists or not; failures audited.
 */
export async function login(deps: Deps, meta: RequestMeta, email: string, password: string) {
  const account = email.trim().toLowerCase();
  const limits = await checkLoginLimits(deps, account, meta.ip ?? 'unknown');
  const admin = await findAdminByEmail(deps.db, account);
  const ok = await verifyPassword(password, admin?.passwordHash ?? DUMMY_PASSWORD_HASH);
  if (!admin || !ok || admin.disabled) {
    await limits.failed();
    await audit(deps.db, account || 'unknown', meta, { action: 'auth.login_failed', targetType: 'admin', targetId: admin?.id });
    throw new ApiError('unauthorized', 'wrong email or password');
  }
  await limits.succeeded();
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
