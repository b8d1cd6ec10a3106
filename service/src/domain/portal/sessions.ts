import { and, eq, gt, isNull, lt, ne } from 'drizzle-orm';
import type { Deps } from '../../deps.js';
import type { Db, Queryable } from '../../db/client.js';
import { keys, mailLog, portalLoginTokens, portalSessions, users } from '../../db/schema/index.js';
import { sha256Hex } from '../../lib/crypto.js';
import { ApiError } from '../../lib/errors.js';
import { newSecret } from '../../lib/ids.js';
import type { RequestMeta } from '../actor.js';
import { audit } from '../audit.js';
import { enqueue } from '../outbox.js';
import { loginMail } from './mail.js';

export const LINK_TTL_MINUTES = 15;
const WINDOW_SECONDS = 15 * 60;
const LIMITS = { perEmail: 5, perIp: 20, keyPerIp: 10, tokenPerIp: 20 };

/** Who a portal session belongs to: one person, never an admin. */
export interface PortalPerson {
  userId: string;
  via: 'email' | 'key';
}

async function limit(deps: Deps, key: string, max: number) {
  const r = await deps.rateLimiter.hit(key, max, WINDOW_SECONDS);
  if (!r.allowed) throw new ApiError('rate_limited', 'too many sign-in attempts; try again later', undefined, { 'Retry-After': String(r.retryAfterSeconds) });
}

/**
 * Email a one-time sign-in link. Always the same answer, and the same work before it, for every
 * address (no account enumeration, by the answer or by its timing): only the rate limits run
 * before the caller is answered; looking the address up and queueing the mail happen after, in
 * `queueLoginLink` (the returned promise, which callers do not wait for).
 */
export async function requestLoginLink(deps: Deps, meta: RequestMeta, email: string, origin: string): Promise<{ queued: Promise<void> }> {
  const address = email.trim().toLowerCase();
  await limit(deps, `portal:link:ip:${meta.ip ?? 'unknown'}`, LIMITS.perIp);
  await limit(deps, `portal:link:email:${address}`, LIMITS.perEmail);
  const queued = queueLoginLink(deps, meta, address, origin).catch((err) => {
    deps.log.error({ err: (err as Error).message, requestId: meta.requestId }, 'queueing a sign-in link failed');
  });
  return { queued };
}

export const REDACTED_LINK_TOKEN = '[redacted]';

/**
 * Unknown or deleted addresses get nothing. Known ones get a mail log row whose link is redacted,
 * and (with Resend) an outbox item that mints the token only when it sends the mail
 * (`loginMailAtSend`): the usable link exists only in the email itself, never in the database,
 * where only the token's sha256 is kept. Without Resend nothing is sent, so no token is made.
 */
async function queueLoginLink(deps: Deps, meta: RequestMeta, address: string, origin: string): Promise<void> {
  const [user] = await deps.db.select().from(users).where(and(eq(users.email, address), ne(users.status, 'deleted')));
  if (!user) return;
  const now = deps.clock.now();
  const content = loginMail({ locale: user.locale, name: user.name, link: loginLink(origin, REDACTED_LINK_TOKEN), minutes: LINK_TTL_MINUTES });
  const sendMail = Boolean(deps.config.RESEND_API_KEY);
  await deps.db.transaction(async (tx) => {
    const [mail] = await tx
      .insert(mailLog)
      .values({ userId: user.id, to: user.email, subject: content.subject, template: 'portal_login', locale: user.locale, text: content.text, html: content.html, status: sendMail ? 'queued' : 'logged', createdAt: now })
      .returning({ id: mailLog.id });
    if (sendMail) await enqueue(tx, 'mail.send', `mail:${mail!.id}`, { mailId: mail!.id, loginOrigin: origin });
    await audit(tx, `portal:${user.email}`, meta, { action: sendMail ? 'portal.link_sent' : 'portal.link_not_sent', targetType: 'user', targetId: user.id });
  });
}

const loginLink = (origin: string, token: string) => `${origin}/me/login?token=${token === REDACTED_LINK_TOKEN ? token : encodeURIComponent(token)}`;

/**
 * The sign-in mail as it is sent: a fresh single-use token (15 minutes from now, its hash stored)
 * in the link. Called by the outbox worker right before the send; null when the person is gone.
 */
