import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { createMiddleware } from 'hono/factory';
import { OpenAPIHono } from '@hono/zod-openapi';
import { personFromPortalSession, type PortalPerson } from '../domain/portal/sessions.js';
import { requireCsrf } from './csrf.js';
import { ApiError } from '../lib/errors.js';
import type { AppEnv } from './env.js';
import { validationError } from './errors.js';
import { enforceRateLimit } from './middleware.js';

/** Portal cookies: a different realm from the admin session (tcc_session / tcc_csrf). */
export const PORTAL_COOKIE = 'tcc_portal';
export const PORTAL_CSRF_COOKIE = 'tcc_portal_csrf';
/** The session cookie is only sent to the portal API; the CSRF cookie must be readable by /me pages. */
export const PORTAL_COOKIE_PATH = '/api/portal';

export interface PortalEnv {
  Variables: AppEnv['Variables'] & { person: PortalPerson };
}

export function createPortalRouter() {
  return new OpenAPIHono<PortalEnv>({
    defaultHook: (result, c) => {
      if (!result.success) return validationError(c, result.error);
    },
  });
}

/**
 * Portal authentication: only the portal session cookie counts (an admin session or API token is
 * not a portal session). Mutations must send the session's CSRF token (csrf.ts).
 */
export const authenticatePortal = createMiddleware<PortalEnv>(async (c, next) => {
  const { db, clock, config } = c.get('deps');
  const token = getCookie(c, PORTAL_COOKIE);
  const person = token ? await personFromPortalSession(db, token, clock.now()) : null;
  if (!person || !token) throw new ApiError('unauthorized', 'sign in to the portal first');
  requireCsrf(c, token, 'portal');
  c.set('person', person);
  await enforceRateLimit(c as unknown as Context<AppEnv>, `portal:${person.userId}`, config.RATE_LIMIT_API_PER_MINUTE);
  await next();
});

export { secureCookies } from './cookies.js';

/**
 * The origin for links we send out: PUBLIC_URL, else this request's (forwarded headers only behind
 * TRUST_PROXY). In production a link is never built from request headers: without PUBLIC_URL,
 * sign-in links and checkouts answer 503 naming the variable.
 */
export function publicOrigin(c: Context): string {
  const config = (c.get('deps') as AppEnv['Variables']['deps']).config;
  if (config.PUBLIC_URL) return config.PUBLIC_URL.replace(/\/$/, '');
  if (config.NODE_ENV === 'production') {
    throw new ApiError('dependency_unavailable', 'PUBLIC_URL is not configured: this server does not send links (set PUBLIC_URL to its public origin)');
  }
  const url = new URL(c.req.url);
  if (config.TRUST_PROXY) {
    const proto = c.req.header('x-forwarded-proto')?.split(',')[0]?.trim();
    const host = c.req.header('x-forwarded-host')?.split(',')[0]?.trim();
    if (proto && /^https?$/.test(proto)) url.protocol = `${proto}:`;
    if (host) url.host = host;
  }
  return url.origin;
}
