import { createRoute, z } from '@hono/zod-openapi';
import { addCredits } from '../domain/credits.js';
import { provisionKey, rotateKey } from '../domain/keys.js';
import { creditsToMilli } from '../domain/money.js';
import { listLedger, usageSummary } from '../domain/reports.js';
import { createUser } from '../domain/users/create.js';
import { resetPeriod, settlePeriods } from '../domain/periods/rollover.js';
import { listUsers } from '../domain/users/list.js';
import { changeStatus } from '../domain/users/status.js';
import { updateUser } from '../domain/users/update.js';
import { currentKey, getUserView } from '../domain/users/view.js';
import { LEDGER_KINDS } from '../db/schema/index.js';
import { createRouter, type AppEnv } from '../http/env.js';
import { clientIp } from '../http/middleware.js';
import { ApiError } from '../lib/errors.js';
import type { Context } from 'hono';
import {
  authErrors,
  conflictError,
  CreditsAmount,
  DateParam,
  IdParam,
  json,
  jsonBody,
  KeySchema,
  LedgerEntrySchema,
  notFoundError,
  orNull,
  paged,
  PageQuery,
  PersonStateSchema,
  unprocessableError,
  UsageItemSchema,
  UserSchema,
} from './schemas.js';

const meta = (c: Context<AppEnv>) => ({ requestId: c.get('requestId'), ip: clientIp(c) });
const tags = ['people'];

const Email = z.string().trim().toLowerCase().email().max(254);
const Name = z.string().trim().min(1).max(200);
const Locale = z.enum(['pt-BR', 'en']);
const UserWithKey = UserSchema.extend({
  key: orNull(KeySchema.extend({ plaintext: z.string().optional() })),
}).openapi('UserWithNewKey');

const createUserRoute = createRoute({
  method: 'post',
  path: '/',
  tags,
  summary: 'Create a person (and provision their LiteLLM key; its plaintext is returned this once)',
  request: jsonBody(z.object({ email: Email, name: Name, plan: z.string().min(1).max(64).optional(), locale: Locale.optional() })),
  responses: { 201: json(UserWithKey, 'Created'), ...authErrors, ...conflictError },
});

