import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { listPayments, revenueSince } from '../domain/payments/list.js';
import { createPack, listPacks, updatePack } from '../domain/payments/packs.js';
import { creditsToMilli } from '../domain/money.js';
import { PAYMENT_STATUSES } from '../db/schema/index.js';
import { createRouter, type AppEnv } from '../http/env.js';
import { clientIp } from '../http/middleware.js';
import { periodOf, periodStartInstant } from '../lib/period.js';
import { PackSchema } from './portal.js';
import { authErrors, IdParam, json, jsonBody, notFoundError, paged, PageQuery, PaymentSchema } from './schemas.js';

const meta = (c: Context<AppEnv>) => ({ requestId: c.get('requestId'), ip: clientIp(c) });
const Tokens = z.number().int().min(1).max(1e12);
const PriceMinor = z.number().int().min(1).max(1e10).openapi({ description: 'Price in minor units (cents)' });
const Currency = z.string().trim().toLowerCase().regex(/^[a-z]{3}$/, 'an ISO 4217 code such as brl or usd');
const Name = z.string().trim().min(1).max(100);

/** Admin: credit packs (what the portal sells). */
export const packsRoutes = createRouter()
  .openapi(
    createRoute({ method: 'get', path: '/', tags: ['payments'], responses: { 200: json(z.object({ items: z.array(PackSchema) }), 'All packs'), ...authErrors } }),
    async (c) => c.json({ items: await listPacks(c.get('deps').db) }, 200),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: ['payments'],
      request: jsonBody(z.object({ name: Name, tokens: Tokens, priceMinor: PriceMinor, currency: Currency })),
      responses: { 201: json(PackSchema, 'Created'), ...authErrors },
    }),
    async (c) => {
      const b = c.req.valid('json');
      const pack = await c.get('deps').db.transaction((tx) =>
        createPack(tx, c.get('actor'), meta(c), { name: b.name, tokensMilli: creditsToMilli(b.tokens), priceMinor: b.priceMinor, currency: b.currency }),
      );
      return c.json(pack, 201);
    },
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/{id}',
      tags: ['payments'],
      summary: 'Edit a pack; purchases already started keep what they bought',
      request: {
        params: IdParam,
        ...jsonBody(z.object({ name: Name.optional(), tokens: Tokens.optional(), priceMinor: PriceMinor.optional(), currency: Currency.optional(), active: z.boolean().optional() }).strict()),
      },
      responses: { 200: json(PackSchema, 'Updated'), ...authErrors, ...notFoundError },
    }),
    async (c) => {
      const b = c.req.valid('json');
      const pack = await c.get('deps').db.transaction((tx) =>
        updatePack(tx, c.get('actor'), meta(c), c.req.valid('param').id, {
          name: b.name,
          priceMinor: b.priceMinor,
          currency: b.currency,
          active: b.active,
          tokensMilli: b.tokens === undefined ? undefined : creditsToMilli(b.tokens),
        }),
      );
      return c.json(pack, 200);
    },
  );

/** Admin: payments and revenue. */
export const paymentsRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['payments'],
      summary: 'Payments, newest first (refund shortfalls included)',
      request: { query: z.object({ userId: z.string().max(64).optional(), status: z.enum(PAYMENT_STATUSES).optional(), ...PageQuery }) },
      responses: { 200: json(paged(PaymentSchema), 'Payments'), ...authErrors },
    }),
    async (c) => c.json(await listPayments(c.get('deps').db, c.req.valid('query')), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/summary',
      tags: ['payments'],
      summary: 'Whether payments are on, and revenue this period per currency (minor units)',
      responses: {
        200: json(
          z.object({
            paymentsEnabled: z.boolean(),
            periodStart: z.string(),
            revenue: z.array(z.object({ currency: z.string(), payments: z.number(), paidMinor: z.number(), refundedMinor: z.number(), netMinor: z.number() })),
          }),
          'Summary',
        ),
        ...authErrors,
      },
    }),
    async (c) => {
      const deps = c.get('deps');
      const period = periodOf(deps.clock.now(), deps.config.TIMEZONE);
      const revenue = await revenueSince(deps.db, periodStartInstant(period, deps.config.TIMEZONE));
      return c.json({ paymentsEnabled: Boolean(deps.stripe), periodStart: period, revenue }, 200);
    },
  );
