import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { listAlerts, listMail, setThresholds } from '../domain/alerts/list.js';
import { alertThresholds } from '../domain/thresholds.js';
import { createRouter, type AppEnv } from '../http/env.js';
import { clientIp } from '../http/middleware.js';
import { reconcile, reconciliationReport } from '../jobs/reconcile.js';
import { mailLog } from '../db/schema/index.js';
import { ApiError } from '../lib/errors.js';
import { AlertSchema, authErrors, json, jsonBody, orNull, paged, PageQuery } from './schemas.js';

const meta = (c: Context<AppEnv>) => ({ requestId: c.get('requestId'), ip: clientIp(c) });
const MailSchema = z
  .object({
    id: z.number(),
    userId: z.string().nullable(),
    to: z.string(),
    subject: z.string(),
    template: z.string(),
    locale: z.string(),
    text: z.string(),
    status: z.enum(mailLog.status.enumValues),
    error: z.string().nullable(),
    createdAt: z.string(),
    sentAt: z.string().nullable(),
  })
  .openapi('Mail');
const ReconciliationRunSchema = z
  .object({
    id: z.number(),
    startedAt: z.string(),
    finishedAt: z.string().nullable(),
    keysChecked: z.number(),
    recovered: z.number(),
    repushed: z.number(),
    unexplained: z.number(),
    errors: z.number().openapi({ description: 'Keys that could not be compared' }),
  })
  .openapi('ReconciliationRun');
const ReconcileItemSchema = z
  .object({
    keyId: z.string(),
    userId: z.string(),
    action: z.enum(['recovered', 'budget_repushed', 'unexplained', 'error']),
    detail: z.string(),
    litellmSpendUsd: z.number().optional(),
    bookedSpendUsd: z.number().optional(),
  })
  .openapi('ReconcileItem');
const ReconciliationSchema = z
  .object({
    lastRun: orNull(ReconciliationRunSchema.extend({ items: z.array(ReconcileItemSchema) })),
    runs: z.array(ReconciliationRunSchema).openapi({ description: 'The latest runs, newest first' }),
  })
  .openapi('Reconciliation');
const Thresholds = z.object({ thresholds: z.array(z.number().int().min(1).max(100)).min(1).max(10) });

export const alertsRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/alerts',
      tags: ['alerts'],
      summary: 'Threshold alerts, newest first',
      request: { query: z.object({ userId: z.string().max(64).optional(), ...PageQuery }) },
      responses: { 200: json(paged(AlertSchema), 'Alerts'), ...authErrors },
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
      responses: { 200: json(paged(MailSchema), 'Mails'), ...authErrors },
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
      responses: { 200: json(ReconciliationSchema, 'Report'), ...authErrors },
    }),
    async (c) => c.json(await reconciliationReport(c.get('deps')), 200),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/reconciliation/run',
      tags: ['litellm'],
      summary: 'Run a reconciliation now',
      responses: { 200: json(ReconciliationRunSchema.extend({ items: z.array(ReconcileItemSchema) }), 'The run'), ...authErrors },
    }),
    async (c) => {
      const deps = c.get('deps');
      if (!deps.litellm) throw new ApiError('dependency_unavailable', 'LiteLLM is not configured (LITELLM_URL)');
      const run = await reconcile(deps);
      return c.json({ ...run, startedAt: run.startedAt.toISOString(), finishedAt: run.finishedAt?.toISOString() ?? null }, 200);
    },
  );