const listRoute = createRoute({
  method: 'get',
  path: '/',
  tags,
  request: {
    query: z.object({
      search: z.string().max(200).optional(),
      status: PersonStateSchema.optional(),
      plan: z.string().max(64).optional(),
      minPercent: z.coerce.number().min(0).max(100).optional(),
      sort: z.enum(['name', 'email', 'createdAt', 'percentUsed', 'credits']).optional(),
      order: z.enum(['asc', 'desc']).optional(),
      ...PageQuery,
    }),
  },
  responses: {
    200: json(paged(UserSchema), 'People'),
    ...authErrors,
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/{id}',
  tags,
  request: { params: IdParam },
  responses: { 200: json(UserSchema, 'The person with balance'), ...authErrors, ...notFoundError },
});

const patchRoute = createRoute({
  method: 'patch',
  path: '/{id}',
  tags,
  request: {
    params: IdParam,
    ...jsonBody(z.object({ name: Name.optional(), email: Email.optional(), plan: z.string().min(1).max(64).optional(), locale: Locale.optional() }).strict()),
  },
  responses: { 200: json(UserSchema, 'Updated'), ...authErrors, ...notFoundError, ...conflictError },
});

const statusRoute = (path: string, method: 'post' | 'delete', summary: string) =>
  createRoute({
    method,
    path,
    tags,
    summary,
    request: { params: IdParam },
    responses: { 200: json(UserSchema, 'The person'), ...authErrors, ...notFoundError, ...conflictError },
  });

const creditsRoute = createRoute({
  method: 'post',
  path: '/{id}/credits',
  tags,
  summary: 'Add credits (top-up) or remove them (negative adjustment). Requires an Idempotency-Key header.',
  request: {
    params: IdParam,
    headers: z.object({ 'idempotency-key': z.string().min(1).max(200).openapi({ description: 'Same key + same body → same result' }) }),
    ...jsonBody(
      z.object({
        amount: CreditsAmount.refine((v) => v !== 0, 'must not be zero'),
        reason: z.string().trim().min(1).max(500),
        kind: z.enum(['topup', 'adjustment', 'refund', 'correction']).optional(),
      }),
    ),
  },
  responses: {
    201: json(
      z.object({
        entry: z.object({ id: z.number(), kind: z.string(), amount: z.number(), reason: z.string(), createdAt: z.string() }),
        user: UserSchema,
      }),
      'Booked (or the stored result of the same request)',
    ),
    ...authErrors,
    ...notFoundError,
    ...conflictError,
    ...unprocessableError,
  },
});

const rotateRoute = createRoute({
  method: 'post',
  path: '/{id}/key/rotate',
  tags,
  summary: 'Generate a new LiteLLM key (plaintext returned once) and delete the old one',
  request: { params: IdParam },
  responses: { 200: json(KeySchema.extend({ plaintext: z.string() }), 'The new key'), ...authErrors, ...notFoundError },
});

const ledgerRoute = createRoute({
  method: 'get',
  path: '/{id}/ledger',
  tags,
  request: {
    params: IdParam,
    query: z.object({ kind: z.enum(LEDGER_KINDS).optional(), from: DateParam.optional(), to: DateParam.optional(), ...PageQuery }),
  },
  responses: {
    200: json(paged(LedgerEntrySchema), 'Ledger entries, newest first'),
    ...authErrors,
    ...notFoundError,
  },
});

const usageRoute = createRoute({
  method: 'get',
  path: '/{id}/usage',
  tags,
  request: {
    params: IdParam,
    query: z.object({
      from: DateParam.optional(),
      to: DateParam.optional(),
      groupBy: z.enum(['day', 'model']).default('day'),
      // only the events that arrived after their period's grace window (true), or only the others (false)
      late: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
    }),
  },
  responses: {
    200: json(z.object({ groupBy: z.enum(['day', 'model']), items: z.array(UsageItemSchema) }), 'Usage'),
    ...authErrors,
    ...notFoundError,
  },
});

export const usersRoutes = createRouter()
  .openapi(createUserRoute, async (c) => {
    const deps = c.get('deps');
    const view = await createUser(deps, c.get('actor'), meta(c), c.req.valid('json'));
    const key = await currentKey(deps.db, view.id);
    const plaintext = key ? await provisionKey(deps, key) : null;
    const fresh = await getUserView(deps.db, view.id);
    return c.json({ ...fresh, key: fresh.key && { ...fresh.key, ...(plaintext ? { plaintext } : {}) } }, 201);
  })
  .openapi(listRoute, async (c) => c.json(await listUsers(c.get('deps').db, c.req.valid('query')), 200))
  .openapi(getRoute, async (c) => {
    const { id } = c.req.valid('param');
    await settlePeriods(c.get('deps'), [id]); // a balance read first rolls the person over
    return c.json(await getUserView(c.get('deps').db, id), 200);
  })
  .openapi(patchRoute, async (c) =>
    c.json(await updateUser(c.get('deps'), c.get('actor'), meta(c), c.req.valid('param').id, c.req.valid('json')), 200),
  )
  .openapi(statusRoute('/{id}/suspend', 'post', 'Suspend (blocks the key in LiteLLM)'), async (c) =>
    c.json(await changeStatus(c.get('deps'), c.get('actor'), meta(c), c.req.valid('param').id, 'suspend'), 200),
  )
  .openapi(statusRoute('/{id}/activate', 'post', 'Re-activate (unblocks the key)'), async (c) =>
    c.json(await changeStatus(c.get('deps'), c.get('actor'), meta(c), c.req.valid('param').id, 'activate'), 200),
  )
  .openapi(statusRoute('/{id}', 'delete', 'Delete: revokes the key, keeps the ledger'), async (c) =>
    c.json(await changeStatus(c.get('deps'), c.get('actor'), meta(c), c.req.valid('param').id, 'delete'), 200),
  )
  .openapi(creditsRoute, async (c) => {
    const body = c.req.valid('json');
    const idempotencyKey = c.req.valid('header')['idempotency-key'];
    const result = await addCredits(c.get('deps'), c.get('actor'), meta(c), {
      userId: c.req.valid('param').id,
      amountMilli: creditsToMilli(body.amount),
      reason: body.reason,
      kind: body.kind,
      idempotencyKey,
    });
    if (result.replayed) c.header('Idempotent-Replayed', 'true');
    return c.json(result.body, 201);
  })
  .openapi(
    createRoute({
      method: 'post',
      path: '/{id}/period/reset',
      tags,
      summary: "Restart the person's current period: expire what is left, grant the full allowance, re-arm alerts",
      request: {
        params: IdParam,
        headers: z.object({ 'idempotency-key': z.string().min(1).max(200) }),
        ...jsonBody(z.object({ reason: z.string().trim().min(1).max(500) })),
      },
      responses: { 200: json(UserSchema, 'The person'), ...authErrors, ...notFoundError },
    }),
    async (c) => {
      const result = await resetPeriod(c.get('deps'), c.get('actor'), meta(c), c.req.valid('param').id, c.req.valid('json').reason, c.req.valid('header')['idempotency-key']);
      if (result.replayed) c.header('Idempotent-Replayed', 'true');
      return c.json(result.body, 200);
    },
  )
  .openapi(rotateRoute, async (c) => c.json(await rotateKey(c.get('deps'), c.get('actor'), meta(c), c.req.valid('param').id), 200))
  .openapi(ledgerRoute, async (c) => {
    const { id } = c.req.valid('param');
    await getUserView(c.get('deps').db, id); // 404 for unknown people
    return c.json(await listLedger(c.get('deps').db, id, c.req.valid('query')), 200);
  })
  .openapi(usageRoute, async (c) => {
    const { id } = c.req.valid('param');
    const q = c.req.valid('query');
    const deps = c.get('deps');
    await getUserView(deps.db, id);
    if (q.from && q.to && q.from >= q.to) throw new ApiError('validation_error', '`from` must be before `to`');
    const items = await usageSummary(deps.db, id, { ...q, timeZone: deps.config.TIMEZONE });
    return c.json({ groupBy: q.groupBy, items }, 200);
  });
