import { createRoute, z } from '@hono/zod-openapi';
import { personForKeyHash } from '../domain/users/by-key.js';
import { createRouter } from '../http/env.js';
import { ErrorSchema, GetMoreSchema, json, PersonStateSchema, QuotaFactsSchema } from './schemas.js';
import { webhookAuth } from './webhooks.js';

const err = (d: string) => json(ErrorSchema, d);

const PersonForKey = z
  .object({
    person: z.object({ locale: z.enum(['pt-BR', 'en']), status: z.enum(['active', 'suspended', 'deleted']), state: PersonStateSchema }),
    quota: QuotaFactsSchema,
    getMore: GetMoreSchema,
  })
  .openapi('LiteLLMPersonView');

const route = createRoute({
  method: 'get',
  path: '/litellm/person',
  tags: ['webhooks'],
  summary: "For LiteLLM's callback: the facts to explain a refused chat to the key's owner (language, quota, how to get more)",
  description:
    'Called by litellm/companion_callback.py only when LiteLLM refuses a request (budget exceeded or blocked key), at most once per ' +
    'refused request and cached briefly there. Same bearer secret as POST /webhooks/litellm. No name or email of the person.',
  security: [{ webhookSecret: [] }],
  request: {
    query: z.object({
      key_hash: z
        .string()
        .regex(/^[0-9a-f]{64}$/, 'sha256 hex of the key (LiteLLM token / metadata.user_api_key_hash)')
        .openapi({ param: { name: 'key_hash', in: 'query' }, example: 'a'.repeat(64) }),
    }),
  },
  responses: {
    200: json(PersonForKey, 'The key owner'),
    400: err('key_hash is not 64 lower-case hex characters'),
    401: err('Wrong secret'),
    404: err('No live key with this hash'),
    429: err('Too many requests'),
    503: err('WEBHOOK_SECRET not configured, or the database is unavailable'),
  },
});

export function webhookPersonRoutes() {
  const router = createRouter();
  router.use('/litellm/person', webhookAuth);
  return router.openapi(route, async (c) => c.json(await personForKeyHash(c.get('deps'), c.req.valid('query').key_hash), 200));
}
