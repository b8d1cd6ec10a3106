import { createRoute, z } from '@hono/zod-openapi';
import { dailyUsage, listAudit, listUnattributed, stats, usageCsv } from '../domain/reports.js';
import { createRouter } from '../http/env.js';
import { ApiError } from '../lib/errors.js';
import { ttlCache } from '../lib/ttl-cache.js';
import { periodOf, periodStartInstant } from '../lib/period.js';
import { authErrors, DateParam, json, PageQuery } from './schemas.js';

const tags = ['reports'];
const Paged = (item: z.ZodType) => z.object({ items: z.array(item), total: z.number(), page: z.number(), pageSize: z.number() });

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
        responses: { 200: json(z.record(z.string(), z.unknown()), 'Stats'), ...authErrors },
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
        responses: { 200: json(Paged(z.record(z.string(), z.unknown())), 'Audit log, newest first'), ...authErrors },
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
        responses: { 200: json(Paged(z.record(z.string(), z.unknown())), 'Events'), ...authErrors },
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
