import { createMiddleware } from 'hono/factory';
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { getConnInfo } from '@hono/node-server/conninfo';
import { randomUUID } from 'node:crypto';
import type { Deps } from '../deps.js';
import { actorFromApiToken, actorFromSession } from '../domain/auth/sessions.js';
import { requireCsrf } from './csrf.js';
import { requestIsHttps } from './cookies.js';
import { ApiError } from '../lib/errors.js';
import type { AppEnv } from './env.js';

export const SESSION_COOKIE = 'tcc_session';
export const CSRF_COOKIE = 'tcc_csrf';

/** Request id, child logger, one `request completed` line per request. */
export function requestContext(deps: Deps) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && /^[\w.-]{1,64}$/.test(incoming) ? incoming : randomUUID();
    const log = deps.log.child({ requestId });
    c.set('deps', deps);
    c.set('requestId', requestId);
    c.set('log', log);
    c.header('X-Request-Id', requestId);
    const start = performance.now();
    await next();
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && c.res.status < 400) deps.wake.outbox();
    const seconds = (performance.now() - start) / 1000;
    const route = c.req.routePath || 'unmatched';
    deps.metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
    deps.metrics.httpDuration.observe({ method: c.req.method, route }, seconds);
    log.info({ method: c.req.method, path: c.req.path, status: c.res.status, durationMs: Math.round(seconds * 10_000) / 10 }, 'request completed');
  });
}

/**
 * The caller's address. Behind TRUST_PROXY = N reverse proxies, the address the outermost trusted
 * one saw: each proxy appends the address it received the request from to X-Forwarded-For, so the
 * N-th entry from the right (anything left of it was written by the client and can be forged). With
 * fewer entries than N, the leftmost there is; without the header (or TRUST_PROXY unset), the
 * socket's peer.
 */
export function clientIp(c: Context<AppEnv>): string {
  const hops = c.get('deps')?.config.TRUST_PROXY ?? 0;
  if (hops > 0) {
    const forwarded = (c.req.header('x-forwarded-for') ?? '').split(',').map((a) => a.trim()).filter(Boolean);
    const address = forwarded[Math.max(0, forwarded.length - hops)];
    if (address) return address.slice(0, 100);
  }
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Read-only POSTs that viewers may call. */
const READ_ONLY_POSTS = new Set(['/api/settings/conversion-factor/preview', '/api/auth/logout']);
/** Where even reading needs the admin role (raw LiteLLM payloads); marked `x-admin-only` in the API document. */
const ADMIN_ONLY_PREFIXES = ['/api/dead-letters'];

/**
 * Admin API authentication: `Authorization: Bearer <API token>` or the session cookie.
 * Cookie-authenticated mutations must send the session's CSRF token in `X-CSRF-Token` (csrf.ts).
 * Viewers may read (but ADMIN_ONLY_PREFIXES); every mutation needs the admin role.
 */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const { db, clock } = c.get('deps');
  const header = c.req.header('authorization');
  const now = clock.now();
  let actor = null;
  if (header) {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (m) actor = await actorFromApiToken(db, m[1]!, now);
  } else {
    const session = getCookie(c, SESSION_COOKIE);
    if (session) {
      actor = await actorFromSession(db, session, now);
      if (actor) requireCsrf(c, session, 'admin');
    }
  }
  if (!actor) throw new ApiError('unauthorized', 'authentication required');
  c.set('actor', actor);
  await enforceRateLimit(c, `api:${actor.id}`, c.get('deps').config.RATE_LIMIT_API_PER_MINUTE);
  const isRead = ['GET', 'HEAD', 'OPTIONS'].includes(c.req.method) || READ_ONLY_POSTS.has(c.req.path);
  const adminOnly = ADMIN_ONLY_PREFIXES.some((p) => c.req.path === p || c.req.path.startsWith(`${p}/`));
  if ((!isRead || adminOnly) && actor.role !== 'admin') throw new ApiError('forbidden', 'this action needs the admin role');
  await next();
});

/**
 * PostgreSQL text cannot hold NUL: a NUL anywhere in an API request (path, query, JSON body)
 * is refused with 400 here, instead of failing in the database with a 500.
 */
export const rejectNul = createMiddleware<AppEnv>(async (c, next) => {
  let nul = /%00/.test(c.req.url);
  if (!nul && (c.req.header('content-type') ?? '').includes('json')) {
    const text = await c.req.text(); // cached: the validators read it again
    nul = text.includes('\\u0000') || text.includes('\u0000');
  }
  if (nul) throw new ApiError('validation_error', 'NUL characters (U+0000) are not accepted');
  await next();
});

/** Security headers for every response (the dashboard included); HSTS when served over https. */
export const securityHeaders = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  if (requestIsHttps(c)) c.header('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
  c.header('X-Content-Type-Options', 'nosniff');
  c.header('X-Frame-Options', 'DENY');
  c.header('Referrer-Policy', 'no-referrer');
  c.header(
    'Content-Security-Policy',
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
  );
});

/** API answers (balances, keys, statements) are never kept by browsers or shared caches. */
export const noStore = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  c.header('Cache-Control', 'no-store');
});

/** Fixed-window limit per minute; 429 with Retry-After when exceeded. */
export async function enforceRateLimit(c: Context<AppEnv>, key: string, perMinute: number): Promise<void> {
  const r = await c.get('deps').rateLimiter.hit(key, perMinute, 60);
  c.header('RateLimit-Limit', String(perMinute));
  c.header('RateLimit-Remaining', String(r.remaining));
  if (!r.allowed) {
    throw new ApiError('rate_limited', 'too many requests; slow down', undefined, { 'Retry-After': String(r.retryAfterSeconds) });
  }
}
