import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { listAlerts, listMail, setThresholds } from '../domain/alerts/list.js';
import { alertThresholds } from '../domain/thresholds.js';
import { createRouter, type AppEnv } from '../http/env.js';
import { clientIp } from '../http/middleware.js';
import { reconcile, reconciliationReport } from '../jobs/reconcile.js';
import { ApiError } from '../lib/errors.js';
import { authErrors, json, jsonBody, PageQuery } from './schemas.js';

const meta = (c: Context<AppEnv>) => ({ requestId: c.get('requestId'), ip: clientIp(c) });
const Paged = (item: z.ZodType) => z.object({ items: z.array(item), total: z.number(), page: z.number(), pageSize: z.number() });
const Thresholds = z.object({ thresholds: z.array(z.number().int().min(1).max(100)).min(1).max(10) });

export const alertsRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/alerts',
      tags: ['alerts'],
      summary: 'Threshold alerts, newest first',
      request: { query: z.object({ userId: z.string().max(64).optional(), ...PageQuery }) },
      responses: { 200: json(Paged(z.record(z.string(), z.unknown())), 'Alerts'), ...authErrors },
    }),
    async (c) => c.json(await listAlerts(c.get('deps').db, c.req.valid('query')), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/mail',
      tags: ['alerts'],
      summary: 'Mail log: every email written, with its delivery status',
      request: { query: z.object({ userId: z.string().max(64).optional(), ...PageQuery }) },
      responses: { 200: json(Paged(z.record(z.string(), z.unknown())), 'Mails'), ...authErrors },
    }),
    async (c) => c.json(await listMail(c.get('deps').db, c.req.valid('query')), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/settings/alert-thresholds',
      tags: ['settings'],
      responses: { 200: json(Thresholds, 'Thresholds in percent'), ...authErrors },
    }),
    async (c) => c.json({ thresholds: await alertThresholds(c.get('deps').db) }, 200),
  )
  .openapi(
    createRoute({
      method: 'put',
      path: '/settings/alert-thresholds',
      tags: ['settings'],
      request: jsonBody(Thresholds),
      responses: { 200: json(Thresholds, 'Saved'), ...authErrors },
    }),
    async (c) => {
      const { thresholds } = c.req.valid('json');
      const saved = await c.get('deps').db.transaction((tx) => setThresholds(tx, c.get('actor'), meta(c), thresholds));
      return c.json({ thresholds: saved }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/reconciliation',
      tags: ['litellm'],
      summary: 'Latest reconciliation runs against LiteLLM, with the differences found',
      responses: { 200: json(z.record(z.string(), z.unknown()), 'Report'), ...authErrors },
    }),
    async (c) => c.json(await reconciliationReport(c.get('deps')), 200),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/reconciliation/run',
      tags: ['litellm'],
      summary: 'Run a reconciliation now',
      responses: { 200: json(z.record(z.string(), z.unknown()), 'The run'), ...authErrors },
    }),
    async (c) => {
      const deps = c.get('deps');
      if (!deps.litellm) throw new ApiError('dependency_unavailable', 'LiteLLM is not configured (LITELLM_URL)');
      const run = await reconcile(deps);
      return c.json({ ...run, startedAt: run.startedAt.toISOString(), finishedAt: run.finishedAt?.toISOString() ?? null }, 200);
    },
  );