export async function loginMailAtSend(deps: Pick<Deps, 'db' | 'clock'>, userId: string, origin: string) {
  const [user] = await deps.db.select().from(users).where(and(eq(users.id, userId), ne(users.status, 'deleted')));
  if (!user) return null;
  const token = newSecret('tcm');
  const now = deps.clock.now();
  await deps.db.transaction(async (tx) => {
    await tx.delete(portalLoginTokens).where(lt(portalLoginTokens.expiresAt, now));
    await tx.insert(portalLoginTokens).values({ tokenHash: sha256Hex(token), userId, expiresAt: new Date(now.getTime() + LINK_TTL_MINUTES * 60_000), createdAt: now });
  });
  return loginMail({ locale: user.locale, name: user.name, link: loginLink(origin, token), minutes: LINK_TTL_MINUTES });
}

/** Redeem a link: one atomic UPDATE marks it used, so a second use (or a race) gets 401. */
export async function redeemLoginLink(deps: Deps, meta: RequestMeta, token: string) {
  await limit(deps, `portal:token:ip:${meta.ip ?? 'unknown'}`, LIMITS.tokenPerIp);
  const now = deps.clock.now();
  const [row] = await deps.db
    .update(portalLoginTokens)
    .set({ usedAt: now })
    .where(and(eq(portalLoginTokens.tokenHash, sha256Hex(token)), isNull(portalLoginTokens.usedAt), gt(portalLoginTokens.expiresAt, now)))
    .returning({ userId: portalLoginTokens.userId });
  if (!row) throw new ApiError('unauthorized', 'this sign-in link is invalid, expired or already used; ask for a new one');
  return createSession(deps, meta, row.userId, 'email');
}

/**
 * Sign in with one's own LiteLLM key: sha256(key) is looked up among non-revoked keys (the key is
 * never stored or logged). The lookup is by hash, so timing reveals nothing about the key.
 */
export async function loginWithKey(deps: Deps, meta: RequestMeta, key: string) {
  await limit(deps, `portal:key:ip:${meta.ip ?? 'unknown'}`, LIMITS.keyPerIp);
  const [row] = await deps.db
    .select({ userId: keys.userId })
    .from(keys)
    .innerJoin(users, eq(users.id, keys.userId))
    .where(and(eq(keys.tokenHash, sha256Hex(key.trim())), ne(keys.status, 'revoked'), ne(users.status, 'deleted')))
    .limit(1);
  if (!row) throw new ApiError('unauthorized', 'this key is unknown or no longer valid');
  return createSession(deps, meta, row.userId, 'key');
}

async function createSession(deps: Deps, meta: RequestMeta, userId: string, via: 'email' | 'key') {
  const token = newSecret('tcp');
  const now = deps.clock.now();
  const expiresAt = new Date(now.getTime() + deps.config.SESSION_TTL_HOURS * 3600_000);
  await deps.db.transaction(async (tx) => {
    await tx.delete(portalSessions).where(lt(portalSessions.expiresAt, now));
    await tx.insert(portalSessions).values({ idHash: sha256Hex(token), userId, via, createdAt: now, expiresAt });
    await audit(tx, `portal:${userId}`, meta, { action: `portal.login_${via}`, targetType: 'user', targetId: userId });
  });
  return { token, expiresAt };
}

export async function personFromPortalSession(db: Db, token: string, now: Date): Promise<PortalPerson | null> {
  const [row] = await db
    .select({ userId: portalSessions.userId, via: portalSessions.via, status: users.status })
    .from(portalSessions)
    .innerJoin(users, eq(users.id, portalSessions.userId))
    .where(and(eq(portalSessions.idHash, sha256Hex(token)), gt(portalSessions.expiresAt, now)))
    .limit(1);
  if (!row || row.status === 'deleted') return null;
  return { userId: row.userId, via: row.via };
}

/**
 * End every portal session of a person (and their unused sign-in links), but `keep` (a session
 * cookie value): on key rotation, revocation, suspension and deletion.
 */
export async function endPortalSessions(q: Queryable, userId: string, opts: { keep?: string } = {}): Promise<void> {
  const keep = opts.keep ? sha256Hex(opts.keep) : null;
  await q.delete(portalSessions).where(and(eq(portalSessions.userId, userId), keep ? ne(portalSessions.idHash, keep) : undefined));
  await q.delete(portalLoginTokens).where(and(eq(portalLoginTokens.userId, userId), isNull(portalLoginTokens.usedAt)));
}

export async function logoutPortal(db: Db, token: string): Promise<void> {
  await db.delete(portalSessions).where(eq(portalSessions.idHash, sha256Hex(token)));
}
