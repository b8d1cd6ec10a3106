import { createHmac } from 'node:crypto';
import type { Context } from 'hono';
import { safeEqual } from '../lib/crypto.js';
import { ApiError } from '../lib/errors.js';

export type CsrfRealm = 'admin' | 'portal';

/**
 * The CSRF token of a session: an HMAC keyed by the session's secret cookie value. It is bound to
 * that one session (a token from another session, or a cookie pair planted by a sibling site, does
 * not pass), needs no server-side storage and is the same on every replica.
 */
export function csrfTokenFor(sessionToken: string, realm: CsrfRealm): string {
  return createHmac('sha256', sessionToken).update(`csrf:${realm}:v1`).digest('base64url');
}

/** Cookie-authenticated mutations must send the session's CSRF token in X-CSRF-Token. */
export function requireCsrf(c: Context, sessionToken: string, realm: CsrfRealm): void {
  if (['GET', 'HEAD', 'OPTIONS'].includes(c.req.method)) return;
  const sent = c.req.header('x-csrf-token') ?? '';
  if (!sent || !safeEqual(sent, csrfTokenFor(sessionToken, realm))) throw new ApiError('forbidden', 'missing or wrong X-CSRF-Token header');
}
