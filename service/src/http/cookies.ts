import { deleteCookie, getCookie } from 'hono/cookie';
import type { Context } from 'hono';
import type { AppEnv } from './env.js';

/**
 * Whether cookies get the Secure flag: COOKIE_SECURE=true/false, or (auto) when the request is
 * HTTPS — seen directly, or through X-Forwarded-Proto only behind a trusted proxy (TRUST_PROXY).
 */
export function secureCookies(c: Context): boolean {
  const config = (c.get('deps') as AppEnv['Variables']['deps']).config;
  if (config.COOKIE_SECURE !== 'auto') return config.COOKIE_SECURE === 'true';
  return requestIsHttps(c);
}

/** Whether this request came over https: seen directly, or through X-Forwarded-Proto behind a trusted proxy. */
export function requestIsHttps(c: Context): boolean {
  if (new URL(c.req.url).protocol === 'https:') return true;
  const config = (c.get('deps') as AppEnv['Variables']['deps'] | undefined)?.config;
  return (config?.TRUST_PROXY ?? 0) > 0 && c.req.header('x-forwarded-proto')?.split(',')[0]?.trim() === 'https';
}

/** Sign out: end the session the cookie names (if any) and clear it and its CSRF companion. */
export async function endSession(c: Context, cookie: { name: string; path: string }, csrfCookie: string, end: (token: string) => Promise<void>) {
  const token = getCookie(c, cookie.name);
  if (token) await end(token);
  deleteCookie(c, cookie.name, { path: cookie.path });
  deleteCookie(c, csrfCookie, { path: '/' });
}
