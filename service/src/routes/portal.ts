import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { endSession } from '../http/cookies.js';
import { csrfTokenFor } from '../http/csrf.js';
import { listAlerts } from '../domain/alerts/list.js';
import { rotateKey } from '../domain/keys.js';
import { startCheckout } from '../domain/payments/checkout.js';
import { listPayments } from '../domain/payments/list.js';
import { listPacks } from '../domain/payments/packs.js';
import { portalOverview, statementCsv } from '../domain/portal/overview.js';
import { loginWithKey, logoutPortal, redeemLoginLink, requestLoginLink } from '../domain/portal/sessions.js';
import { listLedger, usageSummary } from '../domain/reports.js';
import { loadUser } from '../domain/users/view.js';
import { LEDGER_KINDS } from '../db/schema/index.js';
import { clientIp } from '../http/middleware.js';
import type { AppEnv } from '../http/env.js';
import {
  authenticatePortal,
  createPortalRouter,
  PORTAL_COOKIE,
  PORTAL_COOKIE_PATH,
  PORTAL_CSRF_COOKIE,
  publicOrigin,
  secureCookies,
  type PortalEnv,
} from '../http/portal-auth.js';
import { ApiError } from '../lib/errors.js';
import {
  AlertSchema,
  BalanceSchema,
  DateParam,
  ErrorSchema,
  GetMoreSchema,
  json,
  jsonBody,
  KeySchema,
  LedgerEntrySchema,
  orNull,
  paged,
  PageQuery,
  PaymentSchema,
  QuotaFactsSchema,
  UsageItemSchema,
} from './schemas.js';

const tags = ['portal'];
const err = (d: string) => json(ErrorSchema, d);
const portalErrors = { 400: err('Invalid input'), 401: err('No portal session'), 403: err('Missing CSRF header') } as const;
const meta = (c: Context) => ({ requestId: c.get('requestId') as string, ip: clientIp(c as Context<AppEnv>) });
const Session = z.object({ csrfToken: z.string(), expiresAt: z.string() }).openapi('PortalSession');

const PackSchema = z
  .object({ id: z.string(), name: z.string(), tokens: z.number(), priceMinor: z.number(), currency: z.string(), active: z.boolean(), createdAt: z.string(), updatedAt: z.string() })
  .openapi('CreditPack');

function startSession(c: Context, s: { token: string; expiresAt: Date }) {
  const secure = secureCookies(c);
  const csrfToken = csrfTokenFor(s.token, 'portal');
  const maxAge = Math.max(1, Math.floor((s.expiresAt.getTime() - Date.now()) / 1000));
  setCookie(c, PORTAL_COOKIE, s.token, { httpOnly: true, sameSite: 'Strict', secure, path: PORTAL_COOKIE_PATH, maxAge });
  setCookie(c, PORTAL_CSRF_COOKIE, csrfToken, { httpOnly: false, sameSite: 'Strict', secure, path: '/', maxAge });
  return c.json({ csrfToken, expiresAt: s.expiresAt.toISOString() }, 200);
}

const tooMany = { 429: err('Too many attempts') } as const;

/** Signing in (public; rate limited). */
export const portalLoginRoutes = createPortalRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/login/email',
      tags,
      summary: 'Email me a sign-in link (always 202: it never says whether the address has an account)',
      security: [],
      request: jsonBody(z.object({ email: z.string().trim().toLowerCase().email().max(254) })),
      responses: {
        202: json(z.object({ ok: z.boolean() }), 'If the address has an account, a link is on its way'),
        400: err('Invalid input'),
        ...tooMany,
        503: err('PUBLIC_URL is not configured (production)'),
      },
    }),
    async (c) => {
      // Answered before the address is looked up: the same time for every address.
      await requestLoginLink(c.get('deps'), meta(c), c.req.valid('json').email, publicOrigin(c));
      return c.json({ ok: true }, 202);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/login/token',
      tags,
      summary: 'Redeem an emailed sign-in link (single use, 15 minutes) for a portal session',
      security: [],
      request: jsonBody(z.object({ token: z.string().min(10).max(200) })),
      responses: { 200: json(Session, 'Signed in'), 400: err('Invalid input'), 401: err('Invalid, expired or used link'), ...tooMany },
    }),
    async (c) => startSession(c, await redeemLoginLink(c.get('deps'), meta(c), c.req.valid('json').token)),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/login/key',
      tags,
      summary: 'Sign in with your own LiteLLM key (checked by its hash; never stored)',
      security: [],
      request: jsonBody(z.object({ key: z.string().min(8).max(500) })),
      responses: { 200: json(Session, 'Signed in'), 400: err('Invalid input'), 401: err('Unknown or revoked key'), ...tooMany },
    }),
    async (c) => startSession(c, await loginWithKey(c.get('deps'), meta(c), c.req.valid('json').key)),
  );

const UsageQuery = z.object({ from: DateParam.optional(), to: DateParam.optional(), groupBy: z.enum(['day', 'model']).default('day') });

