import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { listDeadLetters, replayDeadLetter } from '../domain/dead-letters/replay.js';
import { createRouter, type AppEnv } from '../http/env.js';
import { clientIp } from '../http/middleware.js';
import { authErrors, conflictError, json, notFoundError, PageQuery, unprocessableError } from './schemas.js';

const tags = ['dead-letters'];
const meta = (c: Context<AppEnv>) => ({ requestId: c.get('requestId'), ip: clientIp(c) });
const DeadLetter = z
  .object({
    id: z.number(),
    source: z.string(),
    reason: z.string(),
    payload: z.string(),
    createdAt: z.string(),
    replayedAt: z.string().nullable(),
    replayedBy: z.string().nullable(),
    replayOutcome: z.string().nullable(),
  })
  .openapi('DeadLetter');
const Id = z.object({ id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).openapi({ param: { name: 'id', in: 'path' } }) });
/** Dead letters hold what LiteLLM sent: admins only, viewers included out (middleware ADMIN_ONLY_PREFIXES). */
const adminOnly = { 'x-admin-only': true } as const;

export const deadLettersRoutes = createRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags,
      summary: 'Usage items that could not be booked, with the reason (admins only)',
      ...adminOnly,
      request: { query: z.object({ status: z.enum(['open', 'replayed', 'all']).default('open'), ...PageQuery }) },
      responses: {
        200: json(z.object({ items: z.array(DeadLetter), total: z.number(), page: z.number(), pageSize: z.number() }), 'Dead letters, newest first'),
        ...authErrors,
      },
    }),
    async (c) => c.json(await listDeadLetters(c.get('deps').db, c.req.valid('query')), 200),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/{id}/replay',
      tags,
      summary: 'Parse the item again with today’s rules and book it (idempotent); 422 with the reason if it is still refused',
      ...adminOnly,
      request: { params: Id },
      responses: {
        200: json(
          z.object({ deadLetter: DeadLetter, result: z.object({ accepted: z.number(), duplicate: z.number(), unattributed: z.number(), rejected: z.number() }) }),
          'Replayed',
        ),
        ...authErrors,
        ...notFoundError,
        ...conflictError,
        ...unprocessableError,
      },
    }),
    async (c) => c.json(await replayDeadLetter(c.get('deps'), c.get('actor'), meta(c), c.req.valid('param').id), 200),
  );
