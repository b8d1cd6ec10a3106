import { createRoute, z } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import { splitBody } from '../domain/usage/parse.js';
import { ingestUsage } from '../domain/usage/ingest.js';
import { createRouter, type AppEnv } from '../http/env.js';
import { safeEqual } from '../lib/crypto.js';
import { ApiError } from '../lib/errors.js';
import { ErrorSchema, json } from './schemas.js';

const Counts = z.object({ accepted: z.number(), duplicate: z.number(), unattributed: z.number(), rejected: z.number() }).openapi('IngestCounts');
const err = (d: string) => json(ErrorSchema, d);

/** `Authorization: Bearer <WEBHOOK_SECRET>`, compared in constant time. */
const webhookAuth = createMiddleware<AppEnv>(async (c, next) => {
  const secret = c.get('deps').config.WEBHOOK_SECRET;
  if (!secret) throw new ApiError('dependency_unavailable', 'WEBHOOK_SECRET is not configured; usage ingestion is off');
  const m = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '');
  if (!m || !safeEqual(m[1]!.trim(), secret)) throw new ApiError('unauthorized', 'wrong or missing webhook secret');
  await next();
});

const route = createRoute({
  method: 'post',
  path: '/litellm',
  tags: ['webhooks'],
  summary: 'LiteLLM usage events: a JSON array, NDJSON or one StandardLoggingPayload. 2xx only after commit.',
  security: [{ webhookSecret: [] }],
  responses: {
    200: json(Counts, 'Committed'),
    400: err('Not JSON'),
    401: err('Wrong secret'),
    413: err('Body too large'),
    503: err('Database unavailable: retry'),
  },
});

export function webhookRoutes(maxBodyBytes: number) {
  const limit = bodyLimit({
    maxSize: maxBodyBytes,
    onError: () => {
      throw new ApiError('payload_too_large', `body is larger than ${maxBodyBytes} bytes`);
    },
  });
  const router = createRouter();
  router.use('/litellm', webhookAuth, limit);
  return router.openapi(route, async (c) => {
      const deps = c.get('deps');
      const split = splitBody(await c.req.text());
      if (!split) throw new ApiError('invalid_json', 'body is not JSON (array, object) or NDJSON');
      const source = c.req.header('x-companion-source') === 'durable-callback' ? 'callback' : 'generic_api';
      const { stateChanges, alertsFired, ...counts } = await ingestUsage(deps, split.items, { source, badLines: split.badLines });
      for (const [result, n] of Object.entries(counts)) if (n > 0) deps.metrics.usageEvents.inc({ result }, n);
      if (alertsFired > 0) deps.metrics.alertsFired.inc(alertsFired);
      c.get('log').debug({ ...counts, stateChanges: stateChanges.length, alertsFired }, 'usage batch booked');
      return c.json(counts, 200);
    });
}
