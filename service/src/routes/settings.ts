import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { currentFactorMicro, factorHistory } from '../domain/factor.js';
import { previewFactor, setFactor } from '../domain/factor-change.js';
import { formatFactor, parseFactor } from '../domain/money.js';
import { createRouter, type AppEnv } from '../http/env.js';
import { clientIp } from '../http/middleware.js';
import { authErrors, json, jsonBody } from './schemas.js';

const meta = (c: Context<AppEnv>) => ({ requestId: c.get('requestId'), ip: clientIp(c) });
const tags = ['settings'];

/** The factor arrives as a JSON number or a decimal string; parsed exactly, bounded. */
const Factor = z.union([z.number(), z.string().max(32)]).transform((v, ctx) => {
  try {
    return parseFactor(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

const History = z.array(z.object({ factor: z.string(), previous: z.string().nullable(), reason: z.string(), actor: z.string(), createdAt: z.string() }));

export const settingsRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/conversion-factor',
      tags,
      summary: 'Current factor (micro-USD per credit) and its history',
      responses: { 200: json(z.object({ factor: z.string(), history: History }), 'Factor'), ...authErrors },
    }),
    async (c) => {
      const db = c.get('deps').db;
      return c.json({ factor: formatFactor(await currentFactorMicro(db)), history: await factorHistory(db) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'put',
      path: '/conversion-factor',
      tags,
      summary: 'Change the factor from now on; every key budget is re-pushed',
      request: jsonBody(z.object({ factor: Factor, reason: z.string().trim().min(1).max(500) })),
      responses: { 200: json(z.object({ factor: z.string(), previous: z.string(), keysQueued: z.number() }), 'Changed'), ...authErrors },
    }),
    async (c) => {
      const { factor, reason } = c.req.valid('json');
      return c.json(await setFactor(c.get('deps'), c.get('actor'), meta(c), { factorMicro: factor, reason }), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/conversion-factor/preview',
      tags,
      summary: 'What-if: remaining credits and USD budgets before/after, changing nothing',
      request: jsonBody(z.object({ factor: Factor })),
      responses: {
        200: json(
          z.object({
            current: z.string(),
            proposed: z.string(),
            totals: z.object({ people: z.number(), remainingCredits: z.number(), usdBefore: z.number(), usdAfter: z.number() }),
            people: z.array(
              z.object({ userId: z.string(), email: z.string(), name: z.string(), remainingCredits: z.number(), usdBefore: z.number(), usdAfter: z.number() }),
            ),
          }),
          'Preview',
        ),
        ...authErrors,
      },
    }),
    async (c) => c.json(await previewFactor(c.get('deps').db, c.req.valid('json').factor), 200),
  );
