import { createRoute, z } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import { splitBody } from '../domain/usage/parse.js';
import { bookUsage, prepareUsage, type UsageBatch } from '../domain/usage/ingest.js';
import { createRouter, type AppEnv } from '../http/env.js';
import { createHmac } from 'node:crypto';
import { safeEqual } from '../lib/crypto.js';
import { semaphore } from '../lib/semaphore.js';
import { clientIp, enforceRateLimit } from '../http/middleware.js';
import { ApiError } from '../lib/errors.js';
import { ErrorSchema, json } from './schemas.js';
import type { Deps } from '../deps.js';

const Counts = z.object({ accepted: z.number(), duplicate: z.number(), unattributed: z.number(), rejected: z.number() }).openapi('IngestCounts');
const err = (d: string) => json(ErrorSchema, d);

/** `Authorization: Bearer <WEBHOOK_SECRET>`, compared in constant time. */
export const webhookAuth = createMiddleware<AppEnv>(async (c, next) => {
  const secret = c.get('deps').config.WEBHOOK_SECRET;
  if (!secret) throw new ApiError('dependency_unavailable', 'WEBHOOK_SECRET is not configured; usage ingestion is off');
  const m = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '');
  if (!m || !safeEqual(m[1]!.trim(), secret)) throw new ApiError('unauthorized', 'wrong or missing webhook secret');
  await enforceRateLimit(c, `webhook:${clientIp(c)}`, c.get('deps').config.RATE_LIMIT_WEBHOOK_PER_MINUTE);
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

/**
 * `maxConcurrent` batches are read and booked at once per process; later ones wait in arrival
 * order with their body still unread (in the socket: TCP holds the sender back). Beyond the point
 * where the machine is busy, more concurrent batches only queue on the same balance row locks
 * inside PostgreSQL, in no particular order, and each holds its parsed body in memory meanwhile.
 */
export function webhookRoutes(maxBodyBytes: number, maxConcurrent: number) {
  const admission = semaphore(maxConcurrent);
  const limit = bodyLimit({
    maxSize: maxBodyBytes,
    onError: () => {
      throw new ApiError('payload_too_large', `body is larger than ${maxBodyBytes} bytes`);
    },
  });
  const router = createRouter();
  router.use('/litellm', webhookAuth, limit);
  return router.openapi(route, (c) => admission.run(async () => {
    const deps = c.get('deps');
    // Read from the raw request, not c.req.text(), which would keep the body cached on the context
    // until the response: parsed and dropped before the first database wait, a megabyte body dies
    // young (see bench/).
    const batch = readBatch(deps, new TextDecoder().decode(await c.req.raw.arrayBuffer()), c.req.header('x-companion-signature'));
    const source = c.req.header('x-companion-source') === 'durable-callback' ? 'callback' : 'generic_api';
    const { alertsFired, ...counts } = await bookUsage(deps, batch, { source });
    for (const [result, n] of Object.entries(counts)) if (n > 0) deps.metrics.usageEvents.inc({ result }, n);
    if (alertsFired > 0) deps.metrics.alertsFired.inc(alertsFired);
    c.get('log').debug({ ...counts, alertsFired }, 'usage batch booked');
    return c.json(counts, 200);
  }));
}

function readBatch(deps: Deps, text: string, signature: string | undefined): UsageBatch {
  if (deps.config.WEBHOOK_SIGNING_SECRET) verifySignature(signature, text, deps.config.WEBHOOK_SIGNING_SECRET, deps.clock.now());
  const split = splitBody(text);
  if (!split) throw new ApiError('invalid_json', 'body is not JSON (array, object) or NDJSON');
  return prepareUsage(split.items, split.badLines);
}

const SIGNATURE_TOLERANCE_SECONDS = 300;

/**
 * Optional body signature (WEBHOOK_SIGNING_SECRET): header `X-Companion-Signature: t=<unix>,v1=<hex>`
 * with v1 = HMAC-SHA256(secret, "<t>.<raw body>"), at most 5 minutes old.
 */
export function verifySignature(header: string | undefined, body: string, secret: string, now: Date): void {
  const parts = Object.fromEntries((header ?? '').split(',').map((p) => p.trim().split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!parts.v1 || !Number.isInteger(t)) throw new ApiError('unauthorized', 'missing or malformed X-Companion-Signature');
  if (Math.abs(now.getTime() / 1000 - t) > SIGNATURE_TOLERANCE_SECONDS) throw new ApiError('unauthorized', 'X-Companion-Signature is too old');
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  if (!safeEqual(parts.v1, expected)) throw new ApiError('unauthorized', 'X-Companion-Signature does not match the body');
}