/** Everything one signed-in person may see and do about themselves. */
export const portalRoutes = createPortalRouter();
portalRoutes.use('*', authenticatePortal);
portalRoutes
  .openapi(
    createRoute({ method: 'post', path: '/logout', tags, security: [{ portalSession: [] }], responses: { 200: json(z.object({ ok: z.boolean() }), 'Signed out'), ...portalErrors } }),
    async (c) => {
      await endSession(c, { name: PORTAL_COOKIE, path: PORTAL_COOKIE_PATH }, PORTAL_CSRF_COOKIE, (t) => logoutPortal(c.get('deps').db, t));
      return c.json({ ok: true }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/me',
      tags,
      security: [{ portalSession: [] }],
      summary: 'My balance (monthly vs purchased), percent used, thresholds, projected exhaustion, key, how to get more',
      responses: {
        200: json(
          z
            .object({
              person: z.object({ id: z.string(), name: z.string(), email: z.string(), locale: z.enum(['pt-BR', 'en']), status: z.string() }),
              plan: z.object({ name: z.string(), monthlyCredits: z.number() }),
              balance: BalanceSchema,
              thresholds: z.array(z.number()),
              projectedExhaustion: z.string().nullable(),
              renewsOn: z.string(),
              key: orNull(KeySchema),
              paymentsEnabled: z.boolean(),
              contactEmail: z.string(),
              quota: QuotaFactsSchema,
              getMore: GetMoreSchema,
            })
            .openapi('PortalMe'),
          'Me',
        ),
        ...portalErrors,
      },
    }),
    async (c) => c.json(await portalOverview(c.get('deps'), c.get('person').userId), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/usage',
      tags,
      security: [{ portalSession: [] }],
      request: { query: UsageQuery },
      responses: { 200: json(z.object({ groupBy: z.enum(['day', 'model']), items: z.array(UsageItemSchema) }), 'My usage'), ...portalErrors },
    }),
    async (c) => {
      const q = c.req.valid('query');
      if (q.from && q.to && q.from >= q.to) throw new ApiError('validation_error', '`from` must be before `to`');
      const deps = c.get('deps');
      const items = await usageSummary(deps.db, c.get('person').userId, { ...q, timeZone: deps.config.TIMEZONE });
      return c.json({ groupBy: q.groupBy, items }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/ledger',
      tags,
      security: [{ portalSession: [] }],
      summary: 'My statement, newest first',
      request: { query: z.object({ kind: z.enum(LEDGER_KINDS).optional(), from: DateParam.optional(), to: DateParam.optional(), ...PageQuery }) },
      responses: { 200: json(paged(LedgerEntrySchema), 'Statement'), ...portalErrors },
    }),
    async (c) => c.json(await listLedger(c.get('deps').db, c.get('person').userId, c.req.valid('query')), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/ledger.csv',
      tags,
      security: [{ portalSession: [] }],
      summary: 'My statement as CSV',
      responses: { 200: { content: { 'text/csv': { schema: z.string() } }, description: 'CSV' }, ...portalErrors },
    }),
    async (c) => {
      c.header('Content-Disposition', 'attachment; filename="statement.csv"');
      return c.body(await statementCsv(c.get('deps'), c.get('person').userId), 200, { 'Content-Type': 'text/csv; charset=utf-8' });
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/alerts',
      tags,
      security: [{ portalSession: [] }],
      summary: 'My past threshold alerts',
      request: { query: z.object(PageQuery) },
      responses: { 200: json(paged(AlertSchema), 'Alerts'), ...portalErrors },
    }),
    async (c) => c.json(await listAlerts(c.get('deps').db, { ...c.req.valid('query'), userId: c.get('person').userId }), 200),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/key/rotate',
      tags,
      security: [{ portalSession: [] }],
      summary: 'Replace my LiteLLM key (the new one is shown once; the old one stops working)',
      responses: { 200: json(KeySchema.extend({ plaintext: z.string() }), 'The new key'), ...portalErrors, 503: err('LiteLLM unavailable') },
    }),
    async (c) => {
      const deps = c.get('deps');
      const { user } = await loadUser(deps.db, c.get('person').userId);
      const actor = { id: user.id, label: `self:${user.email}`, role: 'viewer' as const, via: 'session' as const };
      return c.json(await rotateKey(deps, actor, meta(c), user.id, { keepPortalSession: getCookie(c, PORTAL_COOKIE) }), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/packs',
      tags,
      security: [{ portalSession: [] }],
      summary: 'Credit packs for sale (empty with paymentsEnabled false when Stripe is not configured)',
      responses: { 200: json(z.object({ paymentsEnabled: z.boolean(), items: z.array(PackSchema) }), 'Packs'), ...portalErrors },
    }),
    async (c) => {
      const deps = c.get('deps');
      const enabled = Boolean(deps.stripe);
      return c.json({ paymentsEnabled: enabled, items: enabled ? await listPacks(deps.db, { activeOnly: true }) : [] }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/checkout',
      tags,
      security: [{ portalSession: [] }],
      summary: 'Start buying a pack: a Stripe Checkout session; redirect the browser to `url`',
      request: jsonBody(z.object({ packId: z.string().min(1).max(64) })),
      responses: { 200: json(z.object({ paymentId: z.string(), url: z.string() }), 'Checkout started'), ...portalErrors, 404: err('No such pack'), 503: err('Payments off or Stripe unavailable') },
    }),
    async (c) => c.json(await startCheckout(c.get('deps'), meta(c), { userId: c.get('person').userId, packId: c.req.valid('json').packId, origin: publicOrigin(c) }), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/payments',
      tags,
      security: [{ portalSession: [] }],
      summary: 'My purchases',
      request: { query: z.object(PageQuery) },
      responses: { 200: json(paged(PaymentSchema), 'Payments'), ...portalErrors },
    }),
    async (c) => c.json(await listPayments(c.get('deps').db, { ...c.req.valid('query'), userId: c.get('person').userId }), 200),
  );

export type { PortalEnv };
export { PackSchema };
