import { createRoute, z } from '@hono/zod-openapi';
import { dailyUsage, listAudit, listUnattributed, stats, usageCsv } from '../domain/reports.js';
import { createRouter } from '../http/env.js';
import { ApiError } from '../lib/errors.js';
import { ttlCache } from '../lib/ttl-cache.js';
import { periodOf, periodStartInstant } from '../lib/period.js';
import { authErrors, DateParam, json, paged, PageQuery } from './schemas.js';

const tags = ['reports'];
const Amount = z.object({ credits: z.number(), usd: z.number() });
const StatsSchema = z
  .object({
    periodStart: z.string(),
    people: z.object({ active: z.number(), warned: z.number(), blocked: z.number(), suspended: z.number(), deleted: z.number() }),
    today: Amount,
    period: Amount.extend({ calls: z.number() }),
    unattributedEvents: z.number(),
    lateEventsThisPeriod: z.number().openapi({ description: 'Events this period that arrived after their own period’s grace window (charged to this one)' }),
    unpricedModels: z
      .array(z.object({ model: z.string(), calls: z.number(), lastSeen: z.string() }).openapi('UnpricedModel'))
      .openapi({ description: 'Models LiteLLM priced at 0 this period although they used tokens (free usage)' }),
    topConsumers: z.array(Amount.extend({ userId: z.string(), email: z.string(), name: z.string() })),
  })
  .openapi('Stats');
const AuditEntrySchema = z
  .object({
    id: z.number(),
    actor: z.string(),
    action: z.string(),
    targetType: z.string().nullable(),
    targetId: z.string().nullable(),
    before: z.unknown(),
    after: z.unknown(),
    requestId: z.string().nullable(),
    ip: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi('AuditEntry');
const UnattributedEventSchema = z
  .object({
    id: z.number(),
    keyHash: z.string().nullable(),
    litellmCallId: z.string().nullable(),
    model: z.string().nullable(),
    status: z.enum(['success', 'failure']),
    usd: z.number(),
    totalTokens: z.number(),
    startTime: z.string().nullable(),
    receivedAt: z.string(),
  })
  .openapi('UnattributedEvent');

/** One per app: the overview aggregates are cached a few seconds, shared by concurrent dashboards. */
export function reportsRoutes() {
  const overviewCache = ttlCache<Awaited<ReturnType<typeof stats>>>(5_000);
  const dailyCache = ttlCache<Awaited<ReturnType<typeof dailyUsage>>>(30_000);
  return createRouter()
    .openapi(
      createRoute({
        method: 'get',
        path: '/stats',
        tags,
        summary: 'Organisation overview: people by state, consumption today and this period, top consumers',
        responses: { 200: json(StatsSchema, 'Stats'), ...authErrors },
      }),
      async (c) => {
        const deps = c.get('deps');
        const now = deps.clock.now();
        const tz = deps.config.TIMEZONE;
        const period = periodOf(now, tz);
        const result = await overviewCache(`stats:${period}`, () => stats(deps.db, { now, timeZone: tz, periodStart: periodStartInstant(period, tz), period }));
        return c.json({ periodStart: period, ...result }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/stats/daily',
        tags,
        summary: 'Consumption per day and model (overview chart)',
        request: { query: z.object({ days: z.coerce.number().int().min(1).max(366).default(30) }) },
        responses: {
          200: json(z.object({ items: z.array(z.object({ day: z.string(), model: z.string(), credits: z.number(), usd: z.number(), calls: z.number() })) }), 'Daily'),
          ...authErrors,
        },
      }),
      async (c) => {
        const deps = c.get('deps');
        const { days } = c.req.valid('query');
        const items = await dailyCache(`daily:${days}`, () => dailyUsage(deps.db, { now: deps.clock.now(), days, timeZone: deps.config.TIMEZONE }));
        return c.json({ items }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/audit',
        tags,
        request: { query: z.object({ action: z.string().max(100).optional(), targetId: z.string().max(64).optional(), ...PageQuery }) },
        responses: { 200: json(paged(AuditEntrySchema), 'Audit log, newest first'), ...authErrors },
      }),
      async (c) => c.json(await listAudit(c.get('deps').db, c.req.valid('query')), 200),
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/events/unattributed',
        tags,
        summary: 'Usage events whose key hash matches no person',
        request: { query: z.object(PageQuery) },
        responses: { 200: json(paged(UnattributedEventSchema), 'Events'), ...authErrors },
      }),
      async (c) => c.json(await listUnattributed(c.get('deps').db, c.req.valid('query')), 200),
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/reports/usage.csv',
        tags,
        summary: 'Usage per day, person and model as CSV',
        request: { query: z.object({ from: DateParam.optional(), to: DateParam.optional() }) },
        responses: { 200: { content: { 'text/csv': { schema: z.string() } }, description: 'CSV' }, ...authErrors },
      }),
      async (c) => {
        const q = c.req.valid('query');
        if (q.from && q.to && q.from >= q.to) throw new ApiError('validation_error', '`from` must be before `to`');
        const deps = c.get('deps');
        const csv = await usageCsv(deps.db, { ...q, timeZone: deps.config.TIMEZONE });
        c.header('Content-Disposition', 'attachment; filename="usage.csv"');
        return c.body(csv, 200, { 'Content-Type': 'text/csv; charset=utf-8' });
      },
    );
}
