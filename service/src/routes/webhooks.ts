import { createRoute, z } from '@hono/zod-openapi';
import { createMiddleware } from 'hono/factory';
import { jsonArrayItems, splitBody } from '../domain/usage/parse.js';
import { legacyCutoff, prepareUsage, type UsageBatch } from '../domain/usage/ingest.js';
import { groupBooker, type GroupBooker } from '../domain/usage/group.js';
import { createRouter, type AppEnv } from '../http/env.js';
import { createHmac } from 'node:crypto';
import { safeEqual } from '../lib/crypto.js';
import { QueueFull, semaphore } from '../lib/semaphore.js';
import type { IncomingMessage } from 'node:http';
import { readBody } from '../http/body.js';
import { clientIp, enforceRateLimit } from '../http/middleware.js';
import { ApiError } from '../lib/errors.js';
import { countUnpriced } from '../lib/metrics.js';
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
    503: err('Database unavailable, or too many batches waiting (code overloaded): retry after Retry-After seconds'),
  },
});

/** What a refused batch is told to wait; the durable callback waits max(this, its backoff). */
const RETRY_AFTER_SECONDS = 2;

/**
 * Admission, before anything touches the body: `maxConcurrent` batches are read and booked at
 * once per process, together at most `maxInflightBytes` of body (by Content-Length; one batch
 * alone always: memory per batch in flight is about its body size, see jsonArrayItems); up to `maxQueued` more wait in arrival order with their body still unread (in
 * the socket: TCP holds the sender back), and any beyond that are answered 503 `overloaded` with
 * Retry-After at once, body unread (litellm/companion_callback.py retries 429/503 after
 * max(Retry-After, its backoff): nothing is lost). A waiter whose client hangs up leaves the queue.
 * Beyond the point where the machine is busy, more concurrent batches only queue on the same
 * balance row locks inside PostgreSQL, and each holds its parsed body in memory meanwhile.
 */
function admission(maxConcurrent: number, maxQueued: number, maxInflightBytes: number, maxBodyBytes: number) {
  const slots = semaphore(maxConcurrent, maxQueued, maxInflightBytes);
  return createMiddleware<AppEnv>(async (c, next) => {
    const socket = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket;
    const gone = new AbortController();
    const onClose = () => gone.abort(new Error('client closed the connection while its batch waited'));
    socket?.once('close', onClose);
    let release: () => void;
    try {
      // weight: the body's declared size (a chunked body counts as the largest allowed)
      const length = Number(c.req.header('content-length'));
      release = await slots.acquire(gone.signal, Number.isSafeInteger(length) && length >= 0 ? Math.min(length, maxBodyBytes) : maxBodyBytes);
    } catch (e) {
      if (!(e instanceof QueueFull)) throw e;
      throw new ApiError('overloaded', `${maxConcurrent} usage batches are being booked and ${maxQueued} are waiting; retry later`, undefined, {
        'Retry-After': String(RETRY_AFTER_SECONDS),
      });
    } finally {
      socket?.off('close', onClose);
    }
    try {
      await next();
    } finally {
      release();
    }
  });
}

export function webhookRoutes(opts: {
  maxBodyBytes: number;
  maxConcurrent: number;
  maxQueued: number;
  maxInflightBytes: number;
  bookingTransactions: number;
  groupMaxEvents: number;
}) {
  const { maxBodyBytes, maxConcurrent, maxQueued, maxInflightBytes } = opts;
  // One group commit per deps (the app's): concurrent batches of this process are booked together.
  const bookers = new WeakMap<Deps, GroupBooker>();
  const bookerOf = (deps: Deps) => {
    let b = bookers.get(deps);
    if (!b) bookers.set(deps, (b = groupBooker(deps, opts.bookingTransactions, opts.groupMaxEvents)));
    return b;
  };
  const router = createRouter();
  router.use('/litellm', webhookAuth, admission(maxConcurrent, maxQueued, maxInflightBytes, maxBodyBytes));
  return router.openapi(route, async (c) => {
    const deps = c.get('deps');
    // Bytes straight from the socket (http/body.ts), not c.req.text(), which would keep the body
    // cached on the context until the response: parsed and dropped before the first database
    // wait, a megabyte body dies young (see bench/).
    const batch = readBatch(deps, await readBody(c, maxBodyBytes), c.req.header('x-companion-signature'));
    const source = c.req.header('x-companion-source') === 'durable-callback' ? 'callback' : 'generic_api';
    const { alertsFired, unpriced, ...counts } = await bookerOf(deps).book(batch, { source });
    for (const [result, n] of Object.entries(counts)) if (n > 0) deps.metrics.usageEvents.inc({ result }, n);
    if (alertsFired > 0) deps.metrics.alertsFired.inc(alertsFired);
    countUnpriced(deps.metrics, unpriced);
    c.get('log').debug({ ...counts, alertsFired, unpriced }, 'usage batch booked');
    return c.json(counts, 200);
  });
}

/**
 * Verify, split and parse a body. A JSON array (what LiteLLM and the durable callback send) is
 * parsed element by element from the bytes (jsonArrayItems); anything else, or an array with an
 * element that is not JSON, goes through splitBody on the decoded text.
 */
function readBatch(deps: Deps, body: Uint8Array, signature: string | undefined): UsageBatch {
  if (deps.config.WEBHOOK_SIGNING_SECRET) verifySignature(signature, body, deps.config.WEBHOOK_SIGNING_SECRET, deps.clock.now());
  const items = jsonArrayItems(body);
  const legacyBefore = legacyCutoff(deps);
  if (items) {
    try {
      return prepareUsage(items, [], legacyBefore);
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e;
    }
  }
  const split = splitBody(new TextDecoder().decode(body));
  if (!split) throw new ApiError('invalid_json', 'body is not JSON (array, object) or NDJSON');
  return prepareUsage(split.items, split.badLines, legacyBefore);
}

const SIGNATURE_TOLERANCE_SECONDS = 300;

/**
 * Optional body signature (WEBHOOK_SIGNING_SECRET): header `X-Companion-Signature: t=<unix>,v1=<hex>`
 * with v1 = HMAC-SHA256(secret, "<t>.<raw body>"), at most 5 minutes old.
 */
export function verifySignature(header: string | undefined, body: string | Uint8Array, secret: string, now: Date): void {
  const parts = Object.fromEntries((header ?? '').split(',').map((p) => p.trim().split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!parts.v1 || !Number.isInteger(t)) throw new ApiError('unauthorized', 'missing or malformed X-Companion-Signature');
  if (Math.abs(now.getTime() / 1000 - t) > SIGNATURE_TOLERANCE_SECONDS) throw new ApiError('unauthorized', 'X-Companion-Signature is too old');
  const expected = createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');
  if (!safeEqual(parts.v1, expected)) throw new ApiError('unauthorized', 'X-Companion-Signature does not match the body');
}
