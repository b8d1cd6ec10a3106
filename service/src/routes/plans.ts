import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { creditsToMilli } from '../domain/money.js';
import { createPlan, listPlans, updatePlan } from '../domain/plans.js';
import { createRouter, type AppEnv } from '../http/env.js';
import { clientIp } from '../http/middleware.js';
import { authErrors, conflictError, IdParam, json, jsonBody, notFoundError, PlanSchema } from './schemas.js';

const meta = (c: Context<AppEnv>) => ({ requestId: c.get('requestId'), ip: clientIp(c) });
const tags = ['plans'];
const MonthlyCredits = z.number().int().min(0).max(1e12);

export const plansRoutes = createRouter()
  .openapi(
    createRoute({ method: 'get', path: '/', tags, responses: { 200: json(z.object({ items: z.array(PlanSchema) }), 'Plans'), ...authErrors } }),
    async (c) => c.json({ items: await listPlans(c.get('deps').db) }, 200),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags,
      request: jsonBody(
        z.object({
          slug: z.string().trim().toLowerCase().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'lowercase letters, digits and dashes'),
          name: z.string().trim().min(1).max(100),
          monthlyCredits: MonthlyCredits,
        }),
      ),
      responses: { 201: json(PlanSchema, 'Created'), ...authErrors, ...conflictError },
    }),
    async (c) => {
      const b = c.req.valid('json');
      const db = c.get('deps').db;
      const plan = await db.transaction((tx) =>
        createPlan(tx, c.get('actor'), meta(c), { slug: b.slug, name: b.name, monthlyMilli: creditsToMilli(b.monthlyCredits) }),
      );
      return c.json(plan, 201);
    },
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/{id}',
      tags,
      summary: 'Edit a plan; a new allowance applies from each person’s next period',
      request: {
        params: IdParam,
        ...jsonBody(z.object({ name: z.string().trim().min(1).max(100).optional(), monthlyCredits: MonthlyCredits.optional(), active: z.boolean().optional() }).strict()),
      },
      responses: { 200: json(PlanSchema, 'Updated'), ...authErrors, ...notFoundError },
    }),
    async (c) => {
      const b = c.req.valid('json');
      const db = c.get('deps').db;
      const plan = await db.transaction((tx) =>
        updatePlan(tx, c.get('actor'), meta(c), c.req.valid('param').id, {
          name: b.name,
          active: b.active,
          monthlyMilli: b.monthlyCredits === undefined ? undefined : creditsToMilli(b.monthlyCredits),
        }),
      );
      return c.json(plan, 200);
    },
  );
