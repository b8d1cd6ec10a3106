import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { setCookie } from 'hono/cookie';
import { createAdmin, listAdmins } from '../domain/auth/admins.js';
import { login, logout } from '../domain/auth/sessions.js';
import { createApiToken, listApiTokens, revokeApiToken } from '../domain/auth/tokens.js';
import { createRouter, type AppEnv } from '../http/env.js';
import { clientIp, CSRF_COOKIE, SESSION_COOKIE } from '../http/middleware.js';
import { endSession, secureCookies } from '../http/cookies.js';
import { csrfTokenFor } from '../http/csrf.js';
import { authErrors, conflictError, IdParam, json, jsonBody, notFoundError } from './schemas.js';

const meta = (c: Context<AppEnv>) => ({ requestId: c.get('requestId'), ip: clientIp(c) });
const tags = ['auth'];
const Role = z.enum(['admin', 'viewer']);
const AdminSchema = z
  .object({ id: z.string(), email: z.string(), name: z.string(), role: Role, disabled: z.boolean(), createdAt: z.string() })
  .openapi('Admin');
const TokenSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    role: Role,
    createdBy: z.string(),
    createdAt: z.string(),
    lastUsedAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
  })
  .openapi('ApiToken');

/** Login is public. */
export const loginRoutes = createRouter().openapi(
  createRoute({
    method: 'post',
    path: '/login',
    tags,
    summary: 'Password login; sets an httpOnly session cookie and a CSRF cookie',
    security: [],
    request: jsonBody(z.object({ email: z.string().trim().min(1).max(254), password: z.string().min(1).max(256) })),
    responses: {
      200: json(z.object({ admin: AdminSchema, csrfToken: z.string(), expiresAt: z.string() }), 'Logged in'),
      400: authErrors[400],
      401: authErrors[401],
      429: json(z.object({ error: z.object({ code: z.string(), message: z.string(), requestId: z.string() }) }), 'Too many attempts'),
    },
  }),
  async (c) => {
    const { email, password } = c.req.valid('json');
    const session = await login(c.get('deps'), meta(c), email, password);
    const secure = secureCookies(c);
    const csrfToken = csrfTokenFor(session.token, 'admin');
    const maxAge = Math.floor((session.expiresAt.getTime() - Date.now()) / 1000);
    setCookie(c, SESSION_COOKIE, session.token, { httpOnly: true, sameSite: 'Strict', secure, path: '/', maxAge });
    setCookie(c, CSRF_COOKIE, csrfToken, { httpOnly: false, sameSite: 'Strict', secure, path: '/', maxAge });
    return c.json({ admin: session.admin, csrfToken, expiresAt: session.expiresAt.toISOString() }, 200);
  },
);

/** Mounted behind the API's authentication. */
export const authRoutes = createRouter()
  .openapi(
    createRoute({ method: 'post', path: '/logout', tags, responses: { 200: json(z.object({ ok: z.boolean() }), 'Logged out'), ...authErrors } }),
    async (c) => {
      await endSession(c, { name: SESSION_COOKIE, path: '/' }, CSRF_COOKIE, (t) => logout(c.get('deps').db, t));
      return c.json({ ok: true }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/me',
      tags,
      responses: { 200: json(z.object({ id: z.string(), label: z.string(), role: Role, via: z.string() }), 'Who is calling'), ...authErrors },
    }),
    async (c) => c.json(c.get('actor'), 200),
  )
  .openapi(
    createRoute({ method: 'get', path: '/tokens', tags, responses: { 200: json(z.object({ items: z.array(TokenSchema) }), 'API tokens'), ...authErrors } }),
    async (c) => c.json({ items: await listApiTokens(c.get('deps').db) }, 200),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/tokens',
      tags,
      summary: 'Create an API token (plaintext returned once)',
      request: jsonBody(z.object({ name: z.string().trim().min(1).max(100), role: Role })),
      responses: { 201: json(TokenSchema.extend({ token: z.string() }), 'Created'), ...authErrors },
    }),
    async (c) => c.json(await c.get('deps').db.transaction((tx) => createApiToken(tx, c.get('actor'), meta(c), c.req.valid('json'))), 201),
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/tokens/{id}',
      tags,
      request: { params: IdParam },
      responses: { 200: json(TokenSchema, 'Revoked'), ...authErrors, ...notFoundError },
    }),
    async (c) => c.json(await c.get('deps').db.transaction((tx) => revokeApiToken(tx, c.get('actor'), meta(c), c.req.valid('param').id)), 200),
  )
  .openapi(
    createRoute({ method: 'get', path: '/admins', tags, responses: { 200: json(z.object({ items: z.array(AdminSchema) }), 'Admins'), ...authErrors } }),
    async (c) => c.json({ items: await listAdmins(c.get('deps').db) }, 200),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/admins',
      tags,
      request: jsonBody(z.object({ email: z.string().trim().email().max(254), name: z.string().trim().min(1).max(200), role: Role, password: z.string().max(256) })),
      responses: { 201: json(AdminSchema, 'Created'), ...authErrors, ...conflictError },
    }),
    async (c) => c.json(await c.get('deps').db.transaction((tx) => createAdmin(tx, c.get('actor'), meta(c), c.req.valid('json'))), 201),
  );
